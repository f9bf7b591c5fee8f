//! `basin hessian`: top (and bottom) eigenvalues (Lanczos), trace (Hutch++ by default, or
//! Hutchinson), Frobenius norm, diagonal (Diag++ by default, or Hutchinson; per tensor) and
//! spectral density (SLQ) of the loss Hessian of a trained
//! model on a fixed subset of its training set, with the spread across independent subsets
//! (`--repeats`); optionally of one layer's block (`--layer`) or of the Gauss–Newton matrix
//! (`--operator ggn`), always labelled with what it is.

use crate::model_source::ModelSource;
use crate::{CliError, device, plots};
use basin_core::curvature::block::{Block, in_group};
use basin_core::curvature::diagonal::{TensorDiagonal, diag_pp, hutchinson_diagonal};
use basin_core::curvature::frobenius::frobenius;
use basin_core::curvature::choice::{CurvatureOperator, OPERATOR_NAMES, OperatorKind};
use basin_core::curvature::hutchinson::{Estimate, hutchinson};
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::objective::subset_indices;
use basin_core::curvature::slq::{Density, slq_density};
use basin_core::curvature::track::{TopEigen, spread};
use basin_core::curvature::{LinearOperator, Objective};
use crate::subject::{Operator, OperatorSpec, Subject, SubsetOperator};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Arguments of `basin hessian`.
#[derive(Args)]
pub struct HessianArgs {
    #[command(flatten)]
    source: ModelSource,
    #[command(flatten)]
    determinism: crate::model_source::DeterminismArgs,
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
    /// hessian (exact: reverse mode over the model's tangent pass), ggn (the Gauss–Newton
    /// matrix Jᵀ H_ℓ J, PSD), fisher (Monte-Carlo Fisher), empirical-fisher, or fd (finite
    /// differences of gradients: smooth networks only).
    #[arg(long, default_value = "hessian")]
    operator: String,
    /// Relative finite-difference step: of fd (default 1e-3), or, for ggn, fisher and
    /// empirical-fisher, J v by central differences of the logits instead of the exact
    /// tangent pass (their default; a model without a tangent pass needs a step).
    #[arg(long)]
    eps: Option<f64>,
    /// --operator fisher: labels drawn per example from the model's softmax (curvlinops'
    /// `mc_samples`).
    #[arg(long, default_value_t = 1)]
    fisher_samples: usize,
    /// --operator fisher: independent label draws, each its own Lanczos run on the same
    /// subset; the eigenvalues are their mean, with their standard deviation beside it.
    #[arg(long, default_value_t = 3)]
    fisher_draws: usize,
    /// Also the K smallest (most negative) eigenvalues.
    #[arg(long, default_value_t = 0)]
    bottom_k: usize,
    /// Restrict the operator to one parameter group (a layer such as `hidden.0`, or a tensor
    /// such as `hidden.0.weight`): the diagonal block of that layer.
    #[arg(long)]
    layer: Option<String>,
    /// Also estimate the diagonal, summarized per parameter tensor.
    #[arg(long)]
    diagonal: bool,
    /// Products of the operator for --diagonal (Diag++ uses them in thirds).
    #[arg(long, default_value_t = 50, requires = "diagonal")]
    diagonal_samples: usize,
    /// diag++ (Baston & Nakatsukasa 2022: diag(QQᵀH) of a rank-m/3 sketch exactly plus
    /// Hutchinson on the rest) or hutchinson (z ⊙ Hz over Rademacher z).
    #[arg(long, default_value = "diag++", requires = "diagonal")]
    diagonal_method: String,
    /// Independent subsets (eigenvalue mean ± std across them).
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// One row per layer (parameter group): λ_max, trace (Hutch++, --trace-samples products)
    /// and ‖·‖_F (--frobenius-samples probes) of that layer's diagonal block.
    #[arg(long, conflicts_with = "layer")]
    per_layer: bool,
    /// Also estimate the trace.
    #[arg(long)]
    trace: bool,
    /// Products of the operator for --trace (Hutch++ uses them in thirds).
    #[arg(long, default_value_t = TRACE_SAMPLES)]
    trace_samples: usize,
    /// hutch++ (Meyer et al. 2021: a rank-m/3 sketch taken exactly plus Hutchinson on the
    /// rest, error O(1/m)) or hutchinson (plain Rademacher probes, error O(1/√m)).
    #[arg(long, default_value = "hutch++", requires = "trace")]
    trace_method: String,
    /// Also estimate ‖H‖_F.
    #[arg(long)]
    frobenius: bool,
    /// Probes for --frobenius.
    #[arg(long, default_value_t = FROBENIUS_SAMPLES)]
    frobenius_samples: usize,
    /// Also compute the spectral density (SLQ); drawn to --svg.
    #[arg(long)]
    density: bool,
    /// SLQ probes.
    #[arg(long, default_value_t = 4, requires = "density")]
    density_probes: usize,
    /// Lanczos steps per SLQ probe.
    #[arg(long, default_value_t = 40, requires = "density")]
    density_steps: usize,
    /// Gaussian width of the density, relative to the range of the Ritz values (σ = sigma ×
    /// range). PyHessian's `density.py` uses a variance of 1e-5 · max(1, range) instead: its σ
    /// is √(1e-5 · max(1, range)); pass that ÷ range to draw the same curve.
    #[arg(long, default_value_t = 0.01, requires = "density")]
    sigma: f64,
    /// With --density: also the density of log₁₀|λ| from the same SLQ nodes (Papyan 2020),
    /// in the JSON as `density_log`, and drawn instead of the linear one.
    #[arg(long, requires = "density")]
    log: bool,
    /// Batch size of the subset passes (default 500; a language model's batches are its
    /// training chunks).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Seed of the subsets and probe vectors.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Overwrite existing output files (--json, the density plot).
    #[arg(long)]
    force: bool,
    /// Write the density plot here (default: next to --json, or hessian-density.svg).
    #[arg(long, requires = "density")]
    svg: Option<PathBuf>,
    /// cpu, cuda or wgpu (the last two need their cargo feature).
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
    /// What `subset_size` counts: training examples, or a language model's training chunks.
    subset_unit: String,
    operator: String,
    operator_label: String,
    eps: Option<f64>,
    /// How J v (or H v) is taken: `tangent pass` or `finite differences`.
    products: String,
    /// `--operator fisher`: labels per example, and each draw's eigenvalues (first subset).
    fisher: Option<FisherDraws>,
    layer: Option<String>,
    repeats: Vec<TopEigen>,
    mean: Vec<f64>,
    std: Vec<f64>,
    trace: Option<Estimate>,
    /// `hutch++` or `hutchinson`, when `trace` is there.
    trace_method: Option<String>,
    frobenius: Option<Estimate>,
    bottom: Option<TopEigen>,
    diagonal: Option<Vec<TensorDiagonal>>,
    /// `diag++` or `hutchinson`, when `diagonal` is there.
    diagonal_method: Option<String>,
    density: Option<Density>,
    /// The density of log₁₀|λ| (`--log`), on its own axis.
    density_log: Option<Density>,
    /// `--per-layer`: each layer's diagonal block.
    per_layer: Option<Vec<basin_core::curvature::block::LayerCurvature>>,
    seconds: f64,
    /// Of `seconds`, the wall time inside the operator's products (spectrum, trace, Frobenius
    /// norm, diagonal, density; not the per-layer table's): the rest is loading the subset,
    /// the determinism check and the algebra of the estimators.
    product_seconds: f64,
}

/// The Monte-Carlo Fisher's independent label draws on the first subset.
#[derive(Serialize)]
struct FisherDraws {
    samples: usize,
    draws: Vec<Vec<f64>>,
    mean: Vec<f64>,
    std: Vec<f64>,
}

/// Ticks a progress bar on every HVP, and adds the product's wall time to `spent`, so that the
/// report can say how much of a run is products and how much is the algebra around them.
struct Ticking<'a, O> {
    op: O,
    bar: ProgressBar,
    spent: &'a Cell<Duration>,
}

impl<O: LinearOperator> LinearOperator for Ticking<'_, O> {
    type V = O::V;
    fn apply(&mut self, v: &O::V) -> O::V {
        self.bar.inc(1);
        let t = Instant::now();
        let out = self.op.apply(v);
        self.spent.set(self.spent.get() + t.elapsed());
        out
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

/// --trace-samples' default (a set value without --trace or --per-layer is an error).
const TRACE_SAMPLES: usize = 100;
/// --frobenius-samples' default (a set value without --frobenius or --per-layer is an error).
const FROBENIUS_SAMPLES: usize = 30;

fn check(args: &HessianArgs) -> Result<OperatorKind, CliError> {
    crate::output::check_fraction("--subset", args.subset)?;
    if args.top_k == 0 || args.max_iter < args.top_k {
        return Err(CliError::input("--top-k: must be ≥ 1 and ≤ --max-iter"));
    }
    if args.repeats == 0 {
        return Err(CliError::input("--repeats: must be ≥ 1"));
    }
    if !matches!(args.diagonal_method.as_str(), "diag++" | "hutchinson") {
        return Err(CliError::input(format!("--diagonal-method: unknown method '{}' (diag++, hutchinson)", args.diagonal_method)));
    }
    if !matches!(args.trace_method.as_str(), "hutch++" | "hutchinson") {
        return Err(CliError::input(format!("--trace-method: unknown method '{}' (hutch++, hutchinson)", args.trace_method)));
    }
    // --per-layer takes each layer's trace by Hutch++ and its ‖·‖_F too
    let (hutch_pp, fro) = (args.per_layer || (args.trace && args.trace_method == "hutch++"), args.frobenius || args.per_layer);
    if args.trace_samples != TRACE_SAMPLES && !(args.trace || args.per_layer) {
        return Err(CliError::input("--trace-samples: only with --trace or --per-layer"));
    }
    if args.frobenius_samples != FROBENIUS_SAMPLES && !fro {
        return Err(CliError::input("--frobenius-samples: only with --frobenius or --per-layer"));
    }
    if hutch_pp && args.trace_samples < 6 {
        return Err(CliError::input("--trace-samples: Hutch++ needs ≥ 6 products (a sketch of 2 and 2 probes for its error)"));
    }
    for (flag, n, used) in [("--trace-samples", args.trace_samples, args.trace), ("--frobenius-samples", args.frobenius_samples, fro), ("--diagonal-samples", args.diagonal_samples, args.diagonal)] {
        if used {
            crate::output::check_samples(flag, n)?;
        }
    }
    if args.top_k + args.bottom_k > args.max_iter {
        // Lanczos finds at most --max-iter Ritz values: beyond that the two ends overlap
        return Err(CliError::input("--bottom-k: --top-k + --bottom-k must be ≤ --max-iter"));
    }
    if args.samples == Some(0) {
        return Err(CliError::input("--samples: must be ≥ 1"));
    }
    if args.batch_size == Some(0) {
        return Err(CliError::input("--batch-size: must be ≥ 1"));
    }
    if args.density && (args.density_probes == 0 || args.density_steps == 0) {
        return Err(CliError::input("--density-probes, --density-steps: must be ≥ 1"));
    }
    if !(args.tol >= 0.0 && args.tol.is_finite() && args.sigma > 0.0 && args.sigma.is_finite()) {
        return Err(CliError::input("--tol, --sigma: must be finite (tol ≥ 0, sigma > 0)"));
    }
    let kind = OperatorKind::parse(&args.operator).ok_or_else(|| CliError::input(format!("--operator: unknown operator '{}' ({OPERATOR_NAMES})", args.operator)))?;
    if args.eps.is_some() && !kind.takes_step() {
        return Err(CliError::input("--eps: the exact Hessian has no step (--eps applies to --operator ggn, fisher, empirical-fisher and fd)"));
    }
    if kind != OperatorKind::Fisher && (args.fisher_samples != 1 || args.fisher_draws != 3) {
        return Err(CliError::input("--fisher-samples, --fisher-draws: only --operator fisher draws labels"));
    }
    if args.fisher_samples == 0 || args.fisher_draws == 0 {
        return Err(CliError::input("--fisher-samples, --fisher-draws: must be ≥ 1"));
    }
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
    let mut files: Vec<PathBuf> = args.json.iter().cloned().collect();
    if args.density {
        files.extend(crate::output::plot_files(&density_svg(&args)));
    }
    crate::output::refuse_overwrite(&files, args.force)?;
    let dev = device::select(&args.device)?;
    if args.source.run.as_deref().is_some_and(crate::lm_source::is_lm_run) {
        lm_checks(&args, kind)?;
    }
    let subject = Subject::load(&args.source, &dev)?;
    let started = Instant::now();
    let spec = OperatorSpec {
        kind,
        eps: args.eps.unwrap_or(kind.default_eps()),
        fisher_samples: args.fisher_samples,
        subset: args.subset,
        samples: args.samples,
        seed: args.seed,
        batch_size: args.batch_size.unwrap_or(500),
        determinism: &args.determinism,
    };
    // the operator on subset r (label draw d), restricted to --layer
    let op_for_draw = |r: u64, d: u64| -> Result<SubsetOperator, CliError> {
        let mut s = subject.operator(&spec, r, d, &dev)?;
        if let Some(name) = &args.layer {
            s.op = Box::new(Block::new(s.op, &s.point, name)?);
        }
        Ok(s)
    };
    let spent = Cell::new(Duration::ZERO);
    let spectrum = spectrum(&args, kind, &op_for_draw, &spent)?;
    let op_for = || op_for_draw(0, 0).map(|s| s.op);
    let trace = args.trace.then(|| estimate(op_for()?, args.trace_samples, "trace", &spent, |t| match args.trace_method.as_str() {
        "hutchinson" => hutchinson(t, args.trace_samples, 0.0, args.seed),
        _ => basin_core::curvature::hutch_pp::hutch_pp(t, args.trace_samples, args.seed),
    })).transpose()?;
    let fro = args.frobenius.then(|| estimate(op_for()?, args.frobenius_samples, "frobenius", &spent, |t| frobenius(t, args.frobenius_samples, args.seed))).transpose()?;
    let diagonal = args.diagonal.then(|| estimate(op_for()?, args.diagonal_samples.max(2), "diagonal", &spent, |t| match args.diagonal_method.as_str() {
        "hutchinson" => hutchinson_diagonal(t, args.diagonal_samples, args.seed).1,
        _ => diag_pp(t, args.diagonal_samples, args.seed).1,
    })).transpose()?.map(|per: Vec<TensorDiagonal>| match &args.layer {
        Some(name) => per.into_iter().filter(|d| in_group(&d.path, name)).collect(),
        None => per,
    });
    let density = args.density.then(|| estimate(op_for()?, args.density_probes * args.density_steps, "density", &spent, |t| slq_density(t, args.density_probes, args.density_steps, args.sigma, 400, args.seed))).transpose()?;
    let per_layer = match (args.per_layer, subject.classifier()) {
        (true, Some(loaded)) => Some(per_layer(&args, kind, &spec, loaded, &dev)?),
        _ => None,
    };
    let report = Report {
        per_layer,
        model: subject.model_label(),
        data: subject.data_label(),
        parameters: spectrum.parameters,
        subset_size: spectrum.subset_size,
        subset_unit: subject.subset_unit(),
        operator: kind.name().to_string(),
        operator_label: kind.label().to_string(),
        eps: (spec.eps > 0.0).then_some(spec.eps),
        products: if spec.eps > 0.0 { "finite differences" } else { "tangent pass" }.to_string(),
        fisher: spectrum.fisher,
        layer: args.layer.clone(),
        repeats: spectrum.repeats,
        mean: spectrum.mean,
        std: spectrum.std,
        trace_method: trace.as_ref().map(|_| args.trace_method.clone()),
        trace,
        frobenius: fro,
        bottom: spectrum.bottom,
        diagonal_method: diagonal.as_ref().map(|_| args.diagonal_method.clone()),
        diagonal,
        density_log: density.as_ref().filter(|_| args.log).map(|d| basin_core::curvature::slq::log_density(d, args.sigma, 400, 1e-9)),
        density,
        seconds: started.elapsed().as_secs_f64(),
        product_seconds: spent.get().as_secs_f64(),
    };
    write_report(&args, &report)
}

/// One randomized estimate on `op`, with a progress bar of `len` products.
fn estimate<T>(op: Operator, len: usize, what: &str, spent: &Cell<Duration>, f: impl FnOnce(&mut Ticking<Operator>) -> T) -> Result<T, CliError> {
    let mut t = Ticking { op, bar: bar(len as u64, what), spent };
    let out = f(&mut t);
    t.bar.finish_and_clear();
    Ok(out)
}

/// The top (and bottom) eigenvalues over the subsets and label draws.
struct Spectrum {
    repeats: Vec<TopEigen>,
    mean: Vec<f64>,
    std: Vec<f64>,
    bottom: Option<TopEigen>,
    fisher: Option<FisherDraws>,
    subset_size: usize,
    parameters: usize,
}

/// Lanczos on each subset (the mean over the label draws of the Monte-Carlo Fisher); the
/// bottom end comes from the first subset's own run: one Krylov space holds both ends.
fn spectrum(args: &HessianArgs, kind: OperatorKind, op_for_draw: &dyn Fn(u64, u64) -> Result<SubsetOperator, CliError>, spent: &Cell<Duration>) -> Result<Spectrum, CliError> {
    let (mut bottom, mut repeats, mut fisher, mut subset_size, mut parameters) = (None, Vec::new(), None, 0, 0);
    let draws = if kind == OperatorKind::Fisher { args.fisher_draws as u64 } else { 1 };
    for r in 0..args.repeats as u64 {
        let mut per_draw = Vec::new();
        for d in 0..draws {
            let s = op_for_draw(r, d)?;
            (subset_size, parameters) = (s.size, s.op.dim());
            let what = if draws > 1 { format!("lanczos {}/{}, draw {}/{draws}", r + 1, args.repeats, d + 1) } else { format!("lanczos {}/{}", r + 1, args.repeats) };
            let low_k = if r == 0 && d == 0 { args.bottom_k } else { 0 };
            let res = estimate(s.op, args.max_iter, &what, spent, |t| lanczos(t, &LanczosConfig { k: args.top_k, tol: args.tol, max_iter: args.max_iter, seed: args.seed.wrapping_add(r), smallest: false, bottom: low_k }))?;
            bottom = bottom.or((low_k > 0).then(|| TopEigen { eigenvalues: res.bottom_eigenvalues.clone(), residuals: res.bottom_residuals.clone(), hvps: res.iterations, loss: s.loss }));
            per_draw.push(TopEigen { eigenvalues: res.eigenvalues, residuals: res.residuals, hvps: res.iterations, loss: s.loss });
        }
        let (mean, std) = spread(&per_draw.iter().map(|t| t.eigenvalues.clone()).collect::<Vec<_>>());
        if kind == OperatorKind::Fisher && r == 0 {
            fisher = Some(FisherDraws { samples: args.fisher_samples, draws: per_draw.iter().map(|t| t.eigenvalues.clone()).collect(), mean: mean.clone(), std });
        }
        repeats.push(TopEigen {
            residuals: (0..mean.len()).map(|i| per_draw.iter().map(|t| t.residuals.get(i).copied().unwrap_or(f64::NAN)).fold(0.0, f64::max)).collect(),
            hvps: per_draw.iter().map(|t| t.hvps).sum(),
            loss: per_draw[0].loss,
            eigenvalues: mean,
        });
    }
    let (mean, std) = spread(&repeats.iter().map(|t| t.eigenvalues.clone()).collect::<Vec<_>>());
    Ok(Spectrum { repeats, mean, std, bottom, fisher, subset_size, parameters })
}

/// λ_max, trace and ‖·‖_F of each layer's block, each on a fresh operator over the first subset.
fn per_layer(args: &HessianArgs, kind: OperatorKind, spec: &OperatorSpec, loaded: &crate::model_source::Loaded, dev: &burn::tensor::Device) -> Result<Vec<basin_core::curvature::block::LayerCurvature>, CliError> {
    let (model, set) = (&loaded.model, &loaded.data.train);
    let idx = subset_indices(basin_core::batch::ExampleSet::len(set), Some(args.subset), args.samples, args.seed);
    let labels = basin_core::rng::derive_seed(args.seed, basin_core::rng::Stream::FisherLabels, 0);
    let make = || CurvatureOperator::fisher(kind, Objective::new(model, set, &idx, spec.batch_size, dev), spec.eps, args.fisher_samples, labels).expect("built for the spectrum's first subset");
    let w = basin_core::curvature::Differentiable::point(make().objective()).clone();
    let cfg = basin_core::curvature::block::PerLayerConfig { max_iter: args.max_iter, tol: args.tol, trace_matvecs: args.trace_samples, frobenius_samples: args.frobenius_samples, seed: args.seed };
    let pb = bar(3 * basin_core::curvature::block::layer_names(&w).len() as u64, "per layer");
    let rows = basin_core::curvature::block::per_layer(&w, || { pb.inc(1); make() }, cfg).map_err(CliError::from)?;
    pb.finish_and_clear();
    Ok(rows)
}

/// Prints the report, writes --json and the density plot.
fn write_report(args: &HessianArgs, report: &Report) -> Result<(), CliError> {
    print_report(report);
    if let Some(path) = &args.json {
        let text = serde_json::to_vec_pretty(report).expect("report serializes");
        basin_core::train::checkpoint::write_atomic(path, &text)?;
        println!("wrote {}", path.display());
    }
    if let Some(d) = report.density_log.as_ref().or(report.density.as_ref()) {
        let svg = density_svg(args);
        let pts: Vec<(f64, f64)> = d.grid.iter().copied().zip(d.density.iter().copied()).collect();
        let of = report.layer.as_ref().map(|l| format!(" of {l}")).unwrap_or_default();
        let (what, axis) = if report.density_log.is_some() { ("density of log₁₀|λ|", "log₁₀ |eigenvalue|") } else { ("spectral density", "eigenvalue") };
        plots::line_plot(&svg, &format!("{} {what}{of} — {}", report.operator_label, report.model), axis, "density", &[plots::Series { label: "SLQ".into(), points: &pts }], true)?;
        println!("wrote {}", svg.display());
    }
    Ok(())
}

fn print_report(r: &Report) {
    let op = &r.operator_label;
    let step = r.eps.map(|e| format!(", ε = {e}")).unwrap_or_default();
    let block = r.layer.as_ref().map(|l| format!(", block of {l}")).unwrap_or_default();
    println!("{} on {}: {} parameters, subset of {} {}, operator: {op} ({}{step}){block}", r.model, r.data, r.parameters, r.subset_size, r.subset_unit, r.operator);
    println!("| rank | {op} eigenvalue (mean) | std over {} subset(s) | residual (subset 1) |", r.repeats.len());
    println!("|---|---|---|---|");
    for (i, m) in r.mean.iter().enumerate() {
        println!("| {} | {:.6e} | {:.2e} | {:.1e} |", i + 1, m, r.std[i], r.repeats[0].residuals.get(i).copied().unwrap_or(f64::NAN));
    }
    println!("HVPs per Lanczos run: {:?}; subset loss {:.5}", r.repeats.iter().map(|t| t.hvps).collect::<Vec<_>>(), r.repeats[0].loss);
    if let Some(f) = &r.fisher {
        println!("| rank | {op} eigenvalue, mean over {} label draws ({} per example) | std over the draws |", f.draws.len(), f.samples);
        println!("|---|---|---|");
        for (i, (m, s)) in f.mean.iter().zip(&f.std).enumerate() {
            println!("| {} | {:.6e} | {:.2e} |", i + 1, m, s);
        }
    }
    if let Some(b) = &r.bottom {
        println!("| rank from the bottom | {op} eigenvalue | residual |");
        println!("|---|---|---|");
        for (i, (e, res)) in b.eigenvalues.iter().zip(&b.residuals).enumerate() {
            println!("| {} | {:.6e} | {:.1e} |", i + 1, e, res);
        }
    }
    if let Some(rows) = &r.per_layer {
        println!("| layer | parameters | λ_max of the block | residual | trace of the block | ‖block‖_F |");
        println!("|---|---|---|---|---|---|");
        for l in rows {
            println!("| {} | {} | {:.6e} | {:.1e} | {:.4e} ± {:.1e} | {:.4e} ± {:.1e} |", l.layer, l.parameters, l.lambda_max, l.residual, l.trace.mean, l.trace.stderr, l.frobenius.mean, l.frobenius.stderr);
        }
    }
    if let Some(t) = &r.trace {
        println!("{op} trace ≈ {:.6e} ± {:.2e} (standard error; {}, {} products)", t.mean, t.stderr, r.trace_method.as_deref().unwrap_or(""), t.samples);
    }
    if let Some(f) = &r.frobenius {
        println!("{op} Frobenius norm ≈ {:.6e} ± {:.2e} ({} probes)", f.mean, f.stderr, f.samples);
    }
    if let Some(d) = &r.diagonal {
        println!("| tensor | entries | {op} diagonal sum (± s.e.) | mean | min | max |");
        println!("|---|---|---|---|---|---|");
        for t in d {
            println!("| {} | {} | {:.4e} ± {:.1e} | {:.3e} | {:.3e} | {:.3e} |", t.path, t.numel, t.sum.mean, t.sum.stderr, t.mean, t.min, t.max);
        }
    }
    println!("{:.1} s, of which {:.1} s in the products", r.seconds, r.product_seconds);
}

/// What `basin hessian` cannot do on a language model's run folder: one-line errors rather
/// than options accepted and ignored.
fn lm_checks(args: &HessianArgs, kind: OperatorKind) -> Result<(), CliError> {
    let refuse = |what: &str| Err(CliError::input(format!("{what}: not available for a language model's run folder (lstm_lm)")));
    if !matches!(kind, OperatorKind::Hessian | OperatorKind::Fd) {
        return refuse(&format!("--operator {}", kind.name()));
    }
    if args.per_layer {
        return refuse("--per-layer");
    }
    if args.source.averaged {
        return refuse("--averaged");
    }
    if args.batch_size.is_some() {
        return refuse("--batch-size (its batches are the run's training chunks)");
    }
    Ok(())
}

/// Where the density plot goes: --svg, or next to --json, or hessian-density.svg.
fn density_svg(args: &HessianArgs) -> PathBuf {
    args.svg.clone().unwrap_or_else(|| match &args.json {
        Some(j) => j.with_extension("density.svg"),
        None => PathBuf::from("hessian-density.svg"),
    })
}
