//! Evaluation passes: mean loss and accuracy of a model on a whole example set, in eval mode
//! (no autodiff, batch norm on running statistics, dropout off).

use crate::batch::{Batch, ExampleSet};
use crate::loss::{correct, loss};
use crate::model::Classifier;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// Mean loss and accuracy over a set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean loss per example: the cross-entropy, or the mean squared error of a regression set.
    pub loss: f64,
    /// Fraction classified correctly; `None` for a regression set (real-valued targets).
    pub accuracy: Option<f64>,
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
        let (l, r) = batch_totals(&model, &set.batch(chunk, None, device));
        loss_sum += l;
        right += r;
    }
    Evaluation::from_totals(loss_sum, right, n, set)
}

/// The summed loss over `batch`'s examples and the number it classifies correctly (0 for
/// real-valued targets).
pub(crate) fn batch_totals<M: Classifier>(model: &M, batch: &Batch) -> (f64, usize) {
    let logits = model.logits(batch.images.clone());
    let l = loss(logits.clone(), &batch.targets).into_scalar::<f64>() * batch.len() as f64;
    (l, batch.targets.classes().map_or(0, |t| correct(logits, t.clone())))
}

impl Evaluation {
    /// Means over the `n` examples of `set` from summed losses and correct counts (no accuracy
    /// for a regression set).
    pub(crate) fn from_totals(loss_sum: f64, right: usize, n: usize, set: &dyn ExampleSet) -> Evaluation {
        let accuracy = set.target_width().is_none().then(|| right as f64 / n.max(1) as f64);
        Evaluation { loss: loss_sum / n.max(1) as f64, accuracy }
    }
}
