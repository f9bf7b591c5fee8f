//! basin's max pooling (forward and input gradient) against Burn's own `MaxPool2d`, and its
//! tangent-pass rule (`max_pool2d_dual`: value and tangent, and the gradients of both) against
//! Burn's `max_pool2d_with_indices` and `gather`.

use basin_zoo::ops::max_pool2d;
use basin_zoo::ops::max_pool2d::max_pool2d_dual;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;
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

/// Burn's rule for the value and tangent of a pooling with explicit padding: pool with
/// indices, read the tangent at them.
fn reference(pool: &MaxPool2d, x: Tensor<4>, t: Tensor<4>, padding: [usize; 4]) -> (Tensor<4>, Tensor<4>) {
    let [pt, pl, pb, pr] = padding;
    let options = MaxPoolOptions::new(pool.kernel_size).with_stride(pool.stride).with_padding_pairs([(pt, pb), (pl, pr)]).with_dilation(pool.dilation).with_ceil_mode(pool.ceil_mode);
    let [b, c, h, w] = x.dims();
    let (y, idx) = max_pool2d_with_indices(x, options);
    let [_, _, ho, wo] = y.dims();
    (y, t.reshape([b, c, h * w]).gather(2, idx.reshape([b, c, ho * wo])).reshape([b, c, ho, wo]))
}

fn check_dual(kernel: [usize; 2], stride: [usize; 2], padding: [usize; 4], shape: [usize; 4]) {
    let dev = Device::flex().autodiff();
    let [pt, pl, pb, pr] = padding;
    let pool = MaxPool2dConfig::new(kernel).with_strides(stride).with_padding(PaddingConfig2d::Explicit(pt, pl, pb, pr)).init();
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let t = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let (y, yt) = max_pool2d_dual(&pool, x.clone(), t.clone()).unwrap_or_else(|_| panic!("basin's kernel applies to {kernel:?} {padding:?}"));
    let (ry, ryt) = reference(&pool, x.clone(), t.clone(), padding);
    assert_eq!(y.clone().into_data(), ry.clone().into_data(), "value");
    assert_eq!(yt.clone().into_data(), ryt.clone().into_data(), "tangent");
    // Different weights on the two outputs, so a gradient sent to the wrong input shows.
    let w1 = Tensor::<4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &dev);
    let w2 = Tensor::<4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &dev);
    let ours = ((y * w1.clone()).sum() + (yt * w2.clone()).sum()).backward();
    let theirs = ((ry * w1).sum() + (ryt * w2).sum()).backward();
    for (name, input) in [("x", &x), ("t", &t)] {
        let e: f32 = (input.grad(&ours).unwrap() - input.grad(&theirs).unwrap()).abs().max().into_scalar();
        assert!(e < 1e-5, "gradient of {name} differs by {e}");
    }
}

#[test]
fn the_tangent_rule_matches_burns_pooling_with_indices_and_gather() {
    check_dual([3, 3], [2, 2], [1, 1, 1, 1], [4, 5, 32, 32]); // keskar-c1's pool
    check_dual([2, 2], [2, 2], [0, 0, 0, 0], [2, 3, 8, 9]);
    check_dual([3, 2], [1, 2], [2, 0, 1, 1], [2, 2, 7, 6]);
}

#[test]
fn the_tangent_rule_declines_what_its_kernel_does_not_take() {
    let dev = Device::flex();
    let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).with_ceil_mode(true).init();
    let x = Tensor::<4>::random([1, 1, 5, 5], Distribution::Normal(0.0, 1.0), &dev);
    assert!(max_pool2d_dual(&pool, x.clone(), x).is_err(), "ceil mode is Burn's to do");
}
