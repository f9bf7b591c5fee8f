//! The tangent pass of every zoo network (the first half of the exact Hessian-vector product):
//! its value is the network's evaluation-mode logits, its tangent ż = J v agrees with reverse
//! mode (⟨u, ż⟩ = ⟨Jᵀu, v⟩ for random u, Jᵀu from Burn's backward), and the resulting Hessian is symmetric
//! (⟨u, H v⟩ = ⟨v, H u⟩), on real MNIST-slice images. The f64 oracle comparison of the exact
//! Hessian itself is `hessian_oracle.rs`; this file checks that each network composes the
//! layer rules correctly (batch norm, pooling, residual shortcuts).

use basin_core::Classifier;
use basin_core::batch::ExampleSet;
use basin_core::curvature::{Differentiable, Objective};
use basin_core::paramvec::ParamVec;
use basin_zoo::{ModelOptions, ZooModel};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    num / b.iter().map(|y| y * y).sum::<f64>().sqrt()
}


fn check(name: &str) {
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(16), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..16).collect();
    let opts = ModelOptions { relu_noise: 0.0, ..Default::default() };
    let model = basin_core::train::init_model(&ad, 7, |d| ZooModel::build(name, [1, 28, 28], 10, &opts, d).unwrap());
    // Running statistics away from (0, 1), as after training.
    for _ in 0..3 {
        let _ = model.logits(set.batch(&idx, None, &ad).images);
    }
    model.sync_running_stats();

    let valid = model.valid();
    let w = ParamVec::from_model(&valid);
    let v = w.normal(9, 1.0).scale(1e-2 * w.norm() / w.normal(9, 1.0).norm());
    let x = set.batch(&idx, None, &dev).images;
    let dir = v.write_into(valid.clone());
    let (z, zt) = valid.logits_jvp(&dir, x.clone()).expect("zoo networks have a tangent pass");
    let plain = host(valid.logits(x.clone()));
    assert!(rel(&host(z), &plain) < 1e-5, "{name}: tangent pass value differs from the logits");
    // ⟨u, ż⟩ = ⟨Jᵀu, v⟩ for random logit weights u, with Jᵀu = ∇_w⟨u, z(w)⟩ by reverse mode.
    let zt = host(zt);
    let [b, k] = [16, 10];
    for seed in 0..3u64 {
        let u: Vec<f32> = (0..b * k).map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 1000) as f32 / 500.0 - 1.0).collect();
        let ut = Tensor::<2>::from_data(burn::tensor::TensorData::new(u.clone(), [b, k]), &ad);
        let m = w.write_into_with_grad(valid.clone());
        let s = (m.logits(set.batch(&idx, None, &ad).images) * ut).sum();
        let g = ParamVec::from_grads(&w, &burn::optim::GradientsParams::from_grads(s.backward(), &m));
        let (lhs, rhs) = (u.iter().zip(&zt).map(|(a, b)| *a as f64 * b).sum::<f64>(), g.dot(&v));
        println!("{name}: ⟨u, ż⟩ = {lhs:.6e}, ⟨Jᵀu, v⟩ = {rhs:.6e}");
        assert!((lhs - rhs).abs() <= 1e-4 * (g.norm() * v.norm()), "{name}: tangent disagrees with reverse mode: {lhs} vs {rhs}");
    }

    let mut obj = Objective::new(&model, &set, &idx, 8, &dev);
    let p = obj.point().clone();
    let (a, b) = (p.rademacher(1), p.rademacher(2));
    let (ha, hb) = (obj.hvp(&a), obj.hvp(&b));
    let (x1, x2) = (b.dot(&ha), a.dot(&hb));
    let scale = ha.norm() * b.norm();
    println!("{name}: ⟨b, Ha⟩ = {x1:.6e}, ⟨a, Hb⟩ = {x2:.6e}");
    assert!((x1 - x2).abs() <= 1e-4 * scale, "{name}: Hessian not symmetric: {x1} vs {x2}");
    assert!(obj.point().numel() == p.numel());
}

#[test]
fn ne_f1_tangent_pass() {
    check("ne-f1");
}

#[test]
fn keskar_f1_tangent_pass() {
    check("keskar-f1");
}

#[test]
fn keskar_c1_tangent_pass() {
    check("keskar-c1");
}

#[test]
fn ne_c1_tangent_pass() {
    check("ne-c1");
}

#[test]
fn simple_cnn_tangent_pass() {
    check("simple-cnn");
}

#[test]
fn resnet_20_tangent_pass() {
    check("resnet-20");
}

/// A direction handed to a layer of a plain pass would be ignored: the layer rules refuse it.
#[test]
#[should_panic(expected = "a direction was given to a layer of a plain pass")]
fn a_direction_in_a_plain_pass_is_refused() {
    let dev = Device::flex();
    let layer = burn::nn::LinearConfig::new(3, 2).init(&dev);
    let x = basin_zoo::jvp::Dual::plain(Tensor::<2>::ones([1, 3], &dev));
    let _ = basin_zoo::jvp::linear(&layer, Some(&layer), x);
}

/// The plain pass forms no tangent: the same definition costs what a `Tensor` network costs.
#[test]
fn the_plain_pass_carries_no_tangent() {
    use basin_zoo::jvp::{Dual, DualNet};
    let dev = Device::flex();
    let net = basin_zoo::models::SimpleCnn::new([1, 28, 28], 10, &dev);
    let z = net.forward_dual(None, Dual::plain(Tensor::<4>::ones([2, 1, 28, 28], &dev)));
    assert!(z.tangent.is_none() && !z.is_tangent());
    assert_eq!(z.value.dims(), [2, 10]);
}
