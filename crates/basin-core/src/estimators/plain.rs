//! Plain (mini-batch) gradient: what SGD, momentum and Adam see without any flat-minima method.

use super::{Estimate, GradientEstimator, StepContext, loss_and_grads};
use crate::batch::Batch;
use crate::model::Classifier;

/// g(w; B): the gradient of the batch loss at the current weights.
#[derive(Debug, Clone, Default)]
pub struct Plain;

impl<M: Classifier> GradientEstimator<M> for Plain {
    fn name(&self) -> &'static str {
        "sgd"
    }
    fn estimate(&mut self, model: M, batch: &Batch, _ctx: &mut StepContext<'_>) -> Estimate<M> {
        let (loss, grads) = loss_and_grads(&model, batch);
        Estimate { model, loss, grads }
    }
}
