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
