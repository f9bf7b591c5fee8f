//! [`max_pool2d`]: Burn's `MaxPool2d` module through basin's kernels
//! ([`super::max_pool2d_cpu`]) on the flex CPU backend, with a backward pass that scatters
//! into the saved argmax positions; Burn's own pooling elsewhere (other backends, dtypes,
//! dilation, ceil mode, "same" padding).

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
}

#[allow(clippy::too_many_arguments)]
fn forward_flex(x: FlexTensor, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> (FlexTensor, Vec<u32>, Geometry) {
    let x = contiguous(x);
    let s = x.shape().to_vec();
    let g = Geometry::new([s[1], s[2], s[3]], [s[1], s[1], kh, kw], [sh, sw], [pt, pl, pb, pr]).expect("max_pool2d: window larger than the padded input");
    let (y, arg) = max_pool2d_cpu::forward(&g, values(&x));
    (flex(y, vec![s[0], g.c, g.ho, g.wo]), arg, g)
}

impl ArgmaxPool for Flex {
    fn argmax_max_pool2d(x: FlexTensor, kh: usize, kw: usize, sh: usize, sw: usize, pt: usize, pl: usize, pb: usize, pr: usize) -> FlexTensor {
        forward_flex(x, kh, kw, sh, sw, pt, pl, pb, pr).0
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
}

/// `pool.forward(x)`, through basin's kernels when they apply (flex backend, f32, dilation 1,
/// floor mode, explicit padding smaller than the window) and Burn's pooling otherwise.
/// Tested against Burn's in `tests/max_pool2d.rs`.
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [kh, kw] = pool.kernel_size;
    let padding = fixed_padding(&pool.padding);
    let fits = |p: &[usize; 4]| p[0] < kh && p[2] < kh && p[1] < kw && p[3] < kw;
    let Some([pt, pl, pb, pr]) = padding.filter(|p| fits(p) && pool.dilation == [1, 1] && !pool.ceil_mode && on_flex_f32(&x)) else {
        return pool.forward(x);
    };
    let [sh, sw] = pool.stride;
    Tensor::from_dispatch(<burn::backend::Dispatch as ArgmaxPool>::argmax_max_pool2d(x.into_dispatch(), kh, kw, sh, sw, pt, pl, pb, pr))
}
