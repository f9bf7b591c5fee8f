//! [`relu_mask`]: the tangent of a ReLU, ẏ = 𝟙(x > 0) · ẋ, as one branch-free pass on the flex
//! CPU backend (forward and backward), and as Burn's `mask_fill` everywhere else.
//!
//! Why: Burn 0.22.1's flex `mask_fill` tests and stores one element at a time, and a ReLU's
//! mask is close to random, so the branch mispredicts about half the time. The exact Hessian
//! product masks every hidden tangent twice (the tangent's forward and its backward): on ne-f1
//! the two masks were 5–6 % of the product (`perf record`, BENCHMARKS.md, issue 39). Here the
//! mask is a select the compiler vectorizes, done in place when the tangent's buffer is not
//! shared. The mask is a constant of the pass (as autodiff's ReLU derivative is): the backward
//! masks the incoming gradient the same way and sends nothing to `value`.

use super::flex_io::{contiguous, flex, on_flex_f32, values};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::Tensor;

/// `tangent` where `value > 0` (or is NaN), 0 elsewhere: the ReLU's tangent rule.
#[backend_extension(Flex, Autodiff)]
pub trait ReluMask: Backend {
    /// `tangent · 𝟙(value > 0)` (same shapes).
    fn relu_mask(tangent: FloatTensor<Self>, value: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `t` zeroed where `value ≤ 0`, in `t`'s own buffer when no other tensor shares it.
fn masked(t: FlexTensor, value: &FlexTensor) -> FlexTensor {
    let v = values(value);
    let mut t = contiguous(t);
    assert_eq!(t.shape().num_elements(), v.len(), "relu_mask: tangent and value differ in size");
    // `!(v > 0)` keeps a NaN's tangent, as `mask_fill(value <= 0)` does
    let keep = |t: f32, v: f32| if v <= 0.0 { 0.0 } else { t };
    match t.layout().contiguous_offsets() {
        Some((start, end)) if t.is_unique() => {
            t.storage_mut::<f32>()[start..end].iter_mut().zip(v).for_each(|(t, &v)| *t = keep(*t, v));
            t
        }
        _ => flex(values(&t).iter().zip(v).map(|(&t, &v)| keep(t, v)).collect(), t.shape().to_vec()),
    }
}

impl ReluMask for Flex {
    fn relu_mask(tangent: FlexTensor, value: FlexTensor) -> FlexTensor {
        masked(tangent, &contiguous(value))
    }
}

/// Backward step of [`ReluMask::relu_mask`]: keeps the value; the gradient of the tangent is
/// the incoming gradient under the same mask.
#[derive(Debug)]
struct ReluMaskBackward;

impl Backward<Flex, 1> for ReluMaskBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            grads.register::<Flex>(node.id, masked(dy, &ops.state));
        }
    }
}

impl<C: CheckpointStrategy> ReluMask for Autodiff<Flex, C> {
    fn relu_mask(tangent: FloatTensor<Self>, value: FloatTensor<Self>) -> FloatTensor<Self> {
        let prepared = ReluMaskBackward.prepare::<C>([tangent.node()]).compute_bound().stateful();
        let value = contiguous(value.into_primitive());
        let y = masked(tangent.into_primitive(), &value);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish(value, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// `tangent · 𝟙(value > 0)`: through [`ReluMask`] on the flex backend (f32), `mask_fill`
/// elsewhere. `value` is a constant of the result (no gradient reaches it).
pub fn relu_mask<const D: usize>(tangent: Tensor<D>, value: Tensor<D>) -> Tensor<D> {
    if !on_flex_f32(&tangent) {
        return tangent.mask_fill(value.lower_equal_elem(0.0), 0.0);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as ReluMask>::relu_mask(tangent.into_dispatch(), value.into_dispatch()))
}
