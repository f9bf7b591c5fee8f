//! [`Dual`]: an activation and its tangent along a parameter direction.

use burn::tensor::Tensor;
use std::ops::Add;

/// An activation `value` and its directional derivative `tangent` = ∂value/∂w · v.
/// `tangent = None` means zero (the input images do not depend on the weights), which lets the
/// first layer skip a product.
#[derive(Debug, Clone)]
pub struct Dual<const D: usize> {
    /// The activation at w.
    pub value: Tensor<D>,
    /// Its tangent along v (`None` = 0).
    pub tangent: Option<Tensor<D>>,
}

impl<const D: usize> Dual<D> {
    /// Data: a value with zero tangent.
    pub fn constant(value: Tensor<D>) -> Self {
        Dual { value, tangent: None }
    }

    /// A linear, parameter-free map applied to both parts (reshape, flatten, average pooling,
    /// zero padding, sub-sampling): its tangent is the map of the tangent.
    pub fn map<const E: usize>(self, f: impl Fn(Tensor<D>) -> Tensor<E>) -> Dual<E> {
        Dual { tangent: self.tangent.map(&f), value: f(self.value) }
    }


    /// ReLU: the tangent passes where the value is positive. The mask is a constant, as in
    /// autodiff's ReLU derivative (0 at and below zero).
    pub fn relu(self) -> Dual<D> {
        let off = self.value.clone().lower_equal_elem(0.0);
        Dual { tangent: self.tangent.map(|t| t.mask_fill(off.clone(), 0.0)), value: burn::tensor::activation::relu(self.value) }
    }

    /// The tangent, with zero made explicit.
    pub fn tangent_or_zeros(&self) -> Tensor<D> {
        self.tangent.clone().unwrap_or_else(|| self.value.zeros_like())
    }
}

/// `a + b` where `None` is zero.
pub fn add_opt<const D: usize>(a: Option<Tensor<D>>, b: Option<Tensor<D>>) -> Option<Tensor<D>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The sum of two activations (residual connections).
impl<const D: usize> Add for Dual<D> {
    type Output = Dual<D>;
    fn add(self, other: Dual<D>) -> Dual<D> {
        Dual { value: self.value + other.value, tangent: add_opt(self.tangent, other.tangent) }
    }
}
