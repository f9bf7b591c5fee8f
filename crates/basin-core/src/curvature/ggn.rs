//! The generalized Gauss–Newton matrix of a classifier's loss as a linear operator (see
//! [`Objective::ggn_product`]): exact curvature for piecewise-linear networks, where
//! finite differences of gradients do not converge (a kink crossed inside the step contributes
//! O(1) whatever the step).

use super::fd_hessian::Differentiable;
use super::objective::{Objective, OutputCurvature};
use super::operator::LinearOperator;
use crate::model::Classifier;
use crate::paramvec::ParamVec;

/// Jᵀ C J v of an [`Objective`] — the GGN by default, or a Fisher ([`OutputCurvature`]) —
/// with J v from the model's tangent pass when ε = 0 (exact, the default of every command), or
/// from central differences of the logits with step h = ε(1 + ‖w‖)/‖v‖ when ε > 0.
pub struct GgnOperator<M: Classifier> {
    /// The objective.
    pub f: Objective<M>,
    /// Relative step ε of the finite differences (0: the tangent pass).
    pub eps: f64,
    /// The output curvature C.
    pub output: OutputCurvature,
    w_norm: f64,
    calls: usize,
}

impl<M: Classifier> GgnOperator<M> {
    /// The GGN of `f` at its point.
    pub fn new(f: Objective<M>, eps: f64) -> Self {
        Self::with_output(f, eps, OutputCurvature::Ggn)
    }
    /// Jᵀ C J of `f` at its point for output curvature `output` (the Fishers).
    pub fn with_output(f: Objective<M>, eps: f64, output: OutputCurvature) -> Self {
        let w_norm = f.point().norm();
        GgnOperator { f, eps, output, w_norm, calls: 0 }
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
        self.f.output_product(v, h, self.output)
    }
    super::operator::point_operator_methods!();
}
