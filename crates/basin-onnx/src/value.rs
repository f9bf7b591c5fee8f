//! The values an ONNX graph passes between nodes. Float activations are [`Dual`]s of rank 6,
//! whatever their rank r ≤ 6 in the graph: the leading 6 − r axes have length 1, so Burn's
//! broadcasting of length-1 axes is ONNX's (NumPy's) broadcasting of trailing axes, and every
//! op is written once for every rank. Integer values (shapes, axes, indices: the exporters'
//! shape arithmetic for a dynamic batch) live on the host.

use crate::error::{OnnxError, bail};
use crate::file::{HostData, HostTensor};
use basin_zoo::jvp::{Dual, Pass};
use burn::tensor::{Device, Tensor, TensorData};

/// The rank every float value is held at.
pub const RANK: usize = 6;

/// A float activation and its logical rank.
#[derive(Debug, Clone)]
pub struct FloatVal {
    /// The value and its tangent, padded to [`RANK`] with leading 1s.
    pub x: Dual<RANK>,
    /// The rank in the graph.
    pub rank: usize,
}

/// A host integer tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Ints {
    /// Its shape (empty for a scalar).
    pub dims: Vec<usize>,
    /// Its elements.
    pub data: Vec<i64>,
}

/// A value of the graph (a few live at a time: the size of the float variant does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Value {
    /// A float tensor (with its tangent in a tangent pass).
    Float(FloatVal),
    /// An integer tensor on the host.
    Int(Ints),
}

/// `dims` padded with leading 1s to [`RANK`].
pub fn padded(dims: &[usize]) -> [usize; RANK] {
    let mut p = [1; RANK];
    p[RANK - dims.len()..].copy_from_slice(dims);
    p
}

impl FloatVal {
    /// A value of logical shape `dims` from a tensor of any rank holding it.
    pub fn of<const D: usize>(x: Dual<D>, dims: &[usize]) -> Result<FloatVal, OnnxError> {
        if dims.len() > RANK {
            bail!("rank {} is beyond the {RANK} basin supports", dims.len());
        }
        let shape = padded(dims);
        Ok(FloatVal { x: x.map(|t| t.reshape(shape)), rank: dims.len() })
    }

    /// The logical shape.
    pub fn dims(&self) -> Vec<usize> {
        self.x.value.dims()[RANK - self.rank..].to_vec()
    }

    /// As a tensor of rank `D` = its logical rank.
    pub fn to<const D: usize>(self) -> Dual<D> {
        assert_eq!(self.rank, D, "rank of an ONNX value");
        let dims: [usize; D] = self.dims().try_into().expect("rank checked");
        self.x.map(|t| t.reshape(dims))
    }

    /// The padded index of logical axis `a` (negative counts from the end).
    pub fn axis(&self, a: i64) -> Result<usize, OnnxError> {
        Ok(RANK - self.rank + norm_axis(a, self.rank)?)
    }

    /// With its tangent broadcast to the value's shape (after an op whose operands broadcast).
    pub fn full_tangent(mut self) -> FloatVal {
        let shape = self.x.value.shape();
        self.x.tangent = self.x.tangent.map(|t| if t.shape() == shape { t } else { t.expand(shape.clone()) });
        self
    }
}

/// Axis `a` of a rank-`rank` tensor, negative counting from the end.
pub fn norm_axis(a: i64, rank: usize) -> Result<usize, OnnxError> {
    let r = rank as i64;
    if a < -r || a >= r.max(1) {
        bail!("axis {a} is out of range for rank {rank}");
    }
    Ok(if a < 0 { (a + r) as usize } else { a as usize })
}

impl Value {
    /// The float value (integers converted, as Cast does), on `device` in pass `pass`.
    pub fn float(self, device: &Device, pass: Pass) -> Result<FloatVal, OnnxError> {
        match self {
            Value::Float(f) => Ok(f),
            Value::Int(i) => float_const(&HostTensor { dims: i.dims.clone(), data: HostData::Int(i.data) }, device, pass),
        }
    }

    /// The integer value, or an error (a float activation used as a shape).
    pub fn ints(self) -> Result<Ints, OnnxError> {
        match self {
            Value::Int(i) => Ok(i),
            Value::Float(_) => bail!("expects an integer tensor (a shape, axes or indices) but gets a float activation"),
        }
    }

    /// The logical shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::Float(f) => f.dims(),
            Value::Int(i) => i.dims.clone(),
        }
    }
}

/// A constant of the graph as a value: integers on the host, floats on `device` with a zero
/// tangent, in pass `pass`.
pub fn constant(t: &HostTensor, device: &Device, pass: Pass) -> Result<Value, OnnxError> {
    match &t.data {
        HostData::Int(v) => Ok(Value::Int(Ints { dims: t.dims.clone(), data: v.clone() })),
        HostData::Float(_) => Ok(Value::Float(float_const(t, device, pass)?)),
    }
}

/// A float constant (zero tangent).
fn float_const(t: &HostTensor, device: &Device, pass: Pass) -> Result<FloatVal, OnnxError> {
    let data: Vec<f32> = match &t.data {
        HostData::Float(v) => v.clone(),
        HostData::Int(v) => v.iter().map(|&x| x as f32).collect(),
    };
    if t.dims.len() > RANK {
        bail!("rank {} is beyond the {RANK} basin supports", t.dims.len());
    }
    let x = Tensor::<RANK>::from_data(TensorData::new(data, padded(&t.dims)), device);
    Ok(FloatVal { x: Dual { value: x, tangent: None, pass }, rank: t.dims.len() })
}
