//! Issue 24, item 4: one writer per run folder, no child outliving a killed `basin reproduce`,
//! and a report of a run whose metrics end in a torn line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn basin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_basin"))
}

/// A run long enough to be caught running: ne-f1 on the bundled slice, many epochs.
fn long_train(out: &Path) -> std::process::Child {
    basin()
        .args(["train", "--out"])
        .arg(out)
        .args(["--set", "train.epochs=500", "--set", "data.train_subset=256", "--set", "data.test_subset=50"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    wait_at_most(120, what, cond)
}

fn wait_at_most(seconds: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(seconds), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alive(pid: u32) -> bool {
    // a zombie (killed, not yet reaped by its parent) counts as gone
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| !r.trim_start().starts_with('Z')))
}

#[test]
fn a_second_writer_into_a_running_run_folder_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut first = long_train(&out);
    wait_for("the first run's checkpoint", || out.join("checkpoints").is_dir());
    for args in [vec!["--resume"], vec![]] {
        let o = basin().args(["train", "--out"]).arg(&out).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "second writer {args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(&format!("pid {}", first.id())) && err.contains("writing this run folder"), "{err}");
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // the lock went with the process: the run resumes (and finishes, shortened)
    let o = basin().args(["train", "--out"]).arg(&out).args(["--resume", "--set", "train.epochs=500"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = o.id();
    wait_for("the resumed run to take the lock", || std::fs::read_to_string(out.join(".basin-lock")).is_ok_and(|h| h.contains(&format!("pid {pid}"))));
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let done = o.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(143), "SIGTERM checkpoints and exits 143: {}", String::from_utf8_lossy(&done.stderr));
}

#[test]
fn kill_9_of_reproduce_leaves_no_child_running() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("long.toml"),
        "name = \"long\"\ntitle = \"t\"\nsource = \"s\"\ndata = \"mnist-slice\"\nseeds = 1\n[base]\n\"train.epochs\" = 100000\n\"data.train_subset\" = 256\n[[cells]]\nname = \"a\"\n",
    )
    .unwrap();
    let mut parent = basin().current_dir(dir.path()).args(["reproduce", "long.toml", "--out", "r"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let lock = dir.path().join("r/a/seed-0/.basin-lock");
    let mut child = 0u32;
    wait_for("the child's lock", || {
        child = std::fs::read_to_string(&lock).ok().and_then(|h| h.split_whitespace().nth(1).and_then(|p| p.parse().ok())).unwrap_or(0);
        child != 0 && child != parent.id()
    });
    assert!(alive(child), "the child runs");
    let run = dir.path().join("r/a/seed-0");
    wait_for("the child's first checkpoint", || run.join("checkpoints/latest").is_file());
    parent.kill().unwrap(); // SIGKILL
    parent.wait().unwrap();
    // (the run alone would take hours)
    wait_at_most(30, "the child to end after its parent's kill -9", || !alive(child));
    // it ended as on SIGTERM, after a whole step: no torn metrics line
    assert!(std::fs::read_to_string(run.join("metrics.jsonl")).unwrap().ends_with('\n'));
}

#[test]
fn report_draws_a_run_whose_metrics_end_in_a_torn_line_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = basin().args(["train", "--out"]).arg(&out).args(["--set", "train.epochs=2", "--set", "data.train_subset=256", "--set", "data.test_subset=50"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics = out.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    text.push_str("{\"kind\":\"step\",\"step\":9"); // a write cut short
    std::fs::write(&metrics, text).unwrap();
    let o = basin().current_dir(dir.path()).args(["report", "run", "--out", "r.html"]).output().unwrap();
    assert!(o.status.success(), "report of a torn run: {}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("torn line"), "the page does not say the last line is torn");
    assert!(html.contains("<svg"), "no curves drawn");
}
