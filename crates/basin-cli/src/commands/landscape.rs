//! `basin landscape`: interpolation between two weight files, filter-normalized random
//! surfaces (1-D curves, 2-D grids) and the plane through three checkpoints; plain data
//! (JSON + CSV) and plots (SVG).

use crate::model_source::{ModelSource, load_weights};
use crate::shards::{ShardWriter, parse_shard, share};
use crate::slurm::{self, ArrayJob, SlurmArgs, script::TASK_ID};
use crate::output::percent;
use crate::{CliError, device, plots};
use basin_core::landscape::grid::LandscapePoint;
use basin_core::landscape::plane::Plane;
use basin_core::landscape::{DirectionNorm, EigenParams, EigenSettings, blend, extreme_eigenvalues, filter_normalized_direction};
use basin_core::paramvec::ParamVec;
use basin_core::train::evaluate::evaluate;
use crate::network::Network;
use basin_zoo::data::PreparedSet;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// Subcommands of `basin landscape`.
#[derive(Subcommand)]
pub enum LandscapeCommand {
    /// w(α) = (1 − α) w_a + α w_b on a grid of α (SmoothOut Fig. 2a, S-SGD Fig. 2).
    Interpolate {
        /// The run (or weights) at α = 0; its data and model are used.
        #[command(flatten)]
        source: ModelSource,
        /// The weights at α = 1 (a run folder or a .bpk / .safetensors file).
        #[arg(long)]
        to: PathBuf,
        /// α from.
        #[arg(long, default_value_t = -1.0)]
        from_alpha: f64,
        /// α to.
        #[arg(long, default_value_t = 2.0)]
        to_alpha: f64,
        /// Points.
        #[arg(long, default_value_t = 25)]
        points: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Loss along filter-normalized random directions (Li et al.): a 1-D curve or a 2-D grid.
    Surface {
        #[command(flatten)]
        source: ModelSource,
        /// 1 (curve) or 2 (grid).
        #[arg(long, default_value_t = 2)]
        dims: usize,
        /// Points per axis.
        #[arg(long, default_value_t = 51)]
        points: usize,
        /// Half-width of the range of each coordinate.
        #[arg(long, default_value_t = 1.0)]
        range: f64,
        /// filter | layer | none.
        #[arg(long, default_value = "filter")]
        norm: String,
        /// Give biases and batch-norm parameters a direction too: the parameter itself, as
        /// loss-landscape does (Li et al. ignore them by default).
        #[arg(long)]
        include_bias_bn: bool,
        /// Seed of the directions (they are regenerated from it, never cached).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also λ_max and λ_min of the exact Hessian at every point (one Lanczos run each, on
        /// the same training examples as the loss), drawn as two more heat maps
        /// (PREFIX-lambda-max.svg, PREFIX-lambda-min.svg): loss-landscape's eigenvalue maps.
        #[arg(long)]
        eigen: bool,
        /// With --eigen: the most Hessian-vector products per point.
        #[arg(long, default_value_t = 60, requires = "eigen")]
        eigen_max_iter: usize,
        /// With --eigen: the relative residual both ends must reach (an end that does not is
        /// marked unconverged in the JSON and CSV and drawn grey in its map).
        #[arg(long, default_value_t = 1e-3, requires = "eigen")]
        eigen_tol: f64,
        /// With --eigen: the parameters the Hessian is over: all trainable parameters, or
        /// weights (tensors of rank > 1: no biases or batch-norm parameters), which is
        /// loss-landscape's `plot_hessian_eigen.py`.
        #[arg(long, default_value = "all", requires = "eigen")]
        params: String,
        /// Evaluate only shard I of N of the grid (a contiguous block of points) into
        /// OUT.shards/shard-I-of-N.jsonl, point by point: run again, it skips the points it
        /// holds. `--merge N` then writes the outputs.
        #[arg(long, value_name = "I/N", conflicts_with_all = ["merge", "shards"])]
        shard: Option<String>,
        /// Write the outputs from the N complete shard files in OUT.shards/ (the same files
        /// the unsharded command writes, bit for bit).
        #[arg(long, value_name = "N", conflicts_with = "shards")]
        merge: Option<usize>,
        /// With --slurm: the number of shards, one array task each, and a merge job after them.
        #[arg(long, value_name = "N", requires = "slurm")]
        shards: Option<usize>,
        #[command(flatten)]
        slurm: SlurmArgs,
        #[command(flatten)]
        common: Common,
    },
    /// The training trajectory over the loss surface of its two PCA directions (Li et al.
    /// 2018 §7, loss-landscape's projection.py): needs weights kept with `train.keep_every`.
    Trajectory {
        /// The run folder: its init.bpk, trajectory/step-*.bpk (train.keep_every) and the final
        /// model.bpk.
        #[arg(long)]
        run: PathBuf,
        /// Grid points per axis.
        #[arg(long, default_value_t = 21)]
        points: usize,
        /// Margin around the path, as a fraction of its span.
        #[arg(long, default_value_t = 0.3)]
        margin: f64,
        #[command(flatten)]
        common: Common,
    },
    /// The plane through three checkpoints (Garipov et al.; S-SGD Fig. 7).
    Plane {
        /// Three run folders or weight files; the first one's config gives model and data.
        #[arg(long = "point", num_args = 1, required = true)]
        points_from: Vec<PathBuf>,
        /// Grid points per axis.
        #[arg(long, default_value_t = 21)]
        points: usize,
        /// Margin around the three points, as a fraction of their span.
        #[arg(long, default_value_t = 0.2)]
        margin: f64,
        #[command(flatten)]
        common: Common,
    },
}

/// The largest grid run without `--force`: 500 × 500 points, about a hundred times the
/// default 51 × 51 surface.
const MAX_GRID: usize = 250_000;

/// Options every landscape shares.
#[derive(Args, Clone)]
pub struct Common {
    /// Use only the first N training images (0 = all).
    #[arg(long, default_value_t = 0)]
    train_subset: usize,
    /// Use only the first N test images (0 = all).
    #[arg(long, default_value_t = 0)]
    test_subset: usize,
    /// Evaluation batch size.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Output prefix: PREFIX.json, PREFIX.csv, PREFIX.svg (and .png).
    #[arg(long, default_value = "landscape")]
    out: PathBuf,
    /// Also export the grid and every map for other tools: `npz` (NumPy, loss-landscape's
    /// array names) and/or `vtk` (a legacy VTK structured grid for ParaView), as PREFIX.npz,
    /// PREFIX.vtk; comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "FORMAT")]
    export: Vec<String>,
    /// Overwrite existing output files, and run grids above 250,000 points.
    #[arg(long)]
    force: bool,
    /// cpu, cuda or wgpu (the last two need their cargo feature).
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn subset(set: &PreparedSet, n: usize) -> PreparedSet {
    if n == 0 || n >= set.len() {
        return set.clone();
    }
    set.select(&(0..n).collect::<Vec<_>>())
}

fn bar(n: usize) -> ProgressBar {
    let b = ProgressBar::new(n as u64);
    b.set_style(ProgressStyle::with_template("{spinner} landscape [{bar:30}] {pos}/{len} points  ETA {eta}").expect("template").progress_chars("=> "));
    b
}

fn weights_of(path: &Path, template: &Network) -> Result<Network, CliError> {
    let file = if path.is_dir() { path.join("model.bpk") } else { path.to_path_buf() };
    load_weights(template.clone(), &file)
}

fn write_outputs(prefix: &Path, points: &[LandscapePoint], meta: serde_json::Value) -> Result<(), CliError> {
    let json = serde_json::json!({ "meta": meta, "points": points });
    basin_core::train::checkpoint::write_atomic(&prefix.with_extension("json"), &serde_json::to_vec_pretty(&json).expect("serializes"))?;
    let mut csv = String::from(if points.first().is_some_and(|p| p.coords.len() == 2) { "x,y" } else { "x" });
    csv.push_str(",train_loss,train_acc,test_loss,test_acc");
    let eigen = points.iter().all(|p| p.eigen.is_some()) && !points.is_empty();
    csv.push_str(if eigen { ",lambda_max,lambda_min,lambda_max_converged,lambda_min_converged\n" } else { "\n" });
    for p in points {
        let c: Vec<String> = p.coords.iter().map(|v| format!("{v}")).collect();
        let cell = |a: Option<f64>| a.map_or(String::new(), |a| a.to_string());
        csv.push_str(&format!("{},{},{},{},{}", c.join(","), p.train.loss, cell(p.train.accuracy), p.test.loss, cell(p.test.accuracy)));
        match (&p.eigen, eigen) {
            (Some(e), true) => csv.push_str(&format!(",{},{},{},{}\n", e.max, e.min, e.max_converged, e.min_converged)),
            _ => csv.push('\n'),
        }
    }
    basin_core::train::checkpoint::write_atomic(&prefix.with_extension("csv"), csv.as_bytes())?;
    println!("wrote {}, {}", prefix.with_extension("json").display(), prefix.with_extension("csv").display());
    Ok(())
}

fn curve_plot(prefix: &Path, title: &str, xlabel: &str, points: &[LandscapePoint]) -> Result<(), CliError> {
    let tr: Vec<(f64, f64)> = points.iter().map(|p| (p.coords[0], p.train.loss)).collect();
    let te: Vec<(f64, f64)> = points.iter().map(|p| (p.coords[0], p.test.loss)).collect();
    let svg = prefix.with_extension("svg");
    plots::line_plot(&svg, title, xlabel, "loss", &[plots::Series { label: "train".into(), points: &tr }, plots::Series { label: "test".into(), points: &te }], true)?;
    println!("wrote {}", svg.display());
    Ok(())
}

/// The eigenvalue map `PREFIX-lambda-max.svg` or `PREFIX-lambda-min.svg`.
fn eigen_svg(prefix: &Path, which: &str) -> PathBuf {
    let name = prefix.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    prefix.with_file_name(format!("{name}-{which}.svg"))
}

/// `--eigen`: λ_max and λ_min over the grid as two heat maps (1-D: one curve plot of both);
/// an end that did not converge is drawn grey (a gap in the 1-D curve), and the title says how many.
fn eigen_plots(prefix: &Path, dims: usize, axis: &[f64], out: &[LandscapePoint]) -> Result<(), CliError> {
    let ends: Vec<(f64, f64)> = out
        .iter()
        .map(|p| p.eigen.map_or((f64::NAN, f64::NAN), |e| (if e.max_converged { e.max } else { f64::NAN }, if e.min_converged { e.min } else { f64::NAN })))
        .collect();
    for (which, name, pick) in [("lambda-max", "λ_max", 0), ("lambda-min", "λ_min", 1)] {
        let svg = eigen_svg(prefix, which);
        let vals: Vec<f64> = ends.iter().map(|e| if pick == 0 { e.0 } else { e.1 }).collect();
        let blank = vals.iter().filter(|v| !v.is_finite()).count();
        let mut title = format!("{name} of the Hessian, filter-normalized directions");
        if blank > 0 {
            title.push_str(&format!(" ({blank} of {} points unconverged, grey)", vals.len()));
        }
        let title = title.as_str();
        if dims == 2 {
            plots::heat_map_of(&svg, title, "eigenvalue", axis, axis, &vals, &[(0.0, 0.0, "w".into())])?;
        } else {
            let pts: Vec<(f64, f64)> = axis.iter().copied().zip(vals).collect();
            plots::line_plot(&svg, title, "t", "eigenvalue", &[plots::Series { label: which.into(), points: &pts }], false)?;
        }
        println!("wrote {}", svg.display());
    }
    Ok(())
}

/// Shard `i` of `n` of a surface: its block of `coords`, skipping the points its file holds,
/// one line per point; Ctrl-C, SIGTERM and Slurm's USR2 stop it between points (USR2 also
/// requeues the array task).
fn run_shard(dir: &Path, i: usize, n: usize, coords: &[Vec<f64>], header: &serde_json::Value, opts: &SlurmArgs, at: impl Fn(&[f64]) -> Result<LandscapePoint, CliError>) -> Result<(), CliError> {
    let signals = slurm::requeue::TaskSignals::register();
    let (mut file, done) = ShardWriter::open::<LandscapePoint>(dir, i, n, header)?;
    let mine = share(coords.len(), i, n);
    let pb = bar(mine.len());
    pb.inc(mine.clone().filter(|k| done.contains_key(k)).count() as u64);
    for k in mine.clone() {
        if done.contains_key(&k) {
            continue;
        }
        if signals.stop.load(std::sync::atomic::Ordering::SeqCst) {
            pb.finish_and_clear();
            if slurm::requeue::warned(&signals) {
                println!("{}", slurm::requeue::requeue_self(&dir.join("slurm"), i, opts)?);
                return Ok(());
            }
            return Err(CliError { code: 143, message: format!("shard {i}/{n} interrupted; run it again to continue") });
        }
        file.append(k, &at(&coords[k])?)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    println!("shard {i}/{n}: points {} to {} of {} in {}", mine.start, mine.end.saturating_sub(1), coords.len(), crate::shards::path(dir, i, n).display());
    Ok(())
}

/// `--slurm --shards N`: this command as an array of N shard tasks and a merge job after them.
fn submit_shards(n: usize, dir: &Path, opts: &SlurmArgs) -> Result<(), CliError> {
    if n == 0 {
        return Err(CliError::input("--shards: N must be ≥ 1"));
    }
    let base = slurm::own_args(&["--slurm", "--dry-run"], &["--slurm-arg", "--shards", "--signal-before", "--max-requeue"]);
    let mut task = base.clone();
    task.extend(["--shard".into(), format!("{TASK_ID}/{n}"), "--signal-before".into(), opts.signal_before.to_string(), "--max-requeue".into(), opts.max_requeue.to_string()]);
    let mut then = base;
    then.extend(["--merge".into(), n.to_string()]);
    let slurm_dir = dir.join("slurm");
    let job = ArrayJob { name: "basin-landscape".into(), dir: &slurm_dir, tasks: n, per_task: 1, task, then, then_what: "merge" };
    println!("landscape surface: {n} shards as array tasks, merged by a job after them; shard files in {}", dir.display());
    slurm::submit(&job, opts)
}

/// Runs `basin landscape ...`.
pub fn run(cmd: LandscapeCommand) -> Result<(), CliError> {
    let (points, common) = match &cmd {
        LandscapeCommand::Interpolate { points, common, .. } | LandscapeCommand::Surface { points, common, .. } | LandscapeCommand::Plane { points, common, .. } | LandscapeCommand::Trajectory { points, common, .. } => (*points, common),
    };
    if points < 2 {
        return Err(CliError::input(format!("--points: must be ≥ 2 (got {points})")));
    }
    if common.batch_size == 0 {
        return Err(CliError::input("--batch-size: must be ≥ 1"));
    }
    // a grid of NaN coordinates, or of one point, is no landscape
    let finite = |flag: &str, v: f64, positive: bool| {
        if v.is_finite() && (v > 0.0 || (!positive && v >= 0.0)) { Ok(()) } else { Err(CliError::input(format!("{flag}: must be finite and {} (got {v})", if positive { "> 0" } else { "≥ 0" }))) }
    };
    match &cmd {
        LandscapeCommand::Interpolate { from_alpha, to_alpha, .. } => {
            if !(from_alpha.is_finite() && to_alpha.is_finite() && from_alpha != to_alpha) {
                return Err(CliError::input(format!("--from-alpha, --to-alpha: must be finite and differ (got {from_alpha}, {to_alpha})")));
            }
        }
        LandscapeCommand::Surface { range, eigen, eigen_max_iter, eigen_tol, .. } => {
            finite("--range", *range, true)?;
            if *eigen && *eigen_max_iter == 0 {
                return Err(CliError::input("--eigen-max-iter: must be ≥ 1"));
            }
            if *eigen {
                finite("--eigen-tol", *eigen_tol, false)?;
            }
        }
        LandscapeCommand::Plane { margin, .. } | LandscapeCommand::Trajectory { margin, .. } => finite("--margin", *margin, false)?,
    }
    // a grid no machine finishes is refused up front, with its size
    let grid = match &cmd {
        LandscapeCommand::Interpolate { .. } => Some(points as u128),
        LandscapeCommand::Surface { dims, .. } => (points as u128).checked_pow(*dims as u32),
        LandscapeCommand::Plane { .. } | LandscapeCommand::Trajectory { .. } => (points as u128).checked_pow(2),
    };
    if !common.force && grid.is_none_or(|g| g > MAX_GRID as u128) {
        let size = grid.map(|g| format!("{g}")).unwrap_or_else(|| "more than 2^128".into());
        return Err(CliError::input(format!("--points: {points} makes a grid of {size} points, each a pass over the train and test subsets; above {MAX_GRID} points is refused (lower --points, split it with --shard I/N, or pass --force)")));
    }
    // an eigenvalue map costs up to --eigen-max-iter Hessian products (≈ 3 passes each) a point
    if let (LandscapeCommand::Surface { eigen: true, eigen_max_iter, .. }, Some(g)) = (&cmd, grid) {
        let passes = g.saturating_mul(1 + 3 * *eigen_max_iter as u128);
        if !common.force && passes > MAX_GRID as u128 {
            return Err(CliError::input(format!("--eigen: {g} points × up to {eigen_max_iter} Hessian products is about {passes} passes over the training subset; above {MAX_GRID} is refused (lower --points or --eigen-max-iter, split it with --shard I/N, or pass --force)")));
        }
    }
    crate::export::check(&common.export)?;
    let prefix = &common.out;
    let mut files = ["json", "csv", "svg", "png"].map(|e| prefix.with_extension(e)).to_vec();
    files.extend(crate::export::files(prefix, &common.export));
    if matches!(&cmd, LandscapeCommand::Surface { eigen: true, .. }) {
        files.extend(["lambda-max", "lambda-min"].iter().flat_map(|m| crate::output::plot_files(&eigen_svg(prefix, m))));
    }
    // a shard writes only its shard file; the merge (and the unsharded run) the outputs
    if !matches!(&cmd, LandscapeCommand::Surface { shard: Some(_), .. }) {
        crate::output::refuse_overwrite(&files, common.force)?;
    }
    match cmd {
        LandscapeCommand::Interpolate { source, to, from_alpha, to_alpha, points, common } => {
            let dev = device::select(&common.device)?;
            let l = source.load(&dev)?;
            let (train, test) = (subset(&l.data.train, common.train_subset), subset(&l.data.test, common.test_subset));
            let b = weights_of(&to, &l.model)?;
            let pb = bar(points);
            let mut out = Vec::new();
            for i in 0..points {
                let alpha = from_alpha + (to_alpha - from_alpha) * i as f64 / (points - 1).max(1) as f64;
                let m = blend(&l.model, &[(&l.model, 1.0 - alpha), (&b, alpha)]);
                out.push(LandscapePoint { coords: vec![alpha], train: evaluate(&m, &train, common.batch_size, &dev), test: evaluate(&m, &test, common.batch_size, &dev), eigen: None });
                pb.inc(1);
            }
            pb.finish_and_clear();
            for p in &out {
                println!("α = {:+.3}  train loss {:.4} acc {}  test loss {:.4} acc {}", p.coords[0], p.train.loss, percent(p.train.accuracy), p.test.loss, percent(p.test.accuracy));
            }
            write_outputs(&common.out, &out, serde_json::json!({ "kind": "interpolate", "to": to }))?;
            let alphas: Vec<f64> = out.iter().map(|p| p.coords[0]).collect();
            crate::export::write(&common.out, &common.export, &alphas, None, &crate::export::maps(&out))?;
            curve_plot(&common.out, "Linear interpolation", "α", &out)
        }
        LandscapeCommand::Surface { source, dims, points, range, norm, include_bias_bn, seed, eigen, eigen_max_iter, eigen_tol, params, shard, merge, shards, slurm, common } => {
            if dims != 1 && dims != 2 {
                return Err(CliError::input("--dims: 1 or 2"));
            }
            let params = EigenParams::parse(&params).ok_or_else(|| CliError::input(format!("--params: unknown selection '{params}' (all, weights)")))?;
            let settings = EigenSettings { params, max_iter: eigen_max_iter, tol: eigen_tol, seed };
            let norm = match norm.as_str() {
                "filter" => DirectionNorm::Filter,
                "layer" => DirectionNorm::Layer,
                "none" => DirectionNorm::None,
                o => return Err(CliError::input(format!("--norm: unknown normalization '{o}' (filter, layer, none)"))),
            };
            let shard_dir = PathBuf::from(format!("{}.shards", common.out.display()));
            // a shard run by hand requeues itself too when Slurm warns it (run_shard)
            slurm.check_used(slurm.slurm || shard.is_some())?;
            if slurm.slurm {
                let n = shards.ok_or_else(|| CliError::input("--slurm: give --shards N, the number of array tasks"))?;
                return submit_shards(n, &shard_dir, &slurm);
            }
            if merge == Some(0) {
                return Err(CliError::input("--merge: N must be ≥ 1"));
            }
            let dev = device::select(&common.device)?;
            let l = source.load(&dev)?;
            let (train, test) = (subset(&l.data.train, common.train_subset), subset(&l.data.test, common.test_subset));
            let w = ParamVec::from_model(&l.model);
            let d1 = filter_normalized_direction(&w, norm, !include_bias_bn, seed);
            let d2 = filter_normalized_direction(&w, norm, !include_bias_bn, seed.wrapping_add(1));
            let axis: Vec<f64> = (0..points).map(|i| -range + 2.0 * range * i as f64 / (points - 1).max(1) as f64).collect();
            let coords: Vec<Vec<f64>> = if dims == 1 { axis.iter().map(|&x| vec![x]).collect() } else { axis.iter().flat_map(|&y| axis.iter().map(move |&x| vec![x, y])).collect() };
            let at = |c: &[f64]| {
                let mut p = w.axpy(c[0], &d1);
                if dims == 2 {
                    p = p.axpy(c[1], &d2);
                }
                let (tr, te) = basin_core::landscape::evaluate_at(&l.model, &p, &train, &test, common.batch_size, &dev);
                // λ_max and λ_min on the same training examples as the loss
                let eigen = eigen.then(|| extreme_eigenvalues(&l.model, &p, &train, common.batch_size, &settings, &dev)).transpose()?;
                Ok::<_, CliError>(LandscapePoint { coords: c.to_vec(), train: tr, test: te, eigen })
            };
            // what makes two shard files parts of one grid
            let mut header = serde_json::json!({
                "kind": "surface", "dims": dims, "points": points, "range": range, "norm": format!("{norm:?}"), "seed": seed,
                "include_bias_bn": include_bias_bn, "run": source.run, "weights": source.weights, "model": source.model, "data": source.data,
                "train_subset": common.train_subset, "test_subset": common.test_subset, "batch_size": common.batch_size,
            });
            // where the data and the graph come from, when given (absent, a header reads as
            // one written before these were part of it)
            for (k, v) in [("data_dir", serde_json::json!(source.data_dir)), ("npz", serde_json::json!(source.npz)), ("onnx", serde_json::json!(source.onnx))] {
                if !v.is_null() {
                    header[k] = v;
                }
            }
            if eigen {
                header["eigen"] = serde_json::json!({ "max_iter": eigen_max_iter, "tol": eigen_tol, "params": params });
            }
            if source.averaged {
                header["averaged"] = serde_json::json!(true);
            }
            if let Some(s) = shard {
                let (i, n) = parse_shard(&s).map_err(|e| CliError::input(format!("--shard: {e}")))?;
                return run_shard(&shard_dir, i, n, &coords, &header, &slurm, at);
            }
            let out = match merge {
                Some(n) => crate::shards::merge(&shard_dir, n, coords.len(), &header)?,
                None => {
                    let pb = bar(coords.len());
                    let mut out = Vec::new();
                    for c in coords {
                        out.push(at(&c)?);
                        pb.inc(1);
                    }
                    pb.finish_and_clear();
                    out
                }
            };
            let mut meta = serde_json::json!({ "kind": "surface", "dims": dims, "norm": format!("{norm:?}"), "seed": seed, "range": range });
            if eigen {
                meta["eigen"] = header["eigen"].clone();
            }
            write_outputs(&common.out, &out, meta)?;
            crate::export::write(&common.out, &common.export, &axis, (dims == 2).then_some(&axis[..]), &crate::export::maps(&out))?;
            if eigen {
                eigen_plots(&common.out, dims, &axis, &out)?;
            }
            if dims == 1 {
                curve_plot(&common.out, "Loss along a filter-normalized direction", "t", &out)
            } else {
                let vals: Vec<f64> = out.iter().map(|p| p.train.loss).collect();
                let svg = common.out.with_extension("svg");
                plots::heat_map(&svg, "Training loss, filter-normalized directions", &axis, &axis, &vals, &[(0.0, 0.0, "w".into())])?;
                println!("wrote {}", svg.display());
                Ok(())
            }
        }
        LandscapeCommand::Trajectory { run, points, margin, common } => trajectory(&run, points, margin, &common),
        LandscapeCommand::Plane { points_from, points, margin, common } => {
            if points_from.len() != 3 {
                return Err(CliError::input(format!("--point: give exactly three (got {})", points_from.len())));
            }
            let dev = device::select(&common.device)?;
            let first = &points_from[0];
            let src = if first.is_dir() {
                ModelSource::of_run(first)
            } else {
                return Err(CliError::input("--point: the first point must be a run folder (its config gives model and data)"));
            };
            let l = src.load(&dev)?;
            let (train, test) = (subset(&l.data.train, common.train_subset), subset(&l.data.test, common.test_subset));
            let m2 = weights_of(&points_from[1], &l.model)?;
            let m3 = weights_of(&points_from[2], &l.model)?;
            let (w1, w2, w3) = (ParamVec::from_model(&l.model), ParamVec::from_model(&m2), ParamVec::from_model(&m3));
            let plane = Plane::new(&w1, &w2, &w3);
            if !(plane.n1 > 0.0 && plane.n2 > 1e-12 * plane.n1) {
                return Err(CliError::input("--point: the three checkpoints are (nearly) collinear"));
            }
            let pts = plane.points();
            let (xmin, xmax) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (ymin, ymax) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
            let (mx, my) = (margin * (xmax - xmin), margin * (ymax - ymin).max(1e-12));
            let xs: Vec<f64> = (0..points).map(|i| xmin - mx + (xmax - xmin + 2.0 * mx) * i as f64 / (points - 1).max(1) as f64).collect();
            let ys: Vec<f64> = (0..points).map(|i| ymin - my + (ymax - ymin + 2.0 * my) * i as f64 / (points - 1).max(1) as f64).collect();
            let pb = bar(points * points);
            let mut out = Vec::new();
            for &y in &ys {
                for &x in &xs {
                    let [c1, c2, c3] = plane.coefficients(x, y);
                    let m = blend(&l.model, &[(&l.model, c1), (&m2, c2), (&m3, c3)]);
                    out.push(LandscapePoint { coords: vec![x, y], train: evaluate(&m, &train, common.batch_size, &dev), test: evaluate(&m, &test, common.batch_size, &dev), eigen: None });
                    pb.inc(1);
                }
            }
            pb.finish_and_clear();
            let names: Vec<String> = points_from.iter().map(|p| p.display().to_string()).collect();
            write_outputs(&common.out, &out, serde_json::json!({ "kind": "plane", "points": names, "plane": plane, "coordinates": pts }))?;
            crate::export::write(&common.out, &common.export, &xs, Some(&ys), &crate::export::maps(&out))?;
            let vals: Vec<f64> = out.iter().map(|p| p.test.loss).collect();
            let marks: Vec<(f64, f64, String)> = pts.iter().zip(["1", "2", "3"]).map(|(p, n)| (p.0, p.1, n.to_string())).collect();
            let svg = common.out.with_extension("svg");
            plots::heat_map(&svg, "Test loss on the plane through three checkpoints", &xs, &ys, &vals, &marks)?;
            println!("wrote {}", svg.display());
            Ok(())
        }
    }
}

/// The checkpoints of run `dir`'s trajectory in order: init.bpk (θ₀) and every
/// trajectory/step-S.bpk (`train.keep_every`), each with its step.
fn trajectory_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CliError> {
    let kept = dir.join("trajectory");
    let entries = std::fs::read_dir(&kept).map_err(|_| CliError::input(format!("{}: no kept weights (train with train.keep_every = N to keep the weights every N epochs)", kept.display())))?;
    let mut files: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.strip_suffix(".bpk")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    files.sort();
    if dir.join("init.bpk").is_file() && files.first().is_none_or(|(s, _)| *s > 0) {
        files.insert(0, (0, dir.join("init.bpk")));
    }
    Ok(files)
}

/// `basin landscape trajectory`: PCA of (wₜ − w_final) over the kept checkpoints, the path
/// in the two directions' coordinates, and the loss over the plane they span around w_final.
fn trajectory(run: &Path, points: usize, margin: f64, common: &Common) -> Result<(), CliError> {
    let dev = device::select(&common.device)?;
    let src = ModelSource::of_run(run);
    let l = src.load(&dev)?;
    let (train, test) = (subset(&l.data.train, common.train_subset), subset(&l.data.test, common.test_subset));
    let files = trajectory_files(run)?;
    let kept: Vec<ParamVec> = files.iter().map(|(_, f)| weights_of(f, &l.model).map(|m| ParamVec::from_model(&m))).collect::<Result<_, _>>()?;
    let end = ParamVec::from_model(&l.model);
    let pca = basin_core::landscape::trajectory_pca(&kept, &end)?;
    let span = |f: &dyn Fn(&(f64, f64)) -> f64| {
        let (lo, hi) = pca.path.iter().map(f).fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let m = margin * (hi - lo).max(1e-12);
        (lo - m, hi + m)
    };
    let ((x0, x1), (y0, y1)) = (span(&|p| p.0), span(&|p| p.1));
    let axis = |a: f64, b: f64| -> Vec<f64> { (0..points).map(|i| a + (b - a) * i as f64 / (points - 1) as f64).collect() };
    let (xs, ys) = (axis(x0, x1), axis(y0, y1));
    let pb = bar(points * points);
    let mut out = Vec::new();
    for &y in &ys {
        for &x in &xs {
            let w = end.axpy(x, &pca.directions[0]).axpy(y, &pca.directions[1]);
            let (tr, te) = basin_core::landscape::evaluate_at(&l.model, &w, &train, &test, common.batch_size, &dev);
            out.push(LandscapePoint { coords: vec![x, y], train: tr, test: te, eigen: None });
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    println!("trajectory: {} checkpoints; the PCA directions explain {:.1} % and {:.1} % of the variance", kept.len(), 100.0 * pca.explained[0], 100.0 * pca.explained[1]);
    // the final weights close the path (a row of the PCA, as loss-landscape's) when they were
    // not kept as the last checkpoint
    let steps: Vec<serde_json::Value> = files.iter().map(|(s, _)| serde_json::json!(s)).chain(pca.with_end.then(|| serde_json::json!("final"))).collect();
    let path: Vec<serde_json::Value> = steps.iter().zip(&pca.path).map(|(step, (x, y))| serde_json::json!({ "step": step, "x": x, "y": y })).collect();
    write_outputs(&common.out, &out, serde_json::json!({ "kind": "trajectory", "run": run, "explained_variance": pca.explained, "path": path }))?;
    crate::export::write(&common.out, &common.export, &xs, Some(&ys), &crate::export::maps(&out))?;
    let vals: Vec<f64> = out.iter().map(|p| p.train.loss).collect();
    let svg = common.out.with_extension("svg");
    let title = format!("Training trajectory on the PCA plane ({:.0} % + {:.0} % of the variance)", 100.0 * pca.explained[0], 100.0 * pca.explained[1]);
    plots::heat_map_with_path(&svg, &title, &xs, &ys, &vals, &[(0.0, 0.0, "end".into())], &pca.path)?;
    println!("wrote {}", svg.display());
    Ok(())
}
