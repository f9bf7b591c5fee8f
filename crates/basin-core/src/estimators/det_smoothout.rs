//! Deterministic SmoothOut (SmoothOut workshop eq. 1, journal Fig. 1c): N noise vectors
//! θ₁ … θ_N drawn once; the gradient is the mean over the N perturbed copies w + θ_k on the same
//! batch, i.e. the gradient of the fixed N-sample average of the smoothed loss. Every copy sees
//! the same dropout masks (one network, N fixed perturbations of its weights). The N vectors
//! are fixed for the run, so there is no per-chunk variant: with ghost batches every chunk
//! goes through all N copies.

use super::config::NoiseKind;
use super::smoothout::{draw_noise, perturb};
use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::task::LossModel;
use crate::paramkind::ParamFilter;
use crate::paramvec::ParamVec;
use crate::rng::{Stream, derive_seed};
use crate::running_stats;

/// `[estimator] name = "det-smoothout"` (workshop eq. 1: the mean over N fixed noise vectors).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetSmoothOutConfig {
    /// Noise strength a.
    pub a: f64,
    /// Noise distribution: uniform | gaussian.
    pub noise: NoiseKind,
    /// Number of noise vectors N.
    pub copies: usize,
    /// Parameters that get noise: all | weights | conv | dense.
    pub params: ParamFilter,
}

impl Default for DetSmoothOutConfig {
    fn default() -> Self {
        DetSmoothOutConfig { a: 0.0375, noise: NoiseKind::Uniform, copies: 4, params: ParamFilter::All }
    }
}

super::builders!(DetSmoothOutConfig { with_a => a: f64, with_noise => noise: NoiseKind, with_copies => copies: usize, with_params => params: ParamFilter });

impl DetSmoothOutConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.a.is_finite() && self.a >= 0.0, "a", "must be a number ≥ 0")?;
        super::config::check(self.copies >= 1, "copies", "must be ≥ 1")
    }
    /// The estimator; its noise vectors come from the run's `seed`.
    pub fn init(&self, seed: u64) -> DetSmoothOut {
        DetSmoothOut::new(self.a, self.noise, self.copies, self.params, seed)
    }
}

/// Mean gradient over N fixed perturbations.
#[derive(Debug, Clone)]
pub struct DetSmoothOut {
    a: f64,
    noise: NoiseKind,
    copies: usize,
    params: ParamFilter,
    seed: u64,
}

impl DetSmoothOut {
    /// `copies` fixed noise vectors of strength `a`.
    pub fn new(a: f64, noise: NoiseKind, copies: usize, params: ParamFilter, seed: u64) -> Self {
        DetSmoothOut { a, noise, copies, params, seed }
    }

    /// The key of noise vector `k`: a function of the run's seed alone, so every step (and a
    /// resumed run) draws the same N vectors.
    fn key(&self, k: usize) -> u64 {
        derive_seed(self.seed, Stream::Estimator, u64::MAX - k as u64)
    }

    /// Noise vector θ_k in `w`'s layout (for inspection and tests): the counter-based noise
    /// generator draws it again from its key rather than keeping N vectors in memory, where
    /// they pushed the weights out of cache.
    pub fn noise(&self, w: &ParamVec, k: usize) -> ParamVec {
        draw_noise(w, self.a, self.noise, self.params, self.key(k))
    }
}

impl<M: LossModel> GradientEstimator<M> for DetSmoothOut {
    fn name(&self) -> &'static str {
        "det-smoothout"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let device = w.device();
        let mut snap = None;
        let (mut loss, mut g): (f64, Option<ParamVec>) = (0.0, None);
        let n = self.copies as f64;
        for k in 0..self.copies {
            ctx.same_masks(&device);
            // w + θ_k in one fused pass (uniform noise is drawn while it is added)
            let point = perturb(&w, self.a, self.noise, self.params, self.key(k));
            let (l, gk) = ctx.grad(&model, &w, batch, |_| Some(point.clone()));
            if k == 0 {
                snap = Some(running_stats::snapshot(&model));
            }
            loss += l;
            // running sum, with the 1/N folded into the last fused pass
            let c = if k + 1 == self.copies { 1.0 / n } else { 1.0 };
            g = Some(match g {
                None if c != 1.0 => gk.scale(c),
                None => gk,
                Some(sum) => ParamVec::lincomb(c, &sum, c, &gk),
            });
        }
        if let Some(s) = snap {
            running_stats::restore(&model, &s);
        }
        let g = g.unwrap_or_else(|| w.zeros_like());
        Estimate { model, loss: loss / n, grads: to_optimizer_grads(&g) }
    }
}
