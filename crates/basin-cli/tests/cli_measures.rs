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

    // a measures.json that cannot be read (not UTF-8) is an error before any work, and is kept
    let file = dir.path().join("grid/a/measures.json");
    let mut broken = std::fs::read(&file).unwrap();
    broken.push(0xff);
    std::fs::write(&file, &broken).unwrap();
    let (code, _, err) = basin(&["measures", "--run", "grid/a", "--measures", "margin"], dir.path());
    assert!(code == 2 && err.contains("measures.json"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), broken);
}

/// Four records of the committed generalization grid (config.toml, summary.json, measures.json
/// as `basin reproduce` wrote them) copied into `dir/grid`.
fn grid_records(dir: &Path) -> Vec<std::path::PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/generalization-grid-full");
    let cells = ["depth-1-dropout-0-0-width-256-lr-0-005-weight-decay-0-0-batch-size-32", "depth-1-dropout-0-0-width-256-lr-0-05-weight-decay-0-0-batch-size-32", "depth-1-dropout-0-0-width-256-lr-0-005-weight-decay-0-0-batch-size-256", "depth-1-dropout-0-0-width-256-lr-0-05-weight-decay-0-0-batch-size-256"];
    cells
        .iter()
        .map(|c| {
            let to = dir.join("grid").join(c).join("seed-0");
            std::fs::create_dir_all(&to).unwrap();
            for f in ["config.toml", "summary.json", "measures.json"] {
                std::fs::copy(src.join(c).join("seed-0").join(f), to.join(f)).unwrap();
            }
            to
        })
        .collect()
}

/// What `basin correlate` reads is what basin writes, or a one-line error naming the file and
/// the key (exit 2, no panic); each run counts once; nothing is overwritten without --force.
#[test]
fn correlate_counts_each_run_once_and_names_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let runs = grid_records(d);
    let (code, out, err) = basin(&["correlate", "grid"], d);
    assert!(code == 0 && out.contains("4 runs below grid"), "{out}\n{err}");
    // one run named twice, below two of the folders, and a link back up are still four runs
    std::os::unix::fs::symlink("..", runs[0].join("up")).unwrap();
    let first = runs[0].to_str().unwrap();
    let (code, out, err) = basin(&["correlate", "grid", "grid", first], d);
    assert!(code == 0 && out.contains("4 runs below 3 folders"), "{out}\n{err}");
    // an unfinished run (no summary.json) is left out, and said so
    let unfinished = d.join("grid/extra/seed-0");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::copy(runs[0].join("config.toml"), unfinished.join("config.toml")).unwrap();
    let (code, out, err) = basin(&["correlate", "grid"], d);
    assert!(code == 0 && out.contains("4 runs") && err.contains("1 run folder(s) without summary.json"), "{out}\n{err}");
    std::fs::remove_dir_all(d.join("grid/extra")).unwrap();
    // --json keeps an existing file (here: a run's own measures.json)
    let measures = runs[1].join("measures.json");
    let kept = std::fs::read(&measures).unwrap();
    let (code, _, err) = basin(&["correlate", "grid", "--json", measures.to_str().unwrap()], d);
    assert!(code == 2 && err.contains("exists; pass --force"), "{err}");
    assert_eq!(std::fs::read(&measures).unwrap(), kept);
    // a write that fails leaves no temporary behind
    std::fs::create_dir(d.join("out.json")).unwrap();
    let (code, _, err) = basin(&["correlate", "grid", "--json", "out.json", "--force"], d);
    assert!(code == 2 && err.contains("out.json"), "{err}");
    assert!(!d.join("out.json.tmp").exists());
    // records that are not what basin writes
    let m = runs[2].join("measures.json");
    let s = runs[2].join("summary.json");
    let good_m = std::fs::read_to_string(&m).unwrap();
    let good_s = std::fs::read_to_string(&s).unwrap();
    let mut summary: serde_json::Value = serde_json::from_str(&good_s).unwrap();
    summary.as_object_mut().unwrap().remove("test_acc");
    let no_test_acc = summary.to_string();
    summary["converged_at_step"] = serde_json::json!("soon");
    let bad_step = summary.to_string();
    let cases: [(&Path, &str, &str, &[&str]); 6] = [
        (&m, r#"{"margin": 1.0}"#, "measures.json: margin: expected an object", &[]),
        (&m, r#"{"margin": {"value": "0.5"}}"#, "measures.json: margin.value: expected a number or null", &[]),
        (&m, &good_m[..good_m.len() / 2], "measures.json: ", &[]),
        (&m, "[]", "measures.json: expected an object of measures", &[]),
        (&s, &no_test_acc, "summary.json: test_acc: missing", &[]),
        (&s, &bad_step, "summary.json: converged_at_step: expected a step number or null", &["--converged-only"]),
    ];
    for (file, text, says, extra) in cases {
        std::fs::write(file, text).unwrap();
        let (code, _, err) = basin(&[&["correlate", "grid"], extra].concat(), d);
        assert!(code == 2 && err.contains(says) && err.trim().lines().count() == 1, "{says}: {code} {err}");
        std::fs::write(&m, &good_m).unwrap();
        std::fs::write(&s, &good_s).unwrap();
    }
    // a measure on one run only has no τ (no pair), not τ = 0
    let mut one: serde_json::Value = serde_json::from_str(&good_m).unwrap();
    one["only.here"] = serde_json::json!({"value": 1.0, "settings": {}});
    std::fs::write(&m, one.to_string()).unwrap();
    let (code, _, err) = basin(&["correlate", "grid", "--json", "one.json"], d);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("one.json")).unwrap()).unwrap();
    let row = c["measures"].as_array().unwrap().iter().find(|r| r["measure"] == "only.here").unwrap().clone();
    assert!(row["n"] == 1 && row["tau"].is_null() && row["cmi"].is_null(), "{row}");
}
