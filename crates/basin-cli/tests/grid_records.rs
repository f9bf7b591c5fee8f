//! `scripts/grid_records.sh`, which keeps a grid's finished-run records in git so that a
//! replaced machine resumes the grid: `save` copies exactly the three small records of finished
//! runs (never weights, never an unfinished run), `restore` brings them back where a run is
//! missing and never over a run that is already there.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch repository root holding a copy of the script under `scripts/`.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("scripts")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/grid_records.sh");
    fs::copy(script, dir.path().join("scripts/grid_records.sh")).unwrap();
    dir
}

fn run(root: &Path, action: &str) -> String {
    let out = Command::new("bash").arg(root.join("scripts/grid_records.sh")).args([action, "g"]).output().unwrap();
    assert!(out.status.success(), "{action}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn write(path: PathBuf, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn names(dir: PathBuf) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

#[test]
fn save_keeps_the_records_of_finished_runs_and_restore_brings_them_back() {
    let dir = root();
    let r = dir.path();
    for f in ["config.toml", "summary.json", "measures.json", "model.bpk", "init.bpk", "metrics.jsonl"] {
        write(r.join("repro/g/cell-a/seed-0").join(f), f);
    }
    write(r.join("repro/g/cell-b/seed-0/config.toml"), "b"); // unfinished: no summary.json
    write(r.join("repro/g/cell-c/seed-1/config.toml"), "c");
    write(r.join("repro/g/cell-c/seed-1/summary.json"), "c"); // finished, not yet measured
    assert!(run(r, "save").contains("saved 2 finished runs"));
    assert_eq!(names(r.join("results/g/cell-a/seed-0")), ["config.toml", "measures.json", "summary.json"]);
    assert_eq!(names(r.join("results/g/cell-c/seed-1")), ["config.toml", "summary.json"]);
    assert!(!r.join("results/g/cell-b").exists(), "an unfinished run was saved");

    fs::remove_dir_all(r.join("repro")).unwrap(); // the machine is replaced
    write(r.join("repro/g/cell-c/seed-1/summary.json"), "newer"); // a run finished here again
    let out = run(r, "restore");
    assert!(out.contains("restored 1 finished runs"), "{out}");
    assert_eq!(fs::read_to_string(r.join("repro/g/cell-a/seed-0/measures.json")).unwrap(), "measures.json");
    assert_eq!(fs::read_to_string(r.join("repro/g/cell-c/seed-1/summary.json")).unwrap(), "newer", "restore overwrote a finished run");
}

#[test]
fn an_unknown_action_is_a_usage_error() {
    let dir = root();
    let out = Command::new("bash").arg(dir.path().join("scripts/grid_records.sh")).arg("sync").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown action 'sync'"));
}
