//! Every estimator at its defaults trains the default model (ne-f1) on the default data (the
//! bundled MNIST slice) with the default optimizer (momentum 0.9, lr 0.01, batch 64) for one
//! epoch without diverging, and ends better than chance (issue 37: Entropy-SGD's defaults
//! diverged at step 11). Nudged SGD is the one method that refuses the default optimizer (its
//! nudge needs plain SGD without weight decay, an error naming `optimizer.name`); it runs with
//! `optimizer.name = "sgd"`, what that error asks for.

use basin_core::estimators::{ESTIMATOR_NAMES, EstimatorConfig};
use basin_core::train::{Silent, TrainConfig, TrainOptions, TrainSets, init_model, train};
use basin_zoo::{ModelOptions, ZooModel};
use burn::tensor::Device;

#[test]
fn every_estimator_s_defaults_train_the_default_model_for_an_epoch() {
    let mut failures = Vec::new();
    for name in ESTIMATOR_NAMES {
        let mut cfg = TrainConfig::default();
        cfg.train.epochs = 1;
        cfg.estimator = EstimatorConfig::default_of(name).expect("a default for every name");
        if *name == "nsgd" {
            cfg.optimizer.name = "sgd".into();
        }
        cfg.validate().unwrap_or_else(|e| panic!("{name}: the defaults are refused: {e}"));
        let data = basin_zoo::data::prepare(&cfg.data, cfg.seed).unwrap();
        cfg.validate_against(basin_core::batch::ExampleSet::len(&data.train)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let device = Device::flex();
        let model = init_model(&device.clone().autodiff(), cfg.seed, |d| ZooModel::build(&cfg.model.name, data.shape, data.classes, &ModelOptions::default(), d).unwrap());
        let out = tempfile::tempdir().unwrap();
        let sets = TrainSets { train: &data.train, test: &data.test, val: None };
        let opts = TrainOptions { out: out.path().into(), resume: false, stop: Default::default(), device };
        match train(model, &cfg, &sets, &opts, &mut Silent) {
            Ok((_, s)) => {
                println!("{name}: train loss {:.4}, test accuracy {:.2} %", s.train_loss, 100.0 * s.test_acc.unwrap());
                if !(s.train_loss.is_finite() && s.test_acc > Some(0.5)) {
                    failures.push(format!("{name}: train loss {}, test accuracy {:?}", s.train_loss, s.test_acc));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "estimators whose defaults do not train the default model: {failures:#?}");
}
