//! What each of SAM's and S-SGD's vector passes costs inside a real training step on ne-f1
//! (batch 128), with timers between the passes: the passes replayed from the estimators' code
//! around real gradient passes, so that their vectors are as cold as they are in training.
//! BENCHMARKS.md ("Why goal 2 is still missed") quotes its output; `basin bench ops` times the
//! same passes on warm vectors.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p basin-zoo --example pass_costs

use basin_core::batch::Batch;
use basin_core::estimators::{grad_at, loss_and_grads, to_optimizer_grads};
use basin_core::paramvec::ParamVec;
use basin_zoo::{ModelOptions, ZooModel};
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::BTreeMap;
use std::time::Instant;

mod common;

fn main() {
    if std::env::args().len() > 1 {
        common::usage_error("RAYON_NUM_THREADS=2 cargo run --release -p basin-zoo --example pass_costs", "this example takes no arguments");
    }
    basin_core::heap::keep_freed_memory(); // as the CLI does
    let ad = Device::flex().autodiff();
    let shape = [1, 28, 28];
    let mut model = basin_core::train::init_model(&ad, 0, |d| ZooModel::build("ne-f1", shape, 10, &ModelOptions::default(), d).expect("a zoo model"));
    let xs: Vec<f32> = (0..128 * 784).map(|i| ((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0).collect();
    let batch = Batch::from_host(xs, (0..128).map(|i| i % 10).collect(), shape, &ad);
    let mut optim = basin_core::optim::OptimizerConfig { name: "sgd".into(), ..Default::default() }.build();
    let (warm, steps) = (3, 40);
    let mut ms = BTreeMap::<&str, f64>::new();
    for step in 0..warm + steps {
        let mut lap = |name: &'static str, t: &mut Instant| {
            if step >= warm {
                *ms.entry(name).or_default() += t.elapsed().as_secs_f64() * 1e3 / steps as f64;
            }
            *t = Instant::now();
        };
        let mut t = Instant::now();
        // SAM: g at w, ‖g‖, w + ρ g/‖g‖, g at that point, the update
        let w = ParamVec::from_model(&model);
        let (_, g) = loss_and_grads(&model, &batch);
        let g = ParamVec::from_grads(&w, &g);
        lap("1 gradient (forward + backward)", &mut t);
        let norm = g.norm();
        lap("2 SAM: ‖g‖", &mut t);
        let point = ParamVec::lincomb(1.0, &w, 0.05 / norm, &g);
        lap("3 SAM: w + ρ g/‖g‖", &mut t);
        let (_, g2) = grad_at(&model, &point, &batch);
        lap("4 gradient at the point", &mut t);
        drop((g, point));
        model = optim.step(0.001, model, to_optimizer_grads(&g2));
        drop(g2);
        lap("5 optimizer update (SGD, one fused pass)", &mut t);
        // S-SGD: per-layer directions, their norms, w ± n, two gradients, their mean
        let w = ParamVec::from_model(&model);
        let d: Vec<_> = w.slots.iter().enumerate().map(|(i, s)| Tensor::<1>::from_data(TensorData::new(basin_core::fastrand::normal_vec(s.numel(), ParamVec::part_key(step as u64, i), 1.0), [s.numel()]), &w.device())).collect();
        lap("6 S-SGD: 1.9 M normals", &mut t);
        let (plus, minus): (Vec<_>, Vec<_>) = w
            .parts
            .iter()
            .zip(&d)
            .map(|(wp, dp)| {
                let sq = basin_core::fused::dots(&[(dp, dp), (wp, wp)]);
                basin_core::fused::plus_minus(wp, 0.4 * sq[1].sqrt() / sq[0].sqrt(), dp)
            })
            .unzip();
        lap("7 S-SGD: norms and w ± n", &mut t);
        let layout = |parts| ParamVec { slots: w.slots.clone(), parts };
        let (_, gp) = grad_at(&model, &layout(plus), &batch);
        let (_, gm) = grad_at(&model, &layout(minus), &batch);
        lap("8 two gradients", &mut t);
        let g = ParamVec::lincomb(0.5, &gp, 0.5, &gm);
        lap("9 S-SGD: (g₊ + g₋)/2", &mut t);
        drop((gp, gm, d));
        model = optim.step(0.001, model, to_optimizer_grads(&g));
    }
    println!("| pass (ne-f1, batch 128, mean of {steps} steps) | ms |");
    println!("|---|---|");
    for (name, v) in ms {
        println!("| {} | {v:.2} |", &name[2..]);
    }
}
