//! ‖A‖_F by Monte Carlo: ‖A‖_F² = tr(AᵀA) = E‖Av‖² for Rademacher v; the square root of the
//! mean is reported with the delta-method standard error se(‖A‖_F²) / (2‖A‖_F).

use super::hutchinson::{Estimate, summarize};
use super::operator::LinearOperator;
use super::vector::Vector;
use crate::rng::{Stream, derive_seed};

/// ‖A‖_F from `samples` Rademacher probes.
pub fn frobenius<O: LinearOperator>(op: &mut O, samples: usize, seed: u64) -> Estimate {
    let xs: Vec<f64> = (0..samples.max(2))
        .map(|i| {
            let v = op.rademacher(derive_seed(seed, Stream::FrobeniusProbe, i as u64));
            let av = op.apply(&v);
            av.dot(&av)
        })
        .collect();
    let sq = summarize(&xs);
    // ‖Av‖² ≥ 0, so the mean is too; a NaN stays NaN (f64::max would turn it into 0)
    let f = if sq.mean.is_nan() { f64::NAN } else { sq.mean.max(0.0).sqrt() };
    Estimate { mean: f, stderr: if f > 0.0 { sq.stderr / (2.0 * f) } else if f.is_nan() { f64::NAN } else { 0.0 }, samples: sq.samples }
}
