//! The Hessian of a model's loss (any [`LossModel`] with a tangent pass) as a linear operator, exactly: H v by reverse mode over
//! the model's tangent pass ([`Objective::hvp`]). The default curvature operator of every
//! command.
//!
//! Burn has first-order autodiff only, so there is no double backward. The product is
//! Pearlmutter's: H v = ∇_w ⟨∇L(w), v⟩, with ⟨∇L(w), v⟩ written out as (p − y)·ż and ż from a
//! forward-mode pass over the network ([`crate::Classifier::logits_jvp`]). ReLU masks and
//! max-pool arg-maxes are held at their values at w, exactly as autodiff does. Compared with
//! finite differences there is no step to choose and no kink to cross: the result equals what
//! reverse-over-reverse autodiff (PyTorch, PyHessian) computes, up to float rounding
//! (`basin-zoo/tests/hessian_oracle.rs` checks it against dense f64 Hessians built with
//! hyper-dual numbers).

use super::fd_hessian::Differentiable;
use super::objective::Objective;
use super::operator::LinearOperator;
use crate::error::BasinError;
use crate::task::LossModel;
use crate::paramvec::ParamVec;

/// H·v of an [`Objective`] whose model has a tangent pass.
pub struct ExactHessianOperator<M: LossModel> {
    /// The objective.
    pub f: Objective<M>,
    calls: usize,
}

impl<M: LossModel> ExactHessianOperator<M> {
    /// The Hessian of `f` at its point; an error if the model has no tangent pass.
    pub fn new(f: Objective<M>) -> Result<Self, BasinError> {
        if !f.has_jvp() {
            return Err(BasinError::config(
                "operator",
                "the exact Hessian needs the model's tangent pass (Classifier::logits_jvp, or LossModel::loss_jvp for other models); this model has none: implement it, or use the ggn or fd operator",
            ));
        }
        Ok(ExactHessianOperator { f, calls: 0 })
    }
}

impl<M: LossModel> LinearOperator for ExactHessianOperator<M> {
    type V = ParamVec;
    fn apply(&mut self, v: &ParamVec) -> ParamVec {
        self.calls += 1;
        self.f.hvp(v)
    }
    super::operator::point_operator_methods!();
}
