//! Issue 13, row by row: every bad input a one-line exit-2 error, no non-finite weights ever
//! written, interruptions (Ctrl-C, SIGTERM) always checkpoint, resume keeps the stored config,
//! outputs are never overwritten silently, identical weights give identical files.

use basin_core::train::checkpoint;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn basin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A small run: 128 training images, 64 test images, batch 64, 1 epoch, plus `extra` sets.
fn small(out: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["train", "--out", out, "--set", "data.train_subset=128", "--set", "data.test_subset=64", "--set", "train.epochs=1", "--set", "train.batch_size=64"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for e in extra {
        a.push("--set".into());
        a.push(e.to_string());
    }
    a
}

fn run_small(dir: &Path, out: &str, extra: &[&str]) -> (i32, String, String) {
    let a = small(out, extra);
    basin(&a.iter().map(String::as_str).collect::<Vec<_>>(), dir)
}

fn one_line_exit_2(r: (i32, String, String), must: &[&str]) {
    let (code, _, err) = r;
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    for m in must {
        assert!(err.contains(m), "{err:?} lacks {m:?}");
    }
}

/// Every checkpoint written under `run` holds finite weights.
fn checkpoints_are_finite(run: &Path) {
    let Ok(entries) = std::fs::read_dir(run.join("checkpoints")) else { return };
    for e in entries.flatten().filter(|e| e.path().join("model.bpk").is_file()) {
        let m = basin_zoo::ZooModel::build("ne-f1", [1, 28, 28], 10, &Default::default(), &burn::tensor::Device::flex()).unwrap();
        let m = burn::module::Module::try_load_file(m, e.path().join("model.bpk")).unwrap();
        assert!(basin_core::params::all_finite(&m), "{} holds non-finite weights", e.path().display());
    }
}

#[test]
fn det_smoothout_with_a_zero_is_a_noise_free_run() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_small(dir.path(), "r", &["estimator.name=\"det-smoothout\"", "estimator.a=0", "estimator.copies=2"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn cosine_with_a_tiny_period_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let a = small("r", &["schedule.kind=\"cosine\"", "schedule.t0=1e-20", "schedule.t_mult=1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_basin")).args(&a).current_dir(dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // a watchdog for a hang, not a timing assertion: the run takes seconds
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(300) {
            child.kill().unwrap();
            panic!("cosine schedule with t0 = 1e-20 hangs");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success());
}

#[test]
fn an_update_to_non_finite_weights_stops_the_run_and_writes_nothing_with_them() {
    let dir = tempfile::tempdir().unwrap();
    // mid-run: checkpoints every step, the update blows up early
    let (code, _, err) = run_small(dir.path(), "a", &["optimizer.lr=1e30", "train.checkpoint_every=1", "data.train_subset=256"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("diverged"), "{err}");
    checkpoints_are_finite(&dir.path().join("a"));
    assert!(!dir.path().join("a/model.bpk").exists() && !dir.path().join("a/summary.json").exists());
    // the bad update is the last step of the run (64 images, batch 64, 1 epoch)
    let (code, _, err) = run_small(dir.path(), "b", &["optimizer.lr=1e30", "data.train_subset=64"]);
    assert_eq!(code, 1, "{err}");
    assert!(!dir.path().join("b/model.bpk").exists(), "no final model");
    assert!(!dir.path().join("b/summary.json").exists(), "no summary");
    checkpoints_are_finite(&dir.path().join("b"));
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    one_line_exit_2(run_small(dir.path(), "r", &["train.epochs=-1"]), &["train.epochs"]);
    one_line_exit_2(run_small(dir.path(), "r", &["train.batch_size=-64"]), &["train.batch_size"]);
    one_line_exit_2(run_small(dir.path(), "r", &["seed=-1"]), &["seed"]);
    one_line_exit_2(run_small(dir.path(), "r", &["schedule.warmup_epochs=inf"]), &["schedule.warmup_epochs"]);
    one_line_exit_2(run_small(dir.path(), "r", &["schedule.eta_min=nan"]), &["schedule.eta_min"]);
    one_line_exit_2(run_small(dir.path(), "r", &["schedule.gamma=inf"]), &["schedule.gamma"]);
    one_line_exit_2(run_small(dir.path(), "r", &["optimizer.lr=-inf"]), &["optimizer.lr"]);
    assert!(!dir.path().join("r").exists(), "bad input writes nothing");
}

#[test]
fn a_folder_that_is_not_a_run_is_not_written_into() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/config.toml"), "precious").unwrap();
    one_line_exit_2(run_small(dir.path(), "mine", &[]), &["mine", "not empty"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("mine/config.toml")).unwrap(), "precious");
    // an empty folder is fine
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    assert_eq!(run_small(dir.path(), "empty", &[]).0, 0);
}

#[test]
fn measurements_do_not_overwrite_files_and_reject_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run_small(d, "r", &[]);
    assert_eq!(code, 0, "{err}");
    let summary = std::fs::read_to_string(d.join("r/summary.json")).unwrap();
    one_line_exit_2(basin(&["hessian", "--run", "r", "--samples", "32", "--top-k", "1", "--json", "r/summary.json"], d), &["r/summary.json", "--force"]);
    one_line_exit_2(basin(&["sharpness", "--run", "r", "--json", "r/summary.json"], d), &["r/summary.json", "--force"]);
    std::fs::write(d.join("land.json"), "mine").unwrap();
    one_line_exit_2(basin(&["landscape", "surface", "--run", "r", "--dims", "1", "--points", "3", "--out", "land"], d), &["land.json", "--force"]);
    assert_eq!(std::fs::read_to_string(d.join("r/summary.json")).unwrap(), summary);
    assert_eq!(std::fs::read_to_string(d.join("land.json")).unwrap(), "mine");
    // --force overwrites
    let (code, _, err) = basin(&["landscape", "surface", "--run", "r", "--dims", "1", "--points", "3", "--test-subset", "32", "--train-subset", "32", "--out", "land", "--force"], d);
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read_to_string(d.join("land.json")).unwrap(), "mine");
    // argument values
    one_line_exit_2(basin(&["landscape", "surface", "--run", "r", "--points", "0", "--out", "x"], d), &["--points"]);
    one_line_exit_2(basin(&["sharpness", "--run", "r", "--eps", "inf"], d), &["--eps"]);
    one_line_exit_2(basin(&["hessian", "--run", "r", "--samples", "0"], d), &["--samples"]);
    // values that would give NaN, 0 or nothing, and settings that the mode would ignore
    for (args, flag) in [
        (&["landscape", "surface", "--run", "r", "--dims", "2", "--range", "NaN", "--out", "x"][..], "--range"),
        (&["landscape", "interpolate", "--run", "r", "--to", "r", "--from-alpha", "1", "--to-alpha", "1", "--out", "x"], "--to-alpha"),
        (&["landscape", "plane", "--point", "r", "--point", "r", "--point", "r", "--margin", "NaN", "--out", "x"], "--margin"),
        (&["sharpness", "--run", "r", "--max-evals", "0"], "--max-evals"),
        (&["sharpness", "--run", "r", "--no-box", "--noise", "0.1,NaN"], "--noise"),
        (&["sharpest", "table", "--run", "r", "--subset", "0"], "--subset"),
        (&["sharpest", "slice", "--run", "r", "--lr", "NaN", "--svg", "s.svg"], "--lr"),
        (&["hessian", "--run", "r", "--top-k", "2", "--max-iter", "20", "--bottom-k", "19"], "--bottom-k"),
        (&["hessian", "--run", "r", "--trace-samples", "7"], "--trace-samples"),
        (&["hessian", "--run", "r", "--frobenius", "--frobenius-samples", "0"], "--frobenius-samples"),
        (&["export", "--run", "r", "--onnx", "same.x", "--safetensors", "same.x"], "same.x"),
    ] {
        one_line_exit_2(basin(args, d), &[flag]);
    }
    assert!(!d.join("x.json").exists() && !d.join("x.csv").exists(), "nothing written by a refused landscape");
    // the plot beside a result is kept as the result is
    std::fs::write(d.join("s.noise.svg"), "mine").unwrap();
    one_line_exit_2(basin(&["sharpness", "--run", "r", "--no-box", "--noise", "0.1", "--json", "s.json"], d), &["s.noise.svg", "--force"]);
    std::fs::write(d.join("slice.svg"), "mine").unwrap();
    one_line_exit_2(basin(&["sharpest", "slice", "--run", "r"], d), &["slice.svg", "--force"]);
    assert_eq!(std::fs::read_to_string(d.join("slice.svg")).unwrap(), "mine");
    // weights that are not finite are named, and nothing is measured or exported from them
    let bad = d.join("nan");
    std::fs::create_dir(&bad).unwrap();
    for f in ["config.toml", "summary.json"] {
        std::fs::copy(d.join("r").join(f), bad.join(f)).unwrap();
    }
    let mut w = std::fs::read(d.join("r/model.bpk")).unwrap();
    let n = w.len();
    for c in w[n / 2..n / 2 + 4096].chunks_exact_mut(4) {
        c.copy_from_slice(&f32::NAN.to_le_bytes());
    }
    std::fs::write(bad.join("model.bpk"), &w).unwrap();
    one_line_exit_2(basin(&["hessian", "--run", "nan", "--samples", "32", "--top-k", "1"], d), &["nan/model.bpk", "non-finite"]);
}

#[test]
fn resume_keeps_the_stored_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run_small(d, "r", &["train.epochs=1"]);
    assert_eq!(code, 0, "{err}");
    // a differing override is an error naming the key; the same value is fine
    one_line_exit_2(basin(&["train", "--out", "r", "--resume", "--set", "optimizer.lr=0.5"], d), &["optimizer.lr", "config.toml"]);
    let (code, _, err) = basin(&["train", "--out", "r", "--resume", "--set", "train.epochs=1"], d);
    assert_eq!(code, 0, "{err}");
    // a run without its config.toml cannot be resumed
    std::fs::remove_file(d.join("r/config.toml")).unwrap();
    one_line_exit_2(basin(&["train", "--out", "r", "--resume"], d), &["config.toml"]);
}

/// The epoch records of a run's metrics.jsonl with their timings dropped.
fn epoch_records(run: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "epoch")
        .map(|mut r| {
            r.as_object_mut().unwrap().remove("elapsed");
            r
        })
        .collect()
}

#[test]
fn a_larger_epoch_cap_extends_a_finished_run_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run_small(d, "straight", &["train.epochs=3"]).0, 0);
    assert_eq!(run_small(d, "r", &["train.epochs=1"]).0, 0);
    let (code, _, err) = basin(&["train", "--out", "r", "--resume", "--set", "train.epochs=3"], d);
    assert_eq!(code, 0, "{err}");
    let read = |r: &str, f: &str| std::fs::read(d.join(r).join(f)).unwrap();
    assert!(read("r", "model.safetensors") == read("straight", "model.safetensors"), "the extended run's weights differ from a 3-epoch run's");
    assert_eq!(epoch_records(&d.join("r")), epoch_records(&d.join("straight")));
    let before = read("r", "summary.json");
    let summary: serde_json::Value = serde_json::from_slice(&before).unwrap();
    assert_eq!(summary["epochs"], 3);
    assert!(String::from_utf8(read("r", "config.toml")).unwrap().contains("epochs = 3"));
    // shorter is an error naming the key, and leaves the run as it was
    one_line_exit_2(basin(&["train", "--out", "r", "--resume", "--set", "train.epochs=2"], d), &["train.epochs", "extended, not shortened"]);
    assert!(read("r", "summary.json") == before);
    // a run with [[phases]] has a fixed length
    std::fs::write(d.join("phases.toml"), "[data]\ntrain_subset = 128\ntest_subset = 64\n[train]\nbatch_size = 64\n[[phases]]\nepochs = 1\n").unwrap();
    assert_eq!(basin(&["train", "--config", "phases.toml", "--out", "p"], d).0, 0);
    one_line_exit_2(basin(&["train", "--out", "p", "--resume", "--set", "train.epochs=5"], d), &["train.epochs", "[[phases]]"]);
}

#[test]
fn identical_weights_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run_small(dir.path(), "a", &[]).0, 0);
    assert_eq!(run_small(dir.path(), "b", &[]).0, 0);
    // (model.bpk carries Burn's random parameter ids, so it differs by design)
    let read = |r: &str| std::fs::read(dir.path().join(r).join("model.safetensors")).unwrap();
    assert!(read("a") == read("b"), "model.safetensors differs between two identical runs");
}

#[test]
fn sigterm_finishes_the_step_checkpoints_and_exits_143_then_resume_completes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = small("r", &["data.train_subset=2048", "train.epochs=3"]);
    let child = Command::new(env!("CARGO_BIN_EXE_basin")).args(&a).current_dir(d).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // wait until training has started (init.bpk is written before the first step)
    let start = Instant::now();
    while !d.join("r/init.bpk").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("--resume"), "{err}");
    let ckpt = checkpoint::latest(&d.join("r")).unwrap().expect("a checkpoint before exit 143");
    assert!(ckpt.join("state.json").is_file());
    let (code, _, err) = basin(&["train", "--out", "r", "--resume"], d);
    assert_eq!(code, 0, "{err}");
    assert!(d.join("r/summary.json").is_file());
}

/// kill -9 at ≥ 20 pseudo-random moments (start-up, steps, checkpoint writes), `--resume` after
/// each, then to the end: the final weights are bit-identical to an uninterrupted run's.
#[test]
fn kill_9_at_random_moments_then_resume_ends_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // long enough that 24 kills land before the end even on a faster machine
    let extra = ["data.train_subset=4096", "train.epochs=8", "train.checkpoint_every=1"];
    assert_eq!(run_small(d, "whole", &extra).0, 0);
    let first = small("cut", &extra);
    let mut resume: Vec<String> = vec!["train".into(), "--out".into(), "cut".into(), "--resume".into()];
    resume.extend(["--set", "train.checkpoint_every=1"].map(String::from));
    let (mut kills, mut during_write, mut state) = (0, 0, 0x2545_f491_4f6c_dd1du64);
    let mut started = false;
    for _ in 0..200 {
        if kills >= 24 {
            break;
        }
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(50 + (state >> 33) % 600);
        let args = if started { &resume } else { &first };
        started = true;
        let mut child = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(d).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        let ck = d.join("cut/checkpoints");
        if std::fs::read_dir(&ck).is_ok_and(|r| r.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))) {
            during_write += 1;
        }
    }
    println!("{kills} kills, {during_write} of them during a checkpoint write");
    assert!(kills >= 20, "only {kills} kills landed before the run finished");
    let (code, _, err) = basin(&resume.iter().map(String::as_str).collect::<Vec<_>>(), d);
    assert_eq!(code, 0, "{err}");
    let (a, b) = (std::fs::read(d.join("whole/model.safetensors")).unwrap(), std::fs::read(d.join("cut/model.safetensors")).unwrap());
    assert!(a == b, "weights after {kills} kills differ from the uninterrupted run");
}

/// `basin sharpest table --json`: the sharpest-directions paper's row for a run. ‖θ − θ₀‖ is
/// checked against the distance computed here from init.bpk and model.bpk read parameter by
/// parameter, λ_max against `basin hessian` on the same subset, and ‖H‖_F ≥ λ_max.
#[test]
fn sharpest_table_writes_the_papers_row() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run_small(d, "r", &["data.train_subset=512"]).0, 0);
    let (code, _, err) = basin(&["sharpest", "table", "--run", "r", "--json", "s.json"], d);
    assert_eq!(code, 0, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    let row = &rows[0];
    let load = |f: &str| {
        let m = basin_zoo::ZooModel::build("ne-f1", [1, 28, 28], 10, &Default::default(), &burn::tensor::Device::flex()).unwrap();
        basin_core::params::collect(&burn::module::Module::try_load_file(m, d.join("r").join(f)).unwrap())
    };
    let (end, start) = (load("model.bpk"), load("init.bpk"));
    let mut sq = 0.0f64;
    for (a, b) in end.iter().zip(&start) {
        assert_eq!(a.path, b.path);
        sq += a.values.iter().zip(&b.values).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>();
    }
    let dist = row["dist_init"].as_f64().unwrap();
    assert!(sq > 0.0 && (dist - sq.sqrt()).abs() <= 1e-4 * sq.sqrt(), "dist_init {dist} against {}", sq.sqrt());
    let (code, _, err) = basin(&["hessian", "--run", "r", "--top-k", "1", "--json", "h.json"], d);
    assert_eq!(code, 0, "{err}");
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("h.json")).unwrap()).unwrap();
    let (lam, lam_h) = (row["lambda_max"].as_f64().unwrap(), h["mean"][0].as_f64().unwrap());
    assert!((lam - lam_h).abs() <= 2e-3 * lam_h.abs(), "λ_max {lam} against basin hessian's {lam_h}");
    assert!(row["frobenius"]["mean"].as_f64().unwrap() >= 0.9 * lam, "{row}");
    assert_eq!(row["test_acc"], serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(d.join("r/summary.json")).unwrap()).unwrap()["test_acc"]);
    // the JSON is a measurement output: not overwritten without --force
    one_line_exit_2(basin(&["sharpest", "table", "--run", "r", "--json", "s.json"], d), &["s.json", "--force"]);
}

/// `basin … | head`: output into a pipe whose reader has gone ends the process quietly (killed
/// by SIGPIPE, as `ls | head` is), with no panic and no backtrace on stderr.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).arg("models").stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.is_empty(), "stderr: {err}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

/// A run configured for an average that stops (train.stop_at_loss) before its first average is
/// not left without a word: it says that no averaged model was written.
#[test]
fn an_average_that_never_started_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["average.method=\"ema\"", "average.beta=0.3", "average.start=2", "train.stop_at_loss=100.0", "train.loss_window=1", "train.epochs=2"];
    let (code, _, err) = run_small(dir.path(), "r", &extra);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no averaged model was written"), "{err}");
    assert!(!dir.path().join("r/model-ema.bpk").exists());
}
