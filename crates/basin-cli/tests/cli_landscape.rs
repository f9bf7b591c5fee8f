//! `basin landscape` and `basin sharpness` end to end on tiny runs.

use std::process::Command;

fn basin(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn plane_interpolation_surface_and_noise_write_their_data() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("a", "1"), ("b", "2"), ("c", "3")] {
        let seed_set = format!("seed={seed}");
        let (code, _, err) = basin(&["train", "--out", name, "--set", &seed_set, "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"], dir.path());
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = basin(&["landscape", "plane", "--point", "a", "--point", "b", "--point", "c", "--points", "3", "--train-subset", "128", "--test-subset", "64", "--out", "plane"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("plane.json")).unwrap()).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 9);
    assert!(dir.path().join("plane.svg").is_file() && dir.path().join("plane.png").is_file() && dir.path().join("plane.csv").is_file());
    assert!(!dir.path().join("plane.svg.tmp").exists());

    let (code, out, err) = basin(&["landscape", "interpolate", "--run", "a", "--to", "b", "--points", "3", "--from-alpha", "0", "--to-alpha", "1", "--train-subset", "128", "--test-subset", "64", "--out", "interp"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("α = +0.000") && out.contains("α = +1.000"), "{out}");
    // endpoints equal each run's own test loss on the same 64 images
    let csv = std::fs::read_to_string(dir.path().join("interp.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);

    let (code, _, err) = basin(&["landscape", "surface", "--run", "a", "--dims", "1", "--points", "3", "--train-subset", "64", "--test-subset", "64", "--out", "surf"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = basin(&["sharpness", "--run", "a", "--no-box", "--noise", "0,0.05", "--json", "s.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("slope"), "{out}");

    let (code, _, err) = basin(&["landscape", "surface", "--run", "a", "--norm", "spectral"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--norm"), "{err}");
}

#[test]
fn sharpness_protocols_write_what_they_measured() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = basin(&["train", "--out", "a", "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = basin(&["sharpness", "--run", "a", "--protocol", "smoothout-code", "--subspace", "10", "--json", "code.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("smoothout-code protocol") && out.contains("random 10-dimensional subspace"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("code.json")).unwrap()).unwrap();
    assert_eq!(v["box"]["protocol"], "smoothout-code");
    assert_eq!(v["box"]["subspace"], 10);
    assert_eq!(v["box"]["per_restart"].as_array().unwrap().len(), 1, "one solver run");
    assert!(v["box"]["sharpness"].as_f64().unwrap() >= 0.0);
    let (code, _, err) = basin(&["sharpness", "--run", "a", "--restarts", "2", "--max-evals", "4", "--samples", "64", "--subspace", "0", "--json", "basin.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("basin.json")).unwrap()).unwrap();
    assert_eq!(v["box"]["protocol"], "basin");
    assert!(v["box"]["subspace"].is_null(), "--subspace 0 is the full space");
    assert_eq!(v["box"]["per_restart"].as_array().unwrap().len(), 2);
    for (args, key) in [(&["--protocol", "keskar"][..], "--protocol"), (&["--protocol", "smoothout-code", "--restarts", "3"][..], "--restarts")] {
        let mut all = vec!["sharpness", "--run", "a"];
        all.extend_from_slice(args);
        let (code, _, err) = basin(&all, dir.path());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(key) && err.lines().count() == 1, "{err}");
    }
}

/// A grid no machine finishes (10¹⁰ points) is refused at once with its size, not started.
#[test]
fn an_absurd_grid_is_refused_up_front_with_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = basin(&["train", "--out", "a", "--set", "train.epochs=1", "--set", "data.train_subset=128", "--set", "data.test_subset=64"], dir.path());
    assert_eq!(code, 0, "{err}");
    let t = std::time::Instant::now();
    let (code, _, err) = basin(&["landscape", "surface", "--run", "a", "--dims", "2", "--points", "100000", "--out", "s"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("10000000000 points") && err.contains("--force") && err.lines().count() == 1, "{err}");
    assert!(t.elapsed().as_secs() < 30 && !dir.path().join("s.json").exists());
    let (code, _, err) = basin(&["landscape", "plane", "--point", "a", "--point", "a", "--point", "a", "--points", "600", "--out", "p"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("360000 points"), "{err}");
}
