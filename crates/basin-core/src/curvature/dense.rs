//! A dense symmetric matrix as a [`LinearOperator`] over `Vec<f64>`: the test double with a known
//! spectrum, and the container of Hessians built column by column.

use super::operator::LinearOperator;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

/// A dense matrix operator.
#[derive(Debug, Clone)]
pub struct DenseOperator {
    /// The matrix.
    pub matrix: DMatrix<f64>,
    calls: usize,
}

impl DenseOperator {
    /// Wraps `matrix` (assumed symmetric).
    pub fn new(matrix: DMatrix<f64>) -> Self {
        DenseOperator { matrix, calls: 0 }
    }
    /// Q diag(λ) Qᵀ with Q a random orthogonal matrix (QR of a Gaussian matrix, seeded).
    pub fn with_spectrum(eigenvalues: &[f64], seed: u64) -> Self {
        let n = eigenvalues.len();
        let mut rng = StdRng::seed_from_u64(seed);
        let g: DMatrix<f64> = DMatrix::from_fn(n, n, |_, _| StandardNormal.sample(&mut rng));
        let q = g.qr().q();
        let d = DMatrix::from_diagonal(&DVector::from_column_slice(eigenvalues));
        let m: DMatrix<f64> = &q * d * q.transpose();
        DenseOperator::new((&m + m.transpose()) * 0.5)
    }
    /// Eigenvalues in decreasing order (nalgebra's symmetric eigensolver).
    pub fn eigenvalues(&self) -> Vec<f64> {
        let mut e: Vec<f64> = self.matrix.clone().symmetric_eigen().eigenvalues.iter().copied().collect();
        e.sort_by(|a, b| b.total_cmp(a));
        e
    }
}

impl LinearOperator for DenseOperator {
    type V = Vec<f64>;
    fn apply(&mut self, v: &Vec<f64>) -> Vec<f64> {
        self.calls += 1;
        (&self.matrix * DVector::from_column_slice(v)).iter().copied().collect()
    }
    fn dim(&self) -> usize {
        self.matrix.nrows()
    }
    fn rademacher(&self, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..self.dim()).map(|_| if rand::RngExt::random_bool(&mut rng, 0.5) { 1.0 } else { -1.0 }).collect()
    }
    fn gaussian(&self, seed: u64) -> Vec<f64> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..self.dim()).map(|_| StandardNormal.sample(&mut rng)).collect()
    }
    fn calls(&self) -> usize {
        self.calls
    }
}
