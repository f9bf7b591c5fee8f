//! C1 of Keskar et al. (ICLR 2017), the shallow AlexNet-style network of SmoothOut Table 1.

use super::init::glorot;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use crate::jvp::{self, Dual, DualNet};
use burn::tensor::Device;

/// `keskar-c1`: 2 × [conv 64 5×5 (same) → BN → ReLU → MaxPool 3×3 stride 2 (same)] →
/// dense 384 → BN → ReLU → dropout ½ → dense 192 → BN → ReLU → dropout ½ → classes.
///
/// This follows the Keras definition published with Keskar et al., "On Large-Batch Training
/// for Deep Learning: Generalization Gap and Sharp Minima" (networks C1/C3, AlexNet-like).
/// Accepts 3×32×32 (CIFAR) and 1×28×28 (Fashion-MNIST) inputs.
#[derive(Module, Debug)]
pub struct KeskarC1 {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    pool: MaxPool2d,
    fc1: Linear,
    bn3: BatchNorm,
    fc2: Linear,
    bn4: BatchNorm,
    dropout: Dropout,
    out: Linear,
    act: super::noisy_relu::NoisyRelu,
}

impl KeskarC1 {
    /// Builds C1 for images of `shape` = [channels, height, width] and `classes` outputs.
    pub fn new(shape: [usize; 3], classes: usize, device: &Device) -> KeskarC1 {
        let [c, h, w] = shape;
        // "same" max pooling 3×3 / 2: ceil(n / 2).
        let (h2, w2) = (h.div_ceil(2).div_ceil(2), w.div_ceil(2).div_ceil(2));
        KeskarC1 {
            conv1: Conv2dConfig::new([c, 64], [5, 5]).with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)).with_initializer(glorot()).init(device),
            bn1: BatchNormConfig::new(64).init(device),
            conv2: Conv2dConfig::new([64, 64], [5, 5]).with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2)).with_initializer(glorot()).init(device),
            bn2: BatchNormConfig::new(64).init(device),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(),
            fc1: LinearConfig::new(64 * h2 * w2, 384).with_initializer(glorot()).init(device),
            bn3: BatchNormConfig::new(384).init(device),
            fc2: LinearConfig::new(384, 192).with_initializer(glorot()).init(device),
            bn4: BatchNormConfig::new(192).init(device),
            dropout: DropoutConfig::new(0.5).init(),
            out: LinearConfig::new(192, classes).with_initializer(glorot()).init(device),
            act: super::noisy_relu::NoisyRelu::new(0.0),
        }
    }

    /// Switches every ReLU to ReluSmoothOut with noise `a` (0 = plain ReLU).
    pub fn with_relu_noise(mut self, a: f64) -> KeskarC1 {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        self
    }
}

/// Logits for images `[B, C, H, W]`, written once for both passes.
impl DualNet for KeskarC1 {
    fn forward_dual(&self, dir: Option<&KeskarC1>, x: Dual<4>) -> Dual<2> {
        let block = |conv: &Conv2d, bn: &BatchNorm, d: Option<(&Conv2d, &BatchNorm)>, x| {
            jvp::max_pool2d(&self.pool, self.act.forward_dual(jvp::batch_norm(bn, d.map(|d| d.1), jvp::conv2d(conv, d.map(|d| d.0), x))))
        };
        let x = block(&self.conv1, &self.bn1, dir.map(|d| (&d.conv1, &d.bn1)), x);
        let x = block(&self.conv2, &self.bn2, dir.map(|d| (&d.conv2, &d.bn2)), x);
        let dense = |fc: &Linear, bn: &BatchNorm, d: Option<(&Linear, &BatchNorm)>, x| {
            jvp::dropout(&self.dropout, self.act.forward_dual(jvp::batch_norm(bn, d.map(|d| d.1), jvp::linear(fc, d.map(|d| d.0), x))))
        };
        let x = dense(&self.fc1, &self.bn3, dir.map(|d| (&d.fc1, &d.bn3)), jvp::flatten(x));
        let x = dense(&self.fc2, &self.bn4, dir.map(|d| (&d.fc2, &d.bn4)), x);
        jvp::linear(&self.out, dir.map(|d| &d.out), x)
    }
}
