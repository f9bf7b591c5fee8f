//! Global gradient-norm clipping around any estimator (Pascanu et al. 2013): the gradient g is
//! replaced by g · c/‖g‖ when ‖g‖ > c, the norm taken over all parameters together. Zaremba
//! et al.'s LSTM language models (the S-SGD paper's §5.3 pipeline) clip at c = 5.
//!
//! Burn's own `GradientClipping::Norm` clips each parameter tensor separately, which is a
//! different (looser) rule; this adapter is the global one, and it wraps an estimator so that
//! what is clipped is the gradient the method hands to the optimizer.

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::paramvec::ParamVec;
use crate::task::LossModel;

/// An estimator whose gradient is clipped to global norm `max_norm`.
pub struct Clipped<M: LossModel> {
    inner: Box<dyn GradientEstimator<M>>,
    max_norm: f64,
}

impl<M: LossModel> Clipped<M> {
    /// Clips `inner`'s gradient to global norm `max_norm` (> 0).
    pub fn new(inner: Box<dyn GradientEstimator<M>>, max_norm: f64) -> Self {
        assert!(max_norm > 0.0, "Clipped: max_norm must be positive, got {max_norm}");
        Clipped { inner, max_norm }
    }
}

impl<M: LossModel> GradientEstimator<M> for Clipped<M> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let e = self.inner.estimate(model, batch, ctx);
        let g = ParamVec::from_grads(&ParamVec::from_model(&e.model), &e.grads);
        let norm = g.norm();
        if !(norm > self.max_norm) {
            return e; // within the bound (or not finite: the step's checks report that)
        }
        Estimate { grads: to_optimizer_grads(&g.scale(self.max_norm / norm)), ..e }
    }
    fn state(&self) -> Vec<ParamVec> {
        self.inner.state()
    }
    fn load_state(&mut self, state: Vec<ParamVec>) {
        self.inner.load_state(state)
    }
}
