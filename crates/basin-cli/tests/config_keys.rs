//! Issue 25: no setting is accepted and ignored. For every key of a run config (every
//! `[estimator]` method's keys too), a valid non-default value either changes what the run
//! computes or writes (its weights, metrics.jsonl, summary.json, or the files of the run
//! folder), or is rejected with an exit-2 error naming the key. The few keys that by design
//! change neither (batch sizes of evaluation passes, where results do not depend on them) are
//! listed with why, and the test asserts that they indeed change nothing. A key added to the
//! config without an entry here fails the test.

use basin_core::estimators::{ESTIMATOR_NAMES, EstimatorConfig};
use basin_core::train::TrainConfig;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// What setting a key to its test value must do.
enum Expect {
    /// Change the run's outputs.
    Changes,
    /// Exit 2 with an error naming the key.
    Rejected,
    /// Leave the outputs byte-identical, for the reason given.
    Invariant(&'static str),
    /// Not run here, for the reason given.
    Skip(&'static str),
}
use Expect::*;

/// Context keys set in both runs of a row.
type Context = &'static [(&'static str, &'static str)];
/// One row: key, test value (TOML), what it must do, and its context.
type Row = (&'static str, &'static str, Expect, Context);

const KESKAR: &[(&str, &str)] = &[("model.name", "\"keskar-f1\"")];
const MLP: &[(&str, &str)] = &[("model.name", "\"mlp\"")];
const WINDOWED: &[(&str, &str)] = &[("train.stop_at_loss", "1e-9"), ("train.loss_window", "1")];
const SWA: &[(&str, &str)] = &[("average.method", "\"swa\"")];
const SWA_STEPS: &[(&str, &str)] = &[("average.method", "\"swa\""), ("average.unit", "\"step\"")];

fn rows() -> Vec<Row> {
    vec![
        ("seed", "1", Changes, &[]),
        ("model.name", "\"keskar-f1\"", Changes, &[]),
        ("model.ghost_batch", "32", Changes, KESKAR),
        ("model.relu_noise", "0.3", Changes, &[]),
        ("model.width", "64", Changes, MLP),
        ("model.width", "64", Rejected, &[]),
        ("model.depth", "3", Changes, MLP),
        ("model.depth", "3", Rejected, &[]),
        ("model.dropout", "0.3", Changes, MLP),
        ("model.dropout", "0.3", Rejected, &[]),
        ("model.onnx", "\"x.onnx\"", Skip("an ONNX file replaces the network: cli_onnx.rs trains one from PyTorch's exporter and checks what it computes; a missing file is an error naming model.onnx"), &[]),
        ("model.freeze", "\"weight\"", Changes, &[]),
        ("data.npz", "\"x.npz\"", Skip("arrays replace the data set: cli_onnx.rs trains on them and checks that bad arrays are errors naming the array"), &[]),
        ("data.name", "\"mnist\"", Skip("the bundled slice is the only data set on a fresh machine; every name loads its own files (data_readers.rs)"), &[]),
        ("data.dir", "\"COPY\"", Invariant("a copy of the same files elsewhere gives the same run (a wrong folder is an error naming it, cli_errors)"), &[]),
        ("data.validation", "32", Changes, &[]),
        ("data.augment", "true", Changes, &[]),
        ("data.train_subset", "192", Changes, &[]),
        ("data.test_subset", "50", Changes, &[]),
        ("train.epochs", "2", Changes, &[]),
        ("train.batch_size", "32", Changes, &[]),
        // evaluation sums per batch: another size changes the test loss in its last digits
        ("train.eval_batch_size", "7", Changes, &[]),
        ("train.log_every", "2", Changes, &[]),
        ("train.checkpoint_every", "1", Invariant("mid-epoch checkpoints are replaced by the epoch's own; resume from them is tested by the kill -9 test"), &[]),
        ("train.halve_lr_at_loss", "100.0", Changes, WINDOWED),
        ("train.stop_at_loss", "100.0", Changes, &[("train.halve_lr_at_loss", "1e-9"), ("train.loss_window", "1")]),
        ("train.loss_window", "2", Changes, &[("train.halve_lr_at_loss", "100.0"), ("train.loss_window", "1")]),
        ("train.ghost_batch", "32", Changes, KESKAR),
        // a chunk as large as the batch: no ghost batches at all
        ("train.ghost_batch", "64", Rejected, &[("model.name", "\"keskar-f1\""), ("train.batch_size", "64")]),
        // a window longer than the run: the thresholds would never be checked
        ("train.loss_window", "1000000", Rejected, WINDOWED),
        ("train.clip_norm", "1e-3", Changes, &[]),
        ("train.keep_every", "1", Changes, &[]),
        ("train.keep_unit", "\"step\"", Rejected, &[]),
        ("train.keep_unit", "\"step\"", Changes, &[("train.keep_every", "1")]),
        ("average.method", "\"swa\"", Changes, &[]),
        ("average.unit", "\"step\"", Changes, SWA),
        ("average.start", "1", Changes, SWA_STEPS),
        ("average.every", "2", Changes, SWA_STEPS),
        ("average.lr", "0.05", Changes, SWA),
        ("average.schedule", "\"cyclic\"", Rejected, SWA),
        ("average.lr_max", "0.2", Rejected, SWA),
        ("average.anneal", "3", Changes, &[("average.method", "\"swa\""), ("average.unit", "\"step\""), ("average.lr", "0.05")]),
        ("average.anneal", "3", Rejected, SWA),
        ("average.anneal_strategy", "\"linear\"", Changes, &[("average.method", "\"swa\""), ("average.unit", "\"step\""), ("average.lr", "0.05"), ("average.anneal", "3")]),
        ("average.anneal_strategy", "\"linear\"", Rejected, SWA),
        // the context's β = 0.3: over this short run's updates the default 0.999 would keep almost
        // all of the average on the first snapshot, which is refused (average.rs's tests)
        ("average.beta", "0.5", Changes, &[("average.method", "\"ema\""), ("average.unit", "\"step\""), ("average.beta", "0.3")]),
        ("average.beta", "0.5", Rejected, SWA),
        ("average.recalibrate_bn", "false", Changes, &[("average.method", "\"swa\""), ("model.name", "\"keskar-f1\"")]),
        ("optimizer.name", "\"adam\"", Changes, &[]),
        ("optimizer.lr", "0.05", Changes, &[]),
        ("optimizer.momentum", "0.5", Changes, &[]),
        ("optimizer.nesterov", "true", Changes, &[]),
        // without momentum Nesterov's step is plain SGD's
        ("optimizer.nesterov", "true", Rejected, &[("optimizer.momentum", "0.0")]),
        // named by --set, a key the config never reads is refused at its default value too
        // (the generalization grid once set momentum 0.9 beside plain SGD, which ignored it)
        ("optimizer.momentum", "0.9", Rejected, &[("optimizer.name", "\"sgd\"")]),
        ("optimizer.weight_decay", "0.01", Changes, &[]),
        ("optimizer.beta1", "0.5", Rejected, &[]),
        ("optimizer.beta2", "0.9", Rejected, &[]),
        ("optimizer.epsilon", "1e-6", Rejected, &[]),
        ("schedule.kind", "\"cosine\"", Changes, &[]),
        ("schedule.milestones", "[1]", Rejected, &[]),
        ("schedule.gamma", "0.5", Rejected, &[]),
        ("schedule.t0", "1.0", Rejected, &[]),
        ("schedule.t_mult", "1.0", Rejected, &[]),
        ("schedule.eta_min", "0.001", Rejected, &[]),
        // a negative floor would end each cosine cycle in gradient ascent
        ("schedule.eta_min", "-0.01", Rejected, &[("schedule.kind", "\"cosine\"")]),
        ("schedule.warmup_epochs", "1.0", Changes, &[]),
        ("schedule.lr_scaling", "\"sqrt\"", Changes, &[]),
        ("schedule.base_batch", "32", Rejected, &[]),
        ("estimator.name", "\"smoothout\"", Changes, &[]),
        ("curvature.track_every", "1", Changes, &[]),
        ("curvature.top_k", "2", Rejected, &[]),
        ("curvature.subset", "0.1", Rejected, &[]),
        ("curvature.max_iter", "10", Rejected, &[]),
        ("curvature.tol", "0.01", Rejected, &[]),
        ("curvature.operator", "\"ggn\"", Rejected, &[]),
        ("curvature.eps", "1e-3", Rejected, &[]),
        ("curvature.batch_size", "50", Rejected, &[]),
        ("curvature.slice_at", "[1]", Changes, &[]),
        ("curvature.slice_at", "[0]", Rejected, &[]),
        // the slices run their own fixed Lanczos: the tracking's settings would be ignored
        ("curvature.top_k", "2", Rejected, &[("curvature.slice_at", "[1]")]),
        ("curvature.batch_size", "50", Rejected, &[("curvature.slice_at", "[1]")]),
        ("curvature.track_alignment", "true", Rejected, &[]),
        ("curvature.track_alignment", "true", Changes, &[("curvature.track_every", "1")]),
        ("phases", "[{ epochs = 1, lr = 0.05 }]", Changes, &[]),
        // a phase's own schedule with a key of another kind: checked as the top-level one is
        ("phases", "[{ epochs = 1, schedule = { kind = \"constant\", milestones = [1] } }]", Rejected, &[]),
    ]
}

/// The `[estimator]` keys of each method: (method, key, value, expectation, context).
fn estimator_rows() -> Vec<(&'static str, &'static str, &'static str, Expect, Context)> {
    const SGD: &[(&str, &str)] = &[("optimizer.name", "\"sgd\"")];
    // γ = 1 (the default) is plain SGD, which needs no directions
    const NUDGE: &[(&str, &str)] = &[("optimizer.name", "\"sgd\""), ("estimator.gamma", "0.5")];
    vec![
        ("smoothout", "a", "0.1", Changes, &[]),
        ("smoothout", "noise", "\"gaussian\"", Changes, &[]),
        ("smoothout", "denoise", "false", Changes, &[]),
        ("smoothout", "params", "\"dense\"", Changes, &[]),
        ("smoothout", "noise_per", "\"chunk\"", Rejected, &[]),
        ("ada-smoothout", "a", "0.05", Changes, &[]),
        ("ada-smoothout", "noise", "\"gaussian\"", Changes, &[]),
        ("ada-smoothout", "denoise", "false", Changes, &[]),
        ("ada-smoothout", "params", "\"dense\"", Changes, &[]),
        ("ada-smoothout", "noise_per", "\"chunk\"", Changes, &[("train.ghost_batch", "32")]),
        ("det-smoothout", "a", "0.1", Changes, &[]),
        ("det-smoothout", "noise", "\"gaussian\"", Changes, &[]),
        ("det-smoothout", "copies", "2", Changes, &[]),
        ("det-smoothout", "params", "\"dense\"", Changes, &[]),
        ("s-sgd", "level", "0.1", Changes, &[]),
        ("s-sgd", "layers", "\"dense\"", Changes, &[("model.name", "\"simple-cnn\"")]),
        // ne-f1 has no convolution: the noise would touch nothing, plain SGD under another name
        ("s-sgd", "layers", "\"conv\"", Rejected, &[]),
        ("smoothout", "params", "\"conv\"", Rejected, &[]),
        ("noise-enhancement", "alpha", "2.0", Changes, &[]),
        ("sam", "rho", "0.1", Changes, &[]),
        ("sam", "m", "16", Changes, &[]),
        ("asam", "rho", "0.1", Changes, &[]),
        ("asam", "eta", "0.1", Changes, &[]),
        ("asam", "m", "16", Changes, &[]),
        ("entropy-sgd", "inner_steps", "2", Changes, &[]),
        ("entropy-sgd", "gamma", "0.1", Changes, &[]),
        ("entropy-sgd", "scoping", "0.1", Changes, &[]),
        ("entropy-sgd", "noise", "0.01", Changes, &[]),
        ("entropy-sgd", "inner_lr", "0.05", Changes, &[]),
        ("entropy-sgd", "inner_momentum", "0.5", Changes, &[]),
        ("entropy-sgd", "inner_weight_decay", "0.01", Changes, &[]),
        ("entropy-sgd", "beta1", "0.5", Changes, &[]),
        ("entropy-sgd", "outer", "\"paper\"", Changes, &[]),
        ("nsgd", "gamma", "0.5", Changes, SGD),
        ("nsgd", "directions", "2", Changes, NUDGE),
        ("nsgd", "every", "1", Changes, NUDGE),
        ("nsgd", "subset", "0.2", Changes, NUDGE),
        ("nsgd", "lanczos_iter", "6", Changes, NUDGE),
        ("nsgd", "mode", "\"project\"", Changes, SGD),
        ("nsgd", "gamma", "0.5", Rejected, &[("optimizer.name", "\"sgd\""), ("estimator.mode", "\"project\"")]),
        ("nsgd", "directions", "2", Rejected, &[("optimizer.name", "\"sgd\""), ("estimator.mode", "\"remove\"")]),
        ("nsgd", "subset", "0.2", Rejected, &[("optimizer.name", "\"sgd\""), ("estimator.gamma", "0.5"), ("estimator.random_subspace", "true")]),
        ("nsgd", "random_subspace", "true", Changes, NUDGE),
        ("nsgd", "operator", "\"ggn\"", Changes, NUDGE),
    ]
}

/// Every dotted leaf key of `t` (arrays are leaves).
fn leaves(t: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(sub) => leaves(sub, &key, out),
            _ => out.push(key),
        }
    }
}

/// A 2-step run: ne-f1 on 128 images of the bundled slice, a step line per step.
const BASE: &[(&str, &str)] = &[("data.train_subset", "128"), ("data.test_subset", "100"), ("train.epochs", "1"), ("train.log_every", "1")];

/// (exit code, stderr, fingerprint of what the run wrote).
fn run(sets: &[(String, String)], work: &Path, n: usize) -> (i32, String, String) {
    let out = work.join(format!("run-{n}"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_basin"));
    cmd.args(["train", "--out"]).arg(&out).env("RAYON_NUM_THREADS", "1");
    for (k, v) in BASE.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(sets.iter().cloned()) {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    let o = cmd.output().unwrap();
    let code = o.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&o.stderr).into_owned(), if code == 0 { fingerprint(&out) } else { String::new() })
}

/// The run folder without its timings: file names, weights, metrics and summary.
fn fingerprint(dir: &Path) -> String {
    let mut names: Vec<String> = walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().display().to_string()).collect();
    names.sort();
    let strip = |text: String| -> String {
        text.lines()
            .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
                Ok(serde_json::Value::Object(mut m)) => {
                    m.remove("elapsed");
                    serde_json::Value::Object(m).to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    summary.as_object_mut().unwrap().remove("seconds");
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let slices = std::fs::read_to_string(dir.join("slices.jsonl")).unwrap_or_default();
    format!("{names:?}\n{}\n{summary}\n{:x?}\n{slices}", strip(std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap()), sha(&weights))
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { v.extend(walk(&p)) } else { v.push(p) }
    }
    v
}

/// One key's check: the run with `context` alone (the base) against the run with the key set too.
struct Check<'a> {
    key: String,
    value: String,
    expect: &'a Expect,
    context: Vec<(String, String)>,
}

/// Runs `jobs` (each a list of `--set`s) as one-thread processes side by side, one per core
/// (rayon's pool); the results in the order of `jobs`.
fn run_all(jobs: &[Vec<(String, String)>], work: &Path, first: usize) -> Vec<(i32, String, String)> {
    use rayon::prelude::*;
    jobs.par_iter().enumerate().map(|(i, sets)| run(sets, work, first + i)).collect()
}

/// Runs every check, each distinct context's base run once (runs are deterministic, so one
/// base serves every key checked in that context), and returns the failures.
fn check_all(checks: &[Check], work: &Path) -> Vec<String> {
    for c in checks {
        match c.expect {
            Skip(why) => eprintln!("{}: not run here: {why}", c.key),
            Invariant(why) => eprintln!("{}: must change nothing: {why}", c.key),
            _ => {}
        }
    }
    let checks: Vec<&Check> = checks.iter().filter(|c| !matches!(c.expect, Skip(_))).collect();
    let mut contexts: Vec<Vec<(String, String)>> = checks.iter().map(|c| c.context.clone()).collect();
    contexts.sort();
    contexts.dedup();
    let bases: BTreeMap<Vec<(String, String)>, (i32, String, String)> = contexts.iter().cloned().zip(run_all(&contexts, work, 0)).collect();
    let variants: Vec<Vec<(String, String)>> = checks
        .iter()
        .map(|c| {
            let mut sets = c.context.clone();
            sets.push((c.key.clone(), c.value.clone()));
            sets
        })
        .collect();
    let mut failures = Vec::new();
    for (c, (code, err, got)) in checks.iter().zip(run_all(&variants, work, contexts.len())) {
        let (c0, e0, base) = &bases[&c.context];
        assert_eq!(*c0, 0, "{}: the context run failed: {e0}", c.key);
        let ok = match c.expect {
            Changes => code == 0 && got != *base,
            Rejected => code == 2 && err.contains(&c.key) && err.trim().lines().count() == 1,
            Invariant(_) => code == 0 && got == *base,
            Skip(_) => unreachable!(),
        };
        if !ok {
            let what = match c.expect {
                Changes => "change the run",
                Rejected => "be rejected naming it",
                Invariant(_) => "change nothing",
                Skip(_) => unreachable!(),
            };
            let seen = if code != 0 { format!("exit {code}: {}", err.trim()) } else if got == *base { "identical outputs".into() } else { "different outputs".into() };
            failures.push(format!("{} = {} should {what}; {seen}", c.key, c.value));
        }
    }
    failures
}

#[test]
fn every_config_key_changes_the_run_or_is_rejected() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("slice-copy");
    std::fs::create_dir_all(&copy).unwrap();
    let slice = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-slice");
    for e in std::fs::read_dir(&slice).unwrap().flatten() {
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    // every key of the config has a row
    let mut keys = Vec::new();
    leaves(&toml::Table::try_from(TrainConfig::default()).unwrap(), "", &mut keys);
    keys.push("phases".into()); // empty by default, so serialized as an empty array or not at all
    let rows = rows();
    for k in &keys {
        if !k.starts_with("estimator.") || k == "estimator.name" {
            assert!(rows.iter().any(|r| r.0 == k), "config key {k} has no row in this test");
        }
    }
    let est_rows = estimator_rows();
    for name in ESTIMATOR_NAMES {
        let mut own = Vec::new();
        leaves(&toml::Table::try_from(EstimatorConfig::default_of(name).unwrap()).unwrap(), "", &mut own);
        for k in own.iter().filter(|k| *k != "name") {
            assert!(est_rows.iter().any(|r| r.0 == *name && r.1 == k), "estimator {name}: key {k} has no row in this test");
        }
    }
    let own = |c: &[(&str, &str)]| -> Vec<(String, String)> { c.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
    let mut checks = Vec::new();
    for (key, value, expect, context) in &rows {
        let value = if *value == "\"COPY\"" { format!("{:?}", copy.display().to_string()) } else { value.to_string() };
        checks.push(Check { key: key.to_string(), value, expect, context: own(context) });
    }
    for (method, key, value, expect, context) in &est_rows {
        let mut ctx: BTreeMap<String, String> = own(context).into_iter().collect();
        ctx.insert("estimator.name".into(), format!("{method:?}"));
        checks.push(Check { key: format!("estimator.{key}"), value: value.to_string(), expect, context: ctx.into_iter().collect() });
    }
    let failures = check_all(&checks, work.path());
    assert!(failures.is_empty(), "{} keys misbehave:\n{}", failures.len(), failures.join("\n"));
}
