//! basin's sharpness protocol: maximize f over the box by L-BFGS-B on −f with its own
//! gradient (consistent signs), from R uniform random starts in the box, and report the
//! **maximum** over restarts (SmoothOut's reading; Keskar averaged), each restart's value
//! alongside. Each restart stops after `max_evals` function evaluations; the best point seen
//! counts, so a line-search failure loses nothing.

use super::box_problem::{BoxProblem, Frame, lbfgsb};
use super::{Protocol, Sharpness, SharpnessConfig};
use crate::curvature::fd_hessian::Differentiable;
use rand::{RngExt, SeedableRng};

/// Measures the sharpness of `f` at its point under [`Protocol::Basin`].
pub fn sharpness(f: &mut dyn Differentiable, cfg: &SharpnessConfig) -> Sharpness {
    let w = f.point().clone();
    let (f0, _) = f.loss_grad(&w);
    let problem = BoxProblem::new(&w, cfg.eps, cfg.subspace, Frame::Orthonormal, cfg.seed);
    let mut per_restart = Vec::new();
    let mut evaluations = 0;
    let mut f_max = f0;
    for r in 0..cfg.restarts.max(1) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(crate::rng::derive_seed(cfg.seed, crate::rng::Stream::Estimator, r as u64));
        let y0: Vec<f64> = problem.bounds.iter().map(|b| rng.random_range(-*b..=*b)).collect();
        let mut best = f0;
        let mut evals = 0usize;
        let mut last = -f0;
        let fg = |y: &[f64]| -> (f64, Vec<f64>) {
            // The budget spent: the last value with a zero gradient ends the run (the solver
            // sees a stationary point) without evaluating the network again.
            if evals >= cfg.max_evals {
                return (last, vec![0.0; y.len()]);
            }
            evals += 1;
            let (val, grad) = problem.loss_grad(f, y);
            best = best.max(val);
            last = -val;
            (-val, grad.into_iter().map(|g| -g).collect())
        };
        let mut control = rcompat_lbfgsb::OptimControl::default_for_dimension(y0.len());
        control.maxit = cfg.max_evals.max(1);
        control.lmm = 5;
        // A line-search failure or the budget ends a restart; the best point seen counts.
        let _ = lbfgsb(y0, problem.solver_bounds(), control, fg);
        evaluations += evals;
        f_max = f_max.max(best);
        per_restart.push(100.0 * (best - f0) / (1.0 + f0));
    }
    Sharpness { sharpness: 100.0 * (f_max - f0) / (1.0 + f0), f0, f_max, per_restart, evaluations, protocol: Protocol::Basin }
}
