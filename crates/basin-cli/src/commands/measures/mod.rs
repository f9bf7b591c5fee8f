//! `basin measures`: generalization measures of trained runs (issue 38), each into its run
//! folder's `measures.json` with its own settings, one measure at a time. A measure already in
//! the file with the same settings is kept unless `--force`; with other settings (another
//! `--noise`, another `--apgd`) it is computed again. So an interrupted pass resumes where it
//! stopped, and a value never sits beside settings it was not computed with.
//!
//! Measures: `norms` (Jiang et al.'s norm-based measures against `init.bpk`, raw, keys
//! `norms.*`), `margin` (the 10th-percentile output margin on the training set), `path-norm`
//! (squared parameters, an all-ones input, the sum of the logits), and the perturbation measures of
//! [`perturbation`]: `pacbayes`, `pacbayes-mag` (σ and σ′ searches, keys `pacbayes.*`,
//! `pacbayes.mag.*`), `sharpness`, `sharpness-mag` (Jiang et al.'s α and α′ searches, keys
//! `sharpness.flatness` = 1/α², `sharpness.mag.flatness` = 1/α′²), `worst-case` and `average-case` (Andriushchenko et al., keys `worst.*`,
//! `average.*`), and those of [`curvature`]: `lambda-max`, `trace`, `frobenius` (of the exact
//! Hessian on 5 % of the training set), `c-eps-sharpness` (as `basin sharpness` computes it),
//! `relative-flatness` (Petzka et al.'s κ_Tr of the last dense layer) and `fisher-rao` (the
//! Fisher–Rao norm). Batch norm is not folded into the convolutions as the reference code does
//! (the grid's networks have none); a run with batch norm says so in each measure's settings.
//! Each entry holds `value`, `settings` (what it was computed with), `details` (what the
//! computation found on the way: σ and its trials, whether Lanczos converged), `seconds` and
//! `training_set_passes` (the seconds over those of one loss-and-gradient pass over the
//! training set, timed in the same process: the cost in a unit that travels across machines).

mod curvature;
mod perturbation;

use crate::CliError;
use crate::model_source::ModelSource;
use basin_core::Classifier;
use basin_core::measures::alpha::Direction;
use basin_core::measures::apgd::Protocol;
use basin_core::measures::pacbayes::NoiseScale;
use basin_core::measures::margin::{margins, percentile_margin};
use basin_core::measures::norms::NormMeasures;
use basin_core::paramvec::ParamVec;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use clap::Args;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The measures defined through classification (a margin, a training accuracy that a
/// perturbation must move by 0.1, the cross-entropy's closed-form Hessian); refused on a
/// regression set.
const NEED_LABELS: &[&str] = &["margin", "pacbayes", "pacbayes-mag", "sharpness", "sharpness-mag", "relative-flatness"];
/// The measures `basin measures` computes, in order.
pub const MEASURES: &[&str] = &["norms", "margin", "path-norm", "lambda-max", "pacbayes", "pacbayes-mag", "sharpness", "sharpness-mag", "worst-case", "average-case", "relative-flatness", "fisher-rao", "trace", "frobenius", "c-eps-sharpness"];

/// Arguments of `basin measures`.
#[derive(Args)]
pub struct MeasuresArgs {
    /// Run folders (several after one --run, e.g. a shell glob, or --run repeated).
    #[arg(long, required = true, num_args = 1..)]
    run: Vec<PathBuf>,
    /// Comma-separated measures (norms, margin, path-norm, lambda-max, pacbayes, pacbayes-mag,
    /// sharpness, sharpness-mag, worst-case, average-case, relative-flatness, fisher-rao, trace, frobenius,
    /// c-eps-sharpness) or `all`.
    #[arg(long, default_value = "all")]
    measures: String,
    /// PAC-Bayes noise: `paper` (N(0, σ²)) or `reference-code` (measures.py's σ² as the std).
    #[arg(long, default_value = "paper")]
    noise: String,
    /// Worst-case ascent: `reference-code` (sharpness.py as written) or `basin` (a halving
    /// restores δ; adaptive ℓ2 ascends in δ/|w|, which reaches the maximum).
    #[arg(long, default_value = "reference-code")]
    apgd: String,
    /// The α search inside the box: `ascent` (the definition) or `descent` (the direction of
    /// the PGDL sharpness baseline's optimizer steps, in basin's search: an ablation of the
    /// direction, not that baseline).
    #[arg(long, default_value = "ascent")]
    alpha_direction: String,
    /// Seed of the Monte-Carlo draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute again the measures the file already holds.
    #[arg(long)]
    force: bool,
}

/// Runs `basin measures`.
pub fn run(args: MeasuresArgs) -> Result<(), CliError> {
    let wanted: Vec<&str> = if args.measures == "all" { MEASURES.to_vec() } else { args.measures.split(',').map(str::trim).collect() };
    if let Some(m) = wanted.iter().find(|m| !MEASURES.contains(m)) {
        return Err(CliError::input(format!("--measures: unknown measure '{m}' (known: {}, all)", MEASURES.join(", "))));
    }
    let opts = perturbation::Options {
        noise: NoiseScale::from_name(&args.noise).ok_or_else(|| CliError::input(format!("--noise: unknown '{}' (known: {})", args.noise, NoiseScale::NAMES.join(", "))))?,
        apgd: Protocol::from_name(&args.apgd).ok_or_else(|| CliError::input(format!("--apgd: unknown '{}' (known: {})", args.apgd, Protocol::NAMES.join(", "))))?,
        alpha_direction: match args.alpha_direction.as_str() {
            "ascent" => Direction::Ascent,
            "descent" => Direction::Descent,
            other => return Err(CliError::input(format!("--alpha-direction: unknown '{other}' (known: ascent, descent)"))),
        },
        seed: args.seed,
    };
    // an option of measures that are not asked for would be accepted and do nothing
    let any = |ms: &[&str]| wanted.iter().any(|w| ms.contains(w));
    let unused = [
        ("--noise", args.noise != "paper", &["pacbayes", "pacbayes-mag"][..]),
        ("--apgd", args.apgd != "reference-code", &["worst-case"][..]),
        ("--alpha-direction", args.alpha_direction != "ascent", &["sharpness", "sharpness-mag"][..]),
        ("--seed", args.seed != 0, &["pacbayes", "pacbayes-mag", "average-case"][..]),
    ];
    if let Some((flag, _, ms)) = unused.iter().find(|(_, set, ms)| *set && !any(ms)) {
        return Err(CliError::input(format!("{flag}: applies to {}, which --measures leaves out", ms.join(", "))));
    }
    for dir in &args.run {
        if !dir.join("summary.json").is_file() {
            return Err(CliError::input(format!("{}: not a finished run (no summary.json)", dir.display())));
        }
    }
    for dir in &args.run {
        measure_run(dir, &wanted, args.measures == "all", args.force, &opts)?;
    }
    Ok(())
}

/// A run's measures.json as its map of entries: empty when there is no file; a file that cannot
/// be read (not UTF-8, a folder, no permission) or is not a JSON object is an error naming it,
/// never taken for an empty one (a pass would replace it by a file that lost its entries).
pub fn read_file(path: &Path) -> Result<Map<String, Value>, CliError> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(CliError::input(format!("{}: {e}", path.display()))),
        Ok(t) => match serde_json::from_str(&t) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(CliError::input(format!("{}: expected an object of measures", path.display()))),
            Err(e) => Err(CliError::input(format!("{}: {e}", path.display()))),
        },
    }
}

/// Whether run `dir`'s measures.json holds a value of every measure in `list` (comma-separated,
/// as `--measures` takes it). The file is written after each measure, so it exists before the
/// last one is done: `basin reproduce` asks this before it counts a run's measures as done.
pub fn holds(dir: &Path, list: &str) -> bool {
    let Some(out) = std::fs::read_to_string(dir.join("measures.json")).ok().and_then(|t| serde_json::from_str::<Map<String, Value>>(&t).ok()) else {
        return false;
    };
    list.split(',').all(|m| out.keys().any(|k| owns(m, k)))
}

/// The value keys measure `m` owns in measures.json (`norms` owns every `norms.*`).
fn owns(m: &str, key: &str) -> bool {
    match m {
        "norms" => key.starts_with("norms."),
        "margin" | "path-norm" => key == m,
        m if curvature::MEASURES.contains(&m) => key == m,
        _ => perturbation::keys(m).iter().any(|k| k == key),
    }
}

/// The settings of measure `m`, known before it runs.
fn settings(m: &str, opts: &perturbation::Options, has_bn: bool) -> Value {
    let mut s = match m {
        "norms" => json!({"weights": "kernels and dense matrices", "init": "init.bpk", "adjusted": false}),
        "margin" => json!({"set": "train", "percentile": 10}),
        "path-norm" => json!({"input": "ones", "batch_norm_folded": false}),
        m if curvature::MEASURES.contains(&m) => curvature::settings(m),
        _ => perturbation::settings(m, opts),
    };
    s["batch_norm"] = json!(has_bn);
    s
}

/// Computes `wanted` on run `dir`; `all` asked for every measure, so on a regression run the
/// ones that need class labels are left out with a note (named ones are an error).
fn measure_run(dir: &Path, wanted: &[&str], all: bool, force: bool, opts: &perturbation::Options) -> Result<(), CliError> {
    let _lock = crate::run_lock::acquire(dir)?;
    let file = dir.join("measures.json");
    let mut out = read_file(&file)?;
    let dev = Device::flex();
    let loaded = ModelSource::of_run(dir).load(&dev)?;
    let kept: Vec<&str> = wanted.iter().copied().filter(|m| !(all && loaded.data.is_regression() && NEED_LABELS.contains(m))).collect();
    if kept.len() < wanted.len() {
        eprintln!("{}: float targets: left out {} (they need class labels)", dir.display(), NEED_LABELS.join(", "));
    }
    let wanted = &kept[..];
    if let Some(m) = wanted.iter().find(|m| NEED_LABELS.contains(m)).filter(|_| loaded.data.is_regression()) {
        return Err(CliError::input(format!("{}: measure '{m}' needs class labels, and the run's data has float targets (it fits a mean squared error); measures for it: {}", dir.display(), MEASURES.iter().filter(|m| !NEED_LABELS.contains(m)).copied().collect::<Vec<_>>().join(", "))));
    }
    let has_bn = ParamVec::from_model(&loaded.model).slots.iter().any(|s| s.path.ends_with("gamma"));
    let subject = perturbation::Subject::new(&loaded.model, &loaded.data.train, &dev);
    let mut pass: Option<f64> = None;
    for &m in wanted {
        let settings = settings(m, opts, has_bn);
        let held: Vec<&Value> = out.iter().filter(|(k, _)| owns(m, k)).map(|(_, v)| v).collect();
        if !force && !held.is_empty() && held.iter().all(|v| v["settings"] == settings) {
            continue;
        }
        if !held.is_empty() && !force {
            eprintln!("{}: {m} was computed with other settings; computing it again", dir.display());
        }
        // the cost unit: one loss-and-gradient pass over the training set, timed in this process
        let pass = *pass.get_or_insert_with(|| gradient_pass_seconds(&loaded.model, &loaded.data.train, &dev));
        let t = Instant::now();
        let (values, details) = match m {
            "norms" => norms(dir, &loaded.model)?,
            "margin" => (vec![("margin".to_string(), margin(&loaded.model, &loaded.data.train, &dev))], json!({})),
            "path-norm" => (vec![("path-norm".to_string(), path_norm(&loaded.model, loaded.data.shape, &dev))], json!({})),
            m if curvature::MEASURES.contains(&m) => curvature::compute(m, &loaded.model, &loaded.data.train, &dev),
            _ => perturbation::compute(m, &subject, &loaded.model.clone().load_weights(&dir.join("init.bpk"))?, opts)?,
        };
        let secs = t.elapsed().as_secs_f64();
        out.retain(|k, _| !owns(m, k));
        for (k, v) in values {
            let v = if v.is_finite() { json!(v) } else { Value::Null };
            out.insert(k, json!({"value": v, "settings": settings, "details": details, "seconds": secs, "training_set_passes": secs / pass}));
        }
        basin_core::train::checkpoint::write_atomic(&file, &serde_json::to_vec_pretty(&out).expect("serializes"))?;
        eprintln!("{}: {m} ({secs:.1} s)", dir.display());
    }
    Ok(())
}

/// Seconds of one loss-and-gradient pass over `set` (batches of 500, evaluation mode).
fn gradient_pass_seconds(model: &crate::network::Network, set: &basin_zoo::data::PreparedSet, dev: &Device) -> f64 {
    use basin_core::curvature::Differentiable;
    let idx: Vec<usize> = (0..basin_core::batch::ExampleSet::len(set)).collect();
    let mut obj = basin_core::curvature::Objective::new(model, set, &idx, 500, dev);
    let w = obj.point().clone();
    let t = Instant::now();
    obj.loss_grad(&w);
    t.elapsed().as_secs_f64()
}

/// A measure's values by key, and what its computation found on the way.
type Values = (Vec<(String, f64)>, Value);

fn norms(dir: &Path, model: &crate::network::Network) -> Result<Values, CliError> {
    let init = model.clone().load_weights(&dir.join("init.bpk"))?;
    let m = NormMeasures::of(&ParamVec::from_model(model), &ParamVec::from_model(&init));
    let Value::Object(fields) = serde_json::to_value(&m).expect("serializes") else { unreachable!("a struct") };
    let values = fields.into_iter().map(|(k, v)| (format!("norms.{k}"), v.as_f64().unwrap_or(f64::NAN))).collect();
    Ok((values, json!({})))
}

/// The logits of the whole set from a network in evaluation mode (`valid()`), on the host.
fn all_logits(valid: &crate::network::Network, set: &basin_zoo::data::PreparedSet, dev: &Device) -> (Vec<f32>, usize) {
    use basin_core::batch::ExampleSet;
    let mut out = Vec::new();
    let mut k = 0;
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(1000) {
        let b = set.batch(chunk, None, dev);
        let z = valid.logits(b.images);
        k = z.dims()[1];
        out.extend(z.into_data().iter::<f32>());
    }
    (out, k)
}

fn margin(model: &crate::network::Network, set: &basin_zoo::data::PreparedSet, dev: &Device) -> f64 {
    let (z, k) = all_logits(&model.valid(), set, dev);
    percentile_margin(&margins(&z, k, &set.y))
}

fn path_norm(model: &crate::network::Network, shape: [usize; 3], dev: &Device) -> f64 {
    let valid = model.valid();
    let squared = ParamVec::from_model(&valid).map(|_, t| t.clone() * t).write_into(valid);
    let ones = Tensor::<4>::ones([1, shape[0], shape[1], shape[2]], dev);
    squared.logits(ones).sum().into_scalar::<f64>()
}
