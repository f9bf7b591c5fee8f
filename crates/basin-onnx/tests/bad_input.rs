//! Files that are not a network basin can run: each is a one-line error naming the file and,
//! where there is one, the node; never a panic. Then a fuzzer: the fixtures' bytes mutated at
//! random (flipped, overwritten, truncated, spliced), each loaded and probed on a batch. It
//! must return a network or an error, never panic, never hang. `ONNX_FUZZ_CASES` sets the
//! number of cases (CI: the default 3,000; docs/guide/reliability.md lists the local runs).

use basin_onnx::OnnxNet;
use burn::tensor::Device;
use std::path::Path;

mod common;
use common::fixtures;

fn load(path: &Path) -> Result<usize, String> {
    let dev = Device::flex();
    let net = OnnxNet::load(path, &dev).map_err(|e| e.to_string())?;
    net.check_input(&[1, 28, 28], &dev).map_err(|e| e.to_string())
}

fn one_line(e: &str, needles: &[&str]) {
    assert!(!e.contains('\n'), "not one line: {e}");
    for n in needles {
        assert!(e.contains(n), "'{e}' does not name {n}");
    }
}

#[test]
fn truncated_and_corrupt_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixtures().join("cnn.script.onnx")).unwrap();
    let cut = dir.path().join("cut.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    one_line(&load(&cut).unwrap_err(), &["cut.onnx"]);
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"this is not a protobuf at all \xff\xff\xff").unwrap();
    one_line(&load(&junk).unwrap_err(), &["junk.onnx", "not an ONNX model"]);
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    one_line(&load(&empty).unwrap_err(), &["empty.onnx"]);
}

#[test]
fn a_missing_external_data_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("mlp.dynamo.onnx");
    std::fs::copy(fixtures().join("mlp.dynamo.onnx"), &lone).unwrap();
    one_line(&load(&lone).unwrap_err(), &["mlp.dynamo.onnx.data", "external data"]);
}

#[test]
fn an_unsupported_op_names_the_op_the_node_and_the_supported_ops() {
    one_line(&load(&fixtures().join("bad_op.onnx")).unwrap_err(), &["bad_op.onnx", "'/CumSum'", "op 'CumSum' is not supported", "Conv, Div"]);
}

#[test]
fn a_graph_with_two_inputs_is_refused() {
    one_line(&load(&fixtures().join("two_inputs.onnx")).unwrap_err(), &["two_inputs.onnx", "2 inputs (x, z)"]);
}

#[test]
fn a_folded_batch_norm_is_detected() {
    let net = OnnxNet::load(&fixtures().join("cnn.folded.onnx"), &Device::flex()).unwrap();
    assert_eq!(net.folded_batch_norms(), ["c2.weight_bias"]);
    let kept = OnnxNet::load(&fixtures().join("cnn.dynamo.onnx"), &Device::flex()).unwrap();
    assert!(kept.folded_batch_norms().is_empty());
}

/// xorshift64*: the fuzzer's own deterministic stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_fixtures_never_panic_or_hang() {
    let cases: usize = std::env::var("ONNX_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let dir = tempfile::tempdir().unwrap();
    // the dynamo files read their external data from beside them
    for f in ["mlp", "cnn", "resnet", "mixer"] {
        let d = format!("{f}.dynamo.onnx.data");
        std::fs::copy(fixtures().join(&d), dir.path().join(&d)).unwrap();
    }
    let sources: Vec<(String, Vec<u8>)> = ["mlp.script", "cnn.script", "resnet.script", "mixer.script", "mlp.dynamo", "cnn.dynamo", "resnet.dynamo", "mixer.dynamo", "cnn.folded", "bad_op"]
        .iter()
        .map(|n| (format!("{n}.onnx"), std::fs::read(fixtures().join(format!("{n}.onnx"))).unwrap()))
        .collect();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // panics inside the probe are caught and reported as errors
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let (mut ok, mut err) = (0, 0);
    let start = std::time::Instant::now();
    for case in 0..cases {
        let (name, bytes) = &sources[rng.below(sources.len())];
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(8) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                2 => b.truncate(rng.below(b.len() + 1)),
                _ => {
                    let (i, j) = (rng.below(b.len()), rng.below(b.len()));
                    let n = rng.below(64).min(b.len() - i.max(j));
                    let chunk = b[j..j + n].to_vec();
                    b[i..i + n].copy_from_slice(&chunk);
                }
            }
            if b.is_empty() {
                break;
            }
        }
        let path = dir.path().join(name);
        std::fs::write(&path, &b).unwrap();
        let t = std::time::Instant::now();
        let r = std::panic::catch_unwind(|| load(&path));
        let failure = match r {
            _ if t.elapsed().as_secs() >= 10 => Some(format!("took {:?}", t.elapsed())),
            Ok(Ok(_)) => {
                ok += 1;
                None
            }
            Ok(Err(e)) if e.contains('\n') => Some(format!("a multi-line error: {e}")),
            Ok(Err(_)) => {
                err += 1;
                None
            }
            Err(_) => Some("the loader panicked".to_string()),
        };
        if let Some(f) = failure {
            std::panic::set_hook(prev);
            std::fs::write("/tmp/onnx-fuzz-case.onnx", &b).unwrap();
            panic!("case {case} ({name}): {f} (input kept in /tmp/onnx-fuzz-case.onnx)");
        }
    }
    std::panic::set_hook(prev);
    println!("{cases} mutated files: {ok} loaded, {err} refused with an error, {:.1} s", start.elapsed().as_secs_f64());
}

/// A fixture with its model edited (`edit`), written into `dir` as `name`.
fn edited(dir: &Path, fixture: &str, name: &str, edit: impl FnOnce(&mut onnx_ir::ModelProto)) -> std::path::PathBuf {
    use onnx_ir::Message;
    let mut m = onnx_ir::ModelProto::parse_from_bytes(&std::fs::read(fixtures().join(fixture)).unwrap()).unwrap();
    edit(&mut m);
    let out = dir.join(name);
    std::fs::write(&out, m.write_to_bytes().unwrap()).unwrap();
    out
}

/// `op` (with `attrs`) inserted after cnn.script.onnx's first Conv, reading its output.
fn after_first_conv(m: &mut onnx_ir::ModelProto, op: &str, attrs: Vec<onnx_ir::AttributeProto>) {
    let g = m.graph.as_mut().unwrap();
    let at = g.node.iter().position(|n| n.op_type == "Conv").unwrap();
    let x = g.node[at].output[0].clone();
    let y = format!("{x}_{op}");
    for n in g.node.iter_mut() {
        n.input.iter_mut().filter(|i| **i == x).for_each(|i| *i = y.clone());
    }
    let node = onnx_ir::NodeProto { op_type: op.into(), name: format!("/inserted/{op}"), input: vec![x], output: vec![y], attribute: attrs, ..Default::default() };
    g.node.insert(at + 1, node);
}

fn ints(name: &str, v: &[i64]) -> onnx_ir::AttributeProto {
    onnx_ir::AttributeProto { name: name.into(), ints: v.to_vec(), type_: onnx_ir::AttributeType::INTS.into(), ..Default::default() }
}

#[test]
fn attributes_basin_would_not_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // a Gemm whose α ≠ 1 would leave its weight B out of the parameters
    let alpha = edited(dir.path(), "mlp.script.onnx", "alpha.onnx", |m| {
        let n = m.graph.as_mut().unwrap().node.iter_mut().find(|n| n.op_type == "Gemm").unwrap();
        n.attribute.retain(|a| a.name != "alpha");
        n.attribute.push(onnx_ir::AttributeProto { name: "alpha".into(), f: 0.5, type_: onnx_ir::AttributeType::FLOAT.into(), ..Default::default() });
    });
    one_line(&load(&alpha).unwrap_err(), &["alpha.onnx", "Gemm of an initializer B with α ≠ 1"]);
    // a dilated average pool (opset 19) would run undilated
    let pool = |dil: bool| move |m: &mut onnx_ir::ModelProto| after_first_conv(m, "AveragePool", [ints("kernel_shape", &[1, 1])].into_iter().chain(dil.then(|| ints("dilations", &[2, 2]))).collect());
    assert!(load(&edited(dir.path(), "cnn.script.onnx", "pool.onnx", pool(false))).is_ok());
    one_line(&load(&edited(dir.path(), "cnn.script.onnx", "dilated.onnx", pool(true))).unwrap_err(), &["dilated.onnx", "/inserted/AveragePool", "AveragePool with dilations"]);
    // before opset 13 a Softmax flattens the axes from its axis (default 1) on into one
    let softmax = |opset: i64| {
        move |m: &mut onnx_ir::ModelProto| {
            after_first_conv(m, "Softmax", vec![]);
            m.opset_import.iter_mut().for_each(|o| o.version = opset);
        }
    };
    assert!(load(&edited(dir.path(), "cnn.script.onnx", "softmax20.onnx", softmax(20))).is_ok(), "opset 20: over the last axis");
    one_line(&load(&edited(dir.path(), "cnn.script.onnx", "softmax12.onnx", softmax(12))).unwrap_err(), &["/inserted/Softmax", "Softmax of opset < 13 over axis 1 of a rank-4 input"]);
}
