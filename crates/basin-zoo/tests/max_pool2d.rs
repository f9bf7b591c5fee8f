//! basin's max pooling (forward and input gradient) against Burn's own `MaxPool2d`.

use basin_zoo::ops::max_pool2d;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::{Device, Distribution, Tensor};

fn check(kernel: [usize; 2], stride: [usize; 2], padding: PaddingConfig2d, shape: [usize; 4]) {
    let dev = Device::flex().autodiff();
    let pool = MaxPool2dConfig::new(kernel).with_strides(stride).with_padding(padding).init();
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let (ours, theirs) = (max_pool2d(&pool, x.clone()), pool.forward(x.clone()));
    assert_eq!(ours.clone().into_data(), theirs.clone().into_data(), "forward");
    let w = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &dev);
    let g1 = (ours * w.clone()).sum().backward();
    let g2 = (theirs * w).sum().backward();
    let (a, b) = (x.grad(&g1).unwrap(), x.grad(&g2).unwrap());
    let e: f32 = (a - b).abs().max().into_scalar();
    // Overlapping windows add several output gradients into one input: allow rounding.
    assert!(e < 1e-5, "input gradient differs by {e}");
}

#[test]
fn keskar_c1_pool_matches_burn() {
    check([3, 3], [2, 2], PaddingConfig2d::Explicit(1, 1, 1, 1), [4, 5, 32, 32]);
    check([3, 3], [2, 2], PaddingConfig2d::Explicit(1, 1, 1, 1), [3, 2, 15, 16]);
}

#[test]
fn other_windows_match_burn() {
    check([2, 2], [2, 2], PaddingConfig2d::Valid, [2, 3, 8, 9]);
    check([3, 2], [1, 2], PaddingConfig2d::Explicit(2, 0, 1, 1), [2, 2, 7, 6]);
}
