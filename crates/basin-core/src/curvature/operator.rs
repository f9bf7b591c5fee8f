//! A symmetric linear operator over a vector space, and how it makes random probe vectors.

use super::vector::Vector;

/// A symmetric linear map `v ↦ A v` that counts its applications.
pub trait LinearOperator {
    /// The vector type.
    type V: Vector;
    /// `A v`.
    fn apply(&mut self, v: &Self::V) -> Self::V;
    /// Dimension of the space.
    fn dim(&self) -> usize;
    /// A Rademacher vector (i.i.d. ±1) determined by `seed`.
    fn rademacher(&self, seed: u64) -> Self::V;
    /// A standard Gaussian vector determined by `seed`.
    fn gaussian(&self, seed: u64) -> Self::V;
    /// Applications of the operator so far.
    fn calls(&self) -> usize;
}

/// The methods an operator over a model's parameters shares (`self.f` is its function, with
/// the point; `self.calls` counts products): dimension, probe vectors in the point's layout and
/// the call count.
macro_rules! point_operator_methods {
    () => {
        fn dim(&self) -> usize {
            self.f.point().numel()
        }
        fn rademacher(&self, seed: u64) -> ParamVec {
            self.f.point().rademacher(seed)
        }
        fn gaussian(&self, seed: u64) -> ParamVec {
            self.f.point().normal(seed, 1.0)
        }
        fn calls(&self) -> usize {
            self.calls
        }
    };
}
pub(crate) use point_operator_methods;

/// A boxed operator is an operator (commands choose theirs at run time).
impl<T: LinearOperator + ?Sized> LinearOperator for Box<T> {
    type V = T::V;
    fn apply(&mut self, v: &Self::V) -> Self::V {
        (**self).apply(v)
    }
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn rademacher(&self, seed: u64) -> Self::V {
        (**self).rademacher(seed)
    }
    fn gaussian(&self, seed: u64) -> Self::V {
        (**self).gaussian(seed)
    }
    fn calls(&self) -> usize {
        (**self).calls()
    }
}
