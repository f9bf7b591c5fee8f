//! SmoothOut (Wen et al., "SmoothOut: Smoothing Out Sharp Minima to Improve Generalization in
//! Deep Learning"; shared/seeds/smoothout-journal.txt Algorithm 1, eqs. 10-11): the gradient at
//! w + θ, θᵢ ~ U(−a, a) i.i.d. per weight, with θ removed before the update. Stochastic
//! SmoothOut minimises the smoothed loss C̄(w) = E_θ C(w + θ) in expectation.

use super::config::{NoiseKind, NoisePer};
use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::task::LossModel;
use crate::paramkind::ParamFilter;
use crate::paramvec::{ParamVec, Slot};
use burn::tensor::Device;
use std::sync::Arc;

/// Draws θ in `w`'s layout: U(−a, a) or N(0, a²) per value, zero outside `params`, from the
/// fast host generator keyed by (run seed, step) — see `fastrand`.
pub fn draw_noise(w: &ParamVec, a: f64, kind: NoiseKind, params: ParamFilter, key: u64) -> ParamVec {
    let theta = match kind {
        NoiseKind::Uniform => w.uniform(key, -a as f32, a as f32),
        NoiseKind::Gaussian => w.normal(key, a as f32),
    };
    if w.slots.iter().all(|s| params.accepts(s.kind)) { theta } else { theta.masked(|s| params.accepts(s.kind)) }
}

/// `w + θ` for the θ [`draw_noise`] draws, bit for bit; uniform noise is added in one fused
/// pass that never stores θ ([`ParamVec::add_uniform`]).
pub fn perturb(w: &ParamVec, a: f64, kind: NoiseKind, params: ParamFilter, key: u64) -> ParamVec {
    match kind {
        NoiseKind::Uniform => w.add_uniform(key, -a as f32, a as f32, |s| params.accepts(s.kind)),
        NoiseKind::Gaussian => w.add(&draw_noise(w, a, kind, params, key)),
    }
}

/// The key of the noise of `step` in a run seeded `seed`.
pub fn noise_key(seed: u64, step: u64) -> u64 {
    crate::rng::derive_seed(seed, crate::rng::Stream::Estimator, step)
}

/// The key of ghost chunk `c`'s noise in a step whose noise key is `key` (`noise_per = "chunk"`).
pub fn chunk_key(key: u64, c: usize) -> u64 {
    crate::rng::derive_seed(key, crate::rng::Stream::Estimator, 1 << 40 | c as u64)
}

/// `[estimator] name = "smoothout"` (SmoothOut Algorithm 1; journal default a = 0.0375).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothOutConfig {
    /// Noise strength a: θᵢ ~ U(−a, a) (or N(0, a²)).
    pub a: f64,
    /// Noise distribution: uniform | gaussian.
    pub noise: NoiseKind,
    /// Remove the noise before the update (false = the journal's Tables III–IV ablation).
    pub denoise: bool,
    /// Parameters that get noise: all | weights | conv | dense.
    pub params: ParamFilter,
    /// One θ per batch (Algorithm 1) or a fresh one per ghost chunk (the authors' code;
    /// needs `train.ghost_batch`).
    pub noise_per: NoisePer,
}

impl Default for SmoothOutConfig {
    fn default() -> Self {
        SmoothOutConfig { a: 0.0375, noise: NoiseKind::Uniform, denoise: true, params: ParamFilter::All, noise_per: NoisePer::Batch }
    }
}

super::builders!(SmoothOutConfig { with_a => a: f64, with_noise => noise: NoiseKind, with_denoise => denoise: bool, with_params => params: ParamFilter, with_noise_per => noise_per: NoisePer });

impl SmoothOutConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.a.is_finite() && self.a >= 0.0, "a", "must be a number ≥ 0")?;
        check_noise_per(self.noise_per, self.denoise)
    }
    /// The estimator.
    pub fn init(&self) -> SmoothOut {
        SmoothOut::new(self.a, self.noise, self.denoise, self.params).with_noise_per(self.noise_per)
    }
}

/// Per-chunk noise leaves no single perturbed point to step from, so it needs de-noising.
pub fn check_noise_per(per: NoisePer, denoise: bool) -> Result<(), crate::error::BasinError> {
    super::config::check(per == NoisePer::Batch || denoise, "noise_per", "\"chunk\" needs denoise = true (each chunk has its own w + θ, so there is no one point to step from)")
}

/// Stochastic SmoothOut with uniform or Gaussian noise, with or without de-noising.
#[derive(Debug, Clone)]
pub struct SmoothOut {
    a: f64,
    noise: NoiseKind,
    denoise: bool,
    params: ParamFilter,
    noise_per: NoisePer,
    /// What the last step's noise was drawn from: the weights' layout, their device and the
    /// key. θ itself is not kept (it is never stored); [`SmoothOut::last_noise`] draws it again.
    last: Option<(Arc<Vec<Slot>>, Device, u64)>,
}

impl SmoothOut {
    /// SmoothOut of strength `a`.
    pub fn new(a: f64, noise: NoiseKind, denoise: bool, params: ParamFilter) -> Self {
        SmoothOut { a, noise, denoise, params, noise_per: NoisePer::Batch, last: None }
    }
    /// Draws the noise per batch or per ghost chunk.
    pub fn with_noise_per(mut self, per: NoisePer) -> Self {
        self.noise_per = per;
        self
    }
    /// The noise θ of the last step (of its last ghost chunk under `noise_per = "chunk"`),
    /// drawn again from its key (for inspection and tests).
    pub fn last_noise(&self) -> Option<ParamVec> {
        self.last.as_ref().map(|(slots, device, key)| draw_noise(&ParamVec::zeros(slots.clone(), device), self.a, self.noise, self.params, *key))
    }
}

/// One SmoothOut step: the gradient at w + θ, where `point_at(key)` is w + θ for the noise
/// drawn from `key` (one key per batch, or one per ghost chunk under `NoisePer::Chunk`). The
/// step starts from w (de-noised) or from w + θ (the ablation, per batch only). Returns the
/// estimate and the last key drawn. Shared with AdaSmoothOut.
#[allow(clippy::too_many_arguments)]
pub fn perturbed_step<M: LossModel>(
    model: M,
    w: &ParamVec,
    batch: &M::Batch,
    ctx: &mut StepContext<'_, M::Batch>,
    denoise: bool,
    per: NoisePer,
    key: u64,
    mut point_at: impl FnMut(u64) -> ParamVec,
) -> (Estimate<M>, u64) {
    let shared = (per == NoisePer::Batch).then(|| point_at(key));
    let mut last = key;
    let (loss, g) = ctx.grad(&model, w, batch, |c| {
        Some(match &shared {
            Some(p) => p.clone(),
            None => {
                last = chunk_key(key, c);
                point_at(last)
            }
        })
    });
    // De-noising is exact: the optimizer steps from the untouched weights, not from
    // (w + θ) − θ, which would round.
    let model = match (denoise, shared) {
        (false, Some(p)) => p.write_into(model),
        _ => model,
    };
    (Estimate { model, loss, grads: to_optimizer_grads(&g) }, last)
}

impl<M: LossModel> GradientEstimator<M> for SmoothOut {
    fn name(&self) -> &'static str {
        "smoothout"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let key = noise_key(ctx.seed, ctx.step);
        let (a, noise, params) = (self.a, self.noise, self.params);
        let (est, last) = perturbed_step(model, &w, batch, ctx, self.denoise, self.noise_per, key, |k| perturb(&w, a, noise, params, k));
        // Only the layout is kept: holding w's buffers would stop the optimizer updating them
        // in place.
        self.last = Some((w.slots.clone(), w.device(), last));
        est
    }
}
