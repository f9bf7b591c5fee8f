//! C1 of the noise-enhancement paper: a small VGG-style network with ghost batch norm.

use super::ghost_batch_norm::GhostBatchNorm;
use super::init::glorot;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use crate::jvp::{self, Dual};
use burn::tensor::{Device, Tensor};

/// `ne-c1` (shared/seeds/noise-enhancement.txt, §4): 3×[64, 3, 3, 1], 3×[128, 3, 3, 1],
/// 3×[256, 3, 3, 1] convolutions (same padding), MaxPool(2) after each stack, ghost batch norm
/// (size `ghost`, 100 in the paper, 0 = plain batch norm) and ReLU after every convolution, then
/// a dense output layer. Accepts 3×32×32 and 1×28×28 inputs (28 → 14 → 7 → 3).
#[derive(Module, Debug)]
pub struct NeC1 {
    convs: Vec<Conv2d>,
    norms: Vec<GhostBatchNorm>,
    pool: MaxPool2d,
    out: Linear,
}

impl NeC1 {
    /// Builds the network for images of `shape` and `classes` outputs.
    pub fn new(shape: [usize; 3], classes: usize, ghost: usize, device: &Device) -> NeC1 {
        let [c, h, w] = shape;
        let mut convs = Vec::new();
        let mut norms = Vec::new();
        let mut d = c;
        for width in [64, 128, 256] {
            for _ in 0..3 {
                convs.push(
                    Conv2dConfig::new([d, width], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_initializer(glorot()).init(device),
                );
                norms.push(GhostBatchNorm::new(width, ghost, device));
                d = width;
            }
        }
        NeC1 {
            convs,
            norms,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            out: LinearConfig::new(256 * (h / 8) * (w / 8), classes).with_initializer(glorot()).init(device),
        }
    }

    /// See [`basin_core::Classifier::sync_running_stats`].
    pub fn sync_running_stats(&self) {
        self.norms.iter().for_each(|n| n.sync_running_stats());
    }

    /// Logits for images `[B, C, H, W]`.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<2> {
        for (i, (conv, bn)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = relu(bn.forward(crate::ops::conv2d(conv, x)));
            if i % 3 == 2 {
                x = crate::ops::max_pool2d(&self.pool, x);
            }
        }
        crate::ops::linear(&self.out, x.flatten(1, 3))
    }

    /// Logits and their tangent along `dir` in evaluation mode (running statistics);
    /// see [`basin_core::Classifier::logits_jvp`].
    pub fn forward_jvp(&self, dir: &NeC1, x: Tensor<4>) -> Dual<2> {
        let mut x = Dual::constant(x);
        for (i, ((conv, bn), (dconv, dbn))) in self.convs.iter().zip(&self.norms).zip(dir.convs.iter().zip(&dir.norms)).enumerate() {
            x = jvp::batch_norm(bn.inner(), dbn.inner(), jvp::conv2d(conv, dconv, x)).relu();
            if i % 3 == 2 {
                x = jvp::max_pool2d(&self.pool, x);
            }
        }
        jvp::linear(&self.out, &dir.out, jvp::layers::flatten(x))
    }
}
