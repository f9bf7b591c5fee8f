//! `basin sharpness`: (C_ε, A)-sharpness by L-BFGS-B under a named protocol (basin's, or the
//! SmoothOut authors' script's) and SmoothOut's noise sensitivity C̄(w; a) with its slope.

use crate::model_source::ModelSource;
use crate::output::percent;
use crate::{CliError, device, plots};
use basin_core::curvature::Objective;
use basin_core::curvature::objective::subset_indices;
use basin_core::landscape::noise::{noise_sensitivity, slope};
use basin_core::sharpness::Protocol;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `basin sharpness`.
#[derive(Args)]
pub struct SharpnessArgs {
    #[command(flatten)]
    source: ModelSource,
    #[command(flatten)]
    determinism: crate::model_source::DeterminismArgs,
    /// Box size ε (SmoothOut Table 1: 5e-4).
    #[arg(long, default_value_t = 5e-4)]
    eps: f64,
    /// How L-BFGS-B is driven: `basin` (random starts, consistent signs, maximum over
    /// restarts, training set) or `smoothout-code` (the SmoothOut authors' script: validation
    /// set, one run from y = 0 of 10 iterations, value −f with the gradient of +f, and a
    /// 100-dimensional subspace unless --subspace says otherwise).
    #[arg(long, default_value = "basin")]
    protocol: String,
    /// Random subspace dimension p; 0 is the full space (A = I). Default: full space, or 100
    /// under `--protocol smoothout-code`.
    #[arg(long)]
    subspace: Option<usize>,
    /// Function evaluations per L-BFGS-B restart [default: 20] (`basin` protocol only).
    #[arg(long)]
    max_evals: Option<usize>,
    /// Restarts; the maximum is reported [default: 5] (`basin` protocol only).
    #[arg(long)]
    restarts: Option<usize>,
    /// Examples the loss is taken over (0 = the whole set: training set, or the validation
    /// set under `--protocol smoothout-code`).
    #[arg(long, default_value_t = 0)]
    samples: usize,
    /// Also the noise sensitivity C̄(w; a) on train and test for these a (comma separated).
    #[arg(long)]
    noise: Option<String>,
    /// Skip the L-BFGS-B sharpness (noise sensitivity only: needs --noise, and takes none of
    /// the box's options).
    #[arg(long, requires = "noise", conflicts_with_all = ["eps", "protocol", "subspace", "max_evals", "restarts", "samples"])]
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
    /// Overwrite an existing --json file (and its noise plot).
    #[arg(long)]
    force: bool,
    /// cpu, cuda or wgpu (the last two need their cargo feature).
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Runs `basin sharpness`.
pub fn run(args: SharpnessArgs) -> Result<(), CliError> {
    if !(args.eps > 0.0 && args.eps.is_finite()) {
        return Err(CliError::input(format!("--eps: must be positive and finite (got {})", args.eps)));
    }
    let protocol = Protocol::from_name(&args.protocol).ok_or_else(|| CliError::input(format!("--protocol: unknown protocol '{}' (expected one of: {})", args.protocol, Protocol::NAMES.join(", "))))?;
    if protocol == Protocol::SmoothOutCode && (args.restarts.is_some() || args.max_evals.is_some()) {
        return Err(CliError::input("--restarts/--max-evals: the smoothout-code protocol is one solver run of 10 iterations; drop them or use --protocol basin"));
    }
    for (flag, v) in [("--max-evals", args.max_evals), ("--restarts", args.restarts), ("--batch-size", Some(args.batch_size))] {
        if v == Some(0) {
            return Err(CliError::input(format!("{flag}: must be ≥ 1")));
        }
    }
    let grid: Option<Vec<f64>> = args
        .noise
        .as_ref()
        .map(|s| {
            s.split(',')
                .map(|v| match v.trim().parse::<f64>() {
                    Ok(a) if a.is_finite() && a >= 0.0 => Ok(a),
                    _ => Err(CliError::input(format!("--noise: '{v}' is not a noise level (a finite number ≥ 0)"))),
                })
                .collect()
        })
        .transpose()?;
    if let Some(j) = &args.json {
        // the JSON, and the noise plot beside it when there is one
        let mut outs = vec![j.clone()];
        if grid.is_some() {
            outs.extend(crate::output::plot_files(&j.with_extension("noise.svg")));
        }
        crate::output::refuse_overwrite(&outs, args.force)?;
    }
    let dev = device::select(&args.device)?;
    let l = args.source.load(&dev)?;
    let mut report = serde_json::json!({ "model": l.cfg.model_label(), "data": l.cfg.data_label() });
    if !args.no_box {
        // the authors' script measures on the validation set (MNIST's test split)
        let set = if protocol == Protocol::SmoothOutCode { &l.data.test } else { &l.data.train };
        let n = basin_core::batch::ExampleSet::len(set);
        let idx = subset_indices(n, None, (args.samples > 0).then_some(args.samples), args.seed);
        let obj = Objective::new(&l.model, set, &idx, args.batch_size, &dev);
        args.determinism.check(&obj)?;
        report["box"] = box_sharpness(obj, &args, protocol)?;
    }
    if let Some(grid) = grid {
        let tr = noise_sensitivity(&l.model, &l.data.train, &grid, args.batch_size, args.seed, &dev);
        let te = noise_sensitivity(&l.model, &l.data.test, &grid, args.batch_size, args.seed ^ 1, &dev);
        println!("| a | train C̄ | train acc | test C̄ | test acc |");
        println!("|---|---|---|---|---|");
        for (a, b) in tr.iter().zip(&te) {
            println!("| {} | {:.4} | {} | {:.4} | {} |", a.a, a.loss, percent(a.accuracy), b.loss, percent(b.accuracy));
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
        basin_core::train::checkpoint::write_atomic(j, &serde_json::to_vec_pretty(&report).expect("serializes"))?;
        println!("wrote {}", j.display());
    }
    Ok(())
}

fn box_sharpness(mut obj: Objective<crate::network::Network>, args: &SharpnessArgs, protocol: Protocol) -> Result<serde_json::Value, CliError> {
    use basin_core::sharpness::{SharpnessConfig, sharpness};
    let default_subspace = if protocol == Protocol::SmoothOutCode { 100 } else { 0 };
    let subspace = Some(args.subspace.unwrap_or(default_subspace)).filter(|p| *p > 0);
    let defaults = SharpnessConfig::default();
    let cfg = SharpnessConfig {
        eps: args.eps,
        subspace,
        max_evals: args.max_evals.unwrap_or(defaults.max_evals),
        restarts: args.restarts.unwrap_or(defaults.restarts),
        seed: args.seed,
        protocol,
    };
    let s = sharpness(&mut obj, &cfg);
    println!(
        "(C_ε, A)-sharpness ({} protocol), ε = {}, {}: {:.4}  (f₀ = {:.5}, f_max = {:.5}; per restart {:?}; {} evaluations)",
        args.protocol,
        args.eps,
        subspace.map(|p| format!("random {p}-dimensional subspace")).unwrap_or_else(|| "full space".into()),
        s.sharpness,
        s.f0,
        s.f_max,
        s.per_restart.iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>(),
        s.evaluations
    );
    let mut v = serde_json::to_value(&s).expect("serializes");
    v["subspace"] = serde_json::json!(subspace);
    v["eps"] = serde_json::json!(args.eps);
    Ok(v)
}
