//! Which curvature matrix a command measures: the generalized Gauss–Newton matrix (default:
//! equal to the Hessian almost everywhere for piecewise-linear networks, and converging in the
//! step there) or the finite-difference Hessian (the full Hessian, non-PSD part included, for
//! smooth networks).

use super::ggn::GgnOperator;
use super::hessian::{Differentiable, HessianOperator};
use super::objective::Objective;
use super::operator::LinearOperator;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// `ggn` or `hessian`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorKind {
    /// Jᵀ H_ℓ J v (exact reverse mode + central differences of the logits); default ε = 1e-4.
    #[default]
    Ggn,
    /// (g(w + hv) − g(w − hv)) / 2h; default ε = 1e-3.
    Hessian,
}

impl OperatorKind {
    /// The default relative step of this operator.
    pub fn default_eps(self) -> f64 {
        match self {
            OperatorKind::Ggn => 1e-4,
            OperatorKind::Hessian => 1e-3,
        }
    }
    /// Parses `ggn` / `hessian`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ggn" => Some(OperatorKind::Ggn),
            "hessian" => Some(OperatorKind::Hessian),
            _ => None,
        }
    }
}

/// Either operator over an [`Objective`].
pub enum CurvatureOperator<M: Classifier> {
    /// The GGN.
    Ggn(GgnOperator<M>),
    /// The finite-difference Hessian.
    Hessian(HessianOperator<Objective<M>>),
}

impl<M: Classifier> CurvatureOperator<M> {
    /// The operator of `kind` over `f` with relative step `eps`.
    pub fn new(kind: OperatorKind, f: Objective<M>, eps: f64) -> Self {
        match kind {
            OperatorKind::Ggn => CurvatureOperator::Ggn(GgnOperator::new(f, eps)),
            OperatorKind::Hessian => CurvatureOperator::Hessian(HessianOperator::new(f, eps)),
        }
    }
    /// The objective underneath.
    pub fn objective(&self) -> &Objective<M> {
        match self {
            CurvatureOperator::Ggn(o) => &o.f,
            CurvatureOperator::Hessian(o) => &o.f,
        }
    }
    /// Loss at the point.
    pub fn loss(&self) -> f64 {
        let f = self.objective();
        f.loss(f.point())
    }
}

impl<M: Classifier> LinearOperator for CurvatureOperator<M> {
    type V = ParamVec;
    fn apply(&mut self, v: &ParamVec) -> ParamVec {
        match self {
            CurvatureOperator::Ggn(o) => o.apply(v),
            CurvatureOperator::Hessian(o) => o.apply(v),
        }
    }
    fn dim(&self) -> usize {
        self.objective().point().numel()
    }
    fn rademacher(&self, seed: u64) -> ParamVec {
        self.objective().point().rademacher(seed)
    }
    fn gaussian(&self, seed: u64) -> ParamVec {
        self.objective().point().normal(seed, 1.0)
    }
    fn calls(&self) -> usize {
        match self {
            CurvatureOperator::Ggn(o) => o.calls(),
            CurvatureOperator::Hessian(o) => o.calls(),
        }
    }
}
