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

/// `model` with the parameters `ids` frozen: they take no gradient, so a training step leaves
/// them where they are ([`crate::task::train_step`] drops parameters without a gradient from
/// the optimizer's step, and no estimator moves them).
pub fn freeze<M: Module>(model: M, ids: &[ParamId]) -> M {
    struct Freeze<'a>(&'a [ParamId]);
    impl burn::module::ModuleMapper for Freeze<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if self.0.contains(&param.id) { param.set_require_grad(false) } else { param }
        }
    }
    model.map(&mut Freeze(ids))
}

/// Whether every float tensor of `model` (parameters and running statistics) is finite: no
/// checkpoint or final model is written otherwise.
///
/// Checked once per training step, so it costs one reduction pass and one host read: a sum
/// is finite whenever every term is (a NaN or ±∞ term makes it NaN or ±∞). Only a non-finite
/// sum, which finite terms can also give by overflowing, is checked value by value.
pub fn all_finite<M: Module>(model: &M) -> bool {
    let mut sums = Vec::new();
    for_each_float(model, |_, _, t, _| sums.push(t.sum()));
    if sums.is_empty() || Tensor::cat(sums, 0).sum().into_scalar::<f32>().is_finite() {
        return true;
    }
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

#[cfg(test)]
mod tests {
    use super::all_finite;
    use crate::paramvec::ParamVec;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    #[test]
    fn all_finite_finds_one_bad_value_and_is_not_fooled_by_an_overflowing_sum() {
        let dev = Device::flex();
        let model = LinearConfig::new(3, 2).init(&dev);
        let w = ParamVec::from_model(&model);
        let with = |i: usize, v: f32| {
            let mut h = w.to_host();
            h[i] = v;
            w.from_host(&h, &dev).write_into(model.clone())
        };
        assert!(all_finite(&model));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for i in [0, 4, w.numel() - 1] {
                assert!(!all_finite(&with(i, bad)), "{bad} at {i} not found");
            }
        }
        // finite values whose sum overflows f32: still all finite
        let big = w.from_host(&vec![3.0e38; w.numel()], &dev).write_into(model.clone());
        assert!(all_finite(&big));
    }
}
