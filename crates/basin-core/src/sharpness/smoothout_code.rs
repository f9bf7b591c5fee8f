//! The SmoothOut authors' sharpness protocol (`measure_sharpness.py` in the SmoothOut
//! repository), for comparing with their Table I. It differs from [`super::basin_protocol`]
//! in four ways, which this module follows and the CLI states:
//! - the loss is taken on the validation set (the caller passes that set's objective);
//! - one run of `scipy.optimize.fmin_l_bfgs_b` from y = 0 with `maxiter = 10` and scipy's
//!   defaults otherwise (m = 10, factr = 1e7, pgtol = 1e-5);
//! - its default A is a random 100-dimensional subspace (the paper says full space; the CLI
//!   makes 100 the default of this protocol, the library takes `cfg.subspace` as given), drawn
//!   as the script draws it: A⁺ with rows uniform on [−1, 1] scaled to unit length, not
//!   orthogonalized, A = pinv(A⁺), and the box on y bounded by ε(|A⁺w| + 1)
//!   ([`super::box_problem::Frame::PseudoInverse`]; basin's protocol uses an orthonormal A);
//! - the solver is handed the value −f together with the gradient of **+f**. The signs
//!   disagree, so the solver's search direction −∇(+f) *lowers* f while it tries to lower −f:
//!   a step is accepted only when it overshoots the bottom of a valley within the box, which
//!   happens in sharp directions. Near a flat minimum the line search fails at once and the
//!   result is exactly 0 (Table I reports 0.0000 for small-batch F1).
//!
//! The sharpness is f at the point the solver returns (scipy returns the last accepted
//! iterate; its value is −f there), not the best point seen.

use super::box_problem::{BoxProblem, Frame, lbfgsb};
use super::{Protocol, Sharpness, SharpnessConfig};
use crate::curvature::fd_hessian::Differentiable;

/// `fmin_l_bfgs_b`'s `maxiter` in the authors' script.
pub const MAX_ITER: usize = 10;

/// The solver settings of `fmin_l_bfgs_b(maxiter = MAX_ITER)` at scipy's defaults (m = 10,
/// factr = 1e7, pgtol = 1e-5) for a problem of `dim` variables. scipy stops once it has
/// accepted `maxiter` steps; R's `optim`, which `rcompat-lbfgsb` follows, accepts `maxit + 1`
/// (its loop runs to `maxit + 1` and tests `iteration > maxit` after the step), so `maxit` is
/// one less. Checked against scipy on a bounded Rosenbrock function that runs to the limit
/// (`tests/sharpness_smoothout_code.rs`).
pub fn scipy_control(dim: usize) -> rcompat_lbfgsb::OptimControl {
    let mut control = rcompat_lbfgsb::OptimControl::default_for_dimension(dim);
    control.maxit = MAX_ITER - 1;
    control.lmm = 10;
    control.factr = 1e7;
    control.pgtol = 1e-5;
    control
}

/// Measures the sharpness of `f` at its point under [`Protocol::SmoothOutCode`].
pub fn sharpness(f: &mut dyn Differentiable, cfg: &SharpnessConfig) -> Sharpness {
    let w = f.point().clone();
    let (f0, _) = f.loss_grad(&w);
    let problem = BoxProblem::new(&w, cfg.eps, cfg.subspace, Frame::PseudoInverse, cfg.seed);
    let y0 = vec![0.0; problem.bounds.len()];
    let mut evaluations = 0usize;
    let fg = |y: &[f64]| -> (f64, Vec<f64>) {
        evaluations += 1;
        let (val, grad) = problem.loss_grad(f, y);
        // value −f, gradient of +f: the script's inconsistent signs, kept on purpose
        (-val, grad)
    };
    let control = scipy_control(y0.len());
    // scipy returns the last accepted iterate whatever the exit reason; so does R's optim
    // through Ok. An Err means no step was taken: the start, f₀.
    let f_end = match lbfgsb(y0, problem.solver_bounds(), control, fg) {
        Ok(r) => -r.value,
        Err(_) => f0,
    };
    let s = 100.0 * (f_end - f0) / (1.0 + f0);
    Sharpness { sharpness: s, f0, f_max: f_end, per_restart: vec![s], evaluations, protocol: Protocol::SmoothOutCode }
}
