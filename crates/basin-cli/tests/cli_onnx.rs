//! `--onnx` and `--npz` through the CLI (issue 40): the spectrum of a PyTorch-exported network
//! on arrays, training it (SmoothOut with zero noise is SGD, bit for bit, as on the zoo),
//! exporting the trained weights under PyTorch's state_dict names, and bad arrays refused with
//! a one-line exit-2 error that names the array, writing nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn basin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name).canonicalize().unwrap().display().to_string()
}

fn reference(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("{name}.ref.json"))).unwrap()).unwrap()
}

/// The eigenvalues of `basin hessian --json` at `path` are the fixture `name`'s top-3 by
/// PyTorch's double backward and ARPACK, to 1e-4 relative.
fn assert_top3(path: &Path, name: &str) {
    let rep: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let ours: Vec<f64> = rep["mean"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let theirs: Vec<f64> = reference(name)["top3"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ours.len(), 3, "{ours:?}");
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() < 1e-4 * b, "{name}: {ours:?} vs PyTorch/ARPACK {theirs:?}");
    }
}

#[test]
fn the_spectrum_of_an_exported_network_is_pytorchs() {
    let dir = tempfile::tempdir().unwrap();
    for exporter in ["dynamo", "script"] {
        let (code, out, err) = basin(&["hessian", "--onnx", &fixture(&format!("resnet.{exporter}.onnx")), "--npz", &fixture("data.npz"), "--subset", "1", "--top-k", "3", "--tol", "1e-6", "--json", "h.json"], dir.path());
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("resnet.{exporter}.onnx on data.npz: 5122 parameters, subset of 32")), "{out}");
        assert!(err.contains("5122 trainable parameters"), "{err}");
        assert_top3(&dir.path().join("h.json"), "resnet");
        std::fs::remove_file(dir.path().join("h.json")).unwrap();
    }
}

#[test]
fn smoothout_with_zero_noise_trains_an_onnx_network_exactly_as_sgd() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str, estimator: &[&str]| {
        let onnx = format!("model.onnx=\"{}\"", fixture("cnn.dynamo.onnx"));
        let npz = format!("data.npz=\"{}\"", fixture("train.npz"));
        let mut args = vec!["train", "--out", out, "--set", &onnx, "--set", &npz, "--set", "train.epochs=1", "--set", "train.batch_size=64", "--set", "optimizer.lr=0.05"];
        for e in estimator {
            args.extend(["--set", e]);
        }
        let (code, _, err) = basin(&args, dir.path());
        assert_eq!(code, 0, "{err}");
        std::fs::read(dir.path().join(out).join("model.safetensors")).unwrap()
    };
    let sgd = run("sgd", &[]);
    let smooth = run("smooth", &["estimator.name=\"smoothout\"", "estimator.a=0.0"]);
    assert!(sgd == smooth, "SmoothOut with a = 0 differs from SGD on the ONNX network");
    let noisy = run("noisy", &["estimator.name=\"smoothout\"", "estimator.a=0.01"]);
    assert!(sgd != noisy, "SmoothOut's noise never reached the ONNX network's parameters");

    // the weights back out, under PyTorch's state_dict names (num_batches_tracked included)
    let (code, out, err) = basin(&["export", "--run", "sgd", "--safetensors", "w.safetensors", "--onnx", "w.onnx"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote w.safetensors"), "{out}");
    let bytes = std::fs::read(dir.path().join("w.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut names: Vec<String> = header.as_object().unwrap().keys().filter(|k| *k != "__metadata__").cloned().collect();
    names.sort();
    let mut want: Vec<String> = reference("cnn")["sgd3"].as_object().unwrap().keys().cloned().chain(["b1.num_batches_tracked".into(), "b2.num_batches_tracked".into()]).collect();
    want.sort();
    assert_eq!(names, want);
    // the exported graph is a network basin reads back, with the trained weights
    let (code, a, err) = basin(&["hessian", "--run", "sgd", "--subset", "1", "--top-k", "1"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, b, err) = basin(&["hessian", "--onnx", "w.onnx", "--npz", &fixture("train.npz"), "--subset", "1", "--top-k", "1"], dir.path());
    assert_eq!(code, 0, "{err}");
    let row = |s: &str| s.lines().find(|l| l.starts_with("| 1 |")).unwrap().split('|').nth(2).unwrap().trim().to_string();
    assert_eq!(row(&a), row(&b), "{a}\n{b}");
    // never over an existing file
    let (code, _, err) = basin(&["export", "--run", "sgd", "--onnx", "w.onnx"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("w.onnx: exists"), "{err}");
}

/// An `.npz` written by hand in NumPy's format (uncompressed, as `numpy.savez`).
fn npz(path: &Path, arrays: &[Array]) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, descr, shape, data) in arrays {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored)).unwrap();
        zip.write_all(b"\x93NUMPY\x01\x00").unwrap();
        zip.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
        zip.write_all(header.as_bytes()).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// An array of an `.npz`: name, dtype, shape, raw little-endian bytes.
type Array<'a> = (&'a str, &'a str, Vec<usize>, Vec<u8>);

#[test]
fn bad_arrays_are_one_line_errors_naming_the_array_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let n = 8;
    let good_x = vec![0.5f32; n * 784];
    let labels: Vec<i64> = (0..n as i64).collect();
    let cases: Vec<(&str, Vec<Array>, &str)> = vec![
        ("nan", vec![("x", "<f4", vec![n, 1, 28, 28], f32s(&[vec![f32::NAN], good_x[1..].to_vec()].concat())), ("y", "<i8", vec![n], i64s(&labels)), ("x_test", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y_test", "<i8", vec![n], i64s(&labels))], "array 'x': value NaN at flat index 0 is not finite"),
        ("shape", vec![("x", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y", "<i8", vec![n - 1], i64s(&labels[1..])), ("x_test", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y_test", "<i8", vec![n], i64s(&labels))], "array 'y': has shape [7]"),
        ("wide", vec![("x", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y", "<i8", vec![n], i64s(&[labels.clone(), vec![]].concat().iter().map(|l| l + 5).collect::<Vec<_>>())), ("x_test", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y_test", "<i8", vec![n], i64s(&labels))], "labels go up to 12"),
        ("dtype", vec![("x", "<i8", vec![n, 784], i64s(&vec![1; n * 784])), ("y", "<i8", vec![n], i64s(&labels)), ("x_test", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y_test", "<i8", vec![n], i64s(&labels))], "array 'x': holds integers"),
        ("notest", vec![("x", "<f4", vec![n, 1, 28, 28], f32s(&good_x)), ("y", "<i8", vec![n], i64s(&labels))], "has no arrays 'x_test', 'y_test'"),
    ];
    refused(dir.path(), "mlp.script.onnx", cases);
}

/// `basin train` of the fixture `onnx` on each case's arrays is a one-line exit-2 error that
/// says the case's message and writes no run folder.
fn refused(dir: &Path, onnx: &str, cases: Vec<(&str, Vec<Array>, &str)>) {
    let onnx = format!("model.onnx=\"{}\"", fixture(onnx));
    for (name, arrays, message) in cases {
        let file = dir.join(format!("{name}.npz"));
        npz(&file, &arrays);
        let data = format!("data.npz=\"{}\"", file.display());
        let (code, out, err) = basin(&["train", "--out", name, "--set", &onnx, "--set", &data, "--set", "train.epochs=1", "--set", "train.batch_size=4"], dir);
        assert_eq!(code, 2, "{name}: {out}{err}");
        let line = err.lines().find(|l| l.starts_with("error:")).unwrap_or_default().to_string();
        assert!(line.contains(message), "{name}: '{line}' does not say '{message}'");
        assert!(!dir.join(name).exists(), "{name}: a run folder was written");
    }
}

/// `--freeze REGEX` keeps the initializers it names at their values through training and a
/// resume (the exported weights hold them bit for bit); the others train. A pattern that is not
/// a regular expression, or matches nothing, is an error naming `model.freeze`.
#[test]
fn frozen_initializers_keep_their_values_through_training_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = format!("model.onnx=\"{}\"", fixture("cnn.dynamo.onnx"));
    let npz = format!("data.npz=\"{}\"", fixture("train.npz"));
    let base = ["--set", &onnx, "--set", &npz, "--set", "train.batch_size=64"];
    let (code, _, err) = basin(&[&["train", "--out", "r", "--freeze", "^c1\\.", "--set", "train.epochs=1"], &base[..]].concat(), dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 of 9 parameter tensors kept fixed (c1.weight, c1.bias)"), "{err}");
    let (code, _, err) = basin(&["train", "--out", "r", "--resume", "--set", "train.epochs=2"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = basin(&["export", "--run", "r", "--safetensors", "w.safetensors"], dir.path());
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(dir.path().join("w.safetensors")).unwrap();
    let trained = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let start = basin_onnx::OnnxNet::load(Path::new(&fixture("cnn.dynamo.onnx")), &burn::tensor::Device::flex()).unwrap();
    for (p, values) in start.named_tensors() {
        let got: Vec<f32> = trained.tensor(&p.name).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        match p.name.as_str() {
            "c1.weight" | "c1.bias" => assert_eq!(got, values, "{} moved", p.name),
            "c2.weight" | "fc.weight" => assert_ne!(got, values, "{} did not train", p.name),
            _ => {}
        }
    }
    for (pattern, want) in [("(", "model.freeze: not a regular expression"), ("^nothing$", "model.freeze: '^nothing$' matches no parameter")] {
        let (code, _, err) = basin(&[&["train", "--out", "bad", "--freeze", pattern, "--set", "train.epochs=1"], &base[..]].concat(), dir.path());
        assert_eq!(code, 2, "{err}");
        assert!(err.lines().last().unwrap().contains(want), "{err}");
        assert!(!dir.path().join("bad").exists(), "nothing written");
    }
}

/// Float targets (issue 40): an `.npz` whose `y` holds floats is a regression set, fitted by the
/// mean squared error. The spectrum of PyTorch's regressor on it is PyTorch's (its reference
/// uses `nn.MSELoss`); training it reports losses and no accuracy; the measures defined through
/// classification are refused by name; a graph whose outputs do not match the targets' width,
/// targets that are not finite, and a test set of the other kind are one-line exit-2 errors.
#[test]
fn float_targets_are_fitted_by_the_mean_squared_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = basin(&["hessian", "--onnx", &fixture("regressor.script.onnx"), "--npz", &fixture("diabetes.npz"), "--subset", "1", "--top-k", "3", "--tol", "1e-6", "--json", "h.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("897 parameters, subset of 352"), "{out}");
    assert_top3(&dir.path().join("h.json"), "regressor");

    let onnx = format!("model.onnx=\"{}\"", fixture("regressor.dynamo.onnx"));
    let diabetes = format!("data.npz=\"{}\"", fixture("diabetes.npz"));
    let (code, out, err) = basin(&["train", "--out", "reg", "--set", &onnx, "--set", &diabetes, "--set", "train.epochs=4", "--set", "train.batch_size=32", "--set", "optimizer.lr=0.05"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("train acc n/a") && out.contains("test acc n/a"), "{out}");
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("reg/summary.json")).unwrap()).unwrap();
    assert!(summary["test_acc"].is_null(), "{summary}");
    let losses: Vec<f64> = std::fs::read_to_string(dir.path().join("reg/metrics.jsonl")).unwrap().lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).filter(|r| r["kind"] == "epoch").map(|r| r["test_loss"].as_f64().unwrap()).collect();
    assert!(losses.len() == 4 && losses[3] < losses[0], "test losses per epoch {losses:?}");

    let (code, _, err) = basin(&["measures", "--run", "reg", "--measures", "lambda-max,margin"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("measure 'margin' needs class labels"), "{err}");
    assert!(!dir.path().join("reg/measures.json").exists());
    // `all` leaves the label-only measures out, with a note
    let (code, _, err) = basin(&["measures", "--run", "reg"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("float targets: left out margin"), "{err}");
    // the regression gap is test loss − train loss: with two runs, τ is the sign of the gaps'
    // order times the measure's
    let (code, _, err) = basin(&["train", "--out", "reg2", "--set", &onnx, "--set", &diabetes, "--set", "train.epochs=4", "--set", "train.batch_size=32", "--set", "optimizer.lr=0.01"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = basin(&["measures", "--run", "reg2", "--measures", "lambda-max"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = basin(&["correlate", ".", "--json", "c.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let read = |p: &str| serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(dir.path().join(p)).unwrap()).unwrap();
    let gap = |run: &str| read(&format!("{run}/summary.json"))["test_loss"].as_f64().unwrap() - read(&format!("{run}/summary.json"))["train_loss"].as_f64().unwrap();
    let lam = |run: &str| read(&format!("{run}/measures.json"))["lambda-max"]["value"].as_f64().unwrap();
    let want = ((gap("reg") - gap("reg2")) * (lam("reg") - lam("reg2"))).signum();
    let row = read("c.json")["measures"].as_array().unwrap().iter().find(|r| r["measure"] == "lambda-max").unwrap().clone();
    assert_eq!(row["n"], 2, "{row}");
    assert_eq!(row["tau"].as_f64().unwrap(), want, "{row}");

    let n = 8;
    let x = f32s(&vec![0.5f32; n * 10]);
    let cases: Vec<(&str, Vec<Array>, &str)> = vec![
        ("width", vec![("x", "<f4", vec![n, 10], x.clone()), ("y", "<f4", vec![n, 2], f32s(&vec![0.1; n * 2])), ("x_test", "<f4", vec![n, 10], x.clone()), ("y_test", "<f4", vec![n, 2], f32s(&vec![0.1; n * 2]))], "the graph gives 1 outputs, but array 'y' has 2 targets per row"),
        ("nan", vec![("x", "<f4", vec![n, 10], x.clone()), ("y", "<f4", vec![n], f32s(&[vec![f32::INFINITY], vec![0.1; n - 1]].concat())), ("x_test", "<f4", vec![n, 10], x.clone()), ("y_test", "<f4", vec![n], f32s(&vec![0.1; n]))], "array 'y': value inf at flat index 0 is not finite"),
        ("kinds", vec![("x", "<f4", vec![n, 10], x.clone()), ("y", "<f4", vec![n], f32s(&vec![0.1; n])), ("x_test", "<f4", vec![n, 10], x.clone()), ("y_test", "<i8", vec![n], i64s(&vec![0; n]))], "array 'y_test' holds integer labels, 'y' holds float targets"),
    ];
    refused(dir.path(), "regressor.dynamo.onnx", cases);
}

/// `basin report --onnx FILE --npz DATA --measurements DIR`: a model that is no run folder gets
/// a row of its own, with the loss and accuracy PyTorch computed (the fixture's reference
/// logits on the same 32 images), and the measurements of that folder; `--measurements`
/// without a model is an error.
#[test]
fn a_report_shows_an_onnx_model_with_pytorchs_loss_and_its_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let (onnx, data) = (fixture("mlp.dynamo.onnx"), fixture("data.npz"));
    std::fs::create_dir(dir.path().join("m")).unwrap();
    let (code, _, err) = basin(&["hessian", "--onnx", &onnx, "--npz", &data, "--subset", "1", "--top-k", "2", "--json", "m/spectrum.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = basin(&["report", "--onnx", &onnx, "--npz", &data, "--measurements", "m", "--out", "r.html"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote r.html"), "{out}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    let text = regex::Regex::new(r"<[^>]+>").unwrap().replace_all(&html, " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let r = reference("mlp");
    let logits = r["logits"].as_array().unwrap();
    let labels = basin_zoo::data::arrays::read_npz(std::path::Path::new(&data)).unwrap().train.y;
    let right = logits.iter().zip(&labels).filter(|&(row, &y)| {
        let row: Vec<f64> = row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as i64 == y
    });
    let acc = 100.0 * right.count() as f64 / labels.len() as f64;
    let row = format!("mlp.dynamo.onnx on data.npz mlp.dynamo.onnx — — — {:.4} {acc:.2} %", r["loss"].as_f64().unwrap());
    assert!(text.contains(&row), "no row '{row}' in the page's summary");
    assert!(text.contains("mlp.dynamo.onnx on data.npz spectrum.json Hessian 32"), "the model's spectrum is not on the page");

    for flags in [["--measurements", "m"], ["--npz", data.as_str()]] {
        let (code, _, err) = basin(&["report", flags[0], flags[1], "--out", "r2.html", "m"], dir.path());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("{}: for a model given by --onnx or --weights", flags[0])), "{err}");
        assert!(!dir.path().join("r2.html").exists());
    }
}

/// The zoo's architecture keys have nothing to act on in an ONNX graph: each is an error
/// naming it, and nothing is written (they were accepted and ignored).
#[test]
fn zoo_architecture_keys_are_refused_with_an_onnx_model() {
    let dir = tempfile::tempdir().unwrap();
    let (onnx, data) = (fixture("mlp.script.onnx"), fixture("data.npz"));
    for (key, value) in [("model.width", "64"), ("model.depth", "3"), ("model.dropout", "0.3"), ("model.relu_noise", "0.1")] {
        let (m, d, k) = (format!("model.onnx=\"{onnx}\""), format!("data.npz=\"{data}\""), format!("{key}={value}"));
        let (code, _, err) = basin(&["train", "--out", "r", "--set", &m, "--set", &d, "--set", &k, "--set", "train.epochs=1"], dir.path());
        assert_eq!(code, 2, "{key}: {err}");
        assert!(err.contains(&format!("{key}: shapes a zoo network")), "{err}");
        assert!(!dir.path().join("r").exists());
    }
}
