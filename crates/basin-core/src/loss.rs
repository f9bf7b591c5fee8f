//! Cross-entropy loss and accuracy on logits.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Mean cross-entropy `-1/B Σ log softmax(z_b)[y_b]` of logits `[B, K]` against targets `[B]`.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let b = targets.dims()[0];
    let logp = log_softmax(logits, 1);
    logp.gather(1, targets.reshape([b, 1])).mean().neg()
}

/// Number of rows whose arg-max logit equals the target.
pub fn correct(logits: Tensor<2>, targets: Tensor<1, Int>) -> usize {
    let b = targets.dims()[0];
    let pred: Tensor<1, Int> = logits.argmax(1).reshape([b]);
    pred.equal(targets).int().sum().into_scalar::<i64>() as usize
}
