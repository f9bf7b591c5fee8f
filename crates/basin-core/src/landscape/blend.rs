//! Σ cᵢ·wᵢ over *every* float tensor of several models of the same architecture (parameters
//! and batch-norm running statistics), matched in module order.

use crate::model::Classifier;
use burn::module::{ModuleMapper, Param};
use burn::tensor::Tensor;

/// All float tensors of `m`, flattened, in module order, with a flag for running variances.
pub fn blend_plan<M: Classifier>(m: &M) -> (Vec<Tensor<1>>, Vec<bool>) {
    m.sync_running_stats();
    let (mut out, mut running) = (Vec::new(), Vec::new());
    crate::params::for_each_float(m, |path, _, t, _| {
        out.push(t);
        running.push(path.rsplit('.').next() == Some("running_var"));
    });
    (out, running)
}

struct Write {
    values: Vec<Tensor<1>>,
    i: usize,
}

impl ModuleMapper for Write {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, old, mapper) = param.consume();
        let shape: [usize; D] = old.dims();
        let v = self.values[self.i].clone().to_device(&old.device().inner()).reshape(shape);
        self.i += 1;
        let v = if old.is_autodiff() { Tensor::from_inner(v) } else { v };
        Param::from_mapped_value(id, v, mapper)
    }
}

/// A model (architecture of `template`, which it does not modify) whose every float tensor is
/// Σ coef\[i\]·(that tensor of `models[i]`). Running variances are floored at 0.
pub fn blend<M: Classifier>(template: &M, models: &[(&M, f64)]) -> M {
    let plans: Vec<(Vec<Tensor<1>>, Vec<bool>)> = models.iter().map(|(m, _)| blend_plan(*m)).collect();
    let running = plans[0].1.clone();
    let n = plans[0].0.len();
    let values: Vec<Tensor<1>> = (0..n)
        .map(|j| {
            let mut acc: Option<Tensor<1>> = None;
            for ((p, _), (_, c)) in plans.iter().zip(models) {
                let term = if *c == 1.0 { p[j].clone() } else { p[j].clone().mul_scalar(*c) };
                acc = Some(match acc {
                    None => term,
                    Some(a) => if *c == 0.0 { a } else { a + term },
                });
            }
            let v = acc.expect("at least one model");
            if running[j] { v.clamp_min(0.0) } else { v }
        })
        .collect();
    // A deep copy of the template's structure: running state is shared between clones, so map
    // a `valid()` snapshot (its own state) rather than a clone.
    let base = template.valid();
    let mut w = Write { values, i: 0 };
    burn::module::Module::map(base, &mut w)
}
