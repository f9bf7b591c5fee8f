//! basin's fused training-mode batch norm (output, running statistics, gradients of input,
//! γ and β) against Burn's own `BatchNorm::forward` (the generic composition of tensor ops).

use basin_zoo::ops::batch_norm;
use burn::module::Param;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Distribution, Tensor};

fn rel<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let s: f32 = b.clone().abs().max().into_scalar();
    let d: f32 = (a - b).abs().max().into_scalar();
    d / s.max(1e-6)
}

fn module(c: usize, gamma: &Tensor<1>, beta: &Tensor<1>) -> BatchNorm {
    let mut bn = BatchNormConfig::new(c).with_momentum(0.3).init(&gamma.device());
    bn.gamma = Param::from_tensor(gamma.clone()).set_require_grad(true);
    bn.beta = Param::from_tensor(beta.clone()).set_require_grad(true);
    bn
}

fn check<const D: usize>(shape: [usize; D]) {
    let dev = Device::flex().autodiff();
    let c = shape[1];
    let gamma = Tensor::<1>::random([c], Distribution::Uniform(0.5, 2.0), &dev);
    let beta = Tensor::<1>::random([c], Distribution::Normal(0.0, 1.0), &dev);
    let (ours_bn, theirs_bn) = (module(c, &gamma, &beta), module(c, &gamma, &beta));
    // Far from zero mean, so a one-pass variance would lose digits.
    let x = Tensor::<D>::random(shape, Distribution::Normal(30.0, 2.0), &dev).require_grad();
    let w = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &dev);
    for step in 0..2 {
        let (ours, theirs) = (batch_norm(&ours_bn, x.clone()), theirs_bn.forward(x.clone()));
        assert!(rel(ours.clone(), theirs.clone()) < 1e-4, "output, step {step}: {}", rel(ours.clone(), theirs.clone()));
        let g1 = (ours * w.clone()).sum().backward();
        let g2 = (theirs * w.clone()).sum().backward();
        let e = rel(x.grad(&g1).unwrap(), x.grad(&g2).unwrap());
        assert!(e < 1e-3, "input gradient {e}");
        let e = rel(ours_bn.gamma.grad(&g1).unwrap(), theirs_bn.gamma.grad(&g2).unwrap());
        assert!(e < 1e-3, "gamma gradient {e}");
        let e = rel(ours_bn.beta.grad(&g1).unwrap(), theirs_bn.beta.grad(&g2).unwrap());
        assert!(e < 1e-5, "beta gradient {e}");
    }
    let e = rel(ours_bn.running_mean.value_sync(), theirs_bn.running_mean.value_sync());
    assert!(e < 1e-5, "running mean {e}");
    let e = rel(ours_bn.running_var.value_sync(), theirs_bn.running_var.value_sync());
    assert!(e < 1e-3, "running variance {e}");
}

#[test]
fn conv_activations_match_burn() {
    check([6, 5, 7, 3]);
    check([3, 4, 32, 32]);
}

#[test]
fn dense_activations_match_burn() {
    check([9, 12]);
}

#[test]
fn evaluation_mode_is_burns_forward() {
    let dev = Device::flex();
    let mut bn = BatchNormConfig::new(3).init(&dev);
    bn.running_mean = burn::module::RunningState::new(Tensor::from_floats([0.5, -1.0, 2.0], &dev));
    bn.running_var = burn::module::RunningState::new(Tensor::from_floats([0.25, 4.0, 1.5], &dev));
    let x = Tensor::<4>::random([2, 3, 4, 4], Distribution::Normal(1.0, 1.0), &dev);
    let e = rel(batch_norm(&bn, x.clone()), bn.forward(x));
    assert!(e < 1e-6, "evaluation-mode output {e}");
}
