//! The determinism guard (issue 26): `Objective::check_deterministic` passes for a zoo model
//! (evaluation mode turns its randomness off, ReluSmoothOut noise included) and fails, with
//! both loss values, for a user's model that is random even in evaluation mode.

use basin_core::Classifier;
use basin_core::curvature::Objective;
use basin_zoo::{ModelOptions, ZooModel};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

/// A user's model whose logits carry fresh noise at every call, training flag or not.
#[derive(Module, Debug)]
struct Noisy {
    l: Linear,
}

impl Classifier for Noisy {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let y = self.l.forward(x.flatten(1, 3));
        let noise = Tensor::random(y.shape(), Distribution::Normal(0.0, 1.0), &y.device());
        y + noise
    }
}

#[test]
fn a_model_random_at_evaluation_is_stopped_before_any_estimate() {
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(200), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..200).collect();
    // ReluSmoothOut noise on: random in training, off in evaluation mode
    let zoo = basin_core::train::init_model(&ad, 1, |d| ZooModel::build("ne-f1", [1, 28, 28], 10, &ModelOptions { relu_noise: 0.1, ..Default::default() }, d).unwrap());
    Objective::new(&zoo, &set, &idx, 100, &dev).check_deterministic().unwrap();
    let noisy = basin_core::train::init_model(&ad, 1, |d| Noisy { l: LinearConfig::new(784, 10).init(d) });
    let err = Objective::new(&noisy, &set, &idx, 100, &dev).check_deterministic().unwrap_err();
    assert!(err.contains("not deterministic") && err.contains("dropout"), "{err}");
}
