//! `basin correlate DIR…`: how well each measure of `basin measures` ranks the runs below the DIRs by
//! their generalization gap (train accuracy − test accuracy) or test loss (issue 38): Kendall's
//! τ, the granulated Ψ with each hyperparameter's ψ, and the PGDL conditional-MI score, with the
//! number of runs each measure was computed on (a measure missing or not finite on some runs is
//! reported with its n, never dropped) and a 95 % percentile bootstrap interval of τ over runs
//! (1,000 resamples, seed 0). The hyperparameters are the config keys in which the
//! runs differ (the seed excepted), read from each run's config.toml; a key some runs lack
//! (written by an older basin) counts only by the values of the runs that have it. A measure
//! whose runs were measured with different settings (another radius, another noise, an older
//! basin) is flagged: a warning on stderr and `settings_kinds` in the JSON, since its τ then
//! ranks two quantities together. A run found twice counts once; a record that is not what
//! basin writes is an error naming the file and the key, never a run silently left out.

use crate::CliError;
use basin_core::correlation::{Table, cmi, granulated, kendall};
use clap::Args;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Arguments of `basin correlate`.
#[derive(Args)]
pub struct CorrelateArgs {
    /// Run folders, or folders holding them (searched recursively), e.g. an experiment's output,
    /// or a list such as `results/grid/*/seed-0` for one seed of a grid.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// What the measures are ranked against: `gap` (train accuracy − test accuracy; for float
    /// targets, test loss − train loss) or `test-loss`.
    #[arg(long, default_value = "gap")]
    against: String,
    /// Only runs that reached `train.stop_at_loss` (summary.json's converged_at_step), as Jiang
    /// et al. compare models at the same fit.
    #[arg(long)]
    converged_only: bool,
    /// Also write the table as JSON here (an existing file is kept unless --force).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Overwrite the --json file if it exists.
    #[arg(long)]
    force: bool,
}

/// One run: its hyperparameter values (all config keys, flattened), the target and its measures.
pub struct Run {
    /// Its folder.
    pub dir: PathBuf,
    /// Every config key, flattened (`optimizer.lr`), with its value as TOML writes it.
    pub config: BTreeMap<String, String>,
    /// The gap or the test loss.
    pub target: f64,
    /// Each measure of measures.json with a numeric value.
    pub measures: BTreeMap<String, f64>,
    /// Each measure's settings as measures.json records them (less `batch_norm`, which says
    /// what the network is, not how it was measured), as JSON text.
    pub settings: BTreeMap<String, String>,
    /// Trained on float targets (no accuracy; its gap is a loss gap).
    pub regression: bool,
}

/// One measure's rank correlations over the runs where it is a finite number.
pub struct Row {
    /// The measure's key.
    pub measure: String,
    /// Runs it was computed on.
    pub n: usize,
    /// Kendall's τ with the target.
    pub tau: f64,
    /// τ's 95 % percentile bootstrap interval over runs.
    pub interval: (f64, f64),
    /// The granulated Ψ.
    pub psi: f64,
    /// ψ per hyperparameter.
    pub per: Vec<f64>,
    /// The PGDL conditional-MI score and the pair it was found at.
    pub cmi: (f64, Option<(usize, usize)>),
    /// How many different settings its n runs were measured with (1 unless they mix).
    pub settings_kinds: usize,
}

/// The runs found below some folders, their hyperparameters and a row per measure.
pub struct Analysis {
    /// The config keys in which the runs differ (the seed excepted).
    pub names: Vec<String>,
    /// The runs with a target.
    pub runs: Vec<Run>,
    /// One per measure, in key order.
    pub rows: Vec<Row>,
}

/// The correlations of every measure over the finished runs below `dirs` (each a run folder
/// or a folder holding run folders), against `against` (`gap` or `test-loss`).
pub fn analyze(dirs: &[PathBuf], against: &str, converged_only: bool) -> Result<Analysis, CliError> {
    let (mut found, mut unfinished) = (Vec::new(), 0);
    dirs.iter().for_each(|d| find_runs(d, &mut found, &mut unfinished));
    if unfinished > 0 {
        eprintln!("note: {unfinished} run folder(s) without summary.json (unfinished) left out");
    }
    // a run below two of the folders (or named twice) counts once
    let mut seen = BTreeSet::new();
    found.retain(|d| seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())));
    let mut runs = Vec::new();
    for d in &found {
        if converged_only && !converged(d)? {
            continue;
        }
        if let Some(r) = load_run(d, against)? {
            runs.push(r);
        }
    }
    if let (Some(f), Some(l)) = (runs.iter().find(|r| r.regression), runs.iter().find(|r| !r.regression)) {
        return Err(CliError::input(format!(
            "the runs mix float targets ({}) and class labels ({}): their gaps (loss, accuracy) do not rank together; correlate each kind on its own",
            f.dir.display(),
            l.dir.display()
        )));
    }
    // the hyperparameters: keys whose values differ between the runs that write them, the seed
    // excepted (a key a run's config.toml lacks was added to basin after that run was written:
    // it held the default then, and is no hyperparameter of the grid)
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.config.keys()).collect();
    let names: Vec<String> = keys
        .into_iter()
        .filter(|k| k.as_str() != "seed" && runs.iter().filter_map(|r| r.config.get(*k)).collect::<BTreeSet<_>>().len() > 1)
        .cloned()
        .collect();
    let measures: BTreeSet<String> = runs.iter().flat_map(|r| r.measures.keys().cloned()).collect();
    let rows = measures
        .into_iter()
        .map(|m| {
            let t = table(&runs, &names, &m);
            let (psi, per) = granulated::psi(&t);
            let settings_kinds = measured(&runs, &m).map(|r| r.settings.get(&m)).collect::<BTreeSet<_>>().len();
            Row { n: t.len(), tau: kendall::tau(&t.measure, &t.gap), interval: kendall::bootstrap_interval(&t.measure, &t.gap, 1000, 0.95, 0), psi, per, cmi: cmi::score(&t), settings_kinds, measure: m }
        })
        .collect();
    Ok(Analysis { names, runs, rows })
}

/// The runs where measure `m` is finite: the n of its row, its table and its settings.
fn measured<'a>(runs: &'a [Run], m: &'a str) -> impl Iterator<Item = &'a Run> {
    runs.iter().filter(move |r| r.measures.get(m).is_some_and(|v| v.is_finite()))
}

/// The (hyperparameters, measure, target) table of measure `m` over the runs where it is finite.
pub fn table(runs: &[Run], names: &[String], m: &str) -> Table {
    let rs: Vec<&Run> = measured(runs, m).collect();
    Table {
        names: names.to_vec(),
        hparams: rs.iter().map(|r| names.iter().map(|k| r.config.get(k).cloned().unwrap_or_default()).collect()).collect(),
        measure: rs.iter().map(|r| r.measures[m]).collect(),
        gap: rs.iter().map(|r| r.target).collect(),
    }
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => t.iter().for_each(|(k, v)| flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out)),
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn read_json(p: &Path) -> Result<Value, CliError> {
    let t = std::fs::read_to_string(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&t).map_err(|e| CliError::input(format!("{}: {e}", p.display())))
}

/// The finished runs below `dir` (folders with config.toml and summary.json), sorted; a run
/// folder without summary.json is counted in `unfinished`. Symbolic links below `dir` are not
/// followed (a link to a parent folder would loop).
fn find_runs(dir: &Path, out: &mut Vec<PathBuf>, unfinished: &mut usize) {
    if dir.join("config.toml").is_file() {
        if dir.join("summary.json").is_file() {
            out.push(dir.to_path_buf());
        } else {
            *unfinished += 1;
        }
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut subs: Vec<PathBuf> = rd.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
        subs.sort();
        subs.iter().for_each(|s| find_runs(s, out, unfinished));
    }
}

/// Whether the run in `dir` reached `train.stop_at_loss`: summary.json's `converged_at_step`
/// is a step number (null: it ran to its epoch cap).
fn converged(dir: &Path) -> Result<bool, CliError> {
    let p = dir.join("summary.json");
    match &read_json(&p)?["converged_at_step"] {
        Value::Null => Ok(false),
        v if v.is_u64() => Ok(true),
        v => Err(CliError::input(format!("{}: converged_at_step: expected a step number or null, got {v}", p.display()))),
    }
}

/// The run in `dir`, or None (with a note) when its target is not a finite number (a run that
/// diverged). A file that is not what basin writes is an error naming it and the key.
fn load_run(dir: &Path, against: &str) -> Result<Option<Run>, CliError> {
    let path = dir.join("summary.json");
    let summary = read_json(&path)?;
    let (measures, settings) = read_measures(&dir.join("measures.json"))?;
    let cpath = dir.join("config.toml");
    let text = std::fs::read_to_string(&cpath).map_err(|e| CliError::input(format!("{}: {e}", cpath.display())))?;
    let table: toml::Value = toml::from_str(&text).map_err(|e| CliError::input(format!("{}: {e}", cpath.display())))?;
    let mut config = BTreeMap::new();
    flatten("", &table, &mut config);
    let num = |key: &str| number(&summary, key, &path);
    // float targets have no accuracy: train_acc is null
    let regression = num("train_acc")?.is_none();
    let target = match (against, regression) {
        ("gap", false) => num("test_acc")?.zip(num("train_acc")?).map(|(t, r)| r - t),
        // for float targets the gap is test loss − train loss (mean squared errors)
        ("gap", true) => num("test_loss")?.zip(num("train_loss")?).map(|(t, r)| t - r),
        _ => num("test_loss")?,
    };
    if target.is_none() {
        eprintln!("note: {}: its {against} is not a finite number (a diverged run?); left out", path.display());
    }
    Ok(target.map(|target| Run { dir: dir.to_path_buf(), config, target, measures, settings, regression }))
}

/// `key` of a summary.json: a number, None when null (not finite: JSON has no NaN), an error
/// naming the file and the key when missing or of another type.
fn number(summary: &Value, key: &str, path: &Path) -> Result<Option<f64>, CliError> {
    match summary.get(key) {
        Some(Value::Null) => Ok(None),
        Some(v) if v.is_number() => Ok(v.as_f64().filter(|x| x.is_finite())),
        Some(v) => Err(CliError::input(format!("{}: {key}: expected a number or null, got {v}", path.display()))),
        None => Err(CliError::input(format!("{}: {key}: missing", path.display()))),
    }
}

/// Each measure's settings as JSON text.
type Settings = BTreeMap<String, String>;

/// The finite values of a measures.json and every measure's settings (less `batch_norm`, which
/// says what the network is, not how it was measured). No file: no measures. A value that is
/// null (not finite, or failed) leaves the measure out of this run's n; a file or an entry that
/// is not what `basin measures` writes is an error naming it.
fn read_measures(path: &Path) -> Result<(BTreeMap<String, f64>, Settings), CliError> {
    let file = crate::commands::measures::read_file(path)?;
    let (mut measures, mut settings) = (BTreeMap::new(), BTreeMap::new());
    for (k, v) in file {
        let Value::Object(mut entry) = v else {
            return Err(CliError::input(format!("{}: {k}: expected an object with a value, got {v}", path.display())));
        };
        match entry.get("value") {
            Some(Value::Null) | None => {}
            Some(x) if x.is_number() => {
                measures.insert(k.clone(), x.as_f64().expect("a JSON number"));
            }
            Some(x) => return Err(CliError::input(format!("{}: {k}.value: expected a number or null, got {x}", path.display()))),
        }
        if let Some(Value::Object(s)) = entry.get_mut("settings") {
            s.remove("batch_norm");
        }
        settings.insert(k, entry.remove("settings").unwrap_or(Value::Null).to_string());
    }
    Ok((measures, settings))
}

/// Runs `basin correlate`.
pub fn run(args: CorrelateArgs) -> Result<(), CliError> {
    if !matches!(args.against.as_str(), "gap" | "test-loss") {
        return Err(CliError::input(format!("--against: '{}' is not gap or test-loss", args.against)));
    }
    if let Some(d) = args.dirs.iter().find(|d| !d.is_dir()) {
        return Err(CliError::input(format!("{}: no such folder", d.display())));
    }
    if let Some(p) = &args.json {
        crate::output::refuse_overwrite(std::slice::from_ref(p), args.force)?;
    }
    let a = analyze(&args.dirs, &args.against, args.converged_only)?;
    let below = match args.dirs.as_slice() {
        [one] => one.display().to_string(),
        many => format!("{} folders", many.len()),
    };
    if a.runs.len() < 2 {
        return Err(CliError::input(format!("{below}: {} finished run(s) found; correlating needs at least two", a.runs.len())));
    }
    let names = &a.names;
    println!("{} runs below {below}, ranked against {}; hyperparameters: {}", a.runs.len(), args.against, names.join(", "));
    println!();
    println!("| measure | n | Kendall τ | τ 95 % bootstrap | Ψ | {} | CMI (min over pairs) |", names.iter().map(|n| format!("ψ {n}")).collect::<Vec<_>>().join(" | "));
    println!("|---|---|---|---|---|{}---|", "---|".repeat(names.len()));
    let f = |x: f64| if x.is_nan() { "—".to_string() } else { format!("{x:.3}") };
    let mut rows = Vec::new();
    for r in &a.rows {
        let (lo, hi) = r.interval;
        println!("| {} | {} | {} | {}–{} | {} | {} | {} |", r.measure, r.n, f(r.tau), f(lo), f(hi), f(r.psi), r.per.iter().map(|x| f(*x)).collect::<Vec<_>>().join(" | "), f(r.cmi.0));
        rows.push(json!({"measure": r.measure, "n": r.n, "settings_kinds": r.settings_kinds, "tau": r.tau, "tau_bootstrap_95": [lo, hi], "psi": r.psi, "psi_per": names.iter().zip(&r.per).map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(), "cmi": r.cmi.0, "cmi_pair": r.cmi.1.map(|(x, y)| [names[x].clone(), names[y].clone()])}));
    }
    for r in a.rows.iter().filter(|r| r.settings_kinds > 1) {
        eprintln!("warning: {}: its {} runs were measured with {} different settings (measures.json); its τ ranks them together. `basin measures --run` on each run makes them one", r.measure, r.n, r.settings_kinds);
    }
    if let Some(p) = &args.json {
        let doc = json!({"dirs": args.dirs, "against": args.against, "runs": a.runs.len(), "hyperparameters": names, "converged_only": args.converged_only, "measures": rows});
        basin_core::train::checkpoint::write_atomic(p, &serde_json::to_vec_pretty(&doc).expect("serializes"))?;
    }
    Ok(())
}
