//! SimpleCNN of Jastrzębski et al., "On the relation between the sharpest directions of DNN
//! loss and the SGD step length" (ICLR 2019; shared/seeds/sharpest-directions.txt).

use super::init::glorot;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use crate::jvp::{self, Dual, DualNet};
use burn::tensor::Device;

/// `simple-cnn`: the paper's "4 layer CNN": conv 32 → conv 32 → MaxPool 2 → conv 64 → conv 64 →
/// MaxPool 2 (3×3 kernels, same padding, ReLU) → dense 128 ReLU → classes. No normalization,
/// as the paper studies plain SGD curvature. Accepts 3×32×32 and 1×28×28 inputs.
#[derive(Module, Debug)]
pub struct SimpleCnn {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    fc: Linear,
    out: Linear,
    act: super::noisy_relu::NoisyRelu,
}

impl SimpleCnn {
    /// Builds the network for images of `shape` and `classes` outputs.
    pub fn new(shape: [usize; 3], classes: usize, device: &Device) -> SimpleCnn {
        let [c, h, w] = shape;
        let chans = [(c, 32), (32, 32), (32, 64), (64, 64)];
        SimpleCnn {
            convs: chans
                .iter()
                .map(|&(i, o)| Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_initializer(glorot()).init(device))
                .collect(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc: LinearConfig::new(64 * (h / 4) * (w / 4), 128).with_initializer(glorot()).init(device),
            out: LinearConfig::new(128, classes).with_initializer(glorot()).init(device),
            act: super::noisy_relu::NoisyRelu::new(0.0),
        }
    }

    /// Switches every ReLU to ReluSmoothOut with noise `a` (0 = plain ReLU).
    pub fn with_relu_noise(mut self, a: f64) -> SimpleCnn {
        self.act = super::noisy_relu::NoisyRelu::new(a);
        self
    }
}

/// Logits for images `[B, C, H, W]`, written once for both passes.
impl DualNet for SimpleCnn {
    fn forward_dual(&self, dir: Option<&SimpleCnn>, mut x: Dual<4>) -> Dual<2> {
        for (i, conv) in self.convs.iter().enumerate() {
            x = self.act.forward_dual(jvp::conv2d(conv, dir.map(|d| &d.convs[i]), x));
            if i % 2 == 1 {
                x = jvp::max_pool2d(&self.pool, x);
            }
        }
        let x = self.act.forward_dual(jvp::linear(&self.fc, dir.map(|d| &d.fc), jvp::flatten(x)));
        jvp::linear(&self.out, dir.map(|d| &d.out), x)
    }
}
