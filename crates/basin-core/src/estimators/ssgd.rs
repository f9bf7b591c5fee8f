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
