//! Noise sensitivity (SmoothOut workshop eq. 9, Fig. 2b): C̄(w; a) = the mean loss over the
//! data with fresh uniform noise θ ~ U(−a, a) on every weight, drawn anew for each batch, for a
//! grid of a; its slope in a is a sharpness measure (flat minima rise slowly).

use crate::batch::ExampleSet;
use crate::train::evaluate::{Evaluation, batch_totals};
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// C̄ and accuracy at one noise strength.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoisePoint {
    /// Noise strength a.
    pub a: f64,
    /// Mean loss under noise.
    pub loss: f64,
    /// Mean accuracy under noise (`None` for a regression set).
    pub accuracy: Option<f64>,
}

/// C̄(w; a) for each a of `grid` on `set` (batches of `batch`), noise keyed by `seed`.
pub fn noise_sensitivity<M: Classifier>(model: &M, set: &dyn ExampleSet, grid: &[f64], batch: usize, seed: u64, device: &Device) -> Vec<NoisePoint> {
    model.sync_running_stats();
    let base = model.valid();
    let w = ParamVec::from_model(&base);
    let idx: Vec<usize> = (0..set.len()).collect();
    grid.iter()
        .enumerate()
        .map(|(gi, &a)| {
            let (mut loss, mut right) = (0.0, 0usize);
            for (bi, c) in idx.chunks(batch.max(1)).enumerate() {
                let m = if a == 0.0 {
                    base.clone()
                } else {
                    let key = crate::rng::derive_seed(seed, crate::rng::Stream::Estimator, ((gi as u64) << 32) | bi as u64);
                    w.add(&w.uniform(key, -a as f32, a as f32)).write_into(base.clone())
                };
                let (l, r) = batch_totals(&m, &set.batch(c, None, device));
                loss += l;
                right += r;
            }
            let e = Evaluation::from_totals(loss, right, set.len(), set);
            NoisePoint { a, loss: e.loss, accuracy: e.accuracy }
        })
        .collect()
}

/// Least-squares slope of loss against a.
pub fn slope(points: &[NoisePoint]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.a).sum::<f64>() / n, points.iter().map(|p| p.loss).sum::<f64>() / n);
    let sxy: f64 = points.iter().map(|p| (p.a - mx) * (p.loss - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.a - mx).powi(2)).sum();
    sxy / sxx.max(1e-300)
}
