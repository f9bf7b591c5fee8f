//! `basin hessian`: top eigenvalues (Lanczos), trace (Hutchinson), Frobenius norm and spectral
//! density (SLQ) of the loss Hessian of a trained model on a fixed subset of its training set,
//! with the spread across independent subsets (`--repeats`).

use crate::model_source::ModelSource;
use crate::{CliError, device, plots};
use basin::curvature::frobenius::frobenius;
use basin::curvature::choice::{CurvatureOperator, OperatorKind};
use basin::curvature::hutchinson::{Estimate, hutchinson};
use basin::curvature::lanczos::{LanczosConfig, lanczos};
use basin::curvature::objective::subset_indices;
use basin::curvature::slq::{Density, slq_density};
use basin::curvature::track::{TopEigen, spread};
use basin::curvature::{LinearOperator, Objective};
use basin_zoo::ZooModel;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `basin hessian`.
#[derive(Args)]
pub struct HessianArgs {
    #[command(flatten)]
    source: ModelSource,
    /// Fraction of the training set in the subset (the paper: 0.05).
    #[arg(long, default_value_t = 0.05)]
    subset: f64,
    /// Number of training examples instead of --subset.
    #[arg(long)]
    samples: Option<usize>,
    /// Number of top eigenvalues.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Lanczos steps at most.
    #[arg(long, default_value_t = 100)]
    max_iter: usize,
    /// Relative residual tolerance of the Ritz pairs.
    #[arg(long, default_value_t = 1e-3)]
    tol: f64,
    /// ggn (Jᵀ H_ℓ J: the Hessian a.e. for ReLU networks, converges in ε) or hessian
    /// (finite differences of gradients: the full Hessian of smooth networks).
    #[arg(long, default_value = "ggn")]
    operator: String,
    /// Relative finite-difference step (default: 1e-4 for ggn, 1e-3 for hessian).
    #[arg(long)]
    eps: Option<f64>,
    /// Independent subsets (eigenvalue mean ± std across them).
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Also estimate the trace (Hutchinson, Rademacher probes).
    #[arg(long)]
    trace: bool,
    /// Probes for --trace.
    #[arg(long, default_value_t = 100)]
    trace_samples: usize,
    /// Also estimate ‖H‖_F.
    #[arg(long)]
    frobenius: bool,
    /// Probes for --frobenius.
    #[arg(long, default_value_t = 30)]
    frobenius_samples: usize,
    /// Also compute the spectral density (SLQ); drawn to --svg.
    #[arg(long)]
    density: bool,
    /// SLQ probes.
    #[arg(long, default_value_t = 4)]
    density_probes: usize,
    /// Lanczos steps per SLQ probe.
    #[arg(long, default_value_t = 40)]
    density_steps: usize,
    /// Gaussian width relative to the spectrum's range.
    #[arg(long, default_value_t = 0.01)]
    sigma: f64,
    /// Batch size of the subset passes.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Seed of the subsets and probe vectors.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the density plot here (default: next to --json, or hessian-density.svg).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// What `basin hessian` writes.
#[derive(Serialize)]
struct Report {
    model: String,
    data: String,
    parameters: usize,
    subset_size: usize,
    operator: String,
    eps: f64,
    repeats: Vec<TopEigen>,
    mean: Vec<f64>,
    std: Vec<f64>,
    trace: Option<Estimate>,
    frobenius: Option<Estimate>,
    density: Option<Density>,
    seconds: f64,
}

/// Ticks a progress bar on every HVP.
struct Ticking<O> {
    op: O,
    bar: ProgressBar,
}

impl<O: LinearOperator> LinearOperator for Ticking<O> {
    type V = O::V;
    fn apply(&mut self, v: &O::V) -> O::V {
        self.bar.inc(1);
        self.op.apply(v)
    }
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn rademacher(&self, seed: u64) -> O::V {
        self.op.rademacher(seed)
    }
    fn gaussian(&self, seed: u64) -> O::V {
        self.op.gaussian(seed)
    }
    fn calls(&self) -> usize {
        self.op.calls()
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} HVPs  ETA {eta}").expect("template").progress_chars("=> "));
    b.set_prefix(what.to_string());
    b
}

fn check(args: &HessianArgs) -> Result<OperatorKind, CliError> {
    if !(args.subset > 0.0 && args.subset <= 1.0) {
        return Err(CliError::input("--subset: must be in (0, 1]"));
    }
    if args.top_k == 0 || args.max_iter < args.top_k {
        return Err(CliError::input("--top-k: must be ≥ 1 and ≤ --max-iter"));
    }
    if args.repeats == 0 {
        return Err(CliError::input("--repeats: must be ≥ 1"));
    }
    let kind = OperatorKind::parse(&args.operator).ok_or_else(|| CliError::input(format!("--operator: unknown operator '{}' (ggn, hessian)", args.operator)))?;
    if let Some(e) = args.eps
        && !(e > 0.0 && e < 1.0)
    {
        return Err(CliError::input("--eps: must be in (0, 1)"));
    }
    Ok(kind)
}

/// Runs `basin hessian`.
pub fn run(args: HessianArgs) -> Result<(), CliError> {
    let kind = check(&args)?;
    let eps = args.eps.unwrap_or(kind.default_eps());
    let dev = device::select(&args.device)?;
    let loaded = args.source.load(&dev)?;
    let started = Instant::now();
    let model: &ZooModel = &loaded.model;
    let set = &loaded.data.train;
    let op_for = |r: u64| -> (CurvatureOperator<ZooModel>, usize) {
        let idx = subset_indices(basin::batch::ExampleSet::len(set), Some(args.subset), args.samples, args.seed.wrapping_add(r));
        let n = idx.len();
        (CurvatureOperator::new(kind, Objective::new(model, set, &idx, args.batch_size, &dev), eps), n)
    };
    let mut repeats = Vec::new();
    let mut subset_size = 0;
    let mut parameters = 0;
    for r in 0..args.repeats as u64 {
        let (op, n) = op_for(r);
        subset_size = n;
        parameters = op.dim();
        let loss = op.loss();
        let mut t = Ticking { op, bar: bar(args.max_iter as u64, &format!("lanczos {}/{}", r + 1, args.repeats)) };
        let res = lanczos(&mut t, &LanczosConfig { k: args.top_k, tol: args.tol, max_iter: args.max_iter, seed: args.seed.wrapping_add(r), smallest: false });
        t.bar.finish_and_clear();
        repeats.push(TopEigen { eigenvalues: res.eigenvalues, residuals: res.residuals, hvps: res.iterations, loss });
    }
    let (mean, std) = spread(&repeats.iter().map(|t| t.eigenvalues.clone()).collect::<Vec<_>>());
    let trace = args.trace.then(|| {
        let mut t = Ticking { op: op_for(0).0, bar: bar(args.trace_samples as u64, "trace") };
        let e = hutchinson(&mut t, args.trace_samples, 0.0, args.seed);
        t.bar.finish_and_clear();
        e
    });
    let fro = args.frobenius.then(|| {
        let mut t = Ticking { op: op_for(0).0, bar: bar(args.frobenius_samples as u64, "frobenius") };
        let e = frobenius(&mut t, args.frobenius_samples, args.seed);
        t.bar.finish_and_clear();
        e
    });
    let density = args.density.then(|| {
        let mut t = Ticking { op: op_for(0).0, bar: bar((args.density_probes * args.density_steps) as u64, "density") };
        let d = slq_density(&mut t, args.density_probes, args.density_steps, args.sigma, 400, args.seed);
        t.bar.finish_and_clear();
        d
    });
    let report = Report {
        model: loaded.cfg.model.name.clone(),
        data: loaded.cfg.data.name.clone(),
        parameters,
        subset_size,
        operator: args.operator.clone(),
        eps,
        repeats,
        mean,
        std,
        trace,
        frobenius: fro,
        density,
        seconds: started.elapsed().as_secs_f64(),
    };
    print_report(&report);
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(&report).expect("report serializes");
        basin::train::checkpoint::write_atomic(path, &text)?;
        println!("wrote {}", path.display());
    }
    if let Some(d) = &report.density {
        let svg = args.svg.clone().unwrap_or_else(|| match &args.json {
            Some(j) => j.with_extension("density.svg"),
            None => PathBuf::from("hessian-density.svg"),
        });
        let pts: Vec<(f64, f64)> = d.grid.iter().copied().zip(d.density.iter().copied()).collect();
        plots::line_plot(&svg, &format!("Hessian spectral density — {}", report.model), "eigenvalue", "density", &[plots::Series { label: "SLQ".into(), points: &pts }], true)?;
        println!("wrote {}", svg.display());
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!("{} on {}: {} parameters, subset of {} training examples, operator {}, ε = {}", r.model, r.data, r.parameters, r.subset_size, r.operator, r.eps);
    println!("| rank | eigenvalue (mean) | std over {} subset(s) | residual (subset 1) |", r.repeats.len());
    println!("|---|---|---|---|");
    for (i, m) in r.mean.iter().enumerate() {
        println!("| {} | {:.6e} | {:.2e} | {:.1e} |", i + 1, m, r.std[i], r.repeats[0].residuals.get(i).copied().unwrap_or(f64::NAN));
    }
    println!("HVPs per Lanczos run: {:?}; subset loss {:.5}", r.repeats.iter().map(|t| t.hvps).collect::<Vec<_>>(), r.repeats[0].loss);
    if let Some(t) = &r.trace {
        println!("trace ≈ {:.6e} ± {:.2e} (standard error, {} probes)", t.mean, t.stderr, t.samples);
    }
    if let Some(f) = &r.frobenius {
        println!("‖H‖_F ≈ {:.6e} ± {:.2e} ({} probes)", f.mean, f.stderr, f.samples);
    }
    println!("{:.1} s", r.seconds);
}
