//! ReluSmoothOut: (1 + Θ)·max(0, x), Θ ~ U(−a, a) per unit, in training only.

use basin_core::Classifier;
use burn::module::Module;
use basin_zoo::models::noisy_relu::NoisyRelu;
use basin_zoo::{ModelOptions, ZooModel};
use burn::tensor::{Device, Tensor, TensorData};

#[test]
fn noisy_relu_scales_each_unit_by_one_plus_theta_in_training_only() {
    let ad = Device::flex().autodiff();
    let xs: Vec<f32> = (0..4000).map(|i| (i as f32 - 2000.0) / 100.0).collect();
    let x = Tensor::<2>::from_data(TensorData::new(xs.clone(), [40, 100]), &ad);
    // Burn's RNG is global to the process: hold basin's lock while seeding and drawing, or a
    // test running beside this one can reseed in between
    let _rng = basin_core::rng::backend_lock();
    ad.seed(1);
    let y: Vec<f32> = NoisyRelu::new(0.2).forward(x.clone()).into_data().convert::<f32>().try_to_vec().unwrap();
    let mut ratios = Vec::new();
    for (xi, yi) in xs.iter().zip(&y) {
        if *xi <= 0.0 {
            assert_eq!(*yi, 0.0);
        } else {
            let r = yi / xi;
            assert!((0.8 - 1e-6..=1.2 + 1e-6).contains(&r), "ratio {r}");
            ratios.push(r as f64);
        }
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let var = ratios.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / ratios.len() as f64;
    assert!((mean - 1.0).abs() < 0.01, "E[1 + Θ] = {mean}");
    assert!((var - 0.04 / 3.0).abs() < 0.002, "Var Θ = {var}, want a²/3");
    // evaluation (no autodiff): plain ReLU
    let plain = Tensor::<2>::from_data(TensorData::new(xs.clone(), [40, 100]), &Device::flex());
    let e: Vec<f32> = NoisyRelu::new(0.2).forward(plain).into_data().convert::<f32>().try_to_vec().unwrap();
    assert!(xs.iter().zip(&e).all(|(a, b)| *b == a.max(0.0)));
}

#[test]
fn zoo_mlp_switches_it_on() {
    let ad = Device::flex().autodiff();
    let opts = ModelOptions { relu_noise: 0.3 };
    let m = basin_core::train::init_model(&ad, 0, |d| ZooModel::build("ne-f1", [1, 28, 28], 10, &opts, d).unwrap());
    let x = Tensor::<4>::ones([2, 1, 28, 28], &ad);
    let _rng = basin_core::rng::backend_lock(); // see the first test
    ad.seed(1);
    let a: Vec<f32> = m.logits(x.clone()).into_data().convert::<f32>().try_to_vec().unwrap();
    ad.seed(2);
    let b: Vec<f32> = m.logits(x.clone()).into_data().convert::<f32>().try_to_vec().unwrap();
    assert_ne!(a, b, "training forward passes must differ");
    let v1: Vec<f32> = m.valid().logits(x.clone().inner()).into_data().convert::<f32>().try_to_vec().unwrap();
    let v2: Vec<f32> = m.valid().logits(x.inner()).into_data().convert::<f32>().try_to_vec().unwrap();
    assert_eq!(v1, v2, "evaluation is deterministic");
}

/// Issue 11: the noise must not leak into measurements. Curvature, sharpness and landscapes
/// evaluate a model taken through `valid()` but on the autodiff device (they need gradients);
/// the noise follows the module's training flag, so two evaluations there are identical.
#[test]
fn relu_noise_stays_out_of_curvature_and_gradients_of_the_objective() {
    use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
    use basin_core::curvature::{Differentiable, LinearOperator, Objective};
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let opts = ModelOptions { relu_noise: 0.5 };
    let m = basin_core::train::init_model(&ad, 0, |d| ZooModel::build("ne-f1", [1, 28, 28], 10, &opts, d).unwrap());
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(64), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..64).collect();
    let mut obj = Objective::new(&m, &set, &idx, 64, &dev);
    let w = obj.point().clone();
    let _rng = basin_core::rng::backend_lock(); // see the first test
    ad.seed(1);
    let (l1, g1) = obj.loss_grad(&w);
    ad.seed(2);
    let (l2, g2) = obj.loss_grad(&w);
    assert_eq!(l1, l2, "objective loss is random");
    assert_eq!(g1.to_host(), g2.to_host(), "objective gradient is random");
    for kind in [OperatorKind::Hessian, OperatorKind::Ggn, OperatorKind::Fd] {
        let mut op = CurvatureOperator::new(kind, Objective::new(&m, &set, &idx, 64, &dev), kind.default_eps()).unwrap();
        let v = op.rademacher(3);
        ad.seed(3);
        let a = op.apply(&v).to_host();
        ad.seed(4);
        let b = op.apply(&v).to_host();
        assert_eq!(a, b, "two {} products differ", kind.label());
    }
}
