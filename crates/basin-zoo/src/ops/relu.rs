//! [`relu()`]: max(x, 0) on the flex CPU backend, in the input's own buffer when no other tensor
//! shares it, with a backward that masks the incoming gradient in place by the output; Burn's
//! `relu` everywhere else. Both directions are [`super::relu_mask`]'s branch-free select.
//!
//! Why: Burn 0.22.1's autodiff ReLU writes a new output in the forward (fresh pages the kernel
//! must fault in and clear), and its backward allocates an empty tensor (copied once more to
//! align it) and masks it with the branchy `mask_fill`. In keskar-c1's exact Hessian product
//! the value ReLUs were 6.8 % of the time (`perf record`, BENCHMARKS.md, issue 39); every zoo
//! network's ReLU ([`crate::models::noisy_relu::NoisyRelu`], the tangent pass's
//! [`crate::jvp::Dual::relu`]) runs through here, in training as in the curvature products.
//!
//! The result and gradient are Burn's: relu(NaN) = NaN, relu(−0) = 0, and the gradient passes
//! where the output is > 0 or NaN (`mask_fill(output ≤ 0)`), 0 at and below zero.

use super::flex_io::on_flex_f32;
use super::relu_mask::masked;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, backend_extension};
use burn::tensor::Tensor;

/// The rectifier, in place where it may be.
#[backend_extension(Flex, Autodiff)]
pub trait InPlaceRelu: Backend {
    /// max(x, 0), NaN kept.
    fn in_place_relu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl InPlaceRelu for Flex {
    fn in_place_relu(x: FlexTensor) -> FlexTensor {
        masked(x, None)
    }
}

/// Backward step of [`InPlaceRelu::in_place_relu`]: keeps the output (a second handle on its
/// buffer, no copy) and masks the incoming gradient by it.
#[derive(Debug)]
struct InPlaceReluBackward;

impl Backward<Flex, 1> for InPlaceReluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        if let Some(node) = node {
            grads.register::<Flex>(node.id, masked(dy, Some(&ops.state)));
        }
    }
}

impl<C: CheckpointStrategy> InPlaceRelu for Autodiff<Flex, C> {
    fn in_place_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let prepared = InPlaceReluBackward.prepare::<C>([x.node()]).compute_bound().stateful();
        let y = masked(x.into_primitive(), None);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish(y.clone(), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// max(x, 0): through [`InPlaceRelu`] on the flex backend (f32), Burn's `relu` elsewhere. Same
/// values and gradient as Burn's (tested in `tests/relu.rs`).
pub fn relu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if !on_flex_f32(&x) {
        return burn::tensor::activation::relu(x);
    }
    Tensor::from_dispatch(<burn::backend::Dispatch as InPlaceRelu>::in_place_relu(x.into_dispatch()))
}
