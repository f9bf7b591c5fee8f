//! basin's ReLU (`ops::relu`) against Burn's `activation::relu`, an independent implementation,
//! forward and backward, on values with exact zeros, negative zeros and NaNs (relu(NaN) = NaN,
//! and the gradient passes there, as Burn's `mask_fill(output <= 0)` lets it), through the
//! in-place path (an input nobody else holds) and the copying one (an input still held
//! elsewhere, which must come out unchanged).

use basin_zoo::ops::relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Values with every case: positive, negative, exactly zero, −0, NaN.
fn values(dev: &Device) -> Tensor<2> {
    let mut v: Vec<f32> = (0..6 * 37).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect(); // zeros included
    v[5] = f32::NAN;
    v[100] = f32::NAN;
    v[7] = -0.0;
    Tensor::from_data(TensorData::new(v, [6, 37]), dev)
}

/// Bit patterns, so that NaN equals NaN and −0 differs from +0.
fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
    t.into_data().to_vec::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn forward_matches_burn_and_leaves_a_shared_input_alone() {
    let dev = Device::flex();
    let x = values(&dev);
    let before = bits(x.clone());
    let expected = bits(burn::tensor::activation::relu(x.clone()));
    assert_eq!(bits(relu(x.clone())), expected, "the copying path");
    assert_eq!(bits(x.clone()), before, "relu wrote into an input another tensor holds");
    assert_eq!(bits(relu(x * 1.0)), expected, "the in-place path");
}

#[test]
fn backward_matches_burn_with_nans_and_zeros() {
    let dev = Device::flex().autodiff();
    let w = Tensor::<2>::random([6, 37], Distribution::Normal(0.0, 1.0), &dev);
    let grad = |f: &dyn Fn(Tensor<2>) -> Tensor<2>| {
        let x = values(&dev).require_grad();
        // `x * 1.0` is a fresh buffer: the in-place path, its input tracked through the product
        let g = (f(x.clone() * 1.0) * w.clone()).sum().backward();
        bits(x.grad(&g).expect("the input gets a gradient"))
    };
    let ours = grad(&|x| relu(x));
    assert_eq!(ours, grad(&|x| burn::tensor::activation::relu(x)));
    let w = w.into_data().to_vec::<f32>().unwrap();
    assert_eq!(f32::from_bits(ours[5]), w[5], "the gradient passes where the input is NaN");
    assert_eq!(f32::from_bits(ours[7]), 0.0, "and not where it is −0");
}

#[test]
fn a_four_dimensional_input_matches_on_both_devices() {
    for dev in [Device::flex(), Device::flex().autodiff()] {
        let x = Tensor::<4>::random([3, 4, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        assert_eq!(bits(relu(x.clone())), bits(burn::tensor::activation::relu(x)));
    }
}
