//! (C_ε, A)-sharpness (Keskar et al., ICLR 2017; SmoothOut workshop Table 1): the largest
//! relative rise of the training loss in a small box around w,
//!
//!   φ = 100 · (max_{y ∈ C_ε} f(w + A y) − f(w)) / (1 + f(w)),
//!
//! with C_ε = { |y_i| ≤ ε (|(A⁺w)_i| + 1) }. A = I is the full space; otherwise A is a random
//! n×p matrix with orthonormal columns (so A⁺ = Aᵀ). The maximum is found by a real L-BFGS-B
//! (the `lbfgsb` crate, the C port by Becker) on −f, from R random starts in the box; SmoothOut
//! reports the **maximum** over restarts (Keskar averaged), and so does basin, with each
//! restart's value alongside. Each restart stops after `max_evals` function evaluations (the
//! best point seen is kept).

use crate::curvature::fd_hessian::Differentiable;
use crate::paramvec::ParamVec;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// Settings of a sharpness measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharpnessConfig {
    /// Box size ε (SmoothOut: 5e-4; also 1e-3).
    pub eps: f64,
    /// Subspace dimension p (None = full space, A = I).
    pub subspace: Option<usize>,
    /// Function evaluations per restart.
    pub max_evals: usize,
    /// Restarts R (the maximum over them is reported).
    pub restarts: usize,
    /// Seed of the starts and of A.
    pub seed: u64,
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        SharpnessConfig { eps: 5e-4, subspace: None, max_evals: 20, restarts: 5, seed: 0 }
    }
}

/// The result: the sharpness and what it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sharpness {
    /// 100 · (f_max − f₀)/(1 + f₀), the maximum over restarts.
    pub sharpness: f64,
    /// f₀ = f(w).
    pub f0: f64,
    /// Largest f found.
    pub f_max: f64,
    /// Each restart's sharpness.
    pub per_restart: Vec<f64>,
    /// Function evaluations in total.
    pub evaluations: usize,
}

/// Measures the sharpness of `f` at its point.
pub fn sharpness(f: &mut dyn Differentiable, cfg: &SharpnessConfig) -> Sharpness {
    let w = f.point().clone();
    let device = w.parts.first().map(|p| p.device()).unwrap_or_default();
    let (f0, _) = f.loss_grad(&w);
    let w_host = w.to_host_f64();
    // Columns of A (orthonormal, by Gram–Schmidt of Gaussian vectors), or the identity.
    let basis: Option<Vec<ParamVec>> = cfg.subspace.map(|p| crate::estimators::nsgd::random_frame(&w, p, cfg.seed ^ 0xA5A5));
    let bounds: Vec<f64> = match &basis {
        None => w_host.iter().map(|x| cfg.eps * (x.abs() + 1.0)).collect(),
        Some(a) => a.iter().map(|col| cfg.eps * (col.dot(&w).abs() + 1.0)).collect(),
    };
    let f = RefCell::new(f);
    let mut per_restart = Vec::new();
    let mut evaluations = 0;
    let mut f_max = f0;
    for r in 0..cfg.restarts.max(1) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(crate::rng::derive_seed(cfg.seed, crate::rng::Stream::Estimator, r as u64));
        let y0: Vec<f64> = bounds.iter().map(|b| rng.random_range(-*b..=*b)).collect();
        let best = RefCell::new(f0);
        let evals = RefCell::new(0usize);
        let eval = |y: &[f64], g: &mut [f64]| -> anyhow::Result<f64> {
            if *evals.borrow() >= cfg.max_evals {
                anyhow::bail!("evaluation budget reached");
            }
            *evals.borrow_mut() += 1;
            let point = match &basis {
                None => {
                    let x: Vec<f64> = w_host.iter().zip(y).map(|(a, b)| a + b).collect();
                    w.from_host_f64(&x, &device)
                }
                Some(a) => a.iter().zip(y).fold(w.clone(), |acc, (col, yi)| acc.axpy(*yi, col)),
            };
            let (val, grad) = f.borrow_mut().loss_grad(&point);
            match &basis {
                None => {
                    for (gi, v) in g.iter_mut().zip(grad.to_host_f64()) {
                        *gi = -v;
                    }
                }
                Some(a) => {
                    for (gi, col) in g.iter_mut().zip(a) {
                        *gi = -col.dot(&grad);
                    }
                }
            }
            if val > *best.borrow() {
                *best.borrow_mut() = val;
            }
            Ok(-val)
        };
        let mut problem = lbfgsb::LbfgsbProblem::build(y0, eval);
        problem.set_bounds(bounds.iter().map(|b| (Some(-*b), Some(*b))));
        let param = lbfgsb::LbfgsbParameter { m: 5, factr: 1e7, pgtol: 1e-10, iprint: -1 };
        let mut state = lbfgsb::LbfgsbState::new(problem, param);
        let _ = state.minimize(); // stopping at the evaluation budget is an Err by design
        drop(state);
        let b = *best.borrow();
        evaluations += *evals.borrow();
        f_max = f_max.max(b);
        per_restart.push(100.0 * (b - f0) / (1.0 + f0));
    }
    Sharpness { sharpness: 100.0 * (f_max - f0) / (1.0 + f0), f0, f_max, per_restart, evaluations }
}

