//! Gradient estimators: every training method of the papers is Burn's ordinary optimizer fed a
//! different gradient. An estimator returns the loss and the gradients (and the point the
//! optimizer should step from); the base optimizer (SGD, momentum, Adam) is never touched.

pub mod plain;

use crate::batch::{Batch, BatchSource};
use crate::model::Classifier;
use burn::optim::GradientsParams;

pub use plain::Plain;

/// What the trainer hands an estimator at each step.
pub struct StepContext<'a> {
    /// Global step index (0-based), the counter of every per-step random stream.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Source of independent extra batches.
    pub source: &'a mut dyn BatchSource,
}

/// The result of one estimate.
pub struct Estimate<M> {
    /// The point the base optimizer steps from: the input weights, except for methods whose
    /// perturbation stays in the weights (SmoothOut without de-noising).
    pub model: M,
    /// The training loss reported for this step (at the unperturbed weights where the method
    /// computes it, else at the first evaluated point).
    pub loss: f64,
    /// The gradient handed to the base optimizer.
    pub grads: GradientsParams,
}

/// A method that turns (model, batch) into a gradient for the base optimizer.
pub trait GradientEstimator<M: Classifier> {
    /// Short name used in configs and logs.
    fn name(&self) -> &'static str;
    /// The gradient for this step. `model` lives on an autodiff device.
    fn estimate(&mut self, model: M, batch: &Batch, ctx: &mut StepContext<'_>) -> Estimate<M>;
}

/// Loss and gradients of `model` on `batch`: one forward and one backward pass.
pub fn loss_and_grads<M: Classifier>(model: &M, batch: &Batch) -> (f64, GradientsParams) {
    let loss = crate::loss::cross_entropy(model.logits(batch.images.clone()), batch.targets.clone());
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = GradientsParams::from_grads(loss.backward(), model);
    (value, grads)
}

/// `[estimator]` of a config: which method computes the gradient, with its parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EstimatorConfig {
    /// `sgd` (the plain mini-batch gradient).
    pub name: String,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig { name: "sgd".into() }
    }
}

/// Names accepted in `estimator.name`.
pub const ESTIMATOR_NAMES: &[&str] = &["sgd"];

impl EstimatorConfig {
    /// Checks the name and parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        if !ESTIMATOR_NAMES.contains(&self.name.as_str()) {
            return Err(crate::error::BasinError::config(
                "estimator.name",
                format!("unknown estimator '{}' (known: {})", self.name, ESTIMATOR_NAMES.join(", ")),
            ));
        }
        Ok(())
    }

    /// The estimator this config describes.
    pub fn build<M: Classifier>(&self) -> Box<dyn GradientEstimator<M>> {
        Box::new(Plain)
    }
}
