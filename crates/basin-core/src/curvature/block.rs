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

/// Which parameters a [`Block`] keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One group ([`in_group`]).
    Group(String),
    /// The weight tensors, those of rank > 1 (loss-landscape's `len(p.size()) > 1`): no biases,
    /// no batch-norm scales and shifts.
    Weights,
}

impl Selection {
    /// Whether `slot` is selected.
    pub fn keeps(&self, slot: &Slot) -> bool {
        match self {
            Selection::Group(name) => in_group(&slot.path, name),
            Selection::Weights => slot.shape.len() > 1,
        }
    }
}

/// `op` restricted to a selection of its parameters.
pub struct Block<O> {
    op: O,
    selection: Selection,
    dim: usize,
}

impl<O: LinearOperator<V = ParamVec>> Block<O> {
    /// The block of `op` (whose vectors have the layout of `w`) for group `name`; an error
    /// naming the known layers when nothing matches.
    pub fn new(op: O, w: &ParamVec, name: &str) -> Result<Self, BasinError> {
        Self::of(op, w, Selection::Group(name.to_string()))
    }
    /// The block of `op` for `selection`; an error when it selects nothing.
    pub fn of(op: O, w: &ParamVec, selection: Selection) -> Result<Self, BasinError> {
        let dim: usize = w.slots.iter().filter(|s| selection.keeps(s)).map(Slot::numel).sum();
        if dim == 0 {
            return Err(match &selection {
                Selection::Group(name) => BasinError::config("layer", format!("no parameters named '{name}' (layers: {})", layer_names(w).join(", "))),
                Selection::Weights => BasinError::config("params", "the model has no weight tensor of rank > 1"),
            });
        }
        Ok(Block { op, selection, dim })
    }
    fn project(&self, v: &ParamVec) -> ParamVec {
        v.masked(|s| self.selection.keeps(s))
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

/// One row of the per-layer table ([`per_layer`]): the diagonal block H_LL of one parameter
/// group.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LayerCurvature {
    /// The group (a layer name of [`layer_names`]).
    pub layer: String,
    /// Its parameters (the block's dimension).
    pub parameters: usize,
    /// λ_max of H_LL (Lanczos).
    pub lambda_max: f64,
    /// The Lanczos residual of `lambda_max`.
    pub residual: f64,
    /// tr(H_LL) (Hutch++; exact when the products reach 3 × the block's dimension).
    pub trace: super::hutchinson::Estimate,
    /// ‖H_LL‖_F (E‖H_LL v‖², Rademacher probes).
    pub frobenius: super::hutchinson::Estimate,
}

/// What [`per_layer`] spends on each block.
#[derive(Debug, Clone, Copy)]
pub struct PerLayerConfig {
    /// Lanczos iterations at most, and its tolerance.
    pub max_iter: usize,
    /// Lanczos tolerance.
    pub tol: f64,
    /// Products for the trace.
    pub trace_matvecs: usize,
    /// Probes for the Frobenius norm.
    pub frobenius_samples: usize,
    /// Seed of every start and probe.
    pub seed: u64,
}

/// λ_max, trace and ‖·‖_F of every layer's diagonal block, one row per layer of `w`'s layout
/// (PyHessian's most requested feature: per-layer spectra in one command). `make` gives a fresh
/// operator over all parameters for each estimate.
pub fn per_layer<O: LinearOperator<V = ParamVec>>(w: &ParamVec, mut make: impl FnMut() -> O, cfg: PerLayerConfig) -> Result<Vec<LayerCurvature>, BasinError> {
    let mut rows = Vec::new();
    for name in layer_names(w) {
        let mut b = Block::new(make(), w, &name)?;
        let parameters = b.dim();
        let k = 1;
        let r = super::lanczos::lanczos(&mut b, &super::lanczos::LanczosConfig { k, tol: cfg.tol, max_iter: cfg.max_iter.min(parameters).max(k), seed: cfg.seed, smallest: false, bottom: 0 });
        let trace = super::hutch_pp::hutch_pp(&mut Block::new(make(), w, &name)?, cfg.trace_matvecs, cfg.seed);
        let frobenius = super::frobenius::frobenius(&mut Block::new(make(), w, &name)?, cfg.frobenius_samples, cfg.seed);
        rows.push(LayerCurvature { layer: name, parameters, lambda_max: r.eigenvalues[0], residual: r.residuals[0], trace, frobenius });
    }
    Ok(rows)
}
