//! The loss along the top eigenvector (sharpest-directions paper): at parameters θ, with e₁ the
//! top eigenvector of the curvature (the Hessian by default) on a fixed subset and Δθ₁ = η · mean_B |g_Bᵀe₁| the
//! expected length of an SGD step along e₁, the curve k ↦ L(θ + k·Δθ₁·e₁), and the average
//! change of loss after the SGD step's e₁ component scaled by α: mean_B L(θ − α η (g_Bᵀe₁) e₁)
//! − L(θ) for α = 0.5, 1, 2 (the paper: halving the step decreases the loss, doubling it
//! increases it).

use super::choice::{CurvatureOperator, OperatorKind};
use super::fd_hessian::Differentiable;
use super::lanczos::{LanczosConfig, lanczos};
use super::objective::Objective;
use crate::batch::ExampleSet;
use crate::error::BasinError;
use crate::estimators::loss_and_grads;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

fn ggn_name() -> String {
    "ggn".into()
}

/// One slice along the top eigenvector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EigenSlice {
    /// Training step it was taken at (0 for a finished model).
    pub step: u64,
    /// The operator whose top eigenvector this is (`hessian`, `ggn`, `fd`; files from before
    /// the exact Hessian read as `ggn`).
    #[serde(default = "ggn_name")]
    pub operator: String,
    /// Top eigenvalue λ₁.
    pub lambda1: f64,
    /// Δθ₁ = η · mean_B |g_Bᵀe₁|.
    pub delta: f64,
    /// Loss at θ (k = 0).
    pub loss: f64,
    /// Grid of k.
    pub ks: Vec<f64>,
    /// L(θ + k Δθ₁ e₁) on the subset.
    pub losses: Vec<f64>,
    /// (α, mean_B L(θ − α η (g_Bᵀe₁) e₁) − L(θ)).
    pub alpha_changes: Vec<(f64, f64)>,
    /// Whether the Lanczos run for e₁ met its tolerance (relative residual 1e-3 within 40
    /// steps): an unconverged e₁ still defines the slice, and this says so (`None`: a file
    /// written before it was recorded).
    #[serde(default)]
    pub converged: Option<bool>,
}

/// The slice of `model` on `indices` of `set` along the top eigenvector of `kind`; minibatches
/// of `batch` examples for g_B, learning rate `lr`, grid `ks`. Also returns e₁. The g_B are
/// taken in evaluation mode (batch-norm running statistics, no dropout), as in `alignment`:
/// the slice measures the function whose Hessian gave e₁, not the training-mode one whose
/// batch statistics would move with each minibatch.
#[allow(clippy::too_many_arguments)] // the paper's quantities, each needed once
pub fn eigen_slice<M: Classifier>(model: &M, set: &dyn ExampleSet, indices: &[usize], batch: usize, lr: f64, ks: &[f64], step: u64, kind: OperatorKind, device: &Device) -> Result<(EigenSlice, ParamVec), BasinError> {
    let obj = Objective::new(model, set, indices, 500, device);
    let theta = obj.point().clone();
    let mut op = CurvatureOperator::new(kind, obj, kind.default_eps())?;
    let r = lanczos(&mut op, &LanczosConfig { k: 1, tol: 1e-3, max_iter: 40, seed: step, smallest: false, bottom: 0 });
    let e1 = r.eigenvectors[0].clone();
    let obj = op.objective();
    let loss = obj.loss(&theta);
    // g_Bᵀe₁ over minibatches of the subset
    let ad = device.clone().autodiff();
    let train_model = theta.write_into_with_grad(model.valid());
    let s: Vec<f64> = indices
        .chunks(batch.max(1))
        .filter(|c| c.len() == batch.max(1) || indices.len() < batch)
        .map(|c| {
            let b = set.batch(c, None, &ad);
            let (_, g) = loss_and_grads(&train_model, &b);
            ParamVec::from_grads(&theta, &g).dot(&e1)
        })
        .collect();
    let delta = lr * s.iter().map(|x| x.abs()).sum::<f64>() / s.len().max(1) as f64;
    let losses = ks.iter().map(|k| obj.loss(&theta.axpy(k * delta, &e1))).collect();
    let alpha_changes = [0.5, 1.0, 2.0]
        .iter()
        .map(|&a| {
            let mean = s.iter().map(|sb| obj.loss(&theta.axpy(-a * lr * sb, &e1)) - loss).sum::<f64>() / s.len().max(1) as f64;
            (a, mean)
        })
        .collect();
    Ok((EigenSlice { step, operator: kind.name().to_string(), lambda1: r.eigenvalues[0], delta, loss, ks: ks.to_vec(), losses, alpha_changes, converged: Some(r.converged) }, e1))
}
