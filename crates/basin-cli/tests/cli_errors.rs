//! The `basin` binary: bad input is a one-line error naming the key or file, exit code 2, and
//! nothing is written.

use std::process::Command;

fn basin(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn expect_input_error(toml: &str, extra: &[&str], must_contain: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("run.toml");
    std::fs::write(&cfg, toml).unwrap();
    let mut args = vec!["train", "--config", cfg.to_str().unwrap(), "--out", "out"];
    args.extend_from_slice(extra);
    let (code, _, err) = basin(&args, dir.path());
    assert_eq!(code, 2, "exit code for {toml:?}: stderr {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got {err}");
    for m in must_contain {
        assert!(err.contains(m), "{err:?} lacks {m:?}");
    }
    assert!(!dir.path().join("out").exists(), "bad input must write nothing");
}

#[test]
fn unknown_key_is_named() {
    expect_input_error("[optimizer]\nlrr = 0.1\n", &[], &["optimizer.lrr", "unknown key"]);
    expect_input_error("epochz = 3\n", &[], &["epochz"]);
}

#[test]
fn wrong_type_is_named() {
    expect_input_error("[train]\nepochs = \"ten\"\n", &[], &["train.epochs", "integer"]);
}

#[test]
fn invalid_values_are_named() {
    expect_input_error("[optimizer]\nlr = -0.1\n", &[], &["optimizer.lr", "positive"]);
    expect_input_error("[optimizer]\nname = \"rmsprop\"\n", &[], &["optimizer.name"]);
    expect_input_error("[schedule]\nkind = \"linear\"\n", &[], &["schedule.kind"]);
    expect_input_error("[model]\nname = \"resnet-18\"\n", &[], &["model", "resnet-18"]);
    expect_input_error("[model]\nname = \"vgg\"\n", &[], &["model", "unknown model"]);
    expect_input_error("[train]\nbatch_size = 20000\n", &[], &["train.batch_size", "larger than the training set"]);
    expect_input_error("[data]\nname = \"imagenet\"\n", &[], &["data.name", "imagenet"]);
    expect_input_error("", &["--set", "train.epochs=0"], &["train.epochs"]);
    expect_input_error("[estimator]\nname = \"magic\"\n", &[], &["estimator.name"]);
}

#[test]
fn an_estimator_takes_only_its_own_keys() {
    // another method's key lists the named method's own keys
    expect_input_error("[estimator]\nname = \"sam\"\na = 0.1\n", &[], &["estimator.a", "known here: m, name, rho"]);
    expect_input_error("", &["--set", "estimator.name=\"s-sgd\"", "--set", "estimator.alpha=2"], &["estimator.alpha", "layers, level, name"]);
    expect_input_error("[[phases]]\nepochs = 1\nestimator = { name = \"sam\", level = 0.4 }\n", &[], &["phases[0].estimator.level", "rho"]);
    expect_input_error("[estimator]\nname = \"smoothout\"\na = -1.0\n", &[], &["estimator.a"]);
}

/// A config.toml of basin ≤ 0.1 lists every method's keys in `[estimator]`.
const LEGACY: &str = "[estimator]\nname = \"smoothout\"\na = 0.05\nnoise = \"uniform\"\ndenoise = true\nparams = \"all\"\ncopies = 4\nlevel = 0.4\nlayers = \"weights\"\nalpha = 1.5\nrho = 0.05\neta = 0.01\ngamma = 1.0\ndirections = 5\nevery = 0\nsubset = 0.05\nlanczos_iter = 30\nmode = \"nudge\"\nrandom_subspace = false\noperator = \"hessian\"\n";

#[test]
fn old_all_methods_estimator_tables_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("old.toml");
    std::fs::write(&f, LEGACY).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(["train", "--dry-run", "--config"]).arg(&f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("name = \"smoothout\"\na = 0.05\n") && !text.contains("rho"), "{text}");
    // a foreign key that was changed from its old default is not silently dropped
    expect_input_error(&LEGACY.replace("alpha = 1.5", "alpha = 2.0"), &[], &["estimator.alpha"]);
}

#[test]
fn malformed_toml_and_missing_files_are_one_line() {
    expect_input_error("[optimizer\nlr = 1", &[], &["run.toml"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = basin(&["train", "--config", "nope.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("nope.toml"), "{err}");
    let (code, _, err) = basin(&["train", "--set", "data.name=\"mnist\"", "--set", "data.dir=\"missing\"", "--out", "o"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing") && err.lines().count() == 1, "{err}");
}

#[test]
fn a_tiny_run_writes_its_files_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["train", "--out", "r", "--set", "train.epochs=1", "--set", "data.train_subset=256", "--set", "data.test_subset=100"];
    let (code, out, err) = basin(&args, dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("final: train loss"), "{out}");
    for f in ["summary.json", "metrics.jsonl", "config.toml", "model.bpk", "model.safetensors"] {
        assert!(dir.path().join("r").join(f).is_file(), "missing {f}");
    }
    // the saved config is complete and reloads as the same run
    let saved = std::fs::read_to_string(dir.path().join("r/config.toml")).unwrap();
    assert!(saved.contains("train_subset = 256") && saved.contains("[optimizer]"), "{saved}");
    let before: Vec<Vec<u8>> = ["summary.json", "config.toml", "metrics.jsonl"].iter().map(|f| std::fs::read(dir.path().join("r").join(f)).unwrap()).collect();
    let mut other = args.to_vec();
    other.extend(["--set", "optimizer.lr=0.5"]);
    let (code, _, err) = basin(&other, dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--resume"), "{err}");
    let after: Vec<Vec<u8>> = ["summary.json", "config.toml", "metrics.jsonl"].iter().map(|f| std::fs::read(dir.path().join("r").join(f)).unwrap()).collect();
    assert!(before == after, "a refused run changed the finished run's files");
    // safetensors names a PyTorch user can map
    let bytes = std::fs::read(dir.path().join("r/model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..8 + header_len]);
    assert!(header.contains("hidden.0.weight") && header.contains("output.bias"), "{header}");
}

#[test]
fn every_shipped_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else if e.path().extension().is_some_and(|x| x == "toml") {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() >= 4);
    for f in files {
        let (code, out, err) = basin(&["train", "--config", f.to_str().unwrap(), "--dry-run"], std::path::Path::new("."));
        assert_eq!(code, 0, "{}: {err}", f.display());
        assert!(out.contains("[optimizer]"), "{out}");
    }
}

/// A `basin hessian` setting of an estimate that was not asked for is refused (exit 2, naming
/// the flag the setting needs), not ignored.
#[test]
fn hessian_settings_need_their_estimate() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, needs) in [("--sigma", "0.05", "--density"), ("--density-probes", "2", "--density"), ("--density-steps", "10", "--density"), ("--svg", "d.svg", "--density"), ("--trace-method", "hutchinson", "--trace"), ("--diagonal-samples", "10", "--diagonal")] {
        let (code, _, err) = basin(&["hessian", "--run", "r", flag, value], dir.path());
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(err.contains(needs), "{flag}: {err}");
    }
}
