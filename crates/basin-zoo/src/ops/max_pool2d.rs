//! [`max_pool2d`]: Burn's `MaxPool2d` module through basin's kernels
//! ([`super::max_pool2d_cpu`]) on the flex CPU backend, with a backward pass that scatters
//! into the saved argmax positions; Burn's own pooling elsewhere (other backends, dtypes,
//! dilation, ceil mode, "same" padding). [`max_pool2d_dual`] is the tangent pass's rule: the
//! pooled value and the tangent read at the same argmax, from one pass over the input.

use super::flex_io::{contiguous, fixed_padding, flex, on_flex_f32, values};
use super::im2col::Geometry;
use super::max_pool2d_cpu;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::nn::pool::MaxPool2d;
use burn::tensor::Tensor;
use std::sync::Arc;

/// Max pooling of `x` `[batch, c, h, w]` with a `kh × kw` window, stride `(sh, sw)` and
/// padding `(top, left, bottom, right)` (padding never wins).
#[backend_extension(Flex, Autodiff)]
pub trait ArgmaxPool: Backend {
    /// The pooled tensor `[batch, c, ho, wo]`.
    #[allow(clippy::too_many_arguments)]
    fn argmax_max_pool2d(x: FloatTensor<Self>, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> FloatTensor<Self>;
    /// The pooled tensor and the tangent `t` (shaped like `x`) read at each window's argmax in
    /// `x`: the value and tangent of max pooling, the argmax held fixed as autodiff holds it.
    #[allow(clippy::too_many_arguments)]
    fn argmax_max_pool2d_dual(x: FloatTensor<Self>, t: FloatTensor<Self>, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> (FloatTensor<Self>, FloatTensor<Self>);
}

#[allow(clippy::too_many_arguments)]
fn forward_flex(x: FlexTensor, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> (FlexTensor, Vec<u32>, Geometry) {
    let x = contiguous(x);
    let s = x.shape().to_vec();
    let g = Geometry::new([s[1], s[2], s[3]], [s[1], s[1], kh, kw], [sh, sw], [pt, pl, pb, pr]).expect("max_pool2d: window larger than the padded input");
    let (y, arg) = max_pool2d_cpu::forward(&g, values(&x));
    (flex(y, vec![s[0], g.c, g.ho, g.wo]), arg, g)
}

/// `t` read at the argmax `arg` of a pooling of geometry `g`, shaped like its output.
fn gather_flex(t: FlexTensor, arg: &[u32], g: &Geometry) -> FlexTensor {
    let t = contiguous(t);
    let batch = t.shape()[0];
    assert_eq!(t.shape().num_elements(), batch * g.c * g.h * g.w, "max_pool2d_dual: the tangent differs from the input in shape");
    flex(max_pool2d_cpu::gather(g, arg, values(&t)), vec![batch, g.c, g.ho, g.wo])
}

impl ArgmaxPool for Flex {
    fn argmax_max_pool2d(x: FlexTensor, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> FlexTensor {
        forward_flex(x, kh, kw, sh, sw, pt, pl, pb, pr).0
    }

    fn argmax_max_pool2d_dual(x: FlexTensor, t: FlexTensor, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> (FlexTensor, FlexTensor) {
        let (y, arg, g) = forward_flex(x, kh, kw, sh, sw, pt, pl, pb, pr);
        (y, gather_flex(t, &arg, &g))
    }
}

/// Backward step: keeps the argmax positions and the input geometry.
#[derive(Debug)]
struct ArgmaxPoolBackward;

impl Backward<Flex, 1> for ArgmaxPoolBackward {
    type State = (Arc<Vec<u32>>, Geometry, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (arg, g, batch) = ops.state;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(max_pool2d_cpu::backward(&g, &arg, values(&dy)), vec![batch, g.c, g.h, g.w]));
        }
    }
}

impl<C: CheckpointStrategy> ArgmaxPool for Autodiff<Flex, C> {
    fn argmax_max_pool2d(x: FloatTensor<Self>, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> FloatTensor<Self> {
        let prepared = ArgmaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful();
        let xp = x.into_primitive();
        let batch = xp.shape()[0];
        let (y, arg, g) = forward_flex(xp, kh, kw, sh, sw, pt, pl, pb, pr);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish((Arc::new(arg), g, batch), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    /// Two outputs, two nodes with one backward: the value's gradient and the tangent's both
    /// scatter into the same argmax (the tangent is the same linear selection applied to `t`).
    fn argmax_max_pool2d_dual(x: FloatTensor<Self>, t: FloatTensor<Self>, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let value = ArgmaxPoolBackward.prepare::<C>([x.node()]).compute_bound().stateful();
        let tangent = ArgmaxPoolBackward.prepare::<C>([t.node()]).compute_bound().stateful();
        let xp = x.into_primitive();
        let batch = xp.shape()[0];
        let (y, arg, g) = forward_flex(xp, kh, kw, sh, sw, pt, pl, pb, pr);
        let yt = gather_flex(t.into_primitive(), &arg, &g);
        let arg = Arc::new(arg);
        let finish = |prepared, out| match prepared {
            OpsKind::Tracked(prep) => prep.finish((arg.clone(), g, batch), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        (finish(value, y), finish(tangent, yt))
    }
}

/// `pool.forward(x)`, through basin's kernels when they apply (flex backend, f32, dilation 1,
/// floor mode, explicit padding smaller than the window) and Burn's pooling otherwise.
/// Tested against Burn's in `tests/max_pool2d.rs`.
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let Some(([pt, pl, pb, pr], [kh, kw], [sh, sw])) = basin_geometry(pool, &x) else {
        return pool.forward(x);
    };
    Tensor::from_dispatch(<burn::backend::Dispatch as ArgmaxPool>::argmax_max_pool2d(x.into_dispatch(), kh, kw, sh, sw, pt, pl, pb, pr))
}

/// The pooling of `x` and the tangent `t` (same shape as `x`) read at each window's argmax,
/// through basin's kernels when they apply; where they do not, `Err` hands both inputs back
/// (boxed: two tensors make a large error variant) for the caller's general rule. Tested
/// against Burn's pooling and `gather` in `tests/max_pool2d.rs`.
pub fn max_pool2d_dual(pool: &MaxPool2d, x: Tensor<4>, t: Tensor<4>) -> Result<(Tensor<4>, Tensor<4>), Box<(Tensor<4>, Tensor<4>)>> {
    let Some(([pt, pl, pb, pr], [kh, kw], [sh, sw])) = basin_geometry(pool, &x).filter(|_| on_flex_f32(&t)) else {
        return Err(Box::new((x, t)));
    };
    let (y, yt) = <burn::backend::Dispatch as ArgmaxPool>::argmax_max_pool2d_dual(x.into_dispatch(), t.into_dispatch(), kh, kw, sh, sw, pt, pl, pb, pr);
    Ok((Tensor::from_dispatch(y), Tensor::from_dispatch(yt)))
}

/// Padding, window and stride of `pool` when basin's kernels take it (flex backend, f32,
/// dilation 1, floor mode, explicit padding smaller than the window).
fn basin_geometry(pool: &MaxPool2d, x: &Tensor<4>) -> Option<([usize; 4], [usize; 2], [usize; 2])> {
    let [kh, kw] = pool.kernel_size;
    let fits = |p: &[usize; 4]| p[0] < kh && p[2] < kh && p[1] < kw && p[3] < kw;
    let padding = fixed_padding(&pool.padding).filter(|p| fits(p) && pool.dilation == [1, 1] && !pool.ceil_mode && on_flex_f32(x))?;
    Some((padding, pool.kernel_size, pool.stride))
}
