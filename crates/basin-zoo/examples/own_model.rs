//! A model of your own, trained toward a flat minimum and measured.
//!
//! A small Burn CNN defined here (not from the zoo), written once on `basin_zoo::jvp::Dual`
//! (`DualNet`), implements `basin_core::Classifier` from that one definition: `logits` (the
//! plain forward pass) and `logits_jvp` (the tangent pass), so that the exact Hessian is
//! available with no tangent code of its own. It is trained with SmoothOut (a = 0.0375) on the bundled MNIST
//! slice; then the top-5 eigenvalues of its exact Hessian and its (C_ε, A)-sharpness
//! (ε = 5e-4, full space) are printed.
//!
//!     cargo run --release --example own_model [-- --quick]

use basin_core::Classifier;
use basin_core::curvature::Objective;
use basin_core::estimators::{EstimatorConfig, SmoothOutConfig};
use basin_core::curvature::track::{CurvatureConfig, top_eigen};
use basin_core::sharpness::{SharpnessConfig, sharpness};
use basin_core::train::{Silent, TrainConfig, TrainOptions, TrainSets, init_model, train};
use basin_zoo::jvp::{self, Dual, DualNet};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// conv 8 3×3 → ReLU → max-pool 2 → dense 64 → ReLU → dense 10, for 1×28×28 images.
#[derive(Module, Debug)]
struct TinyCnn {
    conv: Conv2d,
    pool: MaxPool2d,
    hidden: Linear,
    out: Linear,
}

impl TinyCnn {
    fn new(device: &Device) -> TinyCnn {
        TinyCnn {
            conv: Conv2dConfig::new([1, 8], [3, 3]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            hidden: LinearConfig::new(8 * 13 * 13, 64).init(device),
            out: LinearConfig::new(64, 10).init(device),
        }
    }
}

// The network, written once on dual numbers: `jvp::logits` runs it as the plain forward pass
// (training), `jvp::logits_jvp` as the tangent pass the exact Hessian needs.
impl DualNet for TinyCnn {
    fn forward_dual(&self, dir: Option<&Self>, x: Dual<4>) -> Dual<2> {
        let x = jvp::max_pool2d(&self.pool, jvp::conv2d(&self.conv, dir.map(|d| &d.conv), x).relu());
        let x = jvp::linear(&self.hidden, dir.map(|d| &d.hidden), jvp::flatten(x)).relu();
        jvp::linear(&self.out, dir.map(|d| &d.out), x)
    }
}

impl Classifier for TinyCnn {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        jvp::logits(self, x)
    }
    fn logits_jvp(&self, dir: &Self, x: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(jvp::logits_jvp(self, dir, x))
    }
}

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = common::quick_flag("cargo run --release --example own_model [-- --quick]");
    let mut cfg = TrainConfig::default(); // the bundled MNIST slice, SGD with momentum 0.9
    cfg.train.epochs = if quick { 1 } else { 10 };
    if quick {
        cfg.data.train_subset = 512;
        cfg.data.test_subset = 256;
    }
    cfg.estimator = EstimatorConfig::SmoothOut(SmoothOutConfig::default().with_a(0.0375));
    let data = basin_zoo::data::prepare(&cfg.data, cfg.seed)?;
    let device = Device::flex();
    let model = init_model(&device.clone().autodiff(), cfg.seed, TinyCnn::new);
    let out = std::env::temp_dir().join(format!("basin-own-model-{}", std::process::id()));
    let sets = TrainSets { train: &data.train, test: &data.test, val: None };
    let opts = TrainOptions { out: out.clone(), resume: false, stop: Default::default(), device: device.clone() };
    let (model, summary) = train(model, &cfg, &sets, &opts, &mut Silent)?;
    println!("TinyCnn + SmoothOut (a = 0.0375), {} epochs: test accuracy {:.2} %, train loss {:.4}", cfg.train.epochs, 100.0 * summary.test_acc.expect("class labels have an accuracy"), summary.train_loss);

    let n = if quick { 256 } else { 1000 };
    let subset: Vec<usize> = (0..n).collect();
    let top = top_eigen(&model, &data.train, &subset, &CurvatureConfig { top_k: 5, ..Default::default() }, 0, &device)?;
    let shown: Vec<String> = top.eigenvalues.iter().map(|l| format!("{l:.3}")).collect();
    println!("top-5 eigenvalues of the exact Hessian ({n} training examples): {}", shown.join(", "));

    let mut objective = Objective::new(&model, &data.train, &subset, 256, &device);
    let s = sharpness(&mut objective, &SharpnessConfig { restarts: if quick { 1 } else { 5 }, max_evals: if quick { 5 } else { 20 }, ..Default::default() });
    println!("(C_ε, A)-sharpness, ε = 5e-4, full space: {:.4} (maximum of {} L-BFGS-B runs)", s.sharpness, s.per_restart.len());
    std::fs::remove_dir_all(&out)?;
    Ok(())
}
