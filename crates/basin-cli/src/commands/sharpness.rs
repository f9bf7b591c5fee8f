//! `basin sharpness`: (C_ε, A)-sharpness by L-BFGS-B (needs the `sharpness` feature) and
//! SmoothOut's noise sensitivity C̄(w; a) with its slope.

use crate::model_source::ModelSource;
use crate::{CliError, device, plots};
use basin::curvature::Objective;
use basin::curvature::objective::subset_indices;
use basin::landscape::noise::{noise_sensitivity, slope};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `basin sharpness`.
#[derive(Args)]
pub struct SharpnessArgs {
    #[command(flatten)]
    source: ModelSource,
    /// Box size ε (SmoothOut Table 1: 5e-4).
    #[arg(long, default_value_t = 5e-4)]
    eps: f64,
    /// Random subspace dimension p (default: full space, A = I).
    #[arg(long)]
    subspace: Option<usize>,
    /// Function evaluations per L-BFGS-B restart.
    #[arg(long, default_value_t = 20)]
    max_evals: usize,
    /// Restarts; the maximum is reported.
    #[arg(long, default_value_t = 5)]
    restarts: usize,
    /// Training examples the loss is taken over (0 = the whole training set).
    #[arg(long, default_value_t = 0)]
    samples: usize,
    /// Also the noise sensitivity C̄(w; a) on train and test for these a (comma separated).
    #[arg(long)]
    noise: Option<String>,
    /// Skip the L-BFGS-B sharpness (noise sensitivity only).
    #[arg(long)]
    no_box: bool,
    /// Batch size.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Overwrite an existing --json file.
    #[arg(long)]
    force: bool,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Runs `basin sharpness`.
pub fn run(args: SharpnessArgs) -> Result<(), CliError> {
    if !(args.eps > 0.0 && args.eps.is_finite()) {
        return Err(CliError::input(format!("--eps: must be positive and finite (got {})", args.eps)));
    }
    if let Some(j) = &args.json {
        crate::output::refuse_overwrite(std::slice::from_ref(j), args.force)?;
    }
    let grid: Option<Vec<f64>> = args
        .noise
        .as_ref()
        .map(|s| s.split(',').map(|v| v.trim().parse::<f64>().map_err(|_| CliError::input(format!("--noise: '{v}' is not a number")))).collect())
        .transpose()?;
    let dev = device::select(&args.device)?;
    let l = args.source.load(&dev)?;
    let mut report = serde_json::json!({ "model": l.cfg.model.name, "data": l.cfg.data.name });
    if !args.no_box {
        let n = basin::batch::ExampleSet::len(&l.data.train);
        let idx = subset_indices(n, None, (args.samples > 0).then_some(args.samples), args.seed);
        let obj = Objective::new(&l.model, &l.data.train, &idx, args.batch_size, &dev);
        report["box"] = box_sharpness(obj, &args)?;
    }
    if let Some(grid) = grid {
        let tr = noise_sensitivity(&l.model, &l.data.train, &grid, args.batch_size, args.seed, &dev);
        let te = noise_sensitivity(&l.model, &l.data.test, &grid, args.batch_size, args.seed ^ 1, &dev);
        println!("| a | train C̄ | train acc | test C̄ | test acc |");
        println!("|---|---|---|---|---|");
        for (a, b) in tr.iter().zip(&te) {
            println!("| {} | {:.4} | {:.2}% | {:.4} | {:.2}% |", a.a, a.loss, 100.0 * a.accuracy, b.loss, 100.0 * b.accuracy);
        }
        println!("slope s: train {:.4}, test {:.4}", slope(&tr), slope(&te));
        report["noise"] = serde_json::json!({ "train": tr, "test": te, "slope_train": slope(&tr), "slope_test": slope(&te) });
        if let Some(j) = &args.json {
            let a: Vec<(f64, f64)> = tr.iter().map(|p| (p.a, p.loss)).collect();
            let b: Vec<(f64, f64)> = te.iter().map(|p| (p.a, p.loss)).collect();
            let svg = j.with_extension("noise.svg");
            plots::line_plot(&svg, "Noise sensitivity C̄(w; a)", "a", "loss", &[plots::Series { label: "train".into(), points: &a }, plots::Series { label: "test".into(), points: &b }], false)?;
            println!("wrote {}", svg.display());
        }
    }
    if let Some(j) = &args.json {
        basin::train::checkpoint::write_atomic(j, &serde_json::to_vec_pretty(&report).expect("serializes"))?;
        println!("wrote {}", j.display());
    }
    Ok(())
}

fn box_sharpness(mut obj: Objective<basin_zoo::ZooModel>, args: &SharpnessArgs) -> Result<serde_json::Value, CliError> {
    use basin::sharpness::{SharpnessConfig, sharpness};
    let cfg = SharpnessConfig { eps: args.eps, subspace: args.subspace, max_evals: args.max_evals, restarts: args.restarts, seed: args.seed };
    let s = sharpness(&mut obj, &cfg);
    println!(
        "(C_ε, A)-sharpness, ε = {}, {}: {:.4}  (f₀ = {:.5}, f_max = {:.5}; per restart {:?}; {} evaluations)",
        args.eps,
        args.subspace.map(|p| format!("random {p}-dimensional subspace")).unwrap_or_else(|| "full space".into()),
        s.sharpness,
        s.f0,
        s.f_max,
        s.per_restart.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>(),
        s.evaluations
    );
    Ok(serde_json::to_value(&s).expect("serializes"))
}
