//! Symmetrical SGD (shared/seeds/s-sgd.txt eq. 3): the gradients at w + n and w − n averaged,
//! where for every layer n_layer = level · ‖w_layer‖ · d / ‖d‖ with a fresh random Gaussian
//! direction d each step (fixed magnitude, random direction); biases are excluded and the
//! layers are all weights, convolutions only or dense only.
//!
//! The two passes see the same dropout masks, and the step moves the batch-norm running
//! statistics once, by the mean of the two passes' updates: r ← ½[r(w + n) + r(w − n)], i.e.
//! one momentum update with the mean of the two passes' batch statistics, symmetric in ±n
//! (a choice: the paper is silent; with the one-pass rule of the other methods only w + n
//! would count).

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
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

/// The layout, device, key of d and per-layer factors k of a step's noise n = k ⊙ d.
type LastNoise = (std::sync::Arc<Vec<Slot>>, burn::tensor::Device, u64, Vec<f64>);

/// S-SGD.
#[derive(Debug, Clone)]
pub struct SymmetricSgd {
    level: f64,
    layers: ParamFilter,
    /// What the last step's noise n = k ⊙ d is drawn again from: the layout, the device, the
    /// key of d and the per-layer factors k (neither n nor d is kept).
    last: Option<LastNoise>,
}

impl SymmetricSgd {
    /// S-SGD at noise `level` on `layers`.
    pub fn new(level: f64, layers: ParamFilter) -> Self {
        SymmetricSgd { level, layers, last: None }
    }
    /// The noise n of the last step (for inspection and tests).
    pub fn last_noise(&self) -> Option<ParamVec> {
        self.last.as_ref().map(|(slots, device, key, k)| {
            let mut i = 0;
            ParamVec::zeros(slots.clone(), device).map(|s, z| {
                i += 1;
                if k[i - 1] == 0.0 { z } else { direction(s, i - 1, *key, device).mul_scalar(k[i - 1]) }
            })
        })
    }
}

/// Layer `i`'s Gaussian direction d (the part of `ParamVec::normal(key, 1)`), on `device`.
fn direction(s: &Slot, i: usize, key: u64, device: &burn::tensor::Device) -> Tensor<1> {
    crate::fused::tensor(crate::fastrand::normal_vec(s.numel(), ParamVec::part_key(key, i), 1.0), device)
}

/// Layer `i`'s direction d and its factor k = level · ‖w‖/‖d‖, so that n = k d; `None` on
/// unselected layers (k = 0).
fn layer_direction(s: &Slot, wp: &Tensor<1>, i: usize, level: f64, layers: ParamFilter, key: u64) -> Option<(Tensor<1>, f64)> {
    if !layers.accepts(s.kind) {
        return None;
    }
    let d = direction(s, i, key, &wp.device());
    let sq = crate::fused::dots(&[(&d, &d), (wp, wp)]);
    let k = if sq[0] > 0.0 { level * sq[1].sqrt() / sq[0].sqrt() } else { 0.0 };
    Some((d, k))
}

impl<M: LossModel> GradientEstimator<M> for SymmetricSgd {
    fn name(&self) -> &'static str {
        "s-sgd"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let device = w.device();
        let key = super::smoothout::noise_key(ctx.seed, ctx.step);
        // One layer at a time, so that its direction is still in cache for its norm and for
        // w + n and w − n (one fused pass); n = k d itself is never stored.
        let (mut k, mut plus, mut minus) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (s, wp)) in w.slots.iter().zip(&w.parts).enumerate() {
            let (p, m, kl) = match layer_direction(s, wp, i, self.level, self.layers, key) {
                Some((dl, kl)) if kl != 0.0 => {
                    let (p, m) = crate::fused::plus_minus(wp, kl, &dl);
                    (p, m, kl)
                }
                _ => (wp.clone(), wp.clone(), 0.0),
            };
            k.push(kl);
            plus.push(p);
            minus.push(m);
        }
        let layout = |parts| ParamVec { slots: w.slots.clone(), parts };
        let (plus, minus) = (layout(plus), layout(minus));
        let before = running_stats::snapshot(&model);
        ctx.same_masks(&device);
        let (lp, gp) = ctx.grad(&model, &w, batch, |_| Some(plus.clone()));
        let after_plus = running_stats::snapshot(&model);
        running_stats::restore(&model, &before);
        ctx.same_masks(&device);
        let (lm, gm) = ctx.grad(&model, &w, batch, |_| Some(minus.clone()));
        let after_minus = running_stats::snapshot(&model);
        running_stats::restore(&model, &after_plus.midpoint(&after_minus));
        self.last = Some((w.slots.clone(), device, key, k));
        Estimate { model, loss: 0.5 * (lp + lm), grads: to_optimizer_grads(&ParamVec::lincomb(0.5, &gp, 0.5, &gm)) }
    }
}
