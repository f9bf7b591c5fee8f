//! `basin reproduce` end to end on the bundled MNIST slice: an experiment file with two cells
//! and two seeds runs as ordinary run folders, is resumable (a second call runs nothing), and
//! the report holds each cell as mean ± std (n), the paper's number with the difference in
//! standard deviations, and a verdict for a claim that holds even at this scale. `--list`
//! shows the seven experiments of the repository.

use std::process::Command;

fn basin(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    outcome(Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd))
}

/// Runs `cmd` and returns its (exit code, stdout, stderr).
fn outcome(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A folder holding `experiments/NAME.toml` with `text`, to run `basin reproduce NAME` in.
fn with_experiment(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    std::fs::write(dir.path().join("experiments").join(format!("{name}.toml")), text).unwrap();
    dir
}

const TINY: &str = r#"
name = "tiny"
title = "learning beats not learning"
source = "a test"
data = "mnist-slice"
seeds = 2
measure = ["lambda_max"]

[base]
"data.train_subset" = 1024
"data.test_subset" = 200
"train.epochs" = 1
"train.batch_size" = 64

[[cells]]
name = "lr 0.05"
set = { "optimizer.lr" = 0.05 }

[[cells]]
name = "lr 1e-7"
set = { "optimizer.lr" = 1e-7 }

[[references]]
cell = "lr 0.05"
metric = "test_acc"
value = 0.85
std = 0.01
source = "Table 0"

[[claims]]
text = "training with a usable learning rate beats a vanishing one"
test = "test_acc[lr 0.05] > test_acc[lr 1e-7]"

[[figures]]
name = "sharpness-vs-accuracy"
title = "λ_max against accuracy"
x = "test_acc"
y = "lambda_max"
cells = ["lr 0.05", "lr 1e-7"]

[[figures]]
name = "accuracy-vs-lr"
title = "accuracy against the learning rate"
x = "optimizer.lr"
y = "test_acc"
group = "train.batch_size"
baseline = "lr 1e-7"
cells = ["lr 0.05", "lr 1e-7"]
"#;

#[test]
fn a_small_experiment_runs_resumes_and_reports() {
    let dir = with_experiment("tiny", TINY);
    let d = dir.path();
    // two runs at a time share the cores out: each child's pool gets half (at least one thread)
    let (code, out, err) = outcome(Command::new(env!("CARGO_BIN_EXE_basin")).args(["reproduce", "tiny", "--jobs", "2", "--out", "rep"]).env_remove("RAYON_NUM_THREADS").current_dir(d));
    assert_eq!(code, 0, "{out}\n{err}");
    let each = (std::thread::available_parallelism().unwrap().get() / 2).max(1);
    assert!(out.contains(&format!("2 at a time (RAYON_NUM_THREADS={each} for each)")), "{out}");
    let trains: Vec<&str> = out.lines().filter(|l| l.starts_with("basin train:")).collect();
    assert!(trains.len() == 4 && trains.iter().all(|l| l.contains(&format!(", {each} thread{}, ", if each == 1 { "" } else { "s" }))), "{out}");
    for cell in ["lr-0-05", "lr-1e-7"] {
        for s in 0..2 {
            let run = d.join("rep").join(cell).join(format!("seed-{s}"));
            assert!(run.join("summary.json").is_file() && run.join("hessian.json").is_file(), "{}", run.display());
        }
    }
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("rep/report.json")).unwrap()).unwrap();
    let acc = &rep["cells"]["lr 0.05"]["test_acc"];
    assert_eq!(acc["n"], 2);
    assert!(acc["mean"].as_f64().unwrap() > 0.3 && acc["std"].as_f64().unwrap() >= 0.0, "{acc}");
    assert_eq!(rep["cells"]["lr 1e-7"]["lambda_max"]["n"], 2);
    assert_eq!(rep["claims"][0]["verdict"], "reproduced", "{}", rep["claims"]);
    assert_eq!(rep["runs"], serde_json::json!([4, 4]));
    let md = std::fs::read_to_string(d.join("rep/report.md")).unwrap();
    assert!(md.contains("(n=2)") && md.contains("0.85 ± 0.01 (Table 0)") && md.contains("| reproduced |"), "{md}");
    // the same tables as one self-contained page, with the error bars inline
    let html = std::fs::read_to_string(d.join("rep/report.html")).unwrap();
    for want in ["<section id=\"cells\">", "<section id=\"claims\">", "<td>reproduced</td>", "0.85 ± 0.01 (Table 0)", "<svg"] {
        assert!(html.contains(want), "report.html lacks {want}");
    }
    assert!(!html.contains("<script") && !html.contains("src="));
    // the picture of the table: one error-bar plot per compared metric
    assert!(d.join("rep/test_acc.svg").is_file() && md.contains("![test_acc.svg](test_acc.svg)"), "{md}");
    // and each [[figures]] entry: one metric against another, a point per cell
    let fig = std::fs::read_to_string(d.join("rep/sharpness-vs-accuracy.svg")).unwrap();
    assert!(fig.contains("lr 0.05") && fig.contains("lr 1e-7") && md.contains("![sharpness-vs-accuracy.svg]"), "{md}");
    assert!(html.contains("lambda_max against test_acc"), "report.html lacks the figure");
    // a swept config key on x: a line per group, the baseline cell across
    let sweep = std::fs::read_to_string(d.join("rep/accuracy-vs-lr.svg")).unwrap();
    assert!(sweep.contains("train.batch_size = 64") && sweep.contains("lr 1e-7") && sweep.contains("optimizer.lr"), "{sweep}");
    // resumable: a second call finds every run finished and only reports
    let (code, out, _) = basin(&["reproduce", "tiny", "--out", "rep"], d);
    assert_eq!(code, 0);
    assert!(out.contains("4 already finished, 0 to run"), "{out}");
    // a run folder left by another version of the experiment is an error, not reused
    std::fs::write(d.join("experiments/tiny.toml"), TINY.replace("\"optimizer.lr\" = 0.05", "\"optimizer.lr\" = 0.04")).unwrap();
    let (code, _, err) = basin(&["reproduce", "tiny", "--out", "rep"], d);
    assert!(code == 2 && err.contains("lr-0-05") && err.contains("optimizer.lr") && err.contains("another config"), "{err}");
    std::fs::write(d.join("experiments/tiny.toml"), TINY).unwrap();
    // --report alone, and errors
    assert_eq!(basin(&["reproduce", "tiny", "--out", "rep", "--report"], d).0, 0);
    let (code, _, err) = basin(&["reproduce", "nope"], d);
    assert!(code == 2 && err.contains("tiny"), "{err}");
    let (code, _, err) = basin(&["reproduce", "tiny", "--scale", "medium"], d);
    assert!(code == 2 && err.contains("'medium'") && err.contains("quick, full") && !d.join("repro").exists(), "{err}");
    std::fs::write(d.join("experiments/tiny.toml"), TINY.replace("cells = [\"lr 0.05\", \"lr 1e-7\"]", "cells = [\"lr 0.5\"]")).unwrap();
    let (code, _, err) = basin(&["reproduce", "tiny", "--out", "rep", "--report"], d);
    assert!(code == 2 && err.contains("sharpness-vs-accuracy") && err.contains("lr 0.5"), "{err}");
    // a larger epoch cap in the experiment extends the runs that stopped at the old one (these
    // have no L**, so all of them), and their measurements are taken again on the new model
    let run = d.join("rep/lr-0-05/seed-0");
    let hessian_before = std::fs::read(run.join("hessian.json")).unwrap();
    std::fs::write(d.join("experiments/tiny.toml"), TINY.replace("\"train.epochs\" = 1", "\"train.epochs\" = 2")).unwrap();
    let (code, out, err) = basin(&["reproduce", "tiny", "--out", "rep", "--seeds", "1"], d);
    assert!(code == 0 && out.contains("0 already finished, 2 to run"), "{out}\n{err}");
    let epochs = |r: &std::path::Path| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(r.join("summary.json")).unwrap()).unwrap()["epochs"].clone();
    assert_eq!(epochs(&run), 2);
    assert_eq!(epochs(&d.join("rep/lr-0-05/seed-1")), 1, "--seeds 1 extends seed 0 only");
    assert!(std::fs::read(run.join("hessian.json")).unwrap() != hessian_before, "hessian.json still describes the 1-epoch model");
}

/// A grid run measured for `basin correlate` by the experiment itself.
const MEASURED: &str = r#"
name = "measured"
title = "generalization measures after training"
source = "a test"
data = "mnist-slice"
seeds = 1
measure = ["generalization"]

[base]
"model.name" = "mlp"
"model.width" = 16
"data.train_subset" = 256
"data.test_subset" = 100
"train.epochs" = 1

[[cells]]
name = "a"
"#;

#[test]
fn the_generalization_measurement_is_done_only_when_every_measure_is() {
    let dir = with_experiment("measured", MEASURED);
    let d = dir.path();
    let (code, out, err) = basin(&["reproduce", "measured", "--out", "rep"], d);
    assert_eq!(code, 0, "{out}\n{err}");
    let file = d.join("rep/a/seed-0/measures.json");
    let held = || -> serde_json::Map<String, serde_json::Value> { serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap() };
    let keys = held();
    for key in ["norms.l2", "margin", "path-norm", "lambda-max", "pacbayes.flatness", "pacbayes.mag.flatness", "sharpness.flatness", "sharpness.mag.flatness", "worst.l2", "average.linf.adaptive", "relative-flatness", "fisher-rao"] {
        assert!(keys.contains_key(key), "measures.json lacks {key}: {:?}", keys.keys());
    }
    assert!(!keys.contains_key("trace") && !keys.contains_key("c-eps-sharpness"), "{:?}", keys.keys());
    // measures.json is written after each measure: one that lacks a measure (an interrupted
    // pass) is not finished, and the next call computes what is missing, and only that
    let mut partial = keys.clone();
    partial.remove("fisher-rao");
    std::fs::write(&file, serde_json::to_vec_pretty(&partial).unwrap()).unwrap();
    let (_, status, _) = basin(&["reproduce", "measured", "--out", "rep", "--status"], d);
    assert!(status.contains("trained, measurements missing"), "{status}");
    // --status runs nothing: the options of running are errors there, not ignored
    for (flag, value) in [("--jobs", "2"), ("--signal-before", "5"), ("--max-requeue", "9")] {
        let (code, _, err) = basin(&["reproduce", "measured", "--out", "rep", "--status", flag, value], d);
        assert!(code == 2 && err.contains(flag), "{flag}: {code} {err}");
    }
    let (code, out, err) = basin(&["reproduce", "measured", "--out", "rep"], d);
    assert!(code == 0 && out.contains("0 already finished, 1 to run"), "{out}\n{err}");
    let again = held();
    assert!(again.contains_key("fisher-rao") && again["margin"] == keys["margin"], "{:?}", again.keys());
    let (_, out, _) = basin(&["reproduce", "measured", "--out", "rep"], d);
    assert!(out.contains("1 already finished, 0 to run"), "{out}");
}

#[test]
fn list_shows_the_seven_experiments() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (code, out, err) = basin(&["reproduce", "--list"], &root);
    assert_eq!(code, 0, "{err}");
    for name in ["smoothout-f1-mnist", "smoothout-ablation", "ne-f1-fashion", "s-sgd-schedule", "sharpest-tracking", "nsgd-gamma", "noise-sensitivity"] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
}
