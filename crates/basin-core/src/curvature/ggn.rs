//! The generalized Gauss–Newton matrix of a classifier's loss as a linear operator (see
//! [`Objective::ggn_product`]): exact curvature for piecewise-linear networks, where
//! finite differences of gradients do not converge (a kink crossed inside the step contributes
//! O(1) whatever the step).

use super::fd_hessian::Differentiable;
use super::objective::Objective;
use super::operator::LinearOperator;
use crate::model::Classifier;
use crate::paramvec::ParamVec;

/// G·v of an [`Objective`], with the logits' finite-difference step h = ε(1 + ‖w‖)/‖v‖.
pub struct GgnOperator<M: Classifier> {
    /// The objective.
    pub f: Objective<M>,
    /// Relative step ε.
    pub eps: f64,
    w_norm: f64,
    calls: usize,
}

impl<M: Classifier> GgnOperator<M> {
    /// The GGN of `f` at its point.
    pub fn new(f: Objective<M>, eps: f64) -> Self {
        let w_norm = f.point().norm();
        GgnOperator { f, eps, w_norm, calls: 0 }
    }
}

impl<M: Classifier> LinearOperator for GgnOperator<M> {
    type V = ParamVec;
    fn apply(&mut self, v: &ParamVec) -> ParamVec {
        self.calls += 1;
        let vn = v.norm();
        if vn == 0.0 {
            return v.zeros_like();
        }
        let h = super::fd_hessian::relative_step(self.eps, self.w_norm, vn);
        self.f.ggn_product(v, h)
    }
    super::operator::point_operator_methods!();
}
