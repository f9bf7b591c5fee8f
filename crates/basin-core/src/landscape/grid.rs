//! Evaluating a model at many points of parameter space.

use crate::batch::ExampleSet;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use crate::train::evaluate::{Evaluation, evaluate};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Loss and accuracy at one point of a landscape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LandscapePoint {
    /// Coordinates (α for interpolation, (x, y) for surfaces and planes).
    pub coords: Vec<f64>,
    /// Training loss and accuracy.
    pub train: Evaluation,
    /// Test loss and accuracy.
    pub test: Evaluation,
    /// λ_max and λ_min of the exact Hessian of the training loss here (`--eigen`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigen: Option<super::eigen::ExtremeEigen>,
}

/// Evaluates `model` with its trainable parameters replaced by `w` on `sets` (train, test).
pub fn evaluate_at<M: Classifier>(model: &M, w: &ParamVec, train: &dyn ExampleSet, test: &dyn ExampleSet, batch: usize, device: &Device) -> (Evaluation, Evaluation) {
    let m = w.write_into(model.valid());
    (evaluate(&m, train, batch, device), evaluate(&m, test, batch, device))
}
