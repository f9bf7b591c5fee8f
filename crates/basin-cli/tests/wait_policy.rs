//! `BASIN_WAIT_POLICY`: a bad value is a one-line input error naming the variable that writes
//! nothing, and spinning workers (`active`) train the same bits as sleeping ones (`passive`).
//! Rayon's own float reductions split their work by what gets stolen, so a sum that went
//! through one would differ between the two: this test is the guard against it. The same bits
//! on one, two and three threads too: `basin reproduce --jobs J` gives its runs cores ÷ J
//! threads, and a run must not depend on how many ran beside it.

use std::process::Command;

fn train(policy: &str, out: &std::path::Path) -> (i32, String) {
    train_on(policy, 2, out)
}

fn train_on(policy: &str, threads: usize, out: &std::path::Path) -> (i32, String) {
    let args = ["train", "--set", "train.epochs=1", "--set", "data.train_subset=512", "--set", "data.test_subset=100", "--out"];
    let o = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).arg(out).env("BASIN_WAIT_POLICY", policy).env("RAYON_NUM_THREADS", threads.to_string()).output().unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_bad_policy_is_named_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let (code, err) = train("spin-hard", &out);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("BASIN_WAIT_POLICY") && err.contains("spin-hard") && err.trim().lines().count() == 1, "{err}");
    assert!(!out.exists(), "a refused run wrote {}", out.display());
}

#[test]
fn spinning_and_sleeping_workers_train_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let weights: Vec<Vec<u8>> = ["passive", "active", "ACTIVE"]
        .iter()
        .map(|p| {
            let out = dir.path().join(p);
            let (code, err) = train(p, &out);
            assert_eq!(code, 0, "{p}: {err}");
            std::fs::read(out.join("model.safetensors")).unwrap()
        })
        .collect();
    assert!(weights[0] == weights[1], "BASIN_WAIT_POLICY=active trained other weights than passive");
    assert!(weights[1] == weights[2]);
}

#[test]
fn one_two_and_three_threads_train_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let weights: Vec<Vec<u8>> = [1, 2, 3]
        .iter()
        .map(|&n| {
            let out = dir.path().join(format!("t{n}"));
            let (code, err) = train_on("active", n, &out);
            assert_eq!(code, 0, "{n} threads: {err}");
            std::fs::read(out.join("model.safetensors")).unwrap()
        })
        .collect();
    assert!(weights[0] == weights[1], "one thread trained other weights than two");
    assert!(weights[1] == weights[2], "three threads trained other weights than two");
}
