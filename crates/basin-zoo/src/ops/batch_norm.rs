//! [`batch_norm`]: Burn's `BatchNorm` module in training mode through basin's two-pass kernels
//! ([`super::batch_norm_cpu`]) on the flex CPU backend, with a hand-written backward pass;
//! in evaluation mode [`super::batch_norm_eval::batch_norm_eval()`]; Burn's own forward in training on other
//! backends and for other dtypes.
//!
//! The running statistics are updated exactly as `BatchNorm::forward` does (momentum blend of
//! the batch mean and biased variance), so modules, records and basin's running-statistics
//! policy (`basin_core::running_stats`) are unchanged.

use super::batch_norm_cpu;
use super::flex_io::{contiguous, flex, on_flex_f32, values};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Flex, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;

/// Training-mode batch normalization of `x` `[batch, c, l]`, returning the output and the
/// batch mean and biased variance `[c]`.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBatchNorm: Backend {
    /// `(γ·(x − μ)/√(σ² + ε) + β, μ, σ²)` with μ, σ² over batch and `l`.
    fn fused_batch_norm_train(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn forward_flex(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, epsilon: f64) -> (FlexTensor, FlexTensor, FlexTensor) {
    let shape = x.shape().to_vec();
    let out = batch_norm_cpu::forward(values(x), shape[1], shape[2], values(gamma), values(beta), epsilon);
    let c = shape[1];
    (flex(out.y, shape), flex(out.mean, vec![c]), flex(out.var, vec![c]))
}

impl FusedBatchNorm for Flex {
    fn fused_batch_norm_train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64) -> (FlexTensor, FlexTensor, FlexTensor) {
        forward_flex(&contiguous(x), &contiguous(gamma), &contiguous(beta), epsilon)
    }
}

/// Backward step: keeps `x`, γ and the batch statistics.
#[derive(Debug)]
struct FusedBatchNormBackward;

impl Backward<Flex, 3> for FusedBatchNormBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, gamma, mean, var, epsilon) = ops.state;
        let shape = x.shape().to_vec();
        let g = batch_norm_cpu::backward(values(&x), values(&dy), shape[1], shape[2], values(&gamma), values(&mean), values(&var), epsilon);
        let c = shape[1];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(g.x, shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex(g.gamma, vec![c]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex(g.beta, vec![c]));
        }
    }
}

impl<C: CheckpointStrategy> FusedBatchNorm for Autodiff<Flex, C> {
    fn fused_batch_norm_train(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, epsilon: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prepared = FusedBatchNormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful();
        let (xp, gp, bp) = (contiguous(x.into_primitive()), contiguous(gamma.into_primitive()), contiguous(beta.into_primitive()));
        let (y, mean, var) = forward_flex(&xp, &gp, &bp, epsilon);
        let y = match prepared {
            OpsKind::Tracked(prep) => prep.finish((xp, gp, mean.clone(), var.clone(), epsilon), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        // The statistics feed only the running averages: constants for autodiff.
        (y, Self::from_inner(mean), Self::from_inner(var))
    }
}

/// `bn.forward(x)` for `x` `[batch, c, ...]`: in training mode on the flex backend (f32)
/// through the fused kernels, updating the running statistics as Burn does; in evaluation mode
/// (Burn's rule: not an autodiff device, or the module's training flag off)
/// [`super::batch_norm_eval::batch_norm_eval()`]; otherwise Burn's own forward. Same result up to float rounding (tested against Burn's in `tests/batch_norm.rs`).
pub fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if !(x.device().is_autodiff() && bn.training.is_enabled()) {
        // evaluation mode (Burn's own rule: training needs an autodiff device and the flag)
        return super::batch_norm_eval::batch_norm_eval(bn, x);
    }
    if !on_flex_f32(&x) {
        return bn.forward(x);
    }
    let dims = x.dims();
    let (y, mean, var) = <burn::backend::Dispatch as FusedBatchNorm>::fused_batch_norm_train(super::batch_norm_eval::flat(x).into_dispatch(), bn.gamma.val().into_dispatch(), bn.beta.val().into_dispatch(), bn.epsilon);
    let (mean, var) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(var));
    let device = mean.device();
    let m = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&device).mul_scalar(1.0 - m).add(mean.detach().mul_scalar(m));
    let running_var = bn.running_var.value_sync().to_device(&device).mul_scalar(1.0 - m).add(var.detach().mul_scalar(m));
    bn.running_mean.update(running_mean.detach());
    bn.running_var.update(running_var.detach());
    Tensor::<3>::from_dispatch(y).reshape(dims)
}
