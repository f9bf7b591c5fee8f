//! ReluSmoothOut (SmoothOut workshop, eq. 12): f(x) = (1 + Θ) · max(0, x) with Θ ~ U(−a, a)
//! drawn per unit and per example at every training forward pass; plain ReLU in evaluation.
//! It perturbs activations instead of weights, so it is a module, not an estimator; every zoo
//! network's ReLUs switch to it with `model.relu_noise = a` (the paper's one experiment is
//! ResNet-44 on CIFAR-10, workshop Table 2).

use crate::jvp::{Dual, Pass};
use burn::module::{Flag, Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::{Distribution, Tensor};

/// A ReLU with multiplicative uniform noise in training.
#[derive(Module, Debug)]
pub struct NoisyRelu {
    a: f64,
    /// Training behaviour (noise); cleared by `valid()`, like Burn's `Dropout`, so evaluation,
    /// curvature, sharpness and landscapes see a plain ReLU even on an autodiff device.
    pub training: Param<Flag>,
}

impl NoisyRelu {
    /// Noise strength a (0 = plain ReLU).
    pub fn new(a: f64) -> Self {
        NoisyRelu { a, training: Param::from_bool(true) }
    }

    /// (1 + Θ) ⊙ relu(x) in training (training flag set, `x` on an autodiff device, a > 0),
    /// else relu(x).
    /// Θ comes from the backend RNG, which the trainer seeds from (run seed, step).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let r = relu(x);
        if self.a == 0.0 || !self.training.is_enabled() || !r.device().is_autodiff() {
            return r;
        }
        let theta = Tensor::<D>::random(r.shape(), Distribution::Uniform(1.0 - self.a, 1.0 + self.a), &r.device().inner());
        r * Tensor::from_inner(theta)
    }

    /// The activation on [`Dual`]: [`forward`](Self::forward) in a plain pass, the plain
    /// ReLU's rule in a tangent pass (evaluation mode, no noise).
    pub fn forward_dual<const D: usize>(&self, x: Dual<D>) -> Dual<D> {
        match x.pass {
            Pass::Tangent => x.relu(),
            Pass::Plain => Dual { value: self.forward(x.value), ..x },
        }
    }
}
