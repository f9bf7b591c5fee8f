//! Symmetrical SGD (shared/seeds/s-sgd.txt eq. 3): the gradients at w + n and w − n averaged,
//! where for every layer n_layer = level · ‖w_layer‖ · d / ‖d‖ with a fresh random Gaussian
//! direction d each step (fixed magnitude, random direction); biases are excluded and the
//! layers are all weights, convolutions only or dense only.

use super::{Estimate, GradientEstimator, StepContext, grad_at, to_optimizer_grads};
use crate::task::LossModel;
use crate::paramkind::ParamFilter;
use crate::paramvec::{ParamVec, Slot};
use burn::tensor::Tensor;
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
    /// The last step's direction d and per-layer factors k (n = k ⊙ d, never stored itself).
    last: Option<(ParamVec, Vec<f64>)>,
}

impl SymmetricSgd {
    /// S-SGD at noise `level` on `layers`.
    pub fn new(level: f64, layers: ParamFilter) -> Self {
        SymmetricSgd { level, layers, last: None }
    }
    /// The noise n of the last step (for inspection and tests).
    pub fn last_noise(&self) -> Option<ParamVec> {
        self.last.as_ref().map(|(d, k)| scaled(d, k))
    }
}

/// n with ‖n_layer‖ = level · ‖w_layer‖ on the selected layers, zero elsewhere; the direction
/// is isotropic (i.i.d. Gaussian components, normalized per layer), keyed by (seed, step).
pub fn symmetric_noise(w: &ParamVec, level: f64, layers: ParamFilter, key: u64) -> ParamVec {
    let mut i = 0;
    w.map(|s, wp| {
        i += 1;
        let (d, k) = layer_direction(s, &wp, i - 1, level, layers, key);
        d.mul_scalar(k)
    })
}

/// Layer `i`'s Gaussian direction d (the part of `ParamVec::normal(key, 1)`) and its factor
/// k = level · ‖w‖/‖d‖, so that n = k d; k = 0 (and d = w, a placeholder) on unselected layers.
fn layer_direction(s: &Slot, wp: &Tensor<1>, i: usize, level: f64, layers: ParamFilter, key: u64) -> (Tensor<1>, f64) {
    if !layers.accepts(s.kind) {
        return (wp.clone(), 0.0);
    }
    let d = crate::fused::tensor(crate::fastrand::normal_vec(s.numel(), ParamVec::part_key(key, i), 1.0), &wp.device());
    let sq = crate::fused::dots(&[(&d, &d), (wp, wp)]);
    let k = if sq[0] > 0.0 { level * sq[1].sqrt() / sq[0].sqrt() } else { 0.0 };
    (d, k)
}

impl<M: LossModel> GradientEstimator<M> for SymmetricSgd {
    fn name(&self) -> &'static str {
        "s-sgd"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let key = super::smoothout::noise_key(ctx.seed, ctx.step);
        // One layer at a time, so that its direction is still in cache for its norm and for
        // w + n and w − n (one fused pass); n = k d itself is never stored.
        let (mut d, mut k, mut plus, mut minus) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (s, wp)) in w.slots.iter().zip(&w.parts).enumerate() {
            let (dl, kl) = layer_direction(s, wp, i, self.level, self.layers, key);
            let (p, m) = if kl == 0.0 { (wp.clone(), wp.clone()) } else { crate::fused::plus_minus(wp, kl, &dl) };
            d.push(dl);
            k.push(kl);
            plus.push(p);
            minus.push(m);
        }
        let layout = |parts| ParamVec { slots: w.slots.clone(), parts };
        let (lp, gp) = grad_at(&model, &layout(plus), batch);
        let snap = running_stats::snapshot(&model);
        let (lm, gm) = grad_at(&model, &layout(minus), batch);
        running_stats::restore(&model, &snap);
        self.last = Some((layout(d), k));
        Estimate { model, loss: 0.5 * (lp + lm), grads: to_optimizer_grads(&ParamVec::lincomb(0.5, &gp, 0.5, &gm)) }
    }
}

/// `k ⊙ d`: each part of `d` times its factor.
fn scaled(d: &ParamVec, k: &[f64]) -> ParamVec {
    let mut i = 0;
    d.map(|_, p| {
        i += 1;
        p.mul_scalar(k[i - 1])
    })
}
