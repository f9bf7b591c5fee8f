//! The diagonal of a curvature operator by Hutchinson's estimator (Bekas, Kokiopoulou & Saad
//! 2007): diag(A) = E[z ⊙ A z] for Rademacher z, summarized per parameter tensor — what
//! PyHessian users ask for to compare layers.

use super::hutchinson::{Estimate, summarize};
use super::operator::LinearOperator;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// The estimated diagonal of one parameter tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorDiagonal {
    /// Module path (`hidden.0.weight`).
    pub path: String,
    /// Number of entries.
    pub numel: usize,
    /// Σ_i A_ii over the tensor (its block's trace), with the standard error over probes.
    pub sum: Estimate,
    /// Mean diagonal entry.
    pub mean: f64,
    /// Smallest and largest estimated entry (noisy for few probes).
    pub min: f64,
    /// Largest estimated entry.
    pub max: f64,
}

/// diag(A) from `samples` Rademacher probes: the mean of z ⊙ A z, and per-tensor summaries.
pub fn hutchinson_diagonal<O: LinearOperator<V = ParamVec>>(op: &mut O, samples: usize, seed: u64) -> (ParamVec, Vec<TensorDiagonal>) {
    let samples = samples.max(2);
    let mut acc: Option<ParamVec> = None;
    let mut sums: Vec<Vec<f64>> = Vec::new();
    for i in 0..samples {
        let z = op.rademacher(seed.wrapping_add(5000 + i as u64));
        let d = z.mul(&op.apply(&z));
        sums.push(d.parts.iter().map(|p| p.clone().sum().into_scalar::<f64>()).collect());
        acc = Some(match acc {
            None => d,
            Some(a) => a.add(&d),
        });
    }
    let diag = acc.expect("at least two probes").scale(1.0 / samples as f64);
    let per = diag
        .slots
        .iter()
        .zip(&diag.parts)
        .enumerate()
        .map(|(k, (s, p))| {
            let per_probe: Vec<f64> = sums.iter().map(|v| v[k]).collect();
            let sum = summarize(&per_probe);
            TensorDiagonal {
                path: s.path.clone(),
                numel: s.numel(),
                sum,
                mean: sum.mean / s.numel() as f64,
                min: p.clone().min().into_scalar::<f64>(),
                max: p.clone().max().into_scalar::<f64>(),
            }
        })
        .collect();
    (diag, per)
}
