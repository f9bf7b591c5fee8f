//! basin's evaluation-mode batch norm and its tangent (`ops::batch_norm_eval`) against
//! independent answers: the value, and its gradients of x, γ and β, against Burn's
//! `module::batch_norm` under Burn's autodiff; the tangent, and its gradients of x, ẋ and γ (the
//! second half of the exact Hessian product), against the same formula composed of Burn tensor
//! ops, ẏ = γ/√(σ² + ε) ẋ + γ̇ (x − μ)/√(σ² + ε) + β̇, differentiated by Burn's autodiff; with and
//! without ẋ and the direction, on convolutional and dense shapes.

use basin_zoo::ops::batch_norm_eval::{batch_norm_eval, batch_norm_eval_tangent};
use burn::module::{Param, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Distribution, Tensor};

fn rel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let s: f32 = b.clone().abs().max().into_scalar();
    let d: f32 = (a - b).abs().max().into_scalar();
    d / s.max(1e-6)
}

/// A layer with random γ, β (tracked) and running statistics far from 0 and 1.
fn layer(c: usize, dev: &Device) -> BatchNorm {
    let mut bn = BatchNormConfig::new(c).init(dev);
    bn.gamma = Param::from_tensor(Tensor::random([c], Distribution::Uniform(0.5, 2.0), dev)).set_require_grad(true);
    bn.beta = Param::from_tensor(Tensor::random([c], Distribution::Normal(0.0, 1.0), dev)).set_require_grad(true);
    bn.running_mean = RunningState::new(Tensor::random([c], Distribution::Normal(3.0, 1.0), dev));
    bn.running_var = RunningState::new(Tensor::random([c], Distribution::Uniform(1.5, 5.0), dev));
    bn
}

fn per_channel<const D: usize>(p: Tensor<1>) -> Tensor<D> {
    let c = p.dims()[0];
    p.reshape::<D, [usize; D]>(std::array::from_fn(|i| if i == 1 { c } else { 1 }))
}

/// The tangent written with Burn's tensor ops.
fn reference_tangent<const D: usize>(bn: &BatchNorm, dir: Option<&BatchNorm>, x: Tensor<D>, xdot: Option<Tensor<D>>) -> Tensor<D> {
    let dev = x.device();
    let inv = bn.running_var.value().to_device(&dev).add_scalar(bn.epsilon).sqrt().recip();
    let xhat = (x - per_channel(bn.running_mean.value().to_device(&dev))) * per_channel(inv.clone());
    let dv = dir.map(|d| xhat * per_channel(d.gamma.val()) + per_channel(d.beta.val()));
    let dx = xdot.map(|t| t * per_channel(bn.gamma.val() * inv));
    match (dv, dx) {
        (Some(a), Some(b)) => a + b,
        (a, b) => a.or(b).expect("a tangent"),
    }
}

fn assert_close<const D: usize>(what: &str, a: Option<Tensor<D>>, b: Option<Tensor<D>>, tol: f32) {
    match (a, b) {
        (Some(a), Some(b)) => {
            let e = rel(a, b);
            assert!(e < tol, "{what}: relative error {e}");
        }
        (None, None) => {}
        (a, b) => panic!("{what}: gradient present on one side only ({} / {})", a.is_some(), b.is_some()),
    }
}

fn check_value<const D: usize>(shape: [usize; D]) {
    let dev = Device::flex().autodiff();
    let bn = layer(shape[1], &dev);
    let x = Tensor::<D>::random(shape, Distribution::Normal(3.0, 2.0), &dev).require_grad();
    let w = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let ours = batch_norm_eval(&bn, x.clone());
    let (mean, var) = (bn.running_mean.value(), bn.running_var.value());
    let theirs = burn::tensor::module::batch_norm(x.clone(), bn.gamma.val(), bn.beta.val(), mean, var, bn.epsilon);
    let e = rel(ours.clone(), theirs.clone());
    assert!(e < 1e-5, "output {e}");
    let (g1, g2) = ((ours * w.clone()).sum().backward(), (theirs * w).sum().backward());
    assert_close("input gradient", x.grad(&g1), x.grad(&g2), 1e-5);
    assert_close("gamma gradient", bn.gamma.grad(&g1), bn.gamma.grad(&g2), 1e-4);
    assert_close("beta gradient", bn.beta.grad(&g1), bn.beta.grad(&g2), 1e-5);
}

fn check_tangent<const D: usize>(shape: [usize; D], with_xdot: bool, with_dir: bool) {
    let dev = Device::flex().autodiff();
    let bn = layer(shape[1], &dev);
    let dir = layer(shape[1], &dev); // only its γ, β (constants) are read
    let dir = with_dir.then_some(&dir);
    let x = Tensor::<D>::random(shape, Distribution::Normal(3.0, 2.0), &dev).require_grad();
    let xdot = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let xdot = with_xdot.then_some(xdot);
    let w = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    let var: Vec<f32> = bn.running_var.value().into_data().try_to_vec().unwrap();
    assert!(var.iter().all(|v| (v - 1.0).abs() > 0.05), "statistics far from (0, 1), so 1/√(σ² + ε) shows");
    let ours = batch_norm_eval_tangent(&bn, dir, x.clone(), xdot.clone()).expect("a tangent");
    let theirs = reference_tangent(&bn, dir, x.clone(), xdot.clone());
    let e = rel(ours.clone(), theirs.clone());
    assert!(e < 1e-5, "tangent ({with_xdot}, {with_dir}): {e}");
    let (g1, g2) = ((ours * w.clone()).sum().backward(), (theirs * w).sum().backward());
    let case = format!("(ẋ {with_xdot}, direction {with_dir})");
    assert_close(&format!("x gradient {case}"), x.grad(&g1), x.grad(&g2), 1e-5);
    let (ga, gb) = (bn.gamma.grad(&g1), bn.gamma.grad(&g2));
    assert_eq!(gb.is_some(), with_xdot, "the reference's γ gradient {case}");
    assert_close(&format!("gamma gradient {case}"), ga, gb, 1e-4);
    if let Some(t) = &xdot {
        assert_close(&format!("ẋ gradient {case}"), t.grad(&g1), t.grad(&g2), 1e-5);
    }
    assert!(bn.beta.grad(&g1).is_none(), "β does not enter the tangent");
}

#[test]
fn value_and_its_gradients_match_burns_batch_norm() {
    check_value([6, 5, 7, 3]);
    check_value([9, 12]);
}

#[test]
fn tangent_and_its_gradients_match_the_formula_under_burns_autodiff() {
    for (xdot, dir) in [(true, true), (false, true), (true, false)] {
        check_tangent([4, 3, 5, 6], xdot, dir);
        check_tangent([7, 10], xdot, dir);
    }
}

#[test]
fn no_tangent_without_a_direction_or_an_input_tangent() {
    let dev = Device::flex();
    let bn = layer(3, &dev);
    assert!(batch_norm_eval_tangent(&bn, None, Tensor::<2>::zeros([2, 3], &dev), None).is_none());
}
