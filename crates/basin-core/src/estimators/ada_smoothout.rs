//! AdaSmoothOut (SmoothOut journal, eq. 12): the noise of each filter is rescaled to
//! θ̂⁽ⁱ⁾ = a · ‖w⁽ⁱ⁾‖₂ / ‖θ⁽ⁱ⁾‖₂ · θ⁽ⁱ⁾, so every filter is perturbed in proportion to its own
//! norm ("filter" = conv output channel, or all input connections of a dense neuron, i.e. a
//! column of Burn's `[in, out]` Linear weight; see `paramvec`).

use super::config::NoiseKind;
use super::smoothout::{draw_noise, noise_key, perturbed_step};
use super::{Estimate, GradientEstimator, StepContext};
use crate::batch::Batch;
use crate::model::Classifier;
use crate::paramkind::ParamFilter;
use crate::paramvec::ParamVec;

/// `[estimator] name = "ada-smoothout"` (journal eq. 12; Table IV uses a = 0.15).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaSmoothOutConfig {
    /// Noise strength relative to each filter's L2 norm.
    pub a: f64,
    /// Noise distribution: uniform | gaussian.
    pub noise: NoiseKind,
    /// Remove the noise before the update.
    pub denoise: bool,
    /// Parameters that get noise: all | weights | conv | dense.
    pub params: ParamFilter,
}

impl Default for AdaSmoothOutConfig {
    fn default() -> Self {
        AdaSmoothOutConfig { a: 0.15, noise: NoiseKind::Uniform, denoise: true, params: ParamFilter::All }
    }
}

super::builders!(AdaSmoothOutConfig { with_a => a: f64, with_noise => noise: NoiseKind, with_denoise => denoise: bool, with_params => params: ParamFilter });

impl AdaSmoothOutConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.a.is_finite() && self.a >= 0.0, "a", "must be a number ≥ 0")
    }
    /// The estimator.
    pub fn init(&self) -> AdaSmoothOut {
        AdaSmoothOut::new(self.a, self.noise, self.denoise, self.params)
    }
}

/// AdaSmoothOut: SmoothOut with filter-normalized noise.
#[derive(Debug, Clone)]
pub struct AdaSmoothOut {
    a: f64,
    noise: NoiseKind,
    denoise: bool,
    params: ParamFilter,
    /// The (rescaled) noise of the last step.
    pub last_noise: Option<ParamVec>,
}

impl AdaSmoothOut {
    /// AdaSmoothOut of relative strength `a`.
    pub fn new(a: f64, noise: NoiseKind, denoise: bool, params: ParamFilter) -> Self {
        AdaSmoothOut { a, noise, denoise, params, last_noise: None }
    }
}

/// Rescales `theta` filter by filter to norm `a · ‖w_filter‖` (eq. 12).
pub fn adapt_noise(w: &ParamVec, theta: &ParamVec, a: f64) -> ParamVec {
    let factors: Vec<_> = w
        .filter_norms()
        .into_iter()
        .zip(theta.filter_norms())
        .map(|(wn, tn)| wn.mul_scalar(a) / tn.clamp_min(1e-30))
        .collect();
    theta.scale_filters(&factors)
}

impl<M: Classifier> GradientEstimator<M> for AdaSmoothOut {
    fn name(&self) -> &'static str {
        "ada-smoothout"
    }
    fn estimate(&mut self, model: M, batch: &Batch, ctx: &mut StepContext<'_>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let raw = draw_noise(&w, 1.0, self.noise, self.params, noise_key(ctx.seed, ctx.step));
        let theta = adapt_noise(&w, &raw, self.a);
        let est = perturbed_step(model, &w, &theta, self.denoise, batch);
        self.last_noise = Some(theta);
        est
    }
}
