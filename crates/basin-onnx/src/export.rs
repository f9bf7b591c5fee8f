//! The trained weights back out: the original ONNX graph with the trained initializers
//! ([`onnx_bytes`]), and the initializers under their names as safetensors
//! ([`safetensors_bytes`]), which are PyTorch `state_dict` names under both exporters.

use crate::error::{OnnxError, bail};
use crate::file::{BOOL, DOUBLE, FLOAT, INT32, INT64};
use crate::net::OnnxNet;
use onnx_ir::{Message, TensorProto};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// The ONNX file `source` was read from, with every initializer `net` holds replaced by its
/// trained value (weights, biases, normalization parameters, batch-norm running statistics),
/// all stored inline (a single file, no external data), each in its element type as written
/// (a DOUBLE parameter stays DOUBLE, an INT32 or BOOL tensor stays so). Everything else (nodes,
/// opset, metadata) is kept as written.
pub fn onnx_bytes(net: &OnnxNet, source: &Path) -> Result<Vec<u8>, OnnxError> {
    let mut file = crate::file::OnnxFile::open(source)?;
    let named = net.named_tensors();
    let trained: HashMap<&str, &Vec<f32>> = named.iter().map(|(p, v)| (p.name.as_str(), v)).collect();
    // read external tensors inline first, then replace the trained ones
    let graph = file.model.graph.as_ref().expect("checked by open").clone();
    let mut inits = Vec::with_capacity(graph.initializer.len());
    for t in &graph.initializer {
        let mut t: TensorProto = t.clone();
        if let Some(v) = trained.get(t.name.as_str()) {
            set_floats(&mut t, v)?;
        } else if t.data_location.value() == 1 {
            let host = file.tensor(&t)?;
            match host.data {
                crate::file::HostData::Float(v) => set_floats(&mut t, &v)?,
                crate::file::HostData::Int(v) => set_ints(&mut t, &v),
            }
        }
        inits.push(t);
    }
    // names the file gave by an Identity of another initializer (see `program`) become
    // initializers of their own, with their trained values, and the Identity goes
    let present: std::collections::HashSet<String> = inits.iter().map(|t| t.name.clone()).collect();
    let mut aliased = std::collections::HashSet::new();
    for (p, v) in &named {
        if !present.contains(&p.name) {
            let mut t = TensorProto::new();
            t.name = p.name.clone();
            t.dims = p.dims.iter().map(|&d| d as i64).collect();
            set_floats(&mut t, v)?;
            inits.push(t);
            aliased.insert(p.name.clone());
        }
    }
    let model = &mut file.model;
    let g = model.graph.as_mut().expect("checked");
    g.node.retain(|n| !(n.op_type == "Identity" && n.output.first().is_some_and(|o| aliased.contains(o))));
    g.initializer = inits;
    model.write_to_bytes().map_err(|e| OnnxError(format!("{}: cannot encode the model: {e}", source.display())))
}

fn set_floats(t: &mut TensorProto, v: &[f32]) -> Result<(), OnnxError> {
    let n: i64 = t.dims.iter().product();
    if n as usize != v.len() {
        bail!("initializer '{}': {} trained values for shape {:?}", t.name, v.len(), t.dims);
    }
    t.float_data.clear();
    t.double_data.clear();
    t.raw_data = if t.data_type == DOUBLE {
        v.iter().flat_map(|&x| f64::from(x).to_le_bytes()).collect::<Vec<u8>>().into()
    } else {
        t.data_type = FLOAT;
        v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>().into()
    };
    inline(t);
    Ok(())
}

/// `v` into `t` inline, in `t`'s integer type (INT32, BOOL; INT64 otherwise).
fn set_ints(t: &mut TensorProto, v: &[i64]) {
    t.int32_data.clear();
    t.int64_data.clear();
    t.raw_data = match t.data_type {
        INT32 => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect::<Vec<u8>>(),
        BOOL => v.iter().map(|&x| u8::from(x != 0)).collect(),
        _ => {
            t.data_type = INT64;
            v.iter().flat_map(|x| x.to_le_bytes()).collect()
        }
    }
    .into();
    inline(t);
}

fn inline(t: &mut TensorProto) {
    t.external_data.clear();
    t.data_location = Default::default();
}

/// The trained tensors under their initializer names (float32, the file's shapes), and for
/// each batch norm named as PyTorch names it (`….running_mean`) PyTorch's
/// `num_batches_tracked` (int64, `batches`), so that PyTorch's
/// `model.load_state_dict(safetensors.torch.load_file(F))` accepts the file with its default
/// `strict=True`. A batch norm named otherwise (not PyTorch's) gets none.
pub fn safetensors_bytes(net: &OnnxNet, batches: i64) -> Result<Vec<u8>, OnnxError> {
    let mut bufs: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = vec![];
    for (p, v) in net.named_tensors() {
        bufs.push((p.name.clone(), p.dims.clone(), Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    for spec in &net.program().layers {
        if let crate::program::LayerSpec::BatchNorm { mean, .. } = spec
            && let Some(prefix) = mean.0.name.strip_suffix("running_mean")
        {
            bufs.push((format!("{prefix}num_batches_tracked"), vec![], Dtype::I64, batches.to_le_bytes().to_vec()));
        }
    }
    let views: Vec<(String, TensorView)> = bufs
        .iter()
        .map(|(n, d, t, b)| TensorView::new(*t, d.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| OnnxError(format!("safetensors: {e}")))?;
    safetensors::tensor::serialize(views, None).map_err(|e| OnnxError(format!("safetensors: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written back, each tensor keeps its element type and its values (read back by the
    /// same reader as an imported file).
    #[test]
    fn tensors_keep_their_element_type() {
        let mut file = crate::file::OnnxFile::open(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx/mlp.script.onnx")).unwrap();
        let tensor = |data_type: i32| {
            let mut t = TensorProto::new();
            t.name = format!("t{data_type}");
            t.dims = vec![3];
            t.data_type = data_type;
            t
        };
        for dt in [FLOAT, DOUBLE] {
            let mut t = tensor(dt);
            set_floats(&mut t, &[0.5, -1.25, 3.0]).unwrap();
            assert_eq!(t.data_type, dt);
            assert_eq!(file.tensor(&t).unwrap().data, crate::file::HostData::Float(vec![0.5, -1.25, 3.0]));
        }
        for (dt, v) in [(INT32, vec![7, -2, 0]), (INT64, vec![1 << 40, -2, 0]), (BOOL, vec![1, 0, 1])] {
            let mut t = tensor(dt);
            set_ints(&mut t, &v);
            assert_eq!(t.data_type, dt);
            assert_eq!(file.tensor(&t).unwrap().data, crate::file::HostData::Int(v));
        }
    }
}
