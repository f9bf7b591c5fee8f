//! `basin bench ops`: basin's CPU kernels (`basin_zoo::ops`) against Burn's generic
//! convolution, batch norm and max pooling on keskar-c1's layer shapes and dense layers on
//! ne-f1's, forward + backward,
//! timed in the same process (median of repeats) and reported as the speed-up Burn ÷ basin; and
//! the estimators' fused vector passes (`basin_core::fused`) against the Burn tensor ops they
//! replace, on vectors of ne-f1's 1.9 M weights.

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNormConfig, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

/// Median seconds of `reps` runs of `f` after one warm-up run.
fn median_seconds(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut v: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Forward + backward of `Σ op(x) · w` (every output weighted, so every gradient is real work).
fn fwd_bwd(x: &Tensor<4>, op: &dyn Fn(Tensor<4>) -> Tensor<4>) {
    let y = op(x.clone());
    let w = Tensor::<4>::ones(y.dims(), &y.device());
    let grads = (y * w).sum().backward();
    let _ = x.grad(&grads);
}

/// Runs the table for batch size `batch`.
pub fn run(batch: usize, reps: usize) {
    let dev = Device::flex().autodiff();
    let input = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let pad2 = PaddingConfig2d::Explicit(2, 2, 2, 2);
    let conv1 = Conv2dConfig::new([3, 64], [5, 5]).with_padding(pad2.clone()).init(&dev);
    let conv2 = Conv2dConfig::new([64, 64], [5, 5]).with_padding(pad2).init(&dev);
    let bn = BatchNormConfig::new(64).init(&dev);
    let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init();
    let (x1, x2, a1) = (input([batch, 3, 32, 32]).detach(), input([batch, 64, 16, 16]), input([batch, 64, 32, 32]));
    let (fc1, fc2) = (LinearConfig::new(784, 500).init(&dev), LinearConfig::new(500, 500).init(&dev));
    let (d1, d2) = (input([batch, 784, 1, 1]).detach(), input([batch, 500, 1, 1]));
    // dense layers take [B, in]: the 4-D bench inputs are flattened and the outputs put back
    let flat = |x: Tensor<4>| x.flatten::<2>(1, 3);
    let back = |y: Tensor<2>| y.unsqueeze_dims::<4>(&[2, 3]);
    type Op<'a> = Box<dyn Fn(Tensor<4>) -> Tensor<4> + 'a>;
    let cases: Vec<(&str, &Tensor<4>, Op, Op)> = vec![
        ("conv 3→64 5×5 on 32×32 (no input grad)", &x1, Box::new(|x| conv1.forward(x)), Box::new(|x| basin_zoo::ops::conv2d(&conv1, x))),
        ("conv 64→64 5×5 on 16×16", &x2, Box::new(|x| conv2.forward(x)), Box::new(|x| basin_zoo::ops::conv2d(&conv2, x))),
        ("batch norm 64 on 32×32 (training)", &a1, Box::new(|x| bn.forward(x)), Box::new(|x| basin_zoo::ops::batch_norm(&bn, x))),
        ("max pool 3×3/2 on 64×32×32", &a1, Box::new(|x| pool.forward(x)), Box::new(|x| basin_zoo::ops::max_pool2d(&pool, x))),
        ("dense 784→500 (no input grad)", &d1, Box::new(|x| back(fc1.forward(flat(x)))), Box::new(|x| back(basin_zoo::ops::linear(&fc1, flat(x))))),
        ("dense 500→500", &d2, Box::new(|x| back(fc2.forward(flat(x)))), Box::new(|x| back(basin_zoo::ops::linear(&fc2, flat(x))))),
    ];
    println!("| op (batch {batch}, forward + backward) | Burn flex ms | basin ms | speed-up |");
    println!("|---|---|---|---|");
    for (name, x, burn_op, basin_op) in &cases {
        let b = median_seconds(reps, || fwd_bwd(x, burn_op.as_ref()));
        let o = median_seconds(reps, || fwd_bwd(x, basin_op.as_ref()));
        println!("| {name} | {:.1} | {:.1} | {:.2} |", 1000.0 * b, 1000.0 * o, b / o);
    }
    let _ = bn.valid();
    fused_passes(reps);
}

/// The fused passes on two 1.9 M-value vectors against the Burn ops they replace.
fn fused_passes(reps: usize) {
    use basin_core::fused::{axpby, dots};
    let dev = Device::flex();
    let n = 1_913_610; // ne-f1's parameter count
    let (x, y) = (Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &dev), Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &dev));
    type Pass<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Pass, Pass)> = vec![
        (
            "a·x + b·y (SAM's point, S-SGD's mean)",
            Box::new(|| drop(x.clone().mul_scalar(0.5) + y.clone().mul_scalar(-1.5))),
            Box::new(|| drop(axpby(0.5, &x, -1.5, &y))),
        ),
        ("⟨x, y⟩ (norms)", Box::new(|| { std::hint::black_box((x.clone() * y.clone()).sum().into_scalar::<f32>()); }), Box::new(|| drop(dots(&[(&x, &y)])))),
    ];
    println!();
    println!("| vector pass ({n} f32 values) | Burn flex ms | basin ms | speed-up |");
    println!("|---|---|---|---|");
    for (name, burn_pass, basin_pass) in &cases {
        let b = median_seconds(reps * 5, burn_pass);
        let o = median_seconds(reps * 5, basin_pass);
        println!("| {name} | {:.3} | {:.3} | {:.2} |", 1000.0 * b, 1000.0 * o, b / o);
    }
}
