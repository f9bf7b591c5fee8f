//! Fully connected classifiers: F1 of the noise-enhancement paper and F1 of Keskar et al.

use super::init::glorot;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use crate::jvp::{self, Dual};
use burn::tensor::{Device, Tensor};

/// A ReLU multilayer perceptron on flattened images, optionally batch-normalized.
///
/// * `ne-f1` — network F1 of the noise-enhancement paper (shared/seeds/noise-enhancement.txt,
///   Table 1 and §4): 784 → 7 × 500 ReLU → 10, no normalization.
/// * `keskar-f1` — Keskar et al. (ICLR 2017, "On large-batch training…", network F1, used in
///   SmoothOut Table 1): 784 → 5 × (512, batch norm, ReLU) → 10.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    norms: Vec<BatchNorm>,
    output: Linear,
    act: super::noisy_relu::NoisyRelu,
}

impl Mlp {
    /// `input` features → `widths` hidden ReLU layers → `classes` logits; `batch_norm` puts a
    /// batch norm between each hidden linear layer and its ReLU.
    pub fn new(input: usize, widths: &[usize], classes: usize, batch_norm: bool, device: &Device) -> Mlp {
        let mut hidden = Vec::new();
        let mut norms = Vec::new();
        let mut d = input;
        for &w in widths {
            hidden.push(LinearConfig::new(d, w).with_initializer(glorot()).init(device));
            if batch_norm {
                norms.push(BatchNormConfig::new(w).init(device));
            }
            d = w;
        }
        Mlp { hidden, norms, output: LinearConfig::new(d, classes).with_initializer(glorot()).init(device), act: super::noisy_relu::NoisyRelu::new(0.0) }
    }

    /// Switches the ReLUs to ReluSmoothOut with noise `a` (0 = plain ReLU).
    pub fn with_relu_noise(mut self, a: f64) -> Mlp {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        self
    }

    /// Logits for a batch of images `[B, C, H, W]` (flattened here) or features `[B, D]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x: Tensor<2> = images.flatten(1, 3);
        for (i, layer) in self.hidden.iter().enumerate() {
            x = crate::ops::linear(layer, x);
            if let Some(bn) = self.norms.get(i) {
                x = crate::ops::batch_norm(bn, x);
            }
            x = self.act.forward(x);
        }
        crate::ops::linear(&self.output, x)
    }

    /// Logits and their tangent along the direction model `dir` (evaluation mode: batch norm on
    /// running statistics, plain ReLU); see [`basin_core::Classifier::logits_jvp`].
    pub fn forward_jvp(&self, dir: &Mlp, images: Tensor<4>) -> Dual<2> {
        let mut x = Dual::constant(images.flatten(1, 3));
        for (i, (layer, d)) in self.hidden.iter().zip(&dir.hidden).enumerate() {
            x = jvp::linear(layer, d, x);
            if let (Some(bn), Some(dbn)) = (self.norms.get(i), dir.norms.get(i)) {
                x = jvp::batch_norm(bn, dbn, x);
            }
            x = x.relu();
        }
        jvp::linear(&self.output, &dir.output, x)
    }
}
