//! Fully connected classifiers: F1 of the noise-enhancement paper and F1 of Keskar et al.

use super::init::glorot;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use crate::jvp::{self, Dual, DualNet};
use burn::tensor::Device;

/// A ReLU multilayer perceptron on flattened images, optionally batch-normalized.
///
/// * `ne-f1` — network F1 of the noise-enhancement paper (shared/seeds/noise-enhancement.txt,
///   Table 1 and §4): 784 → 7 × 500 ReLU → 10, no normalization.
/// * `keskar-f1` — Keskar et al. (ICLR 2017, "On large-batch training…", network F1, used in
///   SmoothOut Table 1): 784 → 5 × (512, batch norm, ReLU) → 10.
/// * `mlp` — the family of the generalization grid (Jiang et al. 2019 vary width and depth):
///   `model.depth` hidden layers of `model.width` ReLU units, dropout `model.dropout` after
///   each ReLU in training.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    norms: Vec<BatchNorm>,
    output: Linear,
    act: super::noisy_relu::NoisyRelu,
    drop: Dropout,
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
        Mlp { hidden, norms, output: LinearConfig::new(d, classes).with_initializer(glorot()).init(device), act: super::noisy_relu::NoisyRelu::new(0.0), drop: DropoutConfig::new(0.0).init() }
    }

    /// Dropout with probability `p` after every hidden ReLU in training (0 = none; a tangent
    /// pass never drops, see [`jvp::dropout`]).
    pub fn with_dropout(mut self, p: f64) -> Mlp {
        self.drop = DropoutConfig::new(p).init();
        self
    }

    /// Switches the ReLUs to ReluSmoothOut with noise `a` (0 = plain ReLU).
    pub fn with_relu_noise(mut self, a: f64) -> Mlp {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        self
    }
}

impl Mlp {
    /// The hidden layers' output φ(x), the input of the output layer (evaluation mode).
    pub fn features(&self, images: burn::tensor::Tensor<4>) -> burn::tensor::Tensor<2> {
        self.hidden_dual(None, Dual::plain(images)).value
    }

    fn hidden_dual(&self, dir: Option<&Mlp>, images: Dual<4>) -> Dual<2> {
        let mut x = jvp::flatten(images);
        for (i, layer) in self.hidden.iter().enumerate() {
            x = jvp::linear(layer, dir.map(|d| &d.hidden[i]), x);
            if let Some(bn) = self.norms.get(i) {
                x = jvp::batch_norm(bn, dir.map(|d| &d.norms[i]), x);
            }
            x = jvp::dropout(&self.drop, self.act.forward_dual(x));
        }
        x
    }
}

/// 784 → hidden (dense, batch norm, ReLU) → dense, written once for both passes.
impl DualNet for Mlp {
    fn forward_dual(&self, dir: Option<&Mlp>, images: Dual<4>) -> Dual<2> {
        jvp::linear(&self.output, dir.map(|d| &d.output), self.hidden_dual(dir, images))
    }
}
