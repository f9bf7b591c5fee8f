//! Eigenvalue maps over a landscape (loss-landscape's `plot_hessian_eigen.py`): λ_max and
//! λ_min of the exact Hessian at a point of parameter space, both ends from one Lanczos run
//! on the same examples as the point's loss. Where λ_min < 0 the loss is not locally convex;
//! the ratio |λ_min/λ_max| over a grid is Li et al.'s convexity map (their §6).
//!
//! Which parameters: loss-landscape takes the Hessian over the weight tensors only
//! (`hess_vec_prod.py`: `[p for p in net.parameters() if len(p.size()) > 1]`), not biases or
//! batch-norm parameters; basin offers that ([`EigenParams::Weights`]) and the Hessian over
//! every trainable parameter ([`EigenParams::All`]). Two more differences, kept: loss-landscape
//! sums the batch Hessians over its loader without dividing (an operator n_batches times
//! basin's Hessian of the mean loss), and finds λ_min by a second `eigsh` on H − 0.51 λ_max I;
//! basin takes both ends from one Lanczos run.
//!
//! λ_min near 0 rarely meets a relative tolerance: each end carries its residual and whether it
//! converged, and a map draws the unconverged points as such.

use crate::batch::ExampleSet;
use crate::curvature::block::{Block, Selection};
use crate::curvature::choice::{CurvatureOperator, OperatorKind};
use crate::curvature::lanczos::{LanczosConfig, lanczos};
use crate::curvature::Objective;
use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// The parameters an eigenvalue map's Hessian is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EigenParams {
    /// Every trainable parameter (basin's default, as every other basin instrument).
    #[default]
    All,
    /// The weight tensors only (rank > 1), as loss-landscape's `plot_hessian_eigen.py`.
    Weights,
}

impl EigenParams {
    /// Parses `all` / `weights`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(EigenParams::All),
            "weights" => Some(EigenParams::Weights),
            _ => None,
        }
    }
}

/// The two ends of the Hessian's spectrum at one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExtremeEigen {
    /// The largest eigenvalue.
    pub max: f64,
    /// The smallest (most negative) eigenvalue.
    pub min: f64,
    /// ‖H y − θ y‖ of the top Ritz pair.
    pub max_residual: f64,
    /// ‖H y − θ y‖ of the bottom Ritz pair.
    pub min_residual: f64,
    /// Whether the top pair met the relative tolerance (residual ≤ tol·|λ_max|).
    pub max_converged: bool,
    /// Whether the bottom pair met it (residual ≤ tol·|λ_min|).
    pub min_converged: bool,
    /// Hessian-vector products the Lanczos run took.
    pub hvps: usize,
}

/// How an eigenvalue map runs at each point: the parameters, and the Lanczos budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EigenSettings {
    /// Which parameters the Hessian is over.
    pub params: EigenParams,
    /// Hessian-vector products at most.
    pub max_iter: usize,
    /// Relative residual tolerance of both ends.
    pub tol: f64,
    /// Lanczos start vector's seed.
    pub seed: u64,
}

/// λ_max and λ_min of the exact Hessian of `model`'s loss over all of `set` (eval mode, in
/// batches of `batch`) with its trainable parameters replaced by `w`, over the parameters of
/// `s.params`: one Lanczos run of at most `s.max_iter` products, stopped when both ends meet
/// the relative tolerance `s.tol`.
pub fn extreme_eigenvalues<M: Classifier>(model: &M, w: &ParamVec, set: &dyn ExampleSet, batch: usize, s: &EigenSettings, device: &Device) -> Result<ExtremeEigen, BasinError> {
    let at = w.write_into(model.valid());
    let idx: Vec<usize> = (0..set.len()).collect();
    let op = CurvatureOperator::new(OperatorKind::Hessian, Objective::new(&at, set, &idx, batch, device), 0.0)?;
    let cfg = LanczosConfig { k: 1, tol: s.tol, max_iter: s.max_iter, seed: s.seed, smallest: false, bottom: 1 };
    let r = match s.params {
        EigenParams::All => lanczos(&mut { op }, &cfg),
        EigenParams::Weights => lanczos(&mut Block::of(op, w, Selection::Weights)?, &cfg),
    };
    let met = |res: f64, lambda: f64| res <= s.tol * lambda.abs().max(1e-12);
    let (max, min, max_residual, min_residual) = (r.eigenvalues[0], r.bottom_eigenvalues[0], r.residuals[0], r.bottom_residuals[0]);
    Ok(ExtremeEigen { max, min, max_residual, min_residual, max_converged: met(max_residual, max), min_converged: met(min_residual, min), hvps: r.iterations })
}
