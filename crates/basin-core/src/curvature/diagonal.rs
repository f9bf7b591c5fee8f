//! The diagonal of a curvature operator by Hutchinson's estimator (Bekas, Kokiopoulou & Saad
//! 2007): diag(A) = E[z ⊙ A z] for Rademacher z, summarized per parameter tensor — what
//! PyHessian users ask for to compare layers — and by Diag++ ([`diag_pp`]), which takes the top of
//! the spectrum exactly from a sketch and probes only the rest (the default of `--diagonal`).

use super::hutchinson::{Estimate, summarize};
use super::operator::LinearOperator;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};
use crate::rng::{Stream, derive_seed};

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
    probe_diagonal(op, samples.max(2), seed, &[], None)
}

/// Diag++ (Baston & Nakatsukasa, "Stochastic diagonal estimation", 2022, Algorithm 2; the
/// diagonal counterpart of Hutch++): with m products, m/3 sketch Q = orth(A S)
/// ([`super::hutch_pp::sketch`]), m/3 give diag(QQᵀA) = Σᵢ qᵢ ⊙ A qᵢ exactly, and the last m/3
/// Hutchinson probes estimate only the rest, diag((I − QQᵀ) A): z ⊙ (I − QQᵀ) A z. Unbiased for
/// any Q; for a Hessian whose diagonal is dominated by a few outlying directions the variance
/// is a fraction of plain Hutchinson's at the same cost. The standard errors are the residual
/// probes' (the low-rank part is exact given Q).
pub fn diag_pp<O: LinearOperator<V = ParamVec>>(op: &mut O, matvecs: usize, seed: u64) -> (ParamVec, Vec<TensorDiagonal>) {
    let k = (matvecs / 3).max(2);
    let q = super::hutch_pp::sketch(op, k, seed);
    let low = q.iter().fold(op.rademacher(seed).zeros_like(), |acc, qi| acc.add(&qi.mul(&op.apply(qi))));
    probe_diagonal(op, k, seed, &q, Some(low))
}

/// `low` (when given) plus the mean over `samples` probes of z ⊙ (I − QQᵀ) A z, with per-tensor
/// summaries whose standard errors are the probes'.
fn probe_diagonal<O: LinearOperator<V = ParamVec>>(op: &mut O, samples: usize, seed: u64, q: &[ParamVec], low: Option<ParamVec>) -> (ParamVec, Vec<TensorDiagonal>) {
    let mut acc: Option<ParamVec> = None;
    let mut sums: Vec<Vec<f64>> = Vec::new();
    let low_sums: Vec<f64> = low.as_ref().map(|l| l.parts.iter().map(|p| p.clone().sum().into_scalar::<f64>()).collect()).unwrap_or_default();
    for i in 0..samples {
        let z = op.rademacher(derive_seed(seed, Stream::DiagonalProbe, i as u64));
        let d = z.mul(&super::hutch_pp::deflate(op.apply(&z), q));
        sums.push(d.parts.iter().enumerate().map(|(k, p)| p.clone().sum().into_scalar::<f64>() + low_sums.get(k).copied().unwrap_or(0.0)).collect());
        acc = Some(match acc {
            None => d,
            Some(a) => a.add(&d),
        });
    }
    let rest = acc.expect("at least two probes").scale(1.0 / samples as f64);
    let diag = match low {
        Some(l) => l.add(&rest),
        None => rest,
    };
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
