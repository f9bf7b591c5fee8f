//! Reading a model's float parameters as plain host vectors (in module order), the basis of
//! weight comparisons and of the parameter-vector algebra of the curvature tools.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// One float parameter: its id, dotted path (`hidden.0.weight`), shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    /// Burn's parameter id.
    pub id: ParamId,
    /// Dotted module path of the parameter.
    pub path: String,
    /// Tensor shape.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

struct Collect {
    out: Vec<ParamEntry>,
}

impl ModuleVisitor for Collect {
    fn visit_float_with_path<const D: usize>(&mut self, path: &[String], id: ParamId, tensor: &Tensor<D>) {
        self.out.push(ParamEntry {
            id,
            path: path.join("."),
            shape: tensor.dims().to_vec(),
            values: tensor.to_data().convert::<f32>().try_to_vec::<f32>().expect("float data"),
        });
    }
    fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {}
}

/// Every float parameter of `model`, in module order.
pub fn collect<M: Module>(model: &M) -> Vec<ParamEntry> {
    let mut c = Collect { out: Vec::new() };
    model.visit(&mut c);
    c.out
}

/// All float parameters concatenated in module order.
pub fn flatten<M: Module>(model: &M) -> Vec<f32> {
    collect(model).into_iter().flat_map(|e| e.values).collect()
}
