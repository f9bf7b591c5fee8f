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
    path: Vec<String>,
    out: Vec<ParamEntry>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        self.out.push(ParamEntry {
            id: param.id,
            path: self.path.join("."),
            shape: tensor.dims().to_vec(),
            values: tensor.to_data().convert::<f32>().try_to_vec::<f32>().expect("float data"),
        });
    }
}

/// Every float parameter of `model`, in module order.
pub fn collect<M: Module>(model: &M) -> Vec<ParamEntry> {
    let mut c = Collect { path: Vec::new(), out: Vec::new() };
    model.visit(&mut c);
    c.out
}

/// All float parameters concatenated in module order.
pub fn flatten<M: Module>(model: &M) -> Vec<f32> {
    collect(model).into_iter().flat_map(|e| e.values).collect()
}
