//! The vector space the curvature algorithms work in: a parameter vector on the device
//! ([`ParamVec`]) or a plain `Vec<f64>` for dense test matrices.

use crate::paramvec::ParamVec;

/// What Lanczos, power iteration and the trace estimators need of a vector.
pub trait Vector: Clone {
    /// Inner product.
    fn dot(&self, other: &Self) -> f64;
    /// `self + alpha · x`.
    fn axpy(&self, alpha: f64, x: &Self) -> Self;
    /// `alpha · self`.
    fn scale(&self, alpha: f64) -> Self;
    /// Euclidean norm.
    fn norm(&self) -> f64 {
        self.dot(self).sqrt()
    }
}

impl Vector for ParamVec {
    fn dot(&self, other: &Self) -> f64 {
        ParamVec::dot(self, other)
    }
    fn axpy(&self, alpha: f64, x: &Self) -> Self {
        ParamVec::axpy(self, alpha, x)
    }
    fn scale(&self, alpha: f64) -> Self {
        ParamVec::scale(self, alpha)
    }
}

impl Vector for Vec<f64> {
    fn dot(&self, other: &Self) -> f64 {
        self.iter().zip(other).map(|(a, b)| a * b).sum()
    }
    fn axpy(&self, alpha: f64, x: &Self) -> Self {
        self.iter().zip(x).map(|(a, b)| a + alpha * b).collect()
    }
    fn scale(&self, alpha: f64) -> Self {
        self.iter().map(|a| alpha * a).collect()
    }
}
