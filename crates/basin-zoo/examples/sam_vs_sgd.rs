//! SAM against plain SGD on the bundled MNIST slice: the same network (ne-f1), seed and
//! budget, compared by test accuracy and by the top eigenvalue of the exact Hessian (SAM
//! seeks flat minima, so its λ_max is expected to be lower).
//!
//!     cargo run --release --example sam_vs_sgd [-- --quick]

use basin_core::estimators::EstimatorConfig;
use basin_core::curvature::track::{CurvatureConfig, top_eigen};
use basin_core::train::{Silent, TrainConfig, TrainOptions, TrainSets, init_model, train};
use basin_zoo::{ModelOptions, ZooModel};
use burn::tensor::Device;

mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let quick = common::quick_flag("cargo run --release --example sam_vs_sgd [-- --quick]");
    let device = Device::flex();
    println!("| estimator | test accuracy | train loss | λ_max(H) |");
    println!("|---|---|---|---|");
    for estimator in ["sgd", "sam"] {
        let mut cfg = TrainConfig::default(); // ne-f1 on the bundled MNIST slice
        cfg.train.epochs = if quick { 1 } else { 10 };
        if quick {
            cfg.data.train_subset = 512;
            cfg.data.test_subset = 256;
        }
        cfg.estimator = EstimatorConfig::default_of(estimator).expect("a known estimator"); // SAM: ρ = 0.05
        let data = basin_zoo::data::prepare(&cfg.data, cfg.seed)?;
        let build = |d: &Device| ZooModel::build(&cfg.model.name, data.shape, data.classes, &ModelOptions::default(), d).expect("a zoo model");
        let model = init_model(&device.clone().autodiff(), cfg.seed, build);
        let out = std::env::temp_dir().join(format!("basin-{estimator}-{}", std::process::id()));
        let sets = TrainSets { train: &data.train, test: &data.test, val: None };
        let opts = TrainOptions { out: out.clone(), resume: false, stop: Default::default(), device: device.clone() };
        let (model, summary) = train(model, &cfg, &sets, &opts, &mut Silent)?;
        let subset: Vec<usize> = (0..if quick { 256 } else { 1000 }).collect();
        let top = top_eigen(&model, &data.train, &subset, &CurvatureConfig { top_k: 1, ..Default::default() }, 0, &device)?;
        println!("| {estimator} | {:.2} % | {:.4} | {:.3} |", 100.0 * summary.test_acc.expect("class labels have an accuracy"), summary.train_loss, top.eigenvalues[0]);
        std::fs::remove_dir_all(&out)?;
    }
    Ok(())
}
