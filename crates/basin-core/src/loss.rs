//! The losses on a network's outputs: cross-entropy of logits against class indices, mean squared
//! error against real-valued targets, and accuracy.

use crate::batch::Targets;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Mean cross-entropy `-1/B Σ log softmax(z_b)[y_b]` of logits `[B, K]` against targets `[B]`.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let b = targets.dims()[0];
    let logp = log_softmax(logits, 1);
    logp.gather(1, targets.reshape([b, 1])).mean().neg()
}

/// Mean squared error `1/(B·T) Σ (z − y)²` of outputs `[B, T]` against targets `[B, T]`: the mean
/// over every entry, PyTorch's `nn.MSELoss()` at its default reduction.
///
/// # Panics
/// If the two shapes differ (a broadcast would fit a different loss).
pub fn mean_squared_error(outputs: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    assert_eq!(outputs.dims(), targets.dims(), "mean_squared_error: outputs and targets differ in shape");
    (outputs - targets).powi_scalar(2).mean()
}

/// The loss of outputs `[B, K]` against `targets`: [`cross_entropy`] for class indices,
/// [`mean_squared_error`] for real values.
pub fn loss(outputs: Tensor<2>, targets: &Targets) -> Tensor<1> {
    match targets {
        Targets::Classes(t) => cross_entropy(outputs, t.clone()),
        Targets::Values(t) => mean_squared_error(outputs, t.clone()),
    }
}

/// The derivative of [`loss`] along a tangent `ż` of the outputs `z`, both `[B, K]`:
/// mean_b (softmax(z_b) − e_{y_b})·ż_b for the cross-entropy, 2/(B·T) Σ (z − y)⊙ż for the mean
/// squared error. Differentiable in `z` and `ż`: its gradient is the Hessian product.
pub fn loss_tangent(outputs: Tensor<2>, tangent: Tensor<2>, targets: &Targets) -> Tensor<1> {
    let [n, k] = outputs.dims();
    match targets {
        Targets::Classes(t) => {
            let p = burn::tensor::activation::softmax(outputs, 1);
            let picked = tangent.clone().gather(1, t.clone().reshape([n, 1]));
            ((p * tangent).sum() - picked.sum()).div_scalar(n as f64)
        }
        Targets::Values(t) => {
            assert_eq!(t.dims(), [n, k], "loss_tangent: outputs and targets differ in shape");
            ((outputs - t.clone()) * tangent).sum().mul_scalar(2.0 / (n * k) as f64)
        }
    }
}

/// Number of rows whose arg-max logit equals the target.
pub fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    let b = targets.dims()[0];
    let pred: Tensor<1, Int> = logits.argmax(1).reshape([b]);
    pred.equal(targets).int().sum().into_scalar::<i64>() as usize
}
