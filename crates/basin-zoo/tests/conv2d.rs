//! basin's im2col convolution (forward and all three gradients) against Burn's own `conv2d`,
//! an independent implementation (flex's direct/3-D convolution, conv-transpose backward),
//! on random data for the zoo's shapes and odd ones (stride 2, asymmetric padding, no bias).

use basin_zoo::ops::conv2d;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};

fn max_rel_err(a: Tensor<4>, b: Tensor<4>) -> f32 {
    let scale: f32 = b.clone().abs().max().into_scalar();
    let diff: f32 = (a - b).abs().max().into_scalar();
    diff / scale.max(1e-6)
}

fn check(conv: Conv2d, input: [usize; 4], need_x: bool) {
    let dev = Device::flex().autodiff();
    let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &dev);
    let x = if need_x { x.require_grad() } else { x };
    let ours = conv2d(&conv, x.clone());
    let theirs = conv.forward(x.clone());
    assert_eq!(ours.dims(), theirs.dims());
    let e = max_rel_err(ours.clone(), theirs.clone());
    assert!(e < 1e-5, "forward relative error {e}");
    // A loss that weights every output differently, so every gradient entry is exercised.
    let w = Tensor::<4>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &dev);
    let g_ours = (ours * w.clone()).sum().backward();
    let g_theirs = (theirs * w).sum().backward();
    let dw = max_rel_err(conv.weight.grad(&g_ours).unwrap(), conv.weight.grad(&g_theirs).unwrap());
    assert!(dw < 1e-5, "weight gradient relative error {dw}");
    if let Some(b) = &conv.bias {
        let (p, q) = (b.grad(&g_ours).unwrap(), b.grad(&g_theirs).unwrap());
        let e: f32 = (p - q.clone()).abs().max().into_scalar();
        let s: f32 = q.abs().max().into_scalar();
        assert!(e / s < 1e-5, "bias gradient relative error {}", e / s);
    }
    match (x.grad(&g_ours), x.grad(&g_theirs)) {
        (Some(a), Some(b)) => {
            let e = max_rel_err(a, b);
            assert!(e < 1e-5, "input gradient relative error {e}");
        }
        (None, None) => assert!(!need_x),
        _ => panic!("input gradient present for one implementation only"),
    }
}

fn conv(io: [usize; 2], k: [usize; 2], stride: usize, padding: PaddingConfig2d, bias: bool) -> Conv2d {
    Conv2dConfig::new(io, k).with_stride([stride, stride]).with_padding(padding).with_bias(bias).init(&Device::flex().autodiff())
}

#[test]
fn keskar_c1_layers_match_burn() {
    check(conv([3, 64], [5, 5], 1, PaddingConfig2d::Explicit(2, 2, 2, 2), true), [6, 3, 32, 32], false);
    check(conv([64, 64], [5, 5], 1, PaddingConfig2d::Explicit(2, 2, 2, 2), true), [5, 64, 16, 16], true);
}

#[test]
fn resnet_strided_and_odd_shapes_match_burn() {
    check(conv([16, 32], [3, 3], 2, PaddingConfig2d::Explicit(1, 1, 1, 1), false), [9, 16, 16, 16], true);
    check(conv([3, 5], [3, 2], 1, PaddingConfig2d::Explicit(0, 2, 1, 0), true), [3, 3, 9, 7], true);
    check(conv([4, 6], [3, 3], 2, PaddingConfig2d::Valid, true), [17, 4, 11, 10], true);
}

#[test]
fn gradients_do_not_depend_on_the_thread_count() {
    let conv = conv([8, 8], [3, 3], 1, PaddingConfig2d::Explicit(1, 1, 1, 1), true);
    let dev = Device::flex().autodiff();
    let x = Tensor::<4>::random([37, 8, 10, 10], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let grads = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let g = conv2d(&conv, x.clone()).powf_scalar(2.0).sum().backward();
            (conv.weight.grad(&g).unwrap().into_data(), x.grad(&g).unwrap().into_data())
        })
    };
    assert_eq!(grads(1), grads(3));
}
