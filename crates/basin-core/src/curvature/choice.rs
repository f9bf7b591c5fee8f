//! Which curvature matrix a command measures: the Hessian (default, exact), the generalized
//! Gauss–Newton matrix, the Monte-Carlo or empirical Fisher, or the finite-difference Hessian. Every table header, JSON field and
//! plot title takes its name from [`OperatorKind::label`], so a Gauss–Newton number is never
//! printed as a Hessian one.

use super::exact_hessian::ExactHessianOperator;
use super::fd_hessian::{Differentiable, FdHessianOperator};
use super::ggn::GgnOperator;
use super::objective::{Objective, OutputCurvature};
use super::operator::LinearOperator;
use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// `hessian`, `ggn`, `fd`, `fisher` or `empirical-fisher`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorKind {
    /// The exact Hessian: reverse mode over the model's tangent pass (no step).
    #[default]
    Hessian,
    /// The generalized Gauss–Newton matrix Jᵀ H_ℓ J (PSD; J v by the model's tangent pass, or
    /// by central differences of the logits with a step ε > 0; Jᵀu exact).
    Ggn,
    /// The finite-difference Hessian (g(w + hv) − g(w − hv)) / 2h: only for smooth networks
    /// (on ReLU networks it does not converge); default ε = 1e-3.
    Fd,
    /// The Monte-Carlo Fisher: Jᵀ (1/S) Σ_s (p − e_ŷs)(p − e_ŷs)ᵀ J with S labels ŷ per example
    /// drawn from the model's softmax (for float targets, from the Gaussian N(z, T/2) whose
    /// negative log-likelihood the squared error is) (curvlinops' `mc_samples`; the same draws
    /// at every product, keyed by a seed); its expectation over ŷ is the GGN. J v as for the GGN.
    Fisher,
    /// The empirical Fisher (1/n) Σ gᵢgᵢᵀ, the per-example gradients at the data's labels.
    /// J v as for the GGN.
    EmpiricalFisher,
}

/// Labels drawn per example by `--operator fisher` unless `--fisher-samples` says otherwise
/// (curvlinops' default `mc_samples = 1`).
pub const FISHER_SAMPLES: usize = 1;

/// The names [`OperatorKind::parse`] accepts.
pub const OPERATOR_NAMES: &str = "hessian, ggn, fd, fisher, empirical-fisher";

impl OperatorKind {
    /// The default relative step of this operator: 0 (none) for the exact Hessian and for the
    /// Gauss–Newton and Fisher operators, whose J v is the tangent pass unless a step is given;
    /// 1e-3 for the finite-difference Hessian.
    pub fn default_eps(self) -> f64 {
        match self {
            OperatorKind::Hessian | OperatorKind::Ggn | OperatorKind::Fisher | OperatorKind::EmpiricalFisher => 0.0,
            OperatorKind::Fd => 1e-3,
        }
    }
    /// Whether a step ε > 0 means something to this operator (J v or H v by differences).
    pub fn takes_step(self) -> bool {
        self != OperatorKind::Hessian
    }
    /// Parses `hessian` / `ggn` / `fd`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hessian" => Some(OperatorKind::Hessian),
            "ggn" => Some(OperatorKind::Ggn),
            "fd" => Some(OperatorKind::Fd),
            "fisher" => Some(OperatorKind::Fisher),
            "empirical-fisher" => Some(OperatorKind::EmpiricalFisher),
            _ => None,
        }
    }
    /// The command-line / config name.
    pub fn name(self) -> &'static str {
        match self {
            OperatorKind::Hessian => "hessian",
            OperatorKind::Ggn => "ggn",
            OperatorKind::Fd => "fd",
            OperatorKind::Fisher => "fisher",
            OperatorKind::EmpiricalFisher => "empirical-fisher",
        }
    }
    /// What the matrix is, for table headers and plot titles.
    pub fn label(self) -> &'static str {
        match self {
            OperatorKind::Hessian => "Hessian",
            OperatorKind::Ggn => "Gauss–Newton",
            OperatorKind::Fd => "finite-difference Hessian",
            OperatorKind::Fisher => "Fisher (Monte Carlo)",
            OperatorKind::EmpiricalFisher => "empirical Fisher",
        }
    }
}

/// Any of the operators over an [`Objective`].
pub enum CurvatureOperator<M: Classifier> {
    /// The exact Hessian.
    Hessian(ExactHessianOperator<M>),
    /// The GGN, or one of the Fishers (the same Jᵀ C J machinery).
    Ggn(GgnOperator<M>),
    /// The finite-difference Hessian.
    Fd(FdHessianOperator<Objective<M>>),
}

impl<M: Classifier> CurvatureOperator<M> {
    /// The operator of `kind` over `f` with relative step `eps` (ignored by the exact Hessian;
    /// 0 for the Gauss–Newton and Fisher operators: J v by the tangent pass); an error when
    /// the operator needs the model's tangent pass and the model has none. The Monte-Carlo
    /// Fisher draws [`FISHER_SAMPLES`] labels per example with seed 0 ([`Self::fisher`] sets both).
    pub fn new(kind: OperatorKind, f: Objective<M>, eps: f64) -> Result<Self, BasinError> {
        Self::fisher(kind, f, eps, FISHER_SAMPLES, 0)
    }
    /// As [`Self::new`], with `samples` labels per example drawn with `seed` when `kind` is
    /// the Monte-Carlo Fisher (the other kinds draw none).
    pub fn fisher(kind: OperatorKind, f: Objective<M>, eps: f64, samples: usize, seed: u64) -> Result<Self, BasinError> {
        if matches!(kind, OperatorKind::Ggn | OperatorKind::Fisher | OperatorKind::EmpiricalFisher) && eps == 0.0 && !f.has_jvp() {
            return Err(BasinError::config(
                "operator",
                format!("the {} takes J v from the model's tangent pass (Classifier::logits_jvp), which this model does not have: implement it, or give a finite-difference step (--eps, curvature.eps)", kind.label()),
            ));
        }
        Ok(match kind {
            OperatorKind::Hessian => CurvatureOperator::Hessian(ExactHessianOperator::new(f)?),
            OperatorKind::Ggn => CurvatureOperator::Ggn(GgnOperator::new(f, eps)),
            OperatorKind::Fd => CurvatureOperator::Fd(FdHessianOperator::new(f, eps)),
            OperatorKind::Fisher => CurvatureOperator::Ggn(GgnOperator::with_output(f, eps, OutputCurvature::MonteCarloFisher { samples: samples.max(1), seed })),
            OperatorKind::EmpiricalFisher => CurvatureOperator::Ggn(GgnOperator::with_output(f, eps, OutputCurvature::EmpiricalFisher)),
        })
    }
    /// Which operator this is.
    pub fn kind(&self) -> OperatorKind {
        match self {
            CurvatureOperator::Hessian(_) => OperatorKind::Hessian,
            CurvatureOperator::Ggn(o) => match o.output {
                OutputCurvature::Ggn => OperatorKind::Ggn,
                OutputCurvature::MonteCarloFisher { .. } => OperatorKind::Fisher,
                OutputCurvature::EmpiricalFisher => OperatorKind::EmpiricalFisher,
            },
            CurvatureOperator::Fd(_) => OperatorKind::Fd,
        }
    }
    /// The objective underneath.
    pub fn objective(&self) -> &Objective<M> {
        match self {
            CurvatureOperator::Hessian(o) => &o.f,
            CurvatureOperator::Ggn(o) => &o.f,
            CurvatureOperator::Fd(o) => &o.f,
        }
    }
    /// The objective underneath, mutably (its gradient counts its evaluations).
    pub fn objective_mut(&mut self) -> &mut Objective<M> {
        match self {
            CurvatureOperator::Hessian(o) => &mut o.f,
            CurvatureOperator::Ggn(o) => &mut o.f,
            CurvatureOperator::Fd(o) => &mut o.f,
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
            CurvatureOperator::Hessian(o) => o.apply(v),
            CurvatureOperator::Ggn(o) => o.apply(v),
            CurvatureOperator::Fd(o) => o.apply(v),
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
            CurvatureOperator::Hessian(o) => o.calls(),
            CurvatureOperator::Ggn(o) => o.calls(),
            CurvatureOperator::Fd(o) => o.calls(),
        }
    }
}
