//! Reading an `.onnx` file: the protobuf (parsed by `onnx-ir`'s bindings of the ONNX schema),
//! the tensors it holds inline, and those PyTorch's dynamo exporter writes to an external data
//! file beside it (`model.onnx.data`, ONNX's `data_location = EXTERNAL` with `location`,
//! `offset`, `length`).

use crate::error::{OnnxError, bail};
use onnx_ir::{Message, ModelProto, TensorProto};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// ONNX `TensorProto.DataType` codes basin reads.
pub const FLOAT: i32 = 1;
/// 32-bit signed integer.
pub const INT32: i32 = 6;
/// 64-bit signed integer.
pub const INT64: i32 = 7;
/// 64-bit float.
pub const DOUBLE: i32 = 11;
/// Boolean (one byte).
pub const BOOL: i32 = 9;

/// A tensor's contents on the host: float data as f32, integer data as i64.
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    /// FLOAT or DOUBLE.
    Float(Vec<f32>),
    /// INT32, INT64 or BOOL.
    Int(Vec<i64>),
}

/// A tensor read from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Its shape.
    pub dims: Vec<usize>,
    /// Its elements, row-major.
    pub data: HostData,
}

/// A parsed model and the folder its external data is relative to.
pub struct OnnxFile {
    /// The file's path (for messages).
    pub path: PathBuf,
    /// The model as written.
    pub model: ModelProto,
    /// External data files read so far, by location.
    external: HashMap<String, Vec<u8>>,
}

impl OnnxFile {
    /// Reads and parses `path`. A file that is not an ONNX model (truncated, corrupt, empty
    /// graph) is an error naming the file.
    pub fn open(path: &Path) -> Result<OnnxFile, OnnxError> {
        let bytes = std::fs::read(path).map_err(|e| OnnxError(format!("{}: {e}", path.display())))?;
        let model = ModelProto::parse_from_bytes(&bytes).map_err(|e| OnnxError(format!("{}: not an ONNX model ({e})", path.display())))?;
        if model.graph.as_ref().is_none_or(|g| g.node.is_empty()) {
            bail!("{}: not an ONNX model (no graph or an empty one)", path.display());
        }
        Ok(OnnxFile { path: path.to_path_buf(), model, external: HashMap::new() })
    }

    /// The contents of `t` (inline or external). Errors name the file and the tensor.
    pub fn tensor(&mut self, t: &TensorProto) -> Result<HostTensor, OnnxError> {
        let what_s = format!("{}: tensor '{}'", self.path.display(), t.name);
        let what = || what_s.clone();
        let dims = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| OnnxError(format!("{}: negative dimension {d}", what()))))
            .collect::<Result<Vec<usize>, _>>()?;
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).filter(|&n| n <= 1 << 31).ok_or_else(|| OnnxError(format!("{}: shape {dims:?} is too large", what())))?;
        let external = t.data_location.value() == 1;
        let raw: Option<Vec<u8>> = if external { Some(self.external_bytes(t)?) } else { (!t.raw_data.is_empty()).then(|| t.raw_data.to_vec()) };
        let width = match t.data_type {
            FLOAT | INT32 => 4,
            INT64 | DOUBLE => 8,
            BOOL => 1,
            other => bail!("{}: element type {other} is not supported (float, double, int32, int64, bool)", what()),
        };
        let data = match raw {
            Some(raw) => {
                if raw.len() != n * width {
                    bail!("{}: holds {} bytes, its shape {dims:?} needs {}", what(), raw.len(), n * width);
                }
                let chunks = raw.chunks_exact(width);
                match t.data_type {
                    FLOAT => HostData::Float(chunks.map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()),
                    DOUBLE => HostData::Float(chunks.map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32).collect()),
                    INT32 => HostData::Int(chunks.map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64).collect()),
                    INT64 => HostData::Int(chunks.map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()),
                    _ => HostData::Int(chunks.map(|c| c[0] as i64).collect()),
                }
            }
            None => match t.data_type {
                FLOAT => HostData::Float(t.float_data.clone()),
                DOUBLE => HostData::Float(t.double_data.iter().map(|&x| x as f32).collect()),
                INT64 => HostData::Int(t.int64_data.clone()),
                _ => HostData::Int(t.int32_data.iter().map(|&x| x as i64).collect()),
            },
        };
        let len = match &data {
            HostData::Float(v) => v.len(),
            HostData::Int(v) => v.len(),
        };
        if len != n {
            bail!("{}: holds {len} elements, its shape {dims:?} needs {n}", what());
        }
        Ok(HostTensor { dims, data })
    }

    /// The bytes of an external tensor: `location` (relative to the model's folder, no `..`),
    /// `offset` and `length`.
    fn external_bytes(&mut self, t: &TensorProto) -> Result<Vec<u8>, OnnxError> {
        let what = || format!("{}: tensor '{}'", self.path.display(), t.name);
        let key = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let Some(location) = key("location") else { bail!("{}: external data without a location", what()) };
        if Path::new(&location).components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            bail!("{}: external data location '{location}' leaves the model's folder", what());
        }
        let num = |k: &str| key(k).map(|v| v.parse::<usize>().map_err(|_| OnnxError(format!("{}: external data {k} '{v}' is not a number", what())))).transpose();
        let (offset, length) = (num("offset")?.unwrap_or(0), num("length")?);
        if !self.external.contains_key(&location) {
            let file = self.path.parent().unwrap_or(Path::new(".")).join(&location);
            let bytes = std::fs::read(&file).map_err(|e| OnnxError(format!("{}: external data of tensor '{}': {e}", file.display(), t.name)))?;
            self.external.insert(location.clone(), bytes);
        }
        let bytes = &self.external[&location];
        let end = length.map_or(Some(bytes.len()), |l| offset.checked_add(l));
        match end {
            Some(end) if end <= bytes.len() && offset <= end => Ok(bytes[offset..end].to_vec()),
            _ => bail!("{}: external data [{offset}, +{length:?}) lies beyond the end of '{location}' ({} bytes)", what(), bytes.len()),
        }
    }
}
