//! C1 of Keskar et al. (ICLR 2017), the shallow AlexNet-style network of SmoothOut Table 1.

use super::init::glorot;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use crate::jvp::{self, Dual};
use burn::tensor::{Device, Tensor};

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

    /// Logits for images `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let relu = |x| self.act.forward(x);
        let x = crate::ops::max_pool2d(&self.pool, relu(crate::ops::batch_norm(&self.bn1, crate::ops::conv2d(&self.conv1, x))));
        let x = crate::ops::max_pool2d(&self.pool, relu(crate::ops::batch_norm(&self.bn2, crate::ops::conv2d(&self.conv2, x))));
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.dropout.forward(self.act.forward(crate::ops::batch_norm(&self.bn3, crate::ops::linear(&self.fc1, x))));
        let x = self.dropout.forward(self.act.forward(crate::ops::batch_norm(&self.bn4, crate::ops::linear(&self.fc2, x))));
        crate::ops::linear(&self.out, x)
    }

    /// Logits and their tangent along `dir` in evaluation mode (no dropout, running statistics);
    /// see [`basin_core::Classifier::logits_jvp`].
    pub fn forward_jvp(&self, dir: &KeskarC1, x: Tensor<4>) -> Dual<2> {
        let x = jvp::max_pool2d(&self.pool, jvp::batch_norm(&self.bn1, &dir.bn1, jvp::conv2d(&self.conv1, &dir.conv1, Dual::constant(x))).relu());
        let x = jvp::max_pool2d(&self.pool, jvp::batch_norm(&self.bn2, &dir.bn2, jvp::conv2d(&self.conv2, &dir.conv2, x)).relu());
        let x = jvp::layers::flatten(x);
        let x = jvp::batch_norm(&self.bn3, &dir.bn3, jvp::linear(&self.fc1, &dir.fc1, x)).relu();
        let x = jvp::batch_norm(&self.bn4, &dir.bn4, jvp::linear(&self.fc2, &dir.fc2, x)).relu();
        jvp::linear(&self.out, &dir.out, x)
    }
}
