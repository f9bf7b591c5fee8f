//! One diagonal block of a curvature operator: H_LL, the curvature restricted to one parameter
//! group L (a layer's weight and bias, or a single tensor) — PyHessian's per-layer spectra.
//!
//! The block acts as P H P with P the projection onto the group's coordinates; its start and
//! probe vectors live in the group, so Lanczos, Hutchinson and SLQ see exactly H_LL.

use super::operator::LinearOperator;
use crate::error::BasinError;
use crate::paramvec::{ParamVec, Slot};

/// The parameter-group selector: `name` matches a parameter whose path is `name` or starts
/// with `name.` (`hidden.0` selects `hidden.0.weight` and `hidden.0.bias`).
pub fn in_group(path: &str, name: &str) -> bool {
    path == name || path.strip_prefix(name).is_some_and(|rest| rest.starts_with('.'))
}

/// The layer names of a parameter layout (paths without the final `.weight`, `.bias`, …).
pub fn layer_names(w: &ParamVec) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in w.slots.iter() {
        let layer = s.path.rsplit_once('.').map_or(s.path.as_str(), |(l, _)| l).to_string();
        if !names.contains(&layer) {
            names.push(layer);
        }
    }
    names
}

/// `op` restricted to the parameter group `name`.
pub struct Block<O> {
    op: O,
    name: String,
    dim: usize,
}

impl<O: LinearOperator<V = ParamVec>> Block<O> {
    /// The block of `op` (whose vectors have the layout of `w`) for group `name`; an error
    /// naming the known layers when nothing matches.
    pub fn new(op: O, w: &ParamVec, name: &str) -> Result<Self, BasinError> {
        let dim: usize = w.slots.iter().filter(|s| in_group(&s.path, name)).map(Slot::numel).sum();
        if dim == 0 {
            return Err(BasinError::config("layer", format!("no parameters named '{name}' (layers: {})", layer_names(w).join(", "))));
        }
        Ok(Block { op, name: name.to_string(), dim })
    }
    fn project(&self, v: &ParamVec) -> ParamVec {
        v.masked(|s| in_group(&s.path, &self.name))
    }
}

impl<O: LinearOperator<V = ParamVec>> LinearOperator for Block<O> {
    type V = ParamVec;
    fn apply(&mut self, v: &ParamVec) -> ParamVec {
        let pv = self.project(v);
        let hv = self.op.apply(&pv);
        self.project(&hv)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn rademacher(&self, seed: u64) -> ParamVec {
        self.project(&self.op.rademacher(seed))
    }
    fn gaussian(&self, seed: u64) -> ParamVec {
        self.project(&self.op.gaussian(seed))
    }
    fn calls(&self) -> usize {
        self.op.calls()
    }
}
