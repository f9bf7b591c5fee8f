//! Noise enhancement (shared/seeds/noise-enhancement.txt eq. 6): the gradient
//! α·g(w; B) + (1 − α)·g(w; B′) with B′ an independent batch of the same size, which multiplies
//! the SGD-noise covariance by α² + (1 − α)² (eq. 10), i.e. an effective batch size
//! B_eff = B / (α² + (1 − α)²) (eq. 11). α = 1 is plain SGD (one pass, no extra batch).

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::task::LossModel;
use crate::paramvec::ParamVec;
use crate::running_stats;

/// `[estimator] name = "noise-enhancement"` (eq. 6; α = 1 is plain SGD).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseEnhancementConfig {
    /// α (the paper uses 1.5 … 11).
    pub alpha: f64,
}

impl Default for NoiseEnhancementConfig {
    fn default() -> Self {
        NoiseEnhancementConfig { alpha: 1.5 }
    }
}

super::builders!(NoiseEnhancementConfig { with_alpha => alpha: f64 });

impl NoiseEnhancementConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.alpha.is_finite(), "alpha", "must be a finite number")
    }
    /// The estimator.
    pub fn init(&self) -> NoiseEnhancement {
        NoiseEnhancement::new(self.alpha)
    }
}

/// Noise-enhanced gradient.
#[derive(Debug, Clone)]
pub struct NoiseEnhancement {
    alpha: f64,
}

impl NoiseEnhancement {
    /// Noise enhancement with factor `alpha`.
    pub fn new(alpha: f64) -> Self {
        NoiseEnhancement { alpha }
    }
    /// The effective batch size B / (α² + (1 − α)²) of eq. 11.
    pub fn effective_batch(&self, batch: usize) -> f64 {
        batch as f64 / (self.alpha * self.alpha + (1.0 - self.alpha).powi(2))
    }
}

impl<M: LossModel> GradientEstimator<M> for NoiseEnhancement {
    fn name(&self) -> &'static str {
        "noise-enhancement"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        if self.alpha == 1.0 {
            let (loss, grads) = ctx.loss_and_grads(&model, batch);
            return Estimate { model, loss, grads };
        }
        let w = ParamVec::from_model(&model);
        let (loss, g1) = ctx.grad(&model, &w, batch, |_| None);
        let snap = running_stats::snapshot(&model);
        let other = ctx.source.extra_batch(M::batch_len(batch), ctx.step);
        let (_, g2) = ctx.grad(&model, &w, &other, |_| None);
        running_stats::restore(&model, &snap);
        let g = ParamVec::lincomb(self.alpha, &g1, 1.0 - self.alpha, &g2);
        Estimate { model, loss, grads: to_optimizer_grads(&g) }
    }
}
