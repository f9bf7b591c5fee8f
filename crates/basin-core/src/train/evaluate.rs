//! Evaluation passes: mean loss and accuracy of a model on a whole example set, in eval mode
//! (no autodiff, batch norm on running statistics, dropout off).

use crate::batch::ExampleSet;
use crate::loss::{correct, cross_entropy};
use crate::model::Classifier;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Mean loss and accuracy over a set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy per example.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
}

/// Evaluates `model` (any mode; a validation copy is taken) on `set` in batches of `batch_size`
/// on `device` (a plain, non-autodiff device).
pub fn evaluate<M: Classifier>(model: &M, set: &dyn ExampleSet, batch_size: usize, device: &Device) -> Evaluation {
    model.sync_running_stats();
    let model = model.valid();
    let n = set.len();
    let (mut loss_sum, mut right) = (0.0f64, 0usize);
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let b = set.batch(chunk, None, device);
        let logits = model.logits(b.images);
        let l = cross_entropy(logits.clone(), b.targets.clone()).into_scalar::<f32>() as f64;
        loss_sum += l * chunk.len() as f64;
        right += correct(logits, b.targets);
    }
    Evaluation { loss: loss_sum / n.max(1) as f64, accuracy: right as f64 / n.max(1) as f64 }
}
