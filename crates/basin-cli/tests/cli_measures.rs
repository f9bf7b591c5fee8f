//! `basin measures` and `basin correlate` end to end on a small grid of the bundled slice
//! (issue 38's quick check in CI): four `mlp` runs that differ in learning rate and batch size,
//! every measure into each run's measures.json, resumable per measure, and the rank
//! correlations over the four runs with the two hyperparameters found from the configs.

use std::path::Path;
use std::process::Command;

fn basin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn measures_then_correlate_over_a_small_grid() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [("grid/a", "0.05", "32"), ("grid/b", "0.05", "64"), ("grid/c", "0.01", "32"), ("grid/d", "0.01", "64")];
    for (out, lr, bs) in runs {
        let (lr, bs) = (format!("optimizer.lr={lr}"), format!("train.batch_size={bs}"));
        let args = ["train", "--out", out, "--set", "model.name=\"mlp\"", "--set", "model.width=32", "--set", "model.depth=1", "--set", "train.epochs=1", "--set", "data.train_subset=512", "--set", "data.test_subset=200", "--set", &lr, "--set", &bs];
        let (code, _, err) = basin(&args, dir.path());
        assert_eq!(code, 0, "{err}");
    }
    // a run written by an older basin lacks the keys added since: no hyperparameter for that
    let cfg = dir.path().join("grid/a/config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("npz = \"\"\n"), "{text}");
    std::fs::write(&cfg, text.replace("npz = \"\"\n", "")).unwrap();
    let run_args: Vec<&str> = runs.iter().flat_map(|(r, _, _)| ["--run", *r]).collect();
    let (code, _, err) = basin(&[&["measures"], run_args.as_slice()].concat(), dir.path());
    assert_eq!(code, 0, "{err}");
    let read = |r: &str| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(dir.path().join(r).join("measures.json")).unwrap()).unwrap() };
    let m = read("grid/a");
    for k in ["norms.param_norm", "norms.log_prod_of_spec", "margin", "path-norm", "lambda-max", "pacbayes.init", "pacbayes.mag.flatness", "worst.linf.adaptive", "worst.l2", "average.l2.adaptive", "relative-flatness", "fisher-rao", "trace", "frobenius", "c-eps-sharpness", "sharpness.flatness", "sharpness.mag.flatness"] {
        assert!(m[k]["value"].as_f64().is_some_and(f64::is_finite), "{k}: {}", m[k]);
        assert!(m[k]["settings"].is_object(), "{k} has no settings");
    }
    assert!(m["lambda-max"]["details"]["converged"].is_boolean(), "λ_max says whether it converged");
    assert!(m["margin"]["training_set_passes"].as_f64().is_some_and(|p| p > 0.0), "the cost in passes");
    // σ is what the search found, and 1/σ² the flatness
    let sigma = m["pacbayes.flatness"]["details"]["sigma"].as_f64().unwrap();
    assert!((m["pacbayes.flatness"]["value"].as_f64().unwrap() - 1.0 / (sigma * sigma)).abs() < 1e-6 / (sigma * sigma));
    assert_eq!(m["pacbayes.init"]["settings"]["noise"], "paper");
    let alpha = m["sharpness.mag.flatness"]["details"]["alpha"].as_f64().unwrap();
    assert!((m["sharpness.mag.flatness"]["value"].as_f64().unwrap() * alpha * alpha - 1.0).abs() < 1e-9);
    // the parameter count is the MLP's weights: 784·32 + 32·10
    assert_eq!(m["norms.params"]["value"], 784.0 * 32.0 + 320.0);
    // resumable: measures already there are kept, --force computes them again
    let before = std::fs::read(dir.path().join("grid/a/measures.json")).unwrap();
    let (code, _, err) = basin(&["measures", "--run", "grid/a"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.trim().is_empty(), "nothing should have been computed: {err}");
    assert_eq!(before, std::fs::read(dir.path().join("grid/a/measures.json")).unwrap());
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "margin", "--force"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("margin") && !err.contains("norms"), "{err}");
    // other settings are not kept beside the old value: the measure is computed again
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "pacbayes", "--noise", "reference-code"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("other settings"), "{err}");
    let m = read("grid/a");
    assert_eq!(m["pacbayes.orig"]["settings"]["noise"], "reference-code");
    assert_eq!(m["pacbayes.mag.orig"]["settings"]["noise"], "paper", "pacbayes-mag was not asked for");
    // bad input
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--apgd", "fast"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--apgd: unknown 'fast'"), "{err}");
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--alpha-direction", "up"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--alpha-direction: unknown 'up'"), "{err}");
    // an option of measures that are not asked for is refused, not ignored
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "margin", "--noise", "reference-code"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--noise: applies to pacbayes, pacbayes-mag, which --measures leaves out"), "{err}");
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "margin", "--seed", "3"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--seed: applies to"), "{err}");
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "sharpness.zzz"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown measure 'sharpness.zzz'"), "{err}");

    let (code, out, err) = basin(&["correlate", "grid", "--json", "c.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 runs below grid"), "{out}");
    let c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("c.json")).unwrap()).unwrap();
    assert_eq!(c["hyperparameters"], serde_json::json!(["optimizer.lr", "train.batch_size"]));
    let rows = c["measures"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["n"] == 4 && r["tau"].as_f64().is_some_and(|t| (-1.0..=1.0).contains(&t))), "{rows:?}");
    assert!(rows.iter().any(|r| r["measure"] == "path-norm"));
    // grid/a's PAC-Bayes measures were computed again with the reference code's noise above:
    // two quantities under one name, flagged; the others were measured alike
    let kinds = |m: &str| rows.iter().find(|r| r["measure"] == m).unwrap()["settings_kinds"].clone();
    assert_eq!(kinds("pacbayes.orig"), 2);
    assert_eq!(kinds("pacbayes.mag.orig"), 1);
    assert_eq!(kinds("path-norm"), 1);
    assert!(err.contains("warning: pacbayes.orig: its 4 runs were measured with 2 different settings"), "{err}");
    assert!(!err.contains("pacbayes.mag") && !err.contains("path-norm"), "{err}");
    // a list of run folders instead of one folder above them (one seed of a grid, say)
    let (code, out, err) = basin(&["correlate", "grid/a", "grid/b", "grid/c", "--json", "c3.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 runs below 3 folders"), "{out}");
    let c3: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("c3.json")).unwrap()).unwrap();
    assert_eq!(c3["runs"], 3);
    assert_eq!(c3["dirs"], serde_json::json!(["grid/a", "grid/b", "grid/c"]));
    let (code, _, err) = basin(&["correlate", "grid/a", "grid/zzz"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("grid/zzz: no such folder"), "{err}");

    // the report's section: the table and a scatter per measure, coloured by a hyperparameter
    let dirs: Vec<&str> = runs.iter().map(|(r, _, _)| *r).collect();
    let (code, _, err) = basin(&[&["report"], dirs.as_slice(), &["--out", "grid.html"]].concat(), dir.path());
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(dir.path().join("grid.html")).unwrap();
    let sec = &html[html.find("id=\"generalization\"").expect("the section is there")..];
    assert!(sec.contains("4 runs; hyperparameters (the config keys in which they differ): optimizer.lr, train.batch_size"), "{}", &sec[..400]);
    assert!(sec.contains("path-norm: τ =") && sec.contains("coloured by"), "a scatter per measure");
    assert!(sec.contains("4 (2 different settings)"), "pacbayes.orig's mixed settings are shown");
}
