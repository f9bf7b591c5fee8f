//! [`linear`]: Burn's `Linear` module run through basin's dense kernels ([`super::linear_cpu`])
//! on the flex CPU backend, with a hand-written backward pass, and through `Linear::forward`
//! everywhere else (CUDA, wgpu, f64). Same parameters and records as the module.
//!
//! Plugged in through Burn 0.22's backend-extension API exactly like [`super::conv2d()`]:
//! [`GemmLinear`] for `Flex` (forward) and `Autodiff<Flex>` (forward + `Backward`).

use super::flex_io::{contiguous, flex, on_flex_f32, values};
use super::linear_cpu;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::nn::Linear;
use burn::tensor::Tensor;

/// A dense layer `x [batch, in] · weight [in, out] + bias [out]`.
#[backend_extension(Flex, Autodiff)]
pub trait GemmLinear: Backend {
    /// `x · weight + bias`.
    fn gemm_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// `x · weight + bias`; a bias of length 0 stands for none (the tangent pass's `ẋ W`), so that
/// no row of zeros is broadcast and accumulated onto.
fn forward_flex(x: &FlexTensor, weight: &FlexTensor, bias: FlexTensor) -> FlexTensor {
    let bias = (bias.shape()[0] > 0).then(|| contiguous(bias));
    let (ws, batch) = (weight.shape(), x.shape()[0]);
    flex(linear_cpu::forward(values(x), values(weight), bias.as_ref().map(values), ws[0], ws[1]), vec![batch, ws[1]])
}

impl GemmLinear for Flex {
    fn gemm_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward_flex(&contiguous(x), &contiguous(weight), bias)
    }
}

/// Backward step of [`GemmLinear::gemm_linear`]: keeps the input and the weight; each
/// gradient is computed only when its parent is tracked (no input gradient for a first layer,
/// no weight gradient for the constant direction weights of the exact Hessian's tangent pass).
#[derive(Debug)]
struct GemmLinearBackward;

impl Backward<Flex, 3> for GemmLinearBackward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, weight) = ops.state;
        let (ws, batch) = (weight.shape(), x.shape()[0]);
        let (d_in, d_out) = (ws[0], ws[1]);
        let need_w = node_weight.is_some() || node_bias.is_some();
        let out = linear_cpu::backward(values(&x), values(&weight), values(&dy), d_in, d_out, node_x.is_some(), need_w);
        if let (Some(node), Some(dx)) = (node_x, out.x) {
            grads.register::<Flex>(node.id, flex(dx, vec![batch, d_in]));
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex(out.w, vec![d_in, d_out]));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex(out.b, vec![d_out]));
        }
    }
}

impl<C: CheckpointStrategy> GemmLinear for Autodiff<Flex, C> {
    fn gemm_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        let prepared = GemmLinearBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful();
        let (xp, wp) = (contiguous(x.into_primitive()), contiguous(weight.into_primitive()));
        let y = forward_flex(&xp, &wp, bias.into_primitive());
        match prepared {
            OpsKind::Tracked(prep) => prep.finish((xp, wp), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// `layer.forward(x)` for `x` `[batch, in]`, through basin's dense kernels on the flex backend
/// (f32) and Burn's `module::linear` (what `Linear::forward` calls) elsewhere. Same result up to float rounding (tested
/// against Burn's in `tests/linear.rs`).
pub fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    linear_with(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

/// `x · weight + bias` with other parameter tensors than a layer's own: the tangent pass of
/// the exact Hessian ([`crate::jvp`]) multiplies by the direction's weights, and by the layer's
/// weights without its bias. basin's kernels on the flex backend (f32), Burn's
/// `module::linear` elsewhere.
pub fn linear_with(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    if !on_flex_f32(&x) {
        return burn::tensor::module::linear(x, weight, bias);
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([0], &x.device())); // none: see `forward_flex`
    Tensor::from_dispatch(<burn::backend::Dispatch as GemmLinear>::gemm_linear(x.into_dispatch(), weight.into_dispatch(), bias.into_dispatch()))
}
