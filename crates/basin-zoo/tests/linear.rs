//! basin's dense kernel (forward and all three gradients) against Burn's own `Linear`, an
//! independent implementation (flex's matmul, autodiff's matmul backward), on ne-f1's shapes
//! and odd ones (a batch that is not a multiple of the row block, no bias, a first layer).

use basin_zoo::ops::linear;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

fn max_rel_err<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let scale: f32 = b.clone().abs().max().into_scalar();
    let diff: f32 = (a - b).abs().max().into_scalar();
    diff / scale.max(1e-6)
}

fn check(layer: Linear, batch: usize, need_x: bool) {
    let dev = Device::flex().autodiff();
    let [d_in, _] = layer.weight.dims();
    let x = Tensor::<2>::random([batch, d_in], Distribution::Normal(0.0, 1.0), &dev);
    let x = if need_x { x.require_grad() } else { x };
    let ours = linear(&layer, x.clone());
    let theirs = layer.forward(x.clone());
    assert_eq!(ours.dims(), theirs.dims());
    let e = max_rel_err(ours.clone(), theirs.clone());
    assert!(e < 1e-5, "forward relative error {e}");
    // a loss that weights every output differently, so every gradient entry is exercised
    let w = Tensor::<2>::random(ours.dims(), Distribution::Normal(0.0, 1.0), &dev);
    let g_ours = (ours * w.clone()).sum().backward();
    let g_theirs = (theirs * w).sum().backward();
    let dw = max_rel_err(layer.weight.grad(&g_ours).unwrap(), layer.weight.grad(&g_theirs).unwrap());
    assert!(dw < 1e-5, "weight gradient relative error {dw}");
    if let Some(b) = &layer.bias {
        let e = max_rel_err(b.grad(&g_ours).unwrap(), b.grad(&g_theirs).unwrap());
        assert!(e < 1e-5, "bias gradient relative error {e}");
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

fn layer(d_in: usize, d_out: usize, bias: bool) -> Linear {
    LinearConfig::new(d_in, d_out).with_bias(bias).init(&Device::flex().autodiff())
}

#[test]
fn ne_f1_layers_match_burn() {
    check(layer(784, 500, true), 128, false); // the first layer: no input gradient
    check(layer(500, 500, true), 128, true);
    check(layer(500, 10, true), 128, true);
}

#[test]
fn odd_shapes_match_burn() {
    check(layer(7, 3, false), 130, true); // two full row blocks and a partial one
    check(layer(33, 65, true), 1, true);
    check(layer(5, 9, true), 64, true);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let l = layer(40, 30, true);
    let dev = Device::flex().autodiff();
    let x = Tensor::<2>::random([150, 40], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let y = linear(&l, x.clone());
            let g = y.clone().powf_scalar(2.0).sum().backward();
            (y.into_data(), l.weight.grad(&g).unwrap().into_data(), x.grad(&g).unwrap().into_data())
        })
    };
    assert_eq!(run(1), run(3));
}

/// The exact Hessian's tangent pass multiplies by the direction's weights as constants: only
/// the input gets a gradient (its rows split over tasks: one row, two halves, three blocks with
/// a partial one), and it is Burn's.
#[test]
fn constant_weights_give_the_input_gradient_only() {
    let dev = Device::flex().autodiff();
    let w = Tensor::<2>::random([20, 7], Distribution::Normal(0.0, 1.0), &dev);
    let b = Tensor::<1>::random([7], Distribution::Normal(0.0, 1.0), &dev);
    for batch in [1, 70, 2 * basin_zoo::ops::linear_cpu::ROWS + 1] {
        let x = Tensor::<2>::random([batch, 20], Distribution::Normal(0.0, 1.0), &dev).require_grad();
        let ours = basin_zoo::ops::linear::linear_with(x.clone(), w.clone(), Some(b.clone()));
        let theirs = burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()));
        assert!(max_rel_err(ours.clone(), theirs.clone()) < 1e-5);
        let (go, gt) = (ours.powf_scalar(2.0).sum().backward(), theirs.powf_scalar(2.0).sum().backward());
        let e = max_rel_err(x.grad(&go).unwrap(), x.grad(&gt).unwrap());
        assert!(e < 1e-5, "batch {batch}: input gradient relative error {e}");
        assert!(w.grad(&go).is_none(), "a constant weight got a gradient");
    }
}
