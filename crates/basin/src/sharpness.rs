//! (C_ε, A)-sharpness (Keskar et al., ICLR 2017; SmoothOut workshop Table 1): the largest
//! relative rise of the training loss in a small box around w,
//!
//!   φ = 100 · (max_{y ∈ C_ε} f(w + A y) − f(w)) / (1 + f(w)),
//!
//! with C_ε = { |y_i| ≤ ε (|(A⁺w)_i| + 1) }. A = I is the full space; otherwise A is a random
//! n×p matrix with orthonormal columns (so A⁺ = Aᵀ). The maximum is found by a real L-BFGS-B
//! (the pure-Rust `rcompat-lbfgsb`, R's `optim(method = "L-BFGS-B")`, i.e. Becker's port
//! of Byrd–Lu–Nocedal–Zhu; compared with the C binding it replaced and `lbfgsb-rs-pure` in
//! BENCHMARKS.md) on −f, from R random starts in the box; SmoothOut
//! reports the **maximum** over restarts (Keskar averaged), and so does basin, with each
//! restart's value alongside. Each restart stops after `max_evals` function evaluations (the
//! best point seen is kept).

use crate::curvature::fd_hessian::Differentiable;
use crate::paramvec::ParamVec;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// A point of the box, the objective there and its gradient.
type Evaluated = (Vec<f64>, f64, Vec<f64>);

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
        let mut best = f0;
        let mut evals = 0usize;
        let mut last = -f0;
        {
            let fg = |y: &[f64]| -> (f64, Vec<f64>) {
                // The budget spent: the last value with a zero gradient ends the run (the solver sees
                // a stationary point) without evaluating the network again.
                if evals >= cfg.max_evals {
                    return (last, vec![0.0; y.len()]);
                }
                evals += 1;
                let point = match &basis {
                    None => {
                        let x: Vec<f64> = w_host.iter().zip(y).map(|(a, b)| a + b).collect();
                        w.from_host_f64(&x, &device)
                    }
                    Some(a) => a.iter().zip(y).fold(w.clone(), |acc, (col, yi)| acc.axpy(*yi, col)),
                };
                let (val, grad) = f.borrow_mut().loss_grad(&point);
                let g: Vec<f64> = match &basis {
                    None => grad.to_host_f64().into_iter().map(|v| -v).collect(),
                    Some(a) => a.iter().map(|col| -col.dot(&grad)).collect(),
                };
                best = best.max(val);
                last = -val;
                (-val, g)
            };
            // R's optim(method = "L-BFGS-B") semantics, i.e. Becker's port of the reference code;
            // value and gradient come from one network evaluation, cached for the second call.
            let fg = RefCell::new(fg);
            let cache: RefCell<Option<Evaluated>> = RefCell::new(None);
            let at = |y: &[f64]| -> (f64, Vec<f64>) {
                if let Some((x, v, g)) = cache.borrow().as_ref()
                    && x.as_slice() == y
                {
                    return (*v, g.clone());
                }
                let (v, g) = (fg.borrow_mut())(y);
                *cache.borrow_mut() = Some((y.to_vec(), v, g.clone()));
                (v, g)
            };
            let lower: Vec<f64> = bounds.iter().map(|b| -b).collect();
            let mut control = rcompat_lbfgsb::OptimControl::default_for_dimension(y0.len());
            control.maxit = cfg.max_evals.max(1);
            control.lmm = 5;
            if let Ok(b) = rcompat_lbfgsb::Bounds::new(lower, bounds.clone()) {
                // A line-search failure or the budget ends a restart; the best point seen counts.
                let _ = rcompat_lbfgsb::optim_lbfgsb_with_gradient(y0, b, |y| at(y).0, |y| at(y).1, control);
            }
        }
        let b = best;
        evaluations += evals;
        f_max = f_max.max(b);
        per_restart.push(100.0 * (b - f0) / (1.0 + f0));
    }
    Sharpness { sharpness: 100.0 * (f_max - f0) / (1.0 + f0), f0, f_max, per_restart, evaluations }
}

