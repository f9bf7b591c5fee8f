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

/// Calls `f(path, id, flat, shape)` for every float tensor of `model` (parameters and running
/// state) in module order, with the dotted module path, flattened and without autodiff.
pub fn for_each_float<M: Module>(model: &M, f: impl FnMut(&str, ParamId, Tensor<1>, Vec<usize>)) {
    struct Walk<F> {
        path: Vec<String>,
        f: F,
    }
    impl<F: FnMut(&str, ParamId, Tensor<1>, Vec<usize>)> ModuleVisitor for Walk<F> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n = t.shape().num_elements();
            let flat: Tensor<1> = t.reshape([n]);
            let flat = if flat.is_autodiff() { flat.inner() } else { flat };
            (self.f)(&self.path.join("."), param.id, flat, shape);
        }
    }
    model.visit(&mut Walk { path: Vec::new(), f });
}

/// Whether every float tensor of `model` (parameters and running statistics) is finite: no
/// checkpoint or final model is written otherwise.
pub fn all_finite<M: Module>(model: &M) -> bool {
    let mut ok = true;
    for_each_float(model, |_, _, t, _| {
        if ok {
            ok = !t.is_finite().bool_not().any().into_scalar::<bool>();
        }
    });
    ok
}

/// Every float parameter of `model`, in module order.
pub fn collect<M: Module>(model: &M) -> Vec<ParamEntry> {
    let mut out = Vec::new();
    for_each_float(model, |path, id, t, shape| {
        out.push(ParamEntry { id, path: path.to_string(), shape, values: t.to_data().convert::<f32>().try_to_vec::<f32>().expect("float data") });
    });
    out
}

/// All float parameters concatenated in module order.
pub fn flatten<M: Module>(model: &M) -> Vec<f32> {
    collect(model).into_iter().flat_map(|e| e.values).collect()
}
