//! Plain (mini-batch) gradient: what SGD, momentum and Adam see without any flat-minima method.

use super::{Estimate, GradientEstimator, StepContext};
use crate::task::LossModel;

/// g(w; B): the gradient of the batch loss at the current weights.
#[derive(Debug, Clone, Default)]
pub struct Plain;

impl<M: LossModel> GradientEstimator<M> for Plain {
    fn name(&self) -> &'static str {
        "sgd"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let (loss, grads) = ctx.loss_and_grads(&model, batch);
        Estimate { model, loss, grads }
    }
}
