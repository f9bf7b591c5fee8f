//! [`Dual`]: an activation and its tangent along a parameter direction, and [`Pass`], which
//! of the two passes a network written once on `Dual` is running.

use burn::tensor::Tensor;
use burn::tensor::activation::{sigmoid, tanh};
use std::ops::{Add, Mul};

/// Which pass a network written on [`Dual`] runs.
///
/// * `Plain` — the ordinary forward pass: no tangent is ever formed, every layer runs its
///   plain kernel (the same products as a network written on `Tensor`), and layers keep their
///   training behaviour (batch statistics, dropout, ReluSmoothOut noise) where the device and
///   the module's flags ask for it.
/// * `Tangent` — the first half of the exact Hessian-vector product: values and tangents along
///   a direction, in evaluation mode (batch norm on running statistics, no dropout, plain ReLU),
///   so the Hessian is taken of one fixed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The plain forward pass.
    Plain,
    /// Values and tangents, evaluation mode.
    Tangent,
}

/// An activation `value` and its directional derivative `tangent` = ∂value/∂w · v.
/// `tangent = None` means zero: always in a [`Pass::Plain`] pass, and in a tangent pass for
/// data (the input images do not depend on the weights), which lets the first layer skip a
/// product.
#[derive(Debug, Clone)]
pub struct Dual<const D: usize> {
    /// The activation at w.
    pub value: Tensor<D>,
    /// Its tangent along v (`None` = 0).
    pub tangent: Option<Tensor<D>>,
    /// The pass this activation belongs to.
    pub pass: Pass,
}

impl<const D: usize> Dual<D> {
    /// The input of a plain forward pass.
    pub fn plain(value: Tensor<D>) -> Self {
        Dual { value, tangent: None, pass: Pass::Plain }
    }

    /// The input of a tangent pass: data, with zero tangent.
    pub fn constant(value: Tensor<D>) -> Self {
        Dual { value, tangent: None, pass: Pass::Tangent }
    }

    /// Whether this is a tangent pass (evaluation mode).
    pub fn is_tangent(&self) -> bool {
        self.pass == Pass::Tangent
    }

    /// A linear, parameter-free map applied to both parts (reshape, flatten, narrow, average
    /// pooling, zero padding, sub-sampling, a constant mask): its tangent is the map of the
    /// tangent.
    pub fn map<const E: usize>(self, f: impl Fn(Tensor<D>) -> Tensor<E>) -> Dual<E> {
        Dual { tangent: self.tangent.map(&f), value: f(self.value), pass: self.pass }
    }

    /// ReLU: the tangent passes where the value is positive. The mask is a constant, as in
    /// autodiff's ReLU derivative (0 at and below zero), applied by
    /// [`relu_mask`](crate::ops::relu_mask()). Nothing extra in a plain pass.
    pub fn relu(self) -> Dual<D> {
        let tangent = self.tangent.map(|t| crate::ops::relu_mask(t, self.value.clone()));
        Dual { tangent, value: burn::tensor::activation::relu(self.value), pass: self.pass }
    }

    /// The logistic sigmoid s = σ(x), ṡ = s (1 − s) ẋ.
    pub fn sigmoid(self) -> Dual<D> {
        let s = sigmoid(self.value);
        let tangent = self.tangent.map(|t| s.clone() * s.clone().neg().add_scalar(1.0) * t);
        Dual { value: s, tangent, pass: self.pass }
    }

    /// tanh: y = tanh x, ẏ = (1 − y²) ẋ.
    pub fn tanh(self) -> Dual<D> {
        let y = tanh(self.value);
        let tangent = self.tangent.map(|t| (y.clone() * y.clone()).neg().add_scalar(1.0) * t);
        Dual { value: y, tangent, pass: self.pass }
    }

    /// Stacks activations of one pass along a new dimension `dim` (time steps).
    pub fn stack<const E: usize>(parts: Vec<Dual<D>>, dim: usize) -> Dual<E> {
        let pass = parts.first().map_or(Pass::Plain, |p| p.pass);
        let (values, tangents): (Vec<_>, Vec<_>) = parts.into_iter().map(|p| (p.value, p.tangent)).unzip();
        let tangent = if tangents.iter().all(Option::is_none) {
            None
        } else {
            let like: Vec<Tensor<D>> = values.iter().zip(tangents).map(|(v, t)| t.unwrap_or_else(|| v.zeros_like())).collect();
            Some(Tensor::stack(like, dim))
        };
        Dual { value: Tensor::stack(values, dim), tangent, pass }
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

/// The sum of two activations (residual connections, LSTM gates).
impl<const D: usize> Add for Dual<D> {
    type Output = Dual<D>;
    fn add(self, other: Dual<D>) -> Dual<D> {
        Dual { value: self.value + other.value, tangent: add_opt(self.tangent, other.tangent), pass: self.pass }
    }
}

/// The element-wise product, by the product rule: (a b)˙ = ȧ b + a ḃ.
impl<const D: usize> Mul for Dual<D> {
    type Output = Dual<D>;
    fn mul(self, other: Dual<D>) -> Dual<D> {
        let left = self.tangent.map(|t| t * other.value.clone());
        let right = other.tangent.map(|t| self.value.clone() * t);
        Dual { value: self.value * other.value, tangent: add_opt(left, right), pass: self.pass }
    }
}
