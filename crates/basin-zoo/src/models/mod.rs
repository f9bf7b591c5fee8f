//! The papers' networks as ordinary Burn modules, and [`ZooModel`], the enum the CLI builds by
//! name. Every network takes images `[B, C, H, W]` and returns logits `[B, classes]`.

pub mod init;
pub mod keskar_c1;
pub mod lstm_lm;
pub mod mlp;
pub mod ne_c1;
pub mod noisy_relu;
pub mod resnet_cifar;
pub mod simple_cnn;

use crate::jvp;
use basin_core::Classifier;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use keskar_c1::KeskarC1;
pub use mlp::Mlp;
pub use ne_c1::NeC1;
pub use resnet_cifar::ResNetCifar;
pub use simple_cnn::SimpleCnn;

/// Model names accepted by [`ZooModel::build`], with what they are.
pub const MODEL_NAMES: &[(&str, &str)] = &[
    ("ne-f1", "noise-enhancement F1: 784 → 7×500 ReLU → 10"),
    ("keskar-f1", "Keskar et al. F1: 784 → 5×(512 BN ReLU) → 10"),
    ("mlp", "a ReLU MLP family: model.depth × model.width ReLU (default 2 × 512), model.dropout"),
    ("keskar-c1", "Keskar et al. C1: AlexNet-style, 2 conv 64 5×5 + dense 384, 192"),
    ("ne-c1", "noise-enhancement C1: VGG-style 3×64, 3×128, 3×256 with batch norm (ghost batches: train.ghost_batch)"),
    ("simple-cnn", "sharpest-directions SimpleCNN: conv 32,32,64,64 + dense 128"),
    ("resnet-20", "CIFAR ResNet-20 (He et al. 2016, option A)"),
    ("resnet-32", "CIFAR ResNet-32"),
    ("resnet-44", "CIFAR ResNet-44"),
    ("resnet-56", "CIFAR ResNet-56"),
];

/// Any network of the zoo. Built once per run, so the size difference between variants
/// (a ResNet's block list vs an MLP) does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ZooModel {
    /// A fully connected network (`ne-f1`, `keskar-f1`).
    Mlp(Mlp),
    /// `keskar-c1`.
    KeskarC1(KeskarC1),
    /// `ne-c1`.
    NeC1(NeC1),
    /// `simple-cnn`.
    SimpleCnn(SimpleCnn),
    /// `resnet-N`.
    ResNet(ResNetCifar),
}

/// Options of the zoo networks that a config can set.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// ReluSmoothOut noise a on every ReLU of the network (0 = plain ReLU).
    pub relu_noise: f64,
    /// Hidden units per layer of `mlp` (0 = its default, 512).
    pub width: usize,
    /// Hidden layers of `mlp` (0 = its default, 2).
    pub depth: usize,
    /// Dropout probability after each hidden ReLU of `mlp` in training.
    pub dropout: f64,
}

impl ModelOptions {
    /// The options a run's `[model]` sets.
    pub fn of(cfg: &basin_core::train::ModelConfig) -> ModelOptions {
        ModelOptions { relu_noise: cfg.relu_noise, width: cfg.width, depth: cfg.depth, dropout: cfg.dropout }
    }

    /// `model.width`, `model.depth` and `model.dropout` shape the `mlp` family only: set for
    /// another network they would be ignored, so they are refused, naming the key.
    fn check_family(&self, name: &str) -> Result<(), String> {
        let set = [("model.width", self.width != 0), ("model.depth", self.depth != 0), ("model.dropout", self.dropout != 0.0)];
        match set.iter().find(|(_, on)| *on) {
            Some((key, _)) if name != "mlp" => Err(format!("{key}: only the `mlp` family has it ('{name}' is a fixed architecture)")),
            _ if !(0.0..1.0).contains(&self.dropout) => Err(format!("model.dropout: {} is not in [0, 1)", self.dropout)),
            _ => Ok(()),
        }
    }
}

impl ZooModel {
    /// Builds the network `name` for images of `shape` = [C, H, W] with `classes` outputs.
    pub fn build(name: &str, shape: [usize; 3], classes: usize, opts: &ModelOptions, device: &Device) -> Result<ZooModel, String> {
        let flat = shape.iter().product();
        opts.check_family(name)?;
        Ok(match name {
            "mlp" => {
                let widths = vec![if opts.width == 0 { 512 } else { opts.width }; if opts.depth == 0 { 2 } else { opts.depth }];
                ZooModel::Mlp(Mlp::new(flat, &widths, classes, false, device).with_relu_noise(opts.relu_noise).with_dropout(opts.dropout))
            }
            "ne-f1" => ZooModel::Mlp(Mlp::new(flat, &[500; 7], classes, false, device).with_relu_noise(opts.relu_noise)),
            "keskar-f1" => ZooModel::Mlp(Mlp::new(flat, &[512; 5], classes, true, device).with_relu_noise(opts.relu_noise)),
            "keskar-c1" => ZooModel::KeskarC1(KeskarC1::new(shape, classes, device).with_relu_noise(opts.relu_noise)),
            "ne-c1" => ZooModel::NeC1(NeC1::new(shape, classes, device).with_relu_noise(opts.relu_noise)),
            "simple-cnn" => ZooModel::SimpleCnn(SimpleCnn::new(shape, classes, device).with_relu_noise(opts.relu_noise)),
            n if n.starts_with("resnet-") => {
                let depth: usize = n[7..].parse().map_err(|_| format!("model: unknown model '{n}'"))?;
                if ![20, 32, 44, 56].contains(&depth) {
                    return Err(format!("model: unknown model '{n}' (ResNets: resnet-20, -32, -44, -56)"));
                }
                ZooModel::ResNet(ResNetCifar::new(depth, shape[0], classes, device).with_relu_noise(opts.relu_noise))
            }
            other => {
                let names: Vec<&str> = MODEL_NAMES.iter().map(|(n, _)| *n).collect();
                return Err(format!("model: unknown model '{other}' (known: {})", names.join(", ")));
            }
        })
    }
}

/// The zoo's networks are written once ([`DualNet`](crate::jvp::DualNet)): both passes come from that definition.
impl Classifier for ZooModel {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            ZooModel::Mlp(m) => jvp::logits(m, images),
            ZooModel::KeskarC1(m) => jvp::logits(m, images),
            ZooModel::NeC1(m) => jvp::logits(m, images),
            ZooModel::SimpleCnn(m) => jvp::logits(m, images),
            ZooModel::ResNet(m) => jvp::logits(m, images),
        }
    }
    fn logits_jvp(&self, dir: &Self, images: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(match (self, dir) {
            (ZooModel::Mlp(m), ZooModel::Mlp(d)) => jvp::logits_jvp(m, d, images),
            (ZooModel::KeskarC1(m), ZooModel::KeskarC1(d)) => jvp::logits_jvp(m, d, images),
            (ZooModel::NeC1(m), ZooModel::NeC1(d)) => jvp::logits_jvp(m, d, images),
            (ZooModel::SimpleCnn(m), ZooModel::SimpleCnn(d)) => jvp::logits_jvp(m, d, images),
            (ZooModel::ResNet(m), ZooModel::ResNet(d)) => jvp::logits_jvp(m, d, images),
            _ => return None,
        })
    }
    fn features(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        match self {
            ZooModel::Mlp(m) => Some(m.features(images)),
            _ => None,
        }
    }
}
