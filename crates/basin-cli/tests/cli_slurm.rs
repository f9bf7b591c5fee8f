//! The parts of issue 24 that need no Slurm (tests/slurm/run.sh runs the rest against a real
//! one): the batch scripts `--slurm --dry-run` prints, `--task I` doing exactly run I,
//! `--status` naming finished, untouched and failed runs with the failure's own error line,
//! a sharded surface resuming after a torn line and merging to the unsharded files, and the
//! errors for options that would be ignored.

use std::path::Path;
use std::process::Command;

fn basin_env(args: &[&str], cwd: &Path, path_env: Option<&str>) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_basin"));
    c.args(args).current_dir(cwd);
    if let Some(p) = path_env {
        c.env("PATH", p);
    }
    let out = c.output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn basin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    basin_env(args, cwd, None)
}

const TINY: &str = r#"
name = "tiny"
title = "three cells, one of them broken"
source = "a test"
data = "mnist-slice"
seeds = 2

[base]
"data.train_subset" = 256
"data.test_subset" = 64
"train.epochs" = 1
"train.batch_size" = 64

[[cells]]
name = "lr 0.05"
set = { "optimizer.lr" = 0.05 }

[[cells]]
name = "lr 0.01"
set = { "optimizer.lr" = 0.01 }

[[cells]]
name = "broken"
set = { "model.name" = "no-such-net" }
"#;

fn experiment() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("experiments")).unwrap();
    std::fs::write(dir.path().join("experiments/tiny.toml"), TINY).unwrap();
    dir
}

#[test]
fn dry_run_prints_the_array_and_the_report_job_and_writes_nothing() {
    let dir = experiment();
    let d = dir.path();
    let (code, out, err) = basin(&["reproduce", "tiny", "--out", "rep", "--slurm", "--dry-run", "--per-task", "4", "--slurm-arg=--time=1:00:00", "--slurm-arg", "--partition=gpu", "--signal-before", "300"], d);
    assert_eq!(code, 0, "{err}");
    // 6 runs, 4 per task: tasks 0 and 1
    assert!(out.contains("6 runs (3 cells × 2 seeds) as 2 array tasks"), "{out}");
    let (array, report) = out.split_once("report.sh (not written").expect("two scripts");
    for want in ["#SBATCH --array=0-1\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:USR2@300\n", "#SBATCH --time=1:00:00\n", "#SBATCH --partition=gpu\n", "#SBATCH --open-mode=append\n", "--per-task 4", "--signal-before 300", "--task \"$SLURM_ARRAY_TASK_ID\"", "reproduce tiny --scale quick --protocol paper --seeds 2 --out rep"] {
        assert!(array.contains(want), "array script lacks {want:?}:\n{array}");
    }
    assert!(report.contains("--report") && report.contains("#SBATCH --partition=gpu") && !report.contains("--time=") && !report.contains("--array"), "{report}");
    assert!(out.contains("--dependency=afterany:<array id>"), "{out}");
    assert!(!d.join("rep").exists(), "--dry-run wrote into the output folder");
}

#[test]
fn bad_slurm_options_are_errors_not_ignored() {
    let dir = experiment();
    let d = dir.path();
    let cases: [(&[&str], &str); 4] = [
        (&["--slurm", "--dry-run", "--jobs", "2"], "--jobs"),
        (&["--per-task", "2"], "--per-task"),
        (&["--status", "--report"], "give one of them"),
        (&["--task", "6"], "past the last task"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["reproduce", "tiny", "--out", "rep"];
        args.extend_from_slice(extra);
        let (code, _, err) = basin(&args, d);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want) && err.lines().count() == 1, "{args:?}: {err}");
    }
    // no sbatch on PATH: one line naming it, exit 2, nothing submitted
    let (code, _, err) = basin_env(&["reproduce", "tiny", "--out", "rep", "--slurm"], d, Some("/nonexistent"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("sbatch"), "{err}");
}

#[test]
fn a_task_does_exactly_its_run_and_status_tells_every_run_s_state() {
    let dir = experiment();
    let d = dir.path();
    // run 1 is (lr 0.01, seed 0); run 2 (broken, seed 0) fails
    let (code, out, err) = basin(&["reproduce", "tiny", "--out", "rep", "--task", "1"], d);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(d.join("rep/lr-0-01/seed-0/summary.json").is_file());
    assert!(!d.join("rep/lr-0-05").exists() && !d.join("rep/lr-0-01/seed-1").exists(), "the task ran more than its run");
    let (code, _, err) = basin(&["reproduce", "tiny", "--out", "rep", "--task", "2"], d);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = basin(&["reproduce", "tiny", "--out", "rep", "--status"], d);
    assert_eq!(code, 0, "{err}");
    let row = |i: usize| out.lines().find(|l| l.starts_with(&format!("| {i} |"))).unwrap_or_else(|| panic!("no row {i}: {out}")).to_string();
    assert!(row(0).contains("| lr 0.05 | 0 | not started |"), "{out}");
    assert!(row(1).contains("| lr 0.01 | 0 | finished |"), "{out}");
    assert!(row(2).contains("| broken | 0 | failed:") && row(2).contains("no-such-net"), "the failure's own error line: {out}");
    assert!(out.contains("1 of 6 runs finished"), "{out}");
    // two tasks of 3 runs: task 1 is runs 3, 4, 5; the broken run 5 fails, the others still run
    let (code, _, err) = basin(&["reproduce", "tiny", "--out", "rep", "--task", "1", "--per-task", "3"], d);
    assert_eq!(code, 2, "{err}");
    assert!(d.join("rep/lr-0-05/seed-1/summary.json").is_file() && d.join("rep/lr-0-01/seed-1/summary.json").is_file());
    let (_, out, _) = basin(&["reproduce", "tiny", "--out", "rep", "--status"], d);
    assert!(out.contains("3 of 6 runs finished"), "{out}");
}

#[test]
fn a_sharded_surface_resumes_point_by_point_and_merges_to_the_unsharded_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = basin(&["train", "--out", "a", "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"], d);
    assert_eq!(code, 0, "{err}");
    let surf = ["landscape", "surface", "--run", "a", "--dims", "2", "--points", "4", "--train-subset", "64", "--test-subset", "64"];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = surf.to_vec();
        v.extend_from_slice(extra);
        basin(&v, d)
    };
    assert_eq!(with(&["--out", "whole"]).0, 0);
    // merging before every shard exists names the missing one
    let (code, _, err) = with(&["--out", "parts", "--shard", "0/3"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with(&["--out", "parts", "--merge", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("shard-1-of-3.jsonl: missing"), "{err}");
    for i in 1..3 {
        let s = format!("{i}/3");
        assert_eq!(with(&["--out", "parts", "--shard", &s]).0, 0);
    }
    // shard 2 killed while writing its last point: the torn line goes, the point is redone
    let f = d.join("parts.shards/shard-2-of-3.jsonl");
    let text = std::fs::read_to_string(&f).unwrap();
    let keep = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&f, format!("{}{}", &text[..keep], &text[keep..keep + 10])).unwrap();
    let (code, _, err) = with(&["--out", "parts", "--merge", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("5 of its 6 points"), "{err}");
    assert_eq!(with(&["--out", "parts", "--shard", "2/3"]).0, 0);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text, "the resumed shard file is the uninterrupted one");
    let (code, _, err) = with(&["--out", "parts", "--merge", "3"]);
    assert_eq!(code, 0, "{err}");
    for ext in ["json", "csv", "svg"] {
        assert_eq!(std::fs::read(d.join(format!("whole.{ext}"))).unwrap(), std::fs::read(d.join(format!("parts.{ext}"))).unwrap(), "{ext}");
    }
    // a shard of another grid is refused, not mixed in
    let (code, _, err) = basin(&["landscape", "surface", "--run", "a", "--dims", "2", "--points", "4", "--range", "2", "--train-subset", "64", "--test-subset", "64", "--out", "parts", "--shard", "0/3"], d);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("another grid"), "{err}");
}

/// `basin reproduce tiny --task 0` as array task 7_0 would run it, with `squeue` and `scontrol`
/// replaced by scripts on PATH (the real ones are exercised by tests/slurm/run.sh): `squeue`
/// answers `left` for the time left, `scontrol` records its arguments. USR2 is sent once the
/// task has registered its handlers. Returns the exit code, stdout and what scontrol got.
fn warned_task(d: &Path, left: &str, max_requeue: &str) -> (i32, String, String) {
    use std::io::BufRead;
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = d.join("scontrol-calls");
    let _ = std::fs::remove_file(&calls);
    for (name, body) in [("squeue", format!("#!/bin/sh\necho '{left}'\n")), ("scontrol", format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display()))] {
        let p = bin.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_basin"))
        .args(["reproduce", "tiny", "--out", "rep", "--task", "0", "--signal-before", "120", "--max-requeue", max_requeue])
        .current_dir(d)
        .env("PATH", path)
        .env("SLURM_ARRAY_JOB_ID", "7")
        .env("SLURM_ARRAY_TASK_ID", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the task ended before it started: {out}");
        out.push_str(&line);
        if line.contains("tiny task 0: runs 0 to 0") {
            break;
        }
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR2) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    out.push_str(&rest);
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, out, std::fs::read_to_string(&calls).unwrap_or_default())
}

#[test]
fn a_warned_task_requeues_itself_and_stops_after_max_requeue_time_limits() {
    let dir = experiment();
    let d = dir.path();
    // a preemption (no time limit): requeued, and it does not count
    let (code, out, calls) = warned_task(d, "UNLIMITED", "1");
    assert_eq!(code, 0, "{out}");
    assert_eq!(calls.trim(), "requeue 7_0", "{out}");
    assert!(out.contains("requeued (preemption)"), "{out}");
    assert!(!d.join("rep/slurm/requeues/task-0").exists());
    // 90 s left with --signal-before 120: the time limit, the first of at most 1
    let (code, out, calls) = warned_task(d, "1:30", "1");
    assert_eq!((code, calls.trim()), (0, "requeue 7_0"), "{out}");
    assert!(out.contains("requeued (time limit 1 of 1)"), "{out}");
    assert_eq!(std::fs::read_to_string(d.join("rep/slurm/requeues/task-0")).unwrap().trim(), "1");
    // the second time limit: checkpointed, not requeued, exit 3
    let (code, out, calls) = warned_task(d, "1:30", "1");
    assert_eq!((code, calls.as_str()), (3, ""), "{out}");
}
