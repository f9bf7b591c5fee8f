//! Symmetrical SGD (shared/seeds/s-sgd.txt eq. 3): the gradients at w + n and w − n averaged,
//! where for every layer n_layer = level · ‖w_layer‖ · d / ‖d‖ with a fresh random Gaussian
//! direction d each step (fixed magnitude, random direction); biases are excluded and the
//! layers are all weights, convolutions only or dense only.

use super::{Estimate, GradientEstimator, StepContext, grad_at, to_optimizer_grads};
use crate::batch::Batch;
use crate::model::Classifier;
use crate::paramkind::ParamFilter;
use crate::paramvec::ParamVec;
use crate::running_stats;

/// `[estimator] name = "s-sgd"` (S-SGD eq. 3; the paper's best level is 0.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SymmetricSgdConfig {
    /// Noise level: ‖n_layer‖ = level · ‖w_layer‖.
    pub level: f64,
    /// Layers that get noise: weights (biases excluded) | conv | dense.
    pub layers: ParamFilter,
}

impl Default for SymmetricSgdConfig {
    fn default() -> Self {
        SymmetricSgdConfig { level: 0.4, layers: ParamFilter::Weights }
    }
}

super::builders!(SymmetricSgdConfig { with_level => level: f64, with_layers => layers: ParamFilter });

impl SymmetricSgdConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.level.is_finite() && self.level >= 0.0, "level", "must be a number ≥ 0")?;
        super::config::check(self.layers != ParamFilter::All, "layers", "S-SGD excludes biases: use weights, conv or dense")
    }
    /// The estimator.
    pub fn init(&self) -> SymmetricSgd {
        SymmetricSgd::new(self.level, self.layers)
    }
}

/// S-SGD.
#[derive(Debug, Clone)]
pub struct SymmetricSgd {
    level: f64,
    layers: ParamFilter,
    /// The noise n of the last step.
    pub last_noise: Option<ParamVec>,
}

impl SymmetricSgd {
    /// S-SGD at noise `level` on `layers`.
    pub fn new(level: f64, layers: ParamFilter) -> Self {
        SymmetricSgd { level, layers, last_noise: None }
    }
}

/// n with ‖n_layer‖ = level · ‖w_layer‖ on the selected layers, zero elsewhere; the direction
/// is isotropic (i.i.d. Gaussian components, normalized per layer), keyed by (seed, step).
pub fn symmetric_noise(w: &ParamVec, level: f64, layers: ParamFilter, key: u64) -> ParamVec {
    let d = w.normal(key, 1.0);
    let dn = d.part_norms();
    let wn = w.part_norms();
    let mut i = 0;
    d.map(|s, p| {
        let k = if layers.accepts(s.kind) && dn[i] > 0.0 { level * wn[i] / dn[i] } else { 0.0 };
        i += 1;
        p.mul_scalar(k)
    })
}

impl<M: Classifier> GradientEstimator<M> for SymmetricSgd {
    fn name(&self) -> &'static str {
        "s-sgd"
    }
    fn estimate(&mut self, model: M, batch: &Batch, ctx: &mut StepContext<'_>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let n = symmetric_noise(&w, self.level, self.layers, super::smoothout::noise_key(ctx.seed, ctx.step));
        let (lp, gp) = grad_at(&model, &w.add(&n), batch);
        let snap = running_stats::snapshot(&model);
        let (lm, gm) = grad_at(&model, &w.sub(&n), batch);
        running_stats::restore(&model, &snap);
        self.last_noise = Some(n);
        Estimate { model, loss: 0.5 * (lp + lm), grads: to_optimizer_grads(&gp.add(&gm).scale(0.5)) }
    }
}
