//! The Fisher–Rao norm (Liang, Poggio, Rakhlin, Stokes 2019, "Fisher–Rao Metric, Geometry,
//! and Complexity of Neural Networks", Definition 1): ‖w‖²_fr = ⟨w, I(w) w⟩ with I the Fisher
//! information. For the cross-entropy of a softmax the Fisher over the model's own label
//! distribution is the generalized Gauss–Newton matrix (and so it is for the squared error, the
//! negative log-likelihood of a Gaussian), so the norm is one exact GGN product
//! (the tangent pass, no finite differences) on the training set, all parameters included.
//! For a bias-free ReLU network of L layers ⟨w, ∇_w z⟩ = L·z, so it equals
//! L² mean_x zᵀ(diag p − ppᵀ)z, Liang et al.'s eq. 3.3 (what the test checks).

use crate::curvature::Objective;
use crate::model::Classifier;

/// ⟨w, G w⟩ at the objective's point.
pub fn fisher_rao<M: Classifier>(obj: &mut Objective<M>) -> f64 {
    let w = crate::curvature::Differentiable::point(obj).clone();
    w.dot(&obj.ggn_product(&w, 0.0))
}
