//! Power iteration with deflation, for comparison with Lanczos: the dominant eigenpair (largest
//! |λ|) of A − Σ λ_i y_i y_iᵀ, one pair after another.

use super::operator::LinearOperator;
use super::vector::Vector;
use crate::rng::{Stream, derive_seed};

/// Result of [`power_iteration`].
#[derive(Debug, Clone)]
pub struct PowerResult<V> {
    /// Eigenvalues found, in order of discovery (decreasing |λ| for a well-separated spectrum).
    pub eigenvalues: Vec<f64>,
    /// Unit eigenvectors.
    pub eigenvectors: Vec<V>,
    /// Operator applications used in total.
    pub iterations: usize,
}

/// `k` eigenpairs by power iteration, each stopped when |λ_t − λ_{t−1}| ≤ tol·|λ_t| or after
/// `max_iter` steps.
pub fn power_iteration<O: LinearOperator>(op: &mut O, k: usize, tol: f64, max_iter: usize, seed: u64) -> PowerResult<O::V> {
    let mut vals: Vec<f64> = Vec::new();
    let mut vecs: Vec<O::V> = Vec::new();
    let mut iterations = 0;
    for i in 0..k {
        let mut v = op.rademacher(derive_seed(seed, Stream::PowerStart, i as u64));
        v = v.scale(1.0 / v.norm());
        let mut lambda = 0.0;
        for t in 0..max_iter {
            let mut w = op.apply(&v);
            iterations += 1;
            for (l, y) in vals.iter().zip(&vecs) {
                w = w.axpy(-l * y.dot(&v), y);
            }
            let new = v.dot(&w);
            let n = w.norm();
            if n == 0.0 {
                lambda = 0.0;
                break;
            }
            v = w.scale(1.0 / n);
            if t > 0 && (new - lambda).abs() <= tol * new.abs() {
                lambda = new;
                break;
            }
            lambda = new;
        }
        vals.push(lambda);
        vecs.push(v);
    }
    PowerResult { eigenvalues: vals, eigenvectors: vecs, iterations }
}
