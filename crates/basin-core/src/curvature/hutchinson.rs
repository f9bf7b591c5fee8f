//! Hutchinson's trace estimator with Rademacher probes: tr(A) = E\[vᵀAv\], reported with its
//! standard error s/√m (what PyHessian does not report).

use super::operator::LinearOperator;
use super::vector::Vector;
use serde::{Deserialize, Serialize};
use crate::rng::{Stream, derive_seed};

/// A Monte-Carlo estimate with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Standard error of the mean.
    pub stderr: f64,
    /// Samples used.
    pub samples: usize,
}

/// Mean and standard error of samples.
pub fn summarize(xs: &[f64]) -> Estimate {
    let m = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / m;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (m - 1.0) } else { f64::INFINITY };
    Estimate { mean, stderr: (var / m).sqrt(), samples: xs.len() }
}

/// tr(A) from at most `max_samples` Rademacher probes, stopping early (after at least 10) once
/// the standard error is ≤ `rel_tol`·|mean|.
pub fn hutchinson<O: LinearOperator>(op: &mut O, max_samples: usize, rel_tol: f64, seed: u64) -> Estimate {
    let mut xs = Vec::new();
    for i in 0..max_samples.max(2) {
        let v = op.rademacher(derive_seed(seed, Stream::TraceProbe, i as u64));
        xs.push(v.dot(&op.apply(&v)));
        if xs.len() >= 10 {
            let e = summarize(&xs);
            if e.stderr <= rel_tol * e.mean.abs() {
                return e;
            }
        }
    }
    summarize(&xs)
}
