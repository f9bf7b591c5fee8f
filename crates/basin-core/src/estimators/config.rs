//! `[estimator]` of a config: which method computes the gradient, and its parameters. Every
//! parameter has the paper's default; parameters of other methods are ignored.

use super::ada_smoothout::AdaSmoothOut;
use super::det_smoothout::DetSmoothOut;
use super::noise_enhancement::NoiseEnhancement;
use super::plain::Plain;
use super::sam::Sam;
use super::smoothout::SmoothOut;
use super::ssgd::SymmetricSgd;
use super::GradientEstimator;
use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramkind::ParamFilter;
use serde::{Deserialize, Serialize};

/// Distribution of SmoothOut noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// θᵢ ~ U(−a, a) (the papers' main choice).
    #[default]
    Uniform,
    /// θᵢ ~ N(0, a²) (journal Table V ablation).
    Gaussian,
}

/// Names accepted in `estimator.name`.
pub const ESTIMATOR_NAMES: &[&str] =
    &["sgd", "smoothout", "det-smoothout", "ada-smoothout", "s-sgd", "noise-enhancement", "sam", "asam", "nsgd"];

/// `[estimator]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EstimatorConfig {
    /// sgd | smoothout | det-smoothout | ada-smoothout | s-sgd | noise-enhancement | sam | asam.
    pub name: String,
    /// SmoothOut noise strength a (journal: 0.0375 for SmoothOut; AdaSmoothOut: relative to
    /// each filter's norm, 0.15 in Table IV).
    pub a: f64,
    /// SmoothOut noise distribution: uniform | gaussian (a = standard deviation).
    pub noise: NoiseKind,
    /// SmoothOut: remove the noise before the update (false = the Tables III-IV ablation).
    pub denoise: bool,
    /// Parameters that get noise: all | weights (no biases / norm layers) | conv | dense.
    pub params: ParamFilter,
    /// Deterministic SmoothOut: number of noise vectors N.
    pub copies: usize,
    /// S-SGD noise level: ‖n_layer‖ = level · ‖w_layer‖ (paper's best: 0.4).
    pub level: f64,
    /// S-SGD layers: weights (all, biases excluded) | conv | dense.
    pub layers: ParamFilter,
    /// Noise enhancement α (1 = plain SGD; the paper uses 1.5 … 11).
    pub alpha: f64,
    /// SAM / ASAM neighbourhood radius ρ (SAM default 0.05; ASAM paper uses 0.5 … 2).
    pub rho: f64,
    /// ASAM η added to |w| in T_w.
    pub eta: f64,
    /// Nudged SGD γ: learning-rate factor along the sharpest directions (1 = SGD).
    pub gamma: f64,
    /// Nudged SGD: number of directions k.
    pub directions: usize,
    /// Nudged SGD: recompute the directions every N steps (0 = every epoch).
    pub every: u64,
    /// Nudged SGD: fraction of the training set for the curvature (paper: 5 %).
    pub subset: f64,
    /// Nudged SGD: Lanczos steps at most.
    pub lanczos_iter: usize,
    /// Nudged SGD: nudge | project | remove.
    pub mode: super::nsgd::NsgdMode,
    /// Nudged SGD control: a random orthonormal subspace instead of eigenvectors.
    pub random_subspace: bool,
    /// Nudged SGD curvature operator: hessian (exact, default) | ggn | fd.
    pub operator: crate::curvature::choice::OperatorKind,
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig {
            name: "sgd".into(),
            a: 0.0375,
            noise: NoiseKind::Uniform,
            denoise: true,
            params: ParamFilter::All,
            copies: 4,
            level: 0.4,
            layers: ParamFilter::Weights,
            alpha: 1.5,
            rho: 0.05,
            eta: 0.01,
            gamma: 1.0,
            directions: 5,
            every: 0,
            subset: 0.05,
            lanczos_iter: 30,
            mode: super::nsgd::NsgdMode::Nudge,
            random_subspace: false,
            operator: crate::curvature::choice::OperatorKind::Hessian,
        }
    }
}

impl EstimatorConfig {
    /// Checks the name and the parameters the method uses; errors name the key.
    pub fn validate(&self) -> Result<(), BasinError> {
        let bad = |k: &str, r: &str| Err(BasinError::config(format!("estimator.{k}"), r.to_string()));
        match self.name.as_str() {
            "sgd" => {}
            "smoothout" | "ada-smoothout" | "det-smoothout" => {
                if !(self.a.is_finite() && self.a >= 0.0) {
                    return bad("a", "must be a number ≥ 0");
                }
                if self.name == "det-smoothout" && self.copies == 0 {
                    return bad("copies", "must be ≥ 1");
                }
            }
            "s-sgd" => {
                if !(self.level.is_finite() && self.level >= 0.0) {
                    return bad("level", "must be a number ≥ 0");
                }
                if self.layers == ParamFilter::All {
                    return bad("layers", "S-SGD excludes biases: use weights, conv or dense");
                }
            }
            "noise-enhancement" => {
                if !self.alpha.is_finite() {
                    return bad("alpha", "must be a finite number");
                }
            }
            "nsgd" => {
                if !(self.gamma.is_finite() && self.gamma >= 0.0) {
                    return bad("gamma", "must be a number ≥ 0");
                }
                if self.directions == 0 {
                    return bad("directions", "must be ≥ 1");
                }
                if !(self.subset > 0.0 && self.subset <= 1.0) {
                    return bad("subset", "must be in (0, 1]");
                }
                if self.lanczos_iter < self.directions {
                    return bad("lanczos_iter", "must be ≥ directions");
                }
            }
            "sam" | "asam" => {
                if !(self.rho.is_finite() && self.rho > 0.0) {
                    return bad("rho", "must be positive");
                }
                if !(self.eta.is_finite() && self.eta >= 0.0) {
                    return bad("eta", "must be ≥ 0");
                }
            }
            other => {
                return Err(BasinError::config(
                    "estimator.name",
                    format!("unknown estimator '{other}' (known: {})", ESTIMATOR_NAMES.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The estimator this config describes (`seed` is the run's seed).
    pub fn build<M: Classifier>(&self, seed: u64) -> Box<dyn GradientEstimator<M>> {
        match self.name.as_str() {
            "smoothout" => Box::new(SmoothOut::new(self.a, self.noise, self.denoise, self.params)),
            "ada-smoothout" => Box::new(AdaSmoothOut::new(self.a, self.noise, self.denoise, self.params)),
            "det-smoothout" => Box::new(DetSmoothOut::new(self.a, self.noise, self.copies, self.params, seed)),
            "s-sgd" => Box::new(SymmetricSgd::new(self.level, self.layers)),
            "noise-enhancement" => Box::new(NoiseEnhancement::new(self.alpha)),
            "sam" => Box::new(Sam::new(self.rho)),
            "asam" => Box::new(Sam::asam(self.rho, self.eta)),
            "nsgd" => Box::new(super::nsgd::Nsgd::new(super::nsgd::NsgdConfig {
                gamma: self.gamma,
                k: self.directions,
                every: self.every,
                subset: self.subset,
                max_iter: self.lanczos_iter,
                mode: self.mode,
                random_subspace: self.random_subspace,
                operator: self.operator,
            })),
            _ => Box::new(Plain),
        }
    }
}
