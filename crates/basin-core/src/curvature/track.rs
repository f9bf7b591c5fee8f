//! Top eigenvalues of the Hessian (or another curvature operator) on a fixed subset of a data set — what `basin hessian` reports and
//! what the trainer tracks every N steps (the sharpest-directions paper tracks the top 30 on
//! ≈ 5 % of the training set), with the spread across independent subsets.

use super::lanczos::{LanczosConfig, lanczos};
use super::objective::{Objective, subset_indices};
use crate::batch::ExampleSet;
use crate::error::BasinError;
use crate::model::Classifier;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// `[curvature]` of a training config: eigenvalue tracking during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CurvatureConfig {
    /// Compute the top-k eigenvalues every N steps (0 = off); written to metrics.jsonl as
    /// `kind = "hessian"` lines.
    pub track_every: usize,
    /// Number of eigenvalues.
    pub top_k: usize,
    /// Fraction of the training set in the fixed subset.
    pub subset: f64,
    /// Lanczos steps at most.
    pub max_iter: usize,
    /// Relative residual tolerance.
    pub tol: f64,
    /// `hessian` (default, exact), `ggn` (Gauss–Newton) or `fd` (finite differences; see `choice`).
    pub operator: super::choice::OperatorKind,
    /// Relative finite-difference step ε of `ggn` and `fd` (0 = the operator's default: the
    /// exact tangent pass for `ggn`, 1e-3 for `fd`).
    pub eps: f64,
    /// Batch size of the subset passes.
    pub batch_size: usize,
    /// Steps at which to record the loss along the top eigenvector (to slices.jsonl).
    pub slice_at: Vec<u64>,
    /// At each tracking step also the alignment of the gradient (on the tracking subset) and of
    /// the optimizer's last step with the top-k eigenvectors (`alignment` in metrics.jsonl).
    pub track_alignment: bool,
}

impl Default for CurvatureConfig {
    fn default() -> Self {
        CurvatureConfig { track_every: 0, top_k: 5, subset: 0.05, max_iter: 50, tol: 1e-3, operator: super::choice::OperatorKind::Hessian, eps: 0.0, batch_size: 500, slice_at: Vec::new(), track_alignment: false }
    }
}

impl CurvatureConfig {
    /// Checks every field; errors name the key.
    pub fn validate(&self) -> Result<(), BasinError> {
        if self.top_k == 0 {
            return Err(BasinError::config("curvature.top_k", "must be ≥ 1"));
        }
        if !(self.subset > 0.0 && self.subset <= 1.0) {
            return Err(BasinError::config("curvature.subset", "must be in (0, 1]"));
        }
        if self.max_iter < self.top_k {
            return Err(BasinError::config("curvature.max_iter", "must be ≥ top_k"));
        }
        if !(self.eps >= 0.0 && self.eps < 1.0) {
            return Err(BasinError::config("curvature.eps", "must be in [0, 1)"));
        }
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return Err(BasinError::config("curvature.tol", "must be positive and finite"));
        }
        if self.slice_at.contains(&0) {
            // the callbacks see the steps after an update, 1 and on: step 0 would never come
            return Err(BasinError::config("curvature.slice_at", "steps count from 1 (the first update); 0 never comes"));
        }
        if self.batch_size == 0 {
            return Err(BasinError::config("curvature.batch_size", "must be ≥ 1"));
        }
        Ok(())
    }
}

/// Top eigenvalues of one subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopEigen {
    /// Eigenvalues, decreasing.
    pub eigenvalues: Vec<f64>,
    /// Residual norms.
    pub residuals: Vec<f64>,
    /// HVPs used.
    pub hvps: usize,
    /// Loss on the subset.
    pub loss: f64,
}

/// Top-k eigenvalues of the curvature (`cfg.operator`: the Hessian by default) of `model`'s
/// loss on the subset `indices` of `set`.
///
/// ```
/// use basin_core::curvature::track::{CurvatureConfig, top_eigen};
/// use basin_core::doc_support::{Blobs, LinearNet};
/// use burn::tensor::Device;
///
/// let device = Device::flex();
/// let model = basin_core::train::init_model(&device.clone().autodiff(), 0, LinearNet::new);
/// let idx: Vec<usize> = (0..64).collect();
/// let cfg = CurvatureConfig { top_k: 2, ..Default::default() };
/// let top = top_eigen(&model, &Blobs(64), &idx, &cfg, 0, &device).unwrap();
/// // the Hessian of a convex loss: both eigenvalues ≥ 0, decreasing, and converged
/// assert!(top.eigenvalues[0] >= top.eigenvalues[1] && top.eigenvalues[1] >= -1e-6);
/// assert!(top.residuals.iter().all(|r| *r <= 1e-3 * top.eigenvalues[0]));
/// ```
pub fn top_eigen<M: Classifier>(model: &M, set: &dyn ExampleSet, indices: &[usize], cfg: &CurvatureConfig, seed: u64, device: &Device) -> Result<TopEigen, BasinError> {
    Ok(top_lanczos(model, set, indices, cfg, seed, device)?.0)
}

/// The Lanczos run of [`top_eigen`], with its eigenvectors and the operator it ran on.
#[allow(clippy::type_complexity)]
fn top_lanczos<M: Classifier>(model: &M, set: &dyn ExampleSet, indices: &[usize], cfg: &CurvatureConfig, seed: u64, device: &Device) -> Result<(TopEigen, Vec<crate::paramvec::ParamVec>, super::choice::CurvatureOperator<M>), BasinError> {
    let obj = Objective::new(model, set, indices, cfg.batch_size, device);
    let eps = if cfg.eps > 0.0 { cfg.eps } else { cfg.operator.default_eps() };
    let mut op = super::choice::CurvatureOperator::new(cfg.operator, obj, eps)?;
    let loss = op.loss();
    let r = lanczos(&mut op, &LanczosConfig { k: cfg.top_k, tol: cfg.tol, max_iter: cfg.max_iter, seed, smallest: false, bottom: 0 });
    Ok((TopEigen { eigenvalues: r.eigenvalues, residuals: r.residuals, hvps: r.iterations, loss }, r.eigenvectors, op))
}

/// [`top_eigen`] with the eigenvectors and the gradient of the subset's loss at the model's
/// weights (for [`super::alignment`]).
pub fn top_eigenpairs<M: Classifier>(model: &M, set: &dyn ExampleSet, indices: &[usize], cfg: &CurvatureConfig, seed: u64, device: &Device) -> Result<(TopEigen, Vec<crate::paramvec::ParamVec>, crate::paramvec::ParamVec), BasinError> {
    use super::fd_hessian::Differentiable;
    let (top, vectors, mut op) = top_lanczos(model, set, indices, cfg, seed, device)?;
    let obj = op.objective_mut();
    let w = obj.point().clone();
    let (_, g) = obj.loss_grad(&w);
    Ok((top, vectors, g))
}

/// The subset of `set` used at repeat `r` (a fraction `cfg.subset` of a permutation seeded by
/// `seed + r`).
pub fn subset_for<S: ExampleSet + ?Sized>(set: &S, cfg: &CurvatureConfig, seed: u64, repeat: u64) -> Vec<usize> {
    subset_indices(set.len(), Some(cfg.subset), None, seed.wrapping_add(repeat))
}

/// Mean and standard deviation, rank by rank, of eigenvalues from several subsets.
pub fn spread(runs: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = runs.iter().map(Vec::len).min().unwrap_or(0);
    let r = runs.len() as f64;
    let mean: Vec<f64> = (0..k).map(|i| runs.iter().map(|v| v[i]).sum::<f64>() / r).collect();
    let std = (0..k)
        .map(|i| if runs.len() > 1 { (runs.iter().map(|v| (v[i] - mean[i]).powi(2)).sum::<f64>() / (r - 1.0)).sqrt() } else { 0.0 })
        .collect();
    (mean, std)
}
