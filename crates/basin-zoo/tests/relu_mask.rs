//! basin's ReLU tangent mask (`ops::relu_mask`) against Burn's `mask_fill`, an independent
//! implementation, forward and backward, on values with exact zeros (masked: the derivative at
//! 0 is 0) and NaNs (kept, as `mask_fill(value <= 0)` keeps them), through the in-place path
//! (a tangent nobody else holds) and the copying one (a tangent still held elsewhere, which
//! must come out unchanged).

use basin_zoo::ops::relu_mask;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Values with every case: positive, negative, exactly zero, NaN.
fn values(dev: &Device) -> Tensor<2> {
    let mut v: Vec<f32> = (0..6 * 37).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect(); // zeros included
    v[5] = f32::NAN;
    v[100] = f32::NAN;
    Tensor::from_data(TensorData::new(v, [6, 37]), dev)
}

fn reference<const D: usize>(t: Tensor<D>, v: Tensor<D>) -> Tensor<D> {
    t.mask_fill(v.lower_equal_elem(0.0), 0.0)
}

#[test]
fn forward_matches_mask_fill_and_leaves_a_shared_tangent_alone() {
    let dev = Device::flex();
    let v = values(&dev);
    let t = Tensor::<2>::random([6, 37], Distribution::Normal(0.0, 1.0), &dev);
    let before = t.to_data();
    let expected = reference(t.clone(), v.clone()).to_data();
    let shared = relu_mask(t.clone(), v.clone()); // `t` still held: the copying path
    assert_eq!(shared.to_data(), expected);
    assert_eq!(t.to_data(), before, "relu_mask wrote into a tangent another tensor holds");
    let owned = relu_mask(t * 1.0, v); // a fresh buffer: the in-place path
    assert_eq!(owned.to_data(), expected);
}

#[test]
fn backward_masks_the_gradient_and_sends_none_to_the_value() {
    let dev = Device::flex().autodiff();
    let v = values(&dev).require_grad();
    let t = Tensor::<2>::random([6, 37], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let w = Tensor::<2>::random([6, 37], Distribution::Normal(0.0, 1.0), &dev);
    let ours = (relu_mask(t.clone(), v.clone()) * w.clone()).sum().backward();
    let dt = t.grad(&ours).expect("the tangent gets a gradient");
    let expected = reference(w.inner(), v.clone().inner());
    assert_eq!(dt.to_data(), expected.to_data());
    assert!(v.grad(&ours).is_none(), "the mask is a constant: no gradient may reach the value");
}

#[test]
fn a_four_dimensional_tangent_is_masked_elementwise() {
    let dev = Device::flex();
    let v = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
    let t = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
    assert_eq!(relu_mask(t.clone(), v.clone()).to_data(), reference(t, v).to_data());
}
