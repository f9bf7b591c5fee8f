//! `basin bench step`: forward + backward + update steps per second of the zoo's networks at
//! batch 128 on random data of the right shape (speed does not depend on the values).

use crate::{CliError, device};
use basin::estimators::{GradientEstimator, Plain, StepContext};
use basin::train::init_model;
use basin::{Batch, BatchSource};
use basin_zoo::{ModelOptions, ZooModel};
use clap::Subcommand;
use std::time::Instant;

/// Subcommands of `basin bench`.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Training steps per second (plain SGD) for ne-f1 (1×28×28) and keskar-c1 (3×32×32).
    Step {
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed steps per model (after 3 warm-up steps).
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Models as name:CxHxW, comma separated.
        #[arg(long, default_value = "ne-f1:1x28x28,keskar-c1:3x32x32")]
        models: String,
        /// cpu or cuda.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

struct NoExtra;
impl BatchSource for NoExtra {
    fn extra_batch(&mut self, _size: usize, _step: u64) -> Batch {
        unreachable!("plain SGD draws no extra batch")
    }
}

fn parse_model(spec: &str) -> Result<(String, [usize; 3]), CliError> {
    let (name, shape) = spec.split_once(':').ok_or_else(|| CliError::input(format!("--models {spec}: expected name:CxHxW")))?;
    let dims: Vec<usize> = shape.split('x').map(|d| d.parse().map_err(|_| CliError::input(format!("--models {spec}: bad shape")))).collect::<Result<_, _>>()?;
    if dims.len() != 3 {
        return Err(CliError::input(format!("--models {spec}: shape needs 3 dimensions")));
    }
    Ok((name.to_string(), [dims[0], dims[1], dims[2]]))
}

/// Runs `basin bench ...`.
pub fn run(cmd: BenchCommand) -> Result<(), CliError> {
    let BenchCommand::Step { batch, steps, models, device } = cmd;
    let dev = device::select(&device)?;
    let ad = dev.clone().autodiff();
    println!("| workload | batch | steps/s | ms/step | threads |");
    println!("|---|---|---|---|---|");
    for spec in models.split(',') {
        let (name, shape) = parse_model(spec.trim())?;
        ZooModel::build(&name, shape, 10, &ModelOptions::default(), &ad).map_err(CliError::input)?;
        let mut model = init_model(&ad, 0, |d| ZooModel::build(&name, shape, 10, &ModelOptions::default(), d).expect("checked"));
        let mut optim = basin::optim::OptimizerConfig::default().build();
        let n: usize = batch * shape.iter().product::<usize>();
        let xs: Vec<f32> = (0..n).map(|i| ((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0).collect();
        let ys: Vec<i64> = (0..batch).map(|i| (i % 10) as i64).collect();
        let b = Batch::from_host(xs, ys, shape, &ad);
        let mut est = Plain;
        let mut src = NoExtra;
        let mut run_steps = |k: usize, model: ZooModel| -> ZooModel {
            let mut m = model;
            for s in 0..k {
                let mut ctx = StepContext { step: s as u64, seed: 0, source: &mut src };
                let e = GradientEstimator::<ZooModel>::estimate(&mut est, m, &b, &mut ctx);
                m = optim.step(0.01, e.model, e.grads);
            }
            m
        };
        model = run_steps(3, model);
        let t = Instant::now();
        model = run_steps(steps, model);
        let secs = t.elapsed().as_secs_f64();
        drop(model);
        println!(
            "| {name} {}x{}x{} | {batch} | {:.2} | {:.1} | {} |",
            shape[0],
            shape[1],
            shape[2],
            steps as f64 / secs,
            1000.0 * secs / steps as f64,
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
    }
    Ok(())
}
