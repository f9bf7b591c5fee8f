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

/// `landscape surface --eigen` (issue 26): λ_max ≥ λ_min at every point, the maps drawn, the
/// CSV columns written, sharded and merged bit for bit like the loss, and an eigenvalue map
/// too costly for its grid refused up front. (The values are checked against the dense f64
/// oracle in `basin-zoo/tests/hessian_oracle.rs`.)
#[test]
fn an_eigenvalue_map_has_both_ends_everywhere_and_shards_like_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = basin(&["train", "--out", "a", "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"], dir.path());
    assert_eq!(code, 0, "{err}");
    let surface = |extra: &[&str], out: &str| {
        let mut args = vec!["landscape", "surface", "--run", "a", "--dims", "2", "--points", "3", "--train-subset", "64", "--test-subset", "32", "--eigen", "--eigen-max-iter", "12", "--out", out];
        args.extend_from_slice(extra);
        basin(&args, dir.path())
    };
    let (code, _, err) = surface(&["--export", "npz,vtk"], "e");
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("e.json")).unwrap()).unwrap();
    let points = v["points"].as_array().unwrap();
    assert_eq!(points.len(), 9);
    for p in points {
        let (max, min) = (p["eigen"]["max"].as_f64().unwrap(), p["eigen"]["min"].as_f64().unwrap());
        assert!(max.is_finite() && min.is_finite() && max >= min && max > 0.0, "{p}");
    }
    let csv = std::fs::read_to_string(dir.path().join("e.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",lambda_max,lambda_min,lambda_max_converged,lambda_min_converged"), "{csv}");
    assert_eq!(v["meta"]["eigen"]["params"], "all");
    for p in points {
        assert!(p["eigen"]["max_converged"].is_boolean() && p["eigen"]["min_residual"].as_f64().is_some(), "{p}");
    }
    for f in ["e-lambda-max.svg", "e-lambda-max.png", "e-lambda-min.svg", "e-lambda-min.png"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    // the export, read back by NumPy: every map at (x_i, y_j) is entry [j, i], equal to the JSON
    let py = numpy_python();
    let script = "import json, sys, numpy as np\nz = np.load(sys.argv[1])\nprint(json.dumps({k: z[k].tolist() for k in z.files}))";
    let out = Command::new(&py).args(["-c", script, "e.npz"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "numpy could not read e.npz: {}", String::from_utf8_lossy(&out.stderr));
    let z: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (xs, ys) = (z["xcoordinates"].as_array().unwrap(), z["ycoordinates"].as_array().unwrap());
    assert_eq!((xs.len(), ys.len()), (3, 3));
    for p in points {
        let (x, y) = (p["coords"][0].as_f64().unwrap(), p["coords"][1].as_f64().unwrap());
        let i = xs.iter().position(|v| v.as_f64() == Some(x)).unwrap();
        let j = ys.iter().position(|v| v.as_f64() == Some(y)).unwrap();
        for (name, want) in [("train_loss", &p["train"]["loss"]), ("test_acc", &p["test"]["accuracy"]), ("lambda_max", &p["eigen"]["max"]), ("lambda_min", &p["eigen"]["min"])] {
            assert_eq!(z[name][j][i].as_f64(), want.as_f64(), "{name} at ({x}, {y})");
        }
    }
    let vtk = std::fs::read_to_string(dir.path().join("e.vtk")).unwrap();
    assert!(vtk.starts_with("# vtk DataFile Version 3.0") && vtk.contains("DIMENSIONS 3 3 1") && vtk.contains("POINTS 9 double") && vtk.contains("SCALARS lambda_min double 1"), "{vtk}");
    // loss-landscape's choice: the Hessian over the weight tensors only
    let (code, _, err) = surface(&["--params", "weights"], "w");
    assert_eq!(code, 0, "{err}");
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("w.json")).unwrap()).unwrap();
    assert_eq!(w["meta"]["eigen"]["params"], "weights");
    let (all0, weights0) = (points[4]["eigen"]["max"].as_f64().unwrap(), w["points"][4]["eigen"]["max"].as_f64().unwrap());
    // a principal block: λ_max at most the whole one's (up to the 12 products' Ritz error), and another number
    assert!(weights0 > 0.0 && weights0 != all0 && weights0 <= all0 * 1.05, "λ_max over the weights {weights0}, over all parameters {all0}");
    let (code, _, err) = surface(&["--params", "biases"], "b");
    assert_eq!(code, 2);
    assert!(err.contains("--params") && err.trim().lines().count() == 1, "{err}");
    let (code, _, err) = surface(&["--export", "hdf5"], "x");
    assert_eq!(code, 2);
    assert!(err.contains("--export") && err.contains("hdf5"), "{err}");
    for i in 0..2 {
        let shard = format!("{i}/2");
        let (code, _, err) = surface(&["--shard", &shard], "s");
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = surface(&["--merge", "2"], "s");
    assert_eq!(code, 0, "{err}");
    for ext in ["json", "csv"] {
        assert_eq!(std::fs::read(dir.path().join(format!("s.{ext}"))).unwrap(), std::fs::read(dir.path().join(format!("e.{ext}"))).unwrap(), "merged {ext} differs");
    }
    // a shard of the loss-only grid is not a shard of the eigenvalue map
    let (code, _, _) = basin(&["landscape", "surface", "--run", "a", "--dims", "2", "--points", "3", "--train-subset", "64", "--test-subset", "32", "--out", "s", "--shard", "0/2"], dir.path());
    assert_eq!(code, 2, "a loss-only shard joined the eigenvalue map's shard files");
    let (code, _, err) = basin(&["landscape", "surface", "--run", "a", "--points", "101", "--eigen", "--out", "big"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--eigen") && err.contains("10201 points"), "{err}");
    assert!(!dir.path().join("big.json").exists());
}

/// A Python with NumPy: Debian's (`python3-numpy`, which `.ci/run` installs), else the first
/// `python3` on PATH.
fn numpy_python() -> String {
    for py in ["/usr/bin/python3", "python3"] {
        if Command::new(py).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success()) {
            return py.to_string();
        }
    }
    panic!("no python3 with numpy (apt-get install python3-numpy)");
}

/// `train.keep_every` and `landscape trajectory` (issue 26): the kept checkpoints, the path in
/// the PCA plane (θ₀ first, the final weights at the origin), the explained variance, the map,
/// and the report's figure. (The PCA itself is checked against an SVD in
/// `basin-core/src/landscape/trajectory.rs`.)
#[test]
fn a_trajectory_is_projected_on_its_pca_plane_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = basin(&["train", "--out", "t", "--set", "train.epochs=4", "--set", "train.keep_every=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"], dir.path());
    assert_eq!(code, 0, "{err}");
    let kept: Vec<String> = std::fs::read_dir(dir.path().join("t/trajectory")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(kept.len(), 4, "{kept:?}");
    assert!(kept.contains(&"step-000000016.bpk".to_string()), "{kept:?}");
    let (code, out, err) = basin(&["landscape", "trajectory", "--run", "t", "--points", "4", "--train-subset", "64", "--test-subset", "32", "--out", "t/traj", "--export", "npz"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("explain"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("t/traj.json")).unwrap()).unwrap();
    let ev: Vec<f64> = v["meta"]["explained_variance"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert!(ev[0] >= ev[1] && ev[1] > 0.0 && ev[0] + ev[1] <= 1.0 + 1e-9, "{ev:?}");
    let path = v["meta"]["path"].as_array().unwrap();
    assert_eq!(path.iter().map(|p| p["step"].as_u64().unwrap()).collect::<Vec<_>>(), vec![0, 4, 8, 12, 16]);
    let last = path.last().unwrap();
    assert!(last["x"].as_f64().unwrap().abs() < 1e-6 && last["y"].as_f64().unwrap().abs() < 1e-6, "the final weights are not at the origin: {last}");
    assert!(path[0]["x"].as_f64().unwrap() > 0.0, "θ₀ is not on the positive side of the first direction");
    assert_eq!(v["points"].as_array().unwrap().len(), 16);
    assert!(dir.path().join("t/traj.svg").is_file() && dir.path().join("t/traj.npz").is_file());
    let (code, _, err) = basin(&["report", "t", "--out", "report.html"], dir.path());
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("PCA directions of the trajectory explain"), "the report shows no trajectory");
    // a run without kept weights has no trajectory
    let (code, _, err) = basin(&["train", "--out", "plain", "--set", "train.epochs=1", "--set", "data.train_subset=128"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = basin(&["landscape", "trajectory", "--run", "plain", "--out", "p"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("train.keep_every"), "{err}");
}
