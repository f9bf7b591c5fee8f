//! C1 of the noise-enhancement paper: a small VGG-style network with batch norm (the paper's
//! ghost batches of 100 are `train.ghost_batch = 100`, which applies to every model).

use super::init::glorot;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use crate::jvp::{self, Dual, DualNet};
use burn::tensor::Device;

/// `ne-c1` (shared/seeds/noise-enhancement.txt, §4): 3×[64, 3, 3, 1], 3×[128, 3, 3, 1],
/// 3×[256, 3, 3, 1] convolutions (same padding), MaxPool(2) after each stack, batch norm and
/// ReLU after every convolution, then a dense output layer. Accepts 3×32×32 and 1×28×28 inputs (28 → 14 → 7 → 3).
#[derive(Module, Debug)]
pub struct NeC1 {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    pool: MaxPool2d,
    out: Linear,
    act: super::noisy_relu::NoisyRelu,
}

impl NeC1 {
    /// Builds the network for images of `shape` and `classes` outputs.
    pub fn new(shape: [usize; 3], classes: usize, device: &Device) -> NeC1 {
        let [c, h, w] = shape;
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut d = c;
        for width in [64, 128, 256] {
            for _ in 0..3 {
                convs.push(
                    Conv2dConfig::new([d, width], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_initializer(glorot()).init(device),
                );
                norms.push(BatchNormConfig::new(width).init(device));
                d = width;
            }
        }
        NeC1 {
            convs,
            norms,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            out: LinearConfig::new(256 * (h / 8) * (w / 8), classes).with_initializer(glorot()).init(device),
            act: super::noisy_relu::NoisyRelu::new(0.0),
        }
    }

    /// Switches every ReLU to ReluSmoothOut with noise `a` (0 = plain ReLU).
    pub fn with_relu_noise(mut self, a: f64) -> NeC1 {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        self
    }
}

/// Logits for images `[B, C, H, W]`, written once for both passes.
impl DualNet for NeC1 {
    fn forward_dual(&self, dir: Option<&NeC1>, mut x: Dual<4>) -> Dual<2> {
        for (i, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = self.act.forward_dual(jvp::batch_norm(bn, dir.map(|d| &d.norms[i]), jvp::conv2d(conv, dir.map(|d| &d.convs[i]), x)));
            if i % 3 == 2 {
                x = jvp::max_pool2d(&self.pool, x);
            }
        }
        jvp::linear(&self.out, dir.map(|d| &d.out), jvp::flatten(x))
    }
}
