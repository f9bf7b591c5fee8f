//! ResNet-20/32/44/56 for CIFAR (He, Zhang, Ren & Sun, "Deep Residual Learning for Image
//! Recognition", CVPR 2016, §4.2), used by the SmoothOut (ResNet-44) and sharpest-directions
//! (ResNet-32) papers.

use super::init::he;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use crate::jvp::{self, Dual, DualNet};
use burn::tensor::{Device, Tensor};

fn conv3x3(i: usize, o: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([i, o], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .with_initializer(he())
        .init(device)
}

/// A basic residual block: conv-BN-ReLU-conv-BN plus the shortcut, then ReLU. When the block
/// halves the resolution, the shortcut is the paper's option A: subsample by 2 and pad the new
/// channels with zeros (no parameters, so ResNet-20 has the paper's 0.27 M weights).
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    subsample: Option<AvgPool2d>,
    pad: usize,
    act: super::noisy_relu::NoisyRelu,
}

impl BasicBlock {
    fn new(i: usize, o: usize, stride: usize, device: &Device) -> BasicBlock {
        BasicBlock {
            conv1: conv3x3(i, o, stride, device),
            bn1: BatchNormConfig::new(o).init(device),
            conv2: conv3x3(o, o, 1, device),
            bn2: BatchNormConfig::new(o).init(device),
            subsample: (stride != 1).then(|| AvgPool2dConfig::new([1, 1]).with_strides([stride, stride]).init()),
            pad: (o - i) / 2,
            act: super::noisy_relu::NoisyRelu::new(0.0),
        }
    }

    /// conv-BN-ReLU-conv-BN, plus the shortcut, then ReLU, in the pass `x` carries.
    fn forward_dual(&self, dir: Option<&BasicBlock>, x: Dual<4>) -> Dual<4> {
        let out = jvp::conv2d(&self.conv1, dir.map(|d| &d.conv1), x.clone());
        let out = self.act.forward_dual(jvp::batch_norm(&self.bn1, dir.map(|d| &d.bn1), out));
        let out = jvp::batch_norm(&self.bn2, dir.map(|d| &d.bn2), jvp::conv2d(&self.conv2, dir.map(|d| &d.conv2), out));
        self.act.forward_dual(out + x.map(|t| self.shortcut(t)))
    }

    /// The zero-channel padding and sub-sampling of the option-A shortcut (linear, no parameters).
    fn shortcut(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.subsample {
            None => x,
            Some(pool) => {
                let s = pool.forward(x);
                let [b, _, h, w] = s.dims();
                let z = Tensor::zeros([b, self.pad, h, w], &s.device());
                Tensor::cat(vec![z.clone(), s, z], 1)
            }
        }
    }
}

/// `resnet-{20,32,44,56}`: 3×3 conv 16 → 3 stages of n basic blocks (16, 32, 64 channels,
/// stride 2 between stages) → global average pool → dense; depth = 6n + 2.
/// Accepts 3×32×32 and 1×28×28 inputs.
#[derive(Module, Debug)]
pub struct ResNetCifar {
    stem: Conv2d,
    bn: BatchNorm,
    blocks: Vec<BasicBlock>,
    pool: AdaptiveAvgPool2d,
    fc: Linear,
    act: super::noisy_relu::NoisyRelu,
}

impl ResNetCifar {
    /// Builds a ResNet of `depth` (20, 32, 44, 56, ... = 6n+2) for images with `channels`.
    pub fn new(depth: usize, channels: usize, classes: usize, device: &Device) -> ResNetCifar {
        assert!(depth >= 8 && (depth - 2).is_multiple_of(6), "ResNet depth must be 6n+2");
        let n = (depth - 2) / 6;
        let mut blocks = Vec::new();
        let mut d = 16;
        for (stage, width) in [16, 32, 64].into_iter().enumerate() {
            for b in 0..n {
                let stride = if stage > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(d, width, stride, device));
                d = width;
            }
        }
        ResNetCifar {
            stem: conv3x3(channels, 16, 1, device),
            bn: BatchNormConfig::new(16).init(device),
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(64, classes).init(device),
            act: super::noisy_relu::NoisyRelu::new(0.0),
        }
    }

    /// Switches every ReLU (the stem's and both of every block) to ReluSmoothOut with noise
    /// `a` (0 = plain ReLU): the SmoothOut workshop's ResNet-44 experiment (Table 2).
    pub fn with_relu_noise(mut self, a: f64) -> ResNetCifar {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        for b in &mut self.blocks {
            b.act = super::noisy_relu::NoisyRelu::new(a);
        }
        self
    }
}

/// Logits for images `[B, C, H, W]`, written once for both passes.
impl DualNet for ResNetCifar {
    fn forward_dual(&self, dir: Option<&ResNetCifar>, x: Dual<4>) -> Dual<2> {
        let mut x = self.act.forward_dual(jvp::batch_norm(&self.bn, dir.map(|d| &d.bn), jvp::conv2d(&self.stem, dir.map(|d| &d.stem), x)));
        for (i, b) in self.blocks.iter().enumerate() {
            x = b.forward_dual(dir.map(|d| &d.blocks[i]), x);
        }
        jvp::linear(&self.fc, dir.map(|d| &d.fc), x.map(|t| self.pool.forward(t).flatten(1, 3)))
    }
}
