//! Networks exported by PyTorch 2.9.1's two exporters (`scripts/onnx_fixtures.py`), against
//! float64 references PyTorch computed on the same weights and the same 32 MNIST-slice images (the
//! regressor: the 352 training rows of diabetes.npz, fitted by the mean squared error): the logits, the loss and its gradient, H·v for a fixed v by double backward, and the top-3
//! Hessian eigenvalues by ARPACK on that operator. basin runs each graph in float32, so the
//! tolerances are float32 round-off: logits and gradient 1e-5 relative, H·v 1e-4, eigenvalues
//! 1e-4.

use basin_core::Classifier;
use basin_core::curvature::{Differentiable, Objective};
use basin_core::paramvec::ParamVec;
use basin_onnx::OnnxNet;
use burn::tensor::Device;
use std::collections::HashMap;

mod common;
use basin_core::batch::ExampleSet;
use common::{Ref, data_of, fixtures, rel};

/// A ParamVec of `model`'s layout holding the named tensors (file layout).
fn vec_of(net: &OnnxNet, point: &ParamVec, named: &HashMap<String, Vec<f32>>) -> ParamVec {
    let filled = net.clone().with_named(named).unwrap();
    point.from_host(&ParamVec::from_model(&filled).to_host(), &point.device())
}

/// The named tensors of a ParamVec (file layout), for the parameters `names` lists.
fn named_of(net: &OnnxNet, v: &ParamVec) -> HashMap<String, Vec<f64>> {
    let m = v.write_into(net.clone());
    m.named_tensors().into_iter().map(|(p, x)| (p.name, x.into_iter().map(f64::from).collect())).collect()
}

fn check(name: &str, exporter: &str) {
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let r = Ref::load(name);
    let net = OnnxNet::load(&fixtures().join(format!("{name}.{exporter}.onnx")), &ad).unwrap();
    let set = data_of(name);
    let classes = net.check_input(&set.shape, &ad).unwrap();
    assert_eq!(classes, set.num_classes);
    // the parameter count is PyTorch's
    let count: usize = r.json["params"].as_object().unwrap().values().map(|s| s.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).product::<usize>()).sum();
    assert_eq!(ParamVec::from_model(&net).numel(), count, "{name}.{exporter}: parameter count");

    // logits, evaluation mode
    let idx: Vec<usize> = (0..set.len()).collect();
    let x = set.batch(&idx, None, &dev).images;
    let valid = burn::module::Module::valid(&net);
    let z: Vec<f64> = valid.logits(x).into_data().iter::<f32>().map(f64::from).collect();
    let zr: Vec<f64> = r.json["logits"].as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap())).collect();
    let e = rel(&z, &zr);
    println!("{name}.{exporter}: logits rel {e:.2e}");
    assert!(e < 1e-5, "{name}.{exporter}: logits differ from PyTorch's by {e:.2e}");

    // loss and gradient
    let mut obj = Objective::new(&net, &set, &idx, 32, &dev);
    let p = obj.point().clone();
    let (loss, g) = obj.loss_grad(&p);
    let lr = r.json["loss"].as_f64().unwrap();
    assert!((loss - lr).abs() < 1e-5 * lr.abs(), "{name}.{exporter}: loss {loss} vs {lr}");
    let compare = |what: &str, ours: &HashMap<String, Vec<f64>>, theirs: &HashMap<String, Vec<f64>>, tol: f64| {
        let (mut a, mut b) = (vec![], vec![]);
        for (k, v) in theirs {
            a.extend_from_slice(&ours[k]);
            b.extend_from_slice(v);
        }
        let e = rel(&a, &b);
        println!("{name}.{exporter}: {what} rel {e:.2e}");
        assert!(e < tol, "{name}.{exporter}: {what} differs from PyTorch's by {e:.2e}");
    };
    compare("gradient", &named_of(&net, &g), &r.named64("grad"), 1e-5);

    // H v for PyTorch's v
    let v = vec_of(&net, &p, &r.named("v"));
    let hv = obj.hvp(&v);
    compare("H·v", &named_of(&net, &hv), &r.named64("hv"), 1e-4);

    // top-3 eigenvalues
    let mut op = basin_core::curvature::exact_hessian::ExactHessianOperator::new(obj).unwrap();
    let cfg = basin_core::curvature::lanczos::LanczosConfig { k: 3, tol: 1e-7, max_iter: 80, ..Default::default() };
    let top = basin_core::curvature::lanczos::lanczos(&mut op, &cfg).eigenvalues;
    let want: Vec<f64> = r.json["top3"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for (a, b) in top.iter().zip(&want) {
        println!("{name}.{exporter}: λ {a:.8} vs {b:.8}");
        assert!((a - b).abs() < 1e-4 * b.abs().max(1.0), "{name}.{exporter}: eigenvalues {top:?} vs PyTorch/ARPACK {want:?}");
    }
}

#[test]
fn mlp_dynamo() {
    check("mlp", "dynamo");
}
#[test]
fn mlp_script() {
    check("mlp", "script");
}
#[test]
fn cnn_dynamo() {
    check("cnn", "dynamo");
}
#[test]
fn cnn_script() {
    check("cnn", "script");
}
#[test]
fn resnet_dynamo() {
    check("resnet", "dynamo");
}
#[test]
fn resnet_script() {
    check("resnet", "script");
}
#[test]
fn mixer_dynamo() {
    check("mixer", "dynamo");
}
#[test]
fn mixer_script() {
    check("mixer", "script");
}
/// Float targets: the loss is nn.MSELoss's mean over every entry, and so are its gradient, H·v
/// and eigenvalues.
#[test]
fn regressor_dynamo() {
    check("regressor", "dynamo");
}
#[test]
fn regressor_script() {
    check("regressor", "script");
}

/// A fresh model through the TorchScript exporter: equal initializers are stored once and the
/// others named by Identity nodes (here each batch norm's running statistics by its scale and
/// shift). Each name is a tensor of its own: the parameters train apart from the statistics,
/// and the export writes every name back as an initializer.
#[test]
fn initializers_the_exporter_deduplicated_are_tensors_of_their_own() {
    let dev = Device::flex();
    let path = fixtures().join("cnn_fresh.script.onnx");
    let net = OnnxNet::load(&path, &dev).unwrap();
    assert_eq!(net.num_trainable(), 9130);
    let names: Vec<String> = net.named_tensors().into_iter().map(|(p, _)| p.name).collect();
    for n in ["b1.weight", "b1.running_var", "b2.bias", "b2.running_mean"] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    // a changed scale leaves the running variance it was stored with alone
    let mut named = HashMap::new();
    named.insert("b1.weight".to_string(), vec![2.0f32; 8]);
    let moved = net.with_named(&named).unwrap();
    let get = |n: &OnnxNet, k: &str| n.named_tensors().into_iter().find(|(p, _)| p.name == k).unwrap().1;
    assert_eq!(get(&moved, "b1.weight"), vec![2.0; 8]);
    assert_eq!(get(&moved, "b1.running_var"), vec![1.0; 8]);
    // written back, every name is an initializer and the Identity nodes are gone
    let bytes = basin_onnx::export::onnx_bytes(&moved, &path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("back.onnx");
    std::fs::write(&out, bytes).unwrap();
    let back = OnnxNet::load(&out, &dev).unwrap();
    assert_eq!(get(&back, "b1.weight"), vec![2.0; 8]);
    assert_eq!(get(&back, "b1.running_var"), vec![1.0; 8]);
    assert_eq!(back.named_tensors().len(), moved.named_tensors().len());
}
