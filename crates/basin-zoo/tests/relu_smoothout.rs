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

/// `model.relu_noise` reaches every ReLU of every zoo network (issue 25: it used to reach the
/// fully connected ones only and was silently ignored elsewhere): training passes under two
/// backend seeds differ, evaluation is deterministic and equals the network without noise.
#[test]
fn every_zoo_model_switches_it_on() {
    let ad = Device::flex().autodiff();
    for name in ["ne-f1", "keskar-f1", "keskar-c1", "ne-c1", "simple-cnn", "resnet-20"] {
        let build = |a: f64| basin_core::train::init_model(&ad, 0, |d| ZooModel::build(name, [1, 28, 28], 10, &ModelOptions { relu_noise: a, ..Default::default() }, d).unwrap());
        let (m, plain) = (build(0.3), build(0.0));
        // two different images (identical ones would make batch norm's output 0 and the
        // ReLUs' noise invisible)
        let xs: Vec<f32> = (0..4 * 784).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(xs, [4, 1, 28, 28]), &ad);
        let _rng = basin_core::rng::backend_lock(); // see the first test
        let host = |t: Tensor<2>| -> Vec<f32> { t.into_data().convert::<f32>().try_to_vec().unwrap() };
        // dropout (keskar-c1) draws from the same generator: the same seed with and without
        // the noise isolates the noise's own effect
        // evaluation first: a training pass moves the running statistics
        let v1 = host(m.valid().logits(x.clone().inner()));
        let v0 = host(plain.valid().logits(x.clone().inner()));
        assert_eq!(v1, v0, "{name}: evaluation is the plain network");
        ad.seed(1);
        let a = host(m.logits(x.clone()));
        ad.seed(1);
        let p = host(plain.logits(x.clone()));
        assert_ne!(a, p, "{name}: the noise must change a training forward pass");
    }
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
    let opts = ModelOptions { relu_noise: 0.5, ..Default::default() };
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
