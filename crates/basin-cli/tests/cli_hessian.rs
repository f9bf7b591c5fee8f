//! `basin hessian` end to end on a small trained run, and eigenvalue tracking during training.

use std::process::Command;

fn basin(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn hessian_of_a_trained_run_writes_a_consistent_report() {
    let dir = tempfile::tempdir().unwrap();
    let train = [
        "train", "--out", "r", "--set", "train.epochs=1", "--set", "data.train_subset=512", "--set", "data.test_subset=100",
        "--set", "curvature.track_every=4", "--set", "curvature.top_k=2", "--set", "curvature.subset=0.25", "--set", "curvature.max_iter=20",
    ];
    let (code, _, err) = basin(&train, dir.path());
    assert_eq!(code, 0, "{err}");
    // tracking wrote hessian lines with 2 positive eigenvalues, the first the largest
    let metrics = std::fs::read_to_string(dir.path().join("r/metrics.jsonl")).unwrap();
    let hess: Vec<serde_json::Value> = metrics.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter(|v| v["kind"] == "hessian").collect();
    assert_eq!(hess.len(), 8 / 4, "{metrics}");
    for h in &hess {
        let e: Vec<f64> = h["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(e.len() == 2 && e[0] >= e[1] && e[1] > 0.0, "{e:?}");
    }

    let (code, out, err) = basin(
        &["hessian", "--run", "r", "--samples", "128", "--top-k", "3", "--repeats", "2", "--trace", "--trace-samples", "12", "--frobenius", "--frobenius-samples", "6", "--density", "--density-probes", "1", "--density-steps", "12", "--bottom-k", "2", "--diagonal", "--diagonal-samples", "4", "--json", "h.json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("| 1 |"), "{out}");
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("h.json")).unwrap()).unwrap();
    let mean: Vec<f64> = rep["mean"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(mean.len(), 3);
    assert!(mean[0] >= mean[1] && mean[1] >= mean[2] && mean[2] > 0.0, "{mean:?}");
    assert_eq!(rep["repeats"].as_array().unwrap().len(), 2);
    assert_eq!(rep["subset_size"], 128);
    // the time in the products is part of the run's time, and not nothing (every estimate here
    // is products over 128 examples)
    let (secs, in_products) = (rep["seconds"].as_f64().unwrap(), rep["product_seconds"].as_f64().unwrap());
    assert!(in_products > 0.0 && in_products <= secs, "{in_products} s of products in {secs} s");
    // the default operator is the exact Hessian, and the report says so
    assert_eq!(rep["operator"], "hessian");
    assert_eq!(rep["operator_label"], "Hessian");
    assert!(rep["eps"].is_null(), "the exact Hessian has no step");
    assert!(out.contains("Hessian eigenvalue"), "{out}");
    // consistency between independent estimators: λ_max ≤ ‖H‖_F for any symmetric matrix
    let fro = rep["frobenius"]["mean"].as_f64().unwrap();
    assert!(mean[0] <= fro * 1.2, "λ1 {} vs ‖H‖_F {fro}", mean[0]);
    // the bottom of the spectrum: increasing, below the top, and negative somewhere for a
    // ReLU network after one epoch (the Hessian is indefinite; the Gauss–Newton matrix is not)
    let bottom: Vec<f64> = rep["bottom"]["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(bottom.len() == 2 && bottom[0] <= bottom[1] && bottom[1] < mean[2], "{bottom:?}");
    assert!(bottom[0] < 0.0, "λ_min = {}", bottom[0]);
    // the spectral density covers the negative part
    let grid0 = rep["density"]["grid"][0].as_f64().unwrap();
    assert!(grid0 < 0.0, "density grid starts at {grid0}");
    // the diagonal, one entry per parameter tensor of ne-f1 (8 dense layers)
    let diag = rep["diagonal"].as_array().unwrap();
    assert_eq!(rep["diagonal_method"], "diag++");
    assert_eq!(diag.len(), 16);
    assert_eq!(diag[0]["path"], "Mlp.hidden.0.weight");
    assert_eq!(diag[0]["numel"], 784 * 500);
    let dens = &rep["density"]["density"];
    assert_eq!(dens.as_array().unwrap().len(), 400);
    assert!(dir.path().join("h.density.svg").is_file());

    // the Gauss–Newton matrix of one layer's block, named as such everywhere
    let (code, out, err) = basin(
        &["hessian", "--run", "r", "--samples", "128", "--top-k", "1", "--max-iter", "10", "--operator", "ggn", "--layer", "Mlp.hidden.0", "--density", "--density-probes", "1", "--density-steps", "6", "--json", "g.json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Gauss–Newton eigenvalue") && out.contains("block of Mlp.hidden.0"), "{out}");
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("g.json")).unwrap()).unwrap();
    assert_eq!(rep["operator_label"], "Gauss–Newton");
    assert_eq!(rep["layer"], "Mlp.hidden.0");
    assert_eq!(rep["parameters"], 784 * 500 + 500);
    let svg = std::fs::read_to_string(dir.path().join("g.density.svg")).unwrap();
    assert!(svg.contains("Gauss–Newton spectral density of Mlp.hidden.0"), "plot title");
    assert_eq!((rep["products"].as_str(), rep["eps"].is_null()), (Some("tangent pass"), true), "the GGN's J v is the tangent pass, no step");

    // the Monte-Carlo Fisher: S labels per example, D independent draws with their spread
    let (code, out, err) = basin(&["hessian", "--run", "r", "--samples", "64", "--top-k", "2", "--max-iter", "10", "--operator", "fisher", "--fisher-samples", "2", "--fisher-draws", "2", "--json", "f.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("mean over 2 label draws (2 per example)"), "{out}");
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("f.json")).unwrap()).unwrap();
    let (draws, mean) = (rep["fisher"]["draws"].as_array().unwrap(), rep["mean"].as_array().unwrap());
    assert_eq!((rep["fisher"]["samples"].as_u64(), draws.len()), (Some(2), 2));
    let (a, b) = (draws[0][0].as_f64().unwrap(), draws[1][0].as_f64().unwrap());
    assert!(a != b, "two label draws gave the same top eigenvalue {a}");
    assert!((mean[0].as_f64().unwrap() - (a + b) / 2.0).abs() <= 1e-9 * a.abs(), "the estimate is the mean over the draws");
    assert!(rep["fisher"]["std"][0].as_f64().unwrap() > 0.0);
    let (code, _, err) = basin(&["hessian", "--run", "r", "--fisher-samples", "4"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--fisher-samples") && err.trim().lines().count() == 1, "{err}");

    // bad input: one line, exit 2
    let (code, _, err) = basin(&["hessian", "--run", "r", "--layer", "nope"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("layer") && err.contains("Mlp.hidden.0") && err.trim().lines().count() == 1, "{err}");
    let (code, _, err) = basin(&["hessian", "--run", "r", "--eps", "1e-3"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--eps") && err.trim().lines().count() == 1, "{err}");
    let (code, _, err) = basin(&["hessian", "--run", "r", "--operator", "exact"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--operator") && err.trim().lines().count() == 1, "{err}");
    let (code, _, err) = basin(&["hessian", "--run", "nowhere"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("nowhere"), "{err}");
}

/// `--per-layer`: a row per layer of ne-f1 (seven hidden layers and the output) in the table
/// and the JSON, each block's λ_max at most the whole Hessian's, and `basin report` draws them.
#[test]
fn per_layer_rows_reach_the_json_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(d).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["train", "--out", "r", "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=64"]);
    run(&["hessian", "--run", "r", "--samples", "64", "--top-k", "1", "--per-layer", "--trace-samples", "6", "--frobenius-samples", "2", "--max-iter", "20", "--json", "r/hessian.json"]);
    let h: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("r/hessian.json")).unwrap()).unwrap();
    let rows = h["per_layer"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["layer"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(names.last().unwrap().ends_with("output"), "{names:?}");
    let whole = h["mean"][0].as_f64().unwrap();
    for r in rows {
        // a diagonal block's top eigenvalue is a Rayleigh quotient of the whole Hessian
        assert!(r["lambda_max"].as_f64().unwrap() <= whole * (1.0 + 1e-3), "{r} vs {whole}");
    }
    run(&["report", "r", "--out", "page.html"]);
    let page = std::fs::read_to_string(d.join("page.html")).unwrap();
    assert!(page.contains("Per-layer Hessian blocks") && page.contains("λ_max of each layer"), "no per-layer section");
}

/// `[curvature] track_alignment` (issue 26): every tracking line carries cos(g, eᵢ) for the
/// top-k eigenvectors, the share of ‖g‖² in their span (= Σ cos²) and the same for the step
/// that led there; the report draws them. (The decomposition itself is checked against a
/// quadratic with known eigenvectors in `basin-core/src/curvature/alignment.rs`.)
#[test]
fn alignment_with_the_top_eigenvectors_is_tracked_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_basin"))
        .args(["train", "--out", "a", "--set", "train.epochs=2", "--set", "data.train_subset=256", "--set", "data.test_subset=64"])
        .args(["--set", "curvature.track_every=2", "--set", "curvature.top_k=2", "--set", "curvature.subset=0.1", "--set", "curvature.track_alignment=true"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("a/metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).filter(|r: &serde_json::Value| r["kind"] == "hessian").collect();
    assert_eq!(lines.iter().map(|r| r["step"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 4, 6, 8]);
    for r in &lines {
        let a = &r["alignment"];
        for (cos, share) in [(&a["grad_cos"], &a["grad_in_span"]), (&a["step_cos"], &a["step_in_span"])] {
            let cos: Vec<f64> = cos.as_array().unwrap_or_else(|| panic!("no cosines in {r}")).iter().map(|c| c.as_f64().unwrap()).collect();
            assert_eq!(cos.len(), 2);
            assert!(cos.iter().all(|c| c.abs() <= 1.0 + 1e-9), "{r}");
            let share = share.as_f64().unwrap();
            assert!((share - cos.iter().map(|c| c * c).sum::<f64>()).abs() < 1e-9 && (0.0..=1.0 + 1e-9).contains(&share), "{r}");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_basin")).args(["report", "a", "--out", "r.html"]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(dir.path().join("r.html")).unwrap().contains("in the span of the top eigenvectors"));
}

/// `basin hessian --run` on a run folder of the `lstm_lm` example (setup.txt + model.bpk): the
/// exact Hessian's top eigenvalues agree with the finite-difference Hessian's (central
/// differences of gradients: an independent computation of the same matrix for the smooth
/// LSTM), over the run's first chunks; options that mean nothing there are refused.
#[test]
fn hessian_of_a_language_model_run_folder() {
    use basin_zoo::data::corpus::Corpus;
    use basin_zoo::models::lstm_lm::LmRunSetup;
    use burn::module::Module;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("lm");
    std::fs::create_dir_all(&run).unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/hamlet-slice");
    let corpus = Corpus::load_ptb(&data).unwrap();
    let setup = LmRunSetup { batch: 4, bptt: 10, hidden: 8, dropout: 0.0, decay_after: 1, max_chunks: 0, data };
    std::fs::write(run.join("setup.txt"), setup.line()).unwrap();
    let model = basin_core::train::init_model(&burn::tensor::Device::flex(), 3, |d| setup.model_config(corpus.vocab.len()).init(d));
    let numel = basin_core::paramvec::ParamVec::from_model(&model).numel();
    model.save_file(run.join("model.bpk")).unwrap();
    assert!(run.join("model.bpk").is_file());

    let top = |op: &str, json: &str| -> Vec<f64> {
        let (code, out, err) = basin(&["hessian", "--run", "lm", "--samples", "3", "--top-k", "2", "--operator", op, "--json", json], dir.path());
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("3 training chunks of 4 streams × 10 words"), "{out}");
        let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join(json)).unwrap()).unwrap();
        assert_eq!(rep["subset_size"], 3);
        assert_eq!(rep["parameters"], numel);
        rep["mean"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    };
    let (exact, fd) = (top("hessian", "e.json"), top("fd", "f.json"));
    println!("exact {exact:?}, fd {fd:?}");
    for (e, f) in exact.iter().zip(&fd) {
        assert!((e - f).abs() <= 1e-4 * f.abs(), "exact {exact:?} vs finite differences {fd:?}");
    }
    for bad in [&["--operator", "ggn"][..], &["--batch-size", "5"], &["--per-layer"]] {
        let mut a = vec!["hessian", "--run", "lm", "--samples", "2"];
        a.extend_from_slice(bad);
        let (code, _, err) = basin(&a, dir.path());
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains(bad[0]) && err.contains("language model"), "{bad:?}: {err}");
    }
    // the other measuring commands name the folder and say which command takes it
    let (code, _, err) = basin(&["sharpness", "--run", "lm"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.trim().ends_with("lm: a language model's run folder (lstm_lm): only `basin hessian` measures it"), "{err}");
}
