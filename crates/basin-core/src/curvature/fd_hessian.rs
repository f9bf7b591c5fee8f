//! The finite-difference Hessian (`--operator fd`): central differences of gradients,
//! H v ≈ (g(w + h v) − g(w − h v)) / 2h, for any [`Differentiable`] function.
//!
//! This is an approximation. For smooth functions it converges as O(h²); for ReLU and max-pool
//! networks it does not, because an activation kink crossed inside the step contributes O(1)
//! whatever the step (measured on ne-f1: 1.7–3.3× the exact top eigenvalues). Classifiers with
//! a tangent pass get the exact product instead ([`super::exact_hessian`]). The step is chosen relative to the weights:
//! h = ε·(1 + ‖w‖)/‖v‖, i.e. the two points lie ε·(1 + ‖w‖) away from w whatever the scale of
//! v. Central differences make the truncation error O(h²‖v‖²·‖∇³L‖) and the round-off error
//! O(u·‖g‖/h) for unit round-off u; balancing them gives ε ∝ u^{1/3}: ≈ 5·10⁻³ in f32 and
//! ≈ 6·10⁻⁶ in f64. The default ε = 10⁻³ sits on the safe side of f32's optimum (ReLU networks
//! have kinks, where smaller steps see fewer of them); the tests measure the error against closed
//! forms (exact for quadratics whatever h).

use super::operator::LinearOperator;
use crate::paramvec::ParamVec;

/// h = ε(1 + ‖w‖)/‖v‖: the points w ± hv lie ε(1 + ‖w‖) from w whatever the scale of v
/// (shared by the Hessian and GGN operators).
pub fn relative_step(eps: f64, w_norm: f64, v_norm: f64) -> f64 {
    eps * (1.0 + w_norm) / v_norm
}

/// Something with a gradient: a loss over a fixed data set, as a function of the parameters.
pub trait Differentiable {
    /// Loss and gradient at `w`.
    fn loss_grad(&mut self, w: &ParamVec) -> (f64, ParamVec);
    /// The point the Hessian is taken at.
    fn point(&self) -> &ParamVec;
}

/// H·v by central differences of the gradient of `f` around `f.point()`.
pub struct FdHessianOperator<F: Differentiable> {
    /// The function.
    pub f: F,
    /// Relative step ε (see module docs).
    pub eps: f64,
    w_norm: f64,
    calls: usize,
}

impl<F: Differentiable> FdHessianOperator<F> {
    /// The Hessian of `f` at its point, with relative step `eps` (1e-3 is the f32 default).
    pub fn new(f: F, eps: f64) -> Self {
        let w_norm = f.point().norm();
        FdHessianOperator { f, eps, w_norm, calls: 0 }
    }
    /// The step h used for a vector of norm `v_norm`.
    pub fn step(&self, v_norm: f64) -> f64 {
        relative_step(self.eps, self.w_norm, v_norm)
    }
}

impl<F: Differentiable> LinearOperator for FdHessianOperator<F> {
    type V = ParamVec;
    fn apply(&mut self, v: &ParamVec) -> ParamVec {
        self.calls += 1;
        let vn = v.norm();
        if vn == 0.0 {
            return v.zeros_like();
        }
        let h = self.step(vn);
        let w = self.f.point().clone();
        let (_, gp) = self.f.loss_grad(&w.axpy(h, v));
        let (_, gm) = self.f.loss_grad(&w.axpy(-h, v));
        gp.sub(&gm).scale(0.5 / h)
    }
    super::operator::point_operator_methods!();
}
