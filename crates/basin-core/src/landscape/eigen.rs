//! Eigenvalue maps over a landscape (loss-landscape's `plot_hessian_eigen.py`): λ_max and
//! λ_min of the exact Hessian at a point of parameter space, both ends from one Lanczos run
//! on the same examples as the point's loss. Where λ_min < 0 the loss is not locally convex;
//! the ratio |λ_min/λ_max| over a grid is Li et al.'s convexity map (their §6).

use crate::batch::ExampleSet;
use crate::curvature::choice::{CurvatureOperator, OperatorKind};
use crate::curvature::lanczos::{LanczosConfig, lanczos};
use crate::curvature::Objective;
use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The two ends of the Hessian's spectrum at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExtremeEigen {
    /// The largest eigenvalue.
    pub max: f64,
    /// The smallest (most negative) eigenvalue.
    pub min: f64,
    /// Hessian-vector products the Lanczos run took.
    pub hvps: usize,
}

/// λ_max and λ_min of the exact Hessian of `model`'s loss over all of `set` (eval mode, in
/// batches of `batch`) with its trainable parameters replaced by `w`: one Lanczos run of at
/// most `max_iter` products, stopped when both ends meet the relative tolerance `tol`.
#[allow(clippy::too_many_arguments)]
pub fn extreme_eigenvalues<M: Classifier>(model: &M, w: &ParamVec, set: &dyn ExampleSet, batch: usize, max_iter: usize, tol: f64, seed: u64, device: &Device) -> Result<ExtremeEigen, BasinError> {
    let at = w.write_into(model.valid());
    let idx: Vec<usize> = (0..set.len()).collect();
    let mut op = CurvatureOperator::new(OperatorKind::Hessian, Objective::new(&at, set, &idx, batch, device), 0.0)?;
    let r = lanczos(&mut op, &LanczosConfig { k: 1, tol, max_iter, seed, smallest: false, bottom: 1 });
    Ok(ExtremeEigen { max: r.eigenvalues[0], min: r.bottom_eigenvalues[0], hvps: r.iterations })
}
