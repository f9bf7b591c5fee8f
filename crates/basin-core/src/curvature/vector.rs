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
    /// `self − Σᵢ ⟨self, qᵢ⟩ qᵢ`: one sweep of classical Gram–Schmidt against an orthonormal
    /// `basis`, every coefficient taken from `self` before the update (Lanczos runs it twice,
    /// "twice is enough"). [`ParamVec`] does the sweep in two passes over memory, not 2·|basis|.
    fn orthogonalize(&self, basis: &[Self]) -> Self {
        gram_schmidt_by_pairs(self, basis)
    }
}

/// [`Vector::orthogonalize`] from `dot` and `axpy` alone: a pass over memory per basis vector
/// and operation.
fn gram_schmidt_by_pairs<V: Vector>(w: &V, basis: &[V]) -> V {
    let c: Vec<f64> = basis.iter().map(|q| w.dot(q)).collect();
    basis.iter().zip(c).fold(w.clone(), |w, (q, c)| w.axpy(-c, q))
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
    fn orthogonalize(&self, basis: &[Self]) -> Self {
        let parts = |i: usize| basis.iter().map(|q| &q.parts[i]).collect::<Vec<_>>();
        let dots: Option<Vec<Vec<f64>>> = (0..self.parts.len()).map(|i| crate::fused::dots_many(&self.parts[i], &parts(i))).collect();
        let Some(dots) = dots else {
            return gram_schmidt_by_pairs(self, basis);
        };
        let c: Vec<f64> = (0..basis.len()).map(|j| dots.iter().map(|d| d[j]).sum()).collect();
        let mut out = self.clone();
        for (i, p) in out.parts.iter_mut().enumerate() {
            *p = crate::fused::subtract_combination(p, &parts(i), &c).expect("checked by dots_many");
        }
        out
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
