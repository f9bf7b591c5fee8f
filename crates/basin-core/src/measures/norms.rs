//! The norm-based measures of Jiang et al. 2019 ("Fantastic Generalization Measures", §C and
//! Table 5; eqs. 20, 29–42), as `measures.py` of Dziugaite et al. 2020 computes them
//! (`docs/measures-reference.md` §1.2). They use the **weights only** (convolution kernels and
//! dense matrices: no biases, no normalization parameters), each reshaped to a matrix
//! (a kernel `[out, in, kh, kw]` to `[out, in·kh·kw]`; Burn's dense `[in, out]` as it is, whose
//! singular values are its transpose's).
//!
//! Values are the raw quantities of the reference code, before its final adjustment (√(v/m),
//! or ½(v − log m) for the logarithmic ones), which depends only on the number m of training
//! examples and so leaves every rank correlation unchanged; [`NormMeasures::adjusted`] applies
//! it. The spectral norm is found by power iteration on WᵀW (the paper's method; the reference
//! code takes an SVD), run until the estimate moves by less than 1e-12 relative.

use crate::paramvec::ParamVec;
use serde::Serialize;

/// One weight tensor as a row-major matrix (f64).
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The parameter's module path.
    pub path: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Entries, row-major.
    pub values: Vec<f64>,
}

/// The weight tensors of `w` (kernels and dense matrices) as matrices.
pub fn weight_matrices(w: &ParamVec) -> Vec<Matrix> {
    w.slots
        .iter()
        .zip(w.to_host_parts())
        .filter(|(s, _)| s.kind.is_weight())
        .map(|(s, v)| {
            let rows = s.shape[0];
            Matrix { path: s.path.clone(), rows, cols: s.numel() / rows.max(1), values: v.into_iter().map(f64::from).collect() }
        })
        .collect()
}

impl Matrix {
    /// ‖W‖_F².
    pub fn frobenius_sq(&self) -> f64 {
        self.values.iter().map(|x| x * x).sum()
    }

    /// ‖W‖₂, the largest singular value, by power iteration on WᵀW from a fixed start.
    pub fn spectral(&self) -> f64 {
        let (r, c) = (self.rows, self.cols);
        let mut v: Vec<f64> = (0..c).map(|i| 1.0 + ((i * 7919) % 13) as f64 / 13.0).collect();
        let mut sigma = 0.0;
        for _ in 0..10_000 {
            let u: Vec<f64> = (0..r).map(|i| self.values[i * c..(i + 1) * c].iter().zip(&v).map(|(a, b)| a * b).sum()).collect();
            let mut next = vec![0.0; c];
            for (i, ui) in u.iter().enumerate() {
                for (n, a) in next.iter_mut().zip(&self.values[i * c..(i + 1) * c]) {
                    *n += a * ui;
                }
            }
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return 0.0;
            }
            let s = norm.sqrt();
            v = next.into_iter().map(|x| x / norm).collect();
            if (s - sigma).abs() <= 1e-12 * s {
                return s;
            }
            sigma = s;
        }
        sigma
    }

    /// This matrix minus `other` (same shape).
    pub fn minus(&self, other: &Matrix) -> Matrix {
        Matrix { values: self.values.iter().zip(&other.values).map(|(a, b)| a - b).collect(), ..self.clone() }
    }
}

/// Jiang et al.'s norm-based measures (the reference code's keys), raw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NormMeasures {
    /// `PARAMS` (eq. 20): the number of weights.
    pub params: f64,
    /// `L2`: ‖w‖₂ over all weights.
    pub l2: f64,
    /// `L2_DIST`: ‖w − w⁰‖₂.
    pub l2_dist: f64,
    /// `LOG_PROD_OF_SPEC` (eq. 32): Σ_i log ‖W_i‖₂².
    pub log_prod_of_spec: f64,
    /// `LOG_SUM_OF_SPEC` (eq. 35): log d + (1/d) Σ_i log ‖W_i‖₂².
    pub log_sum_of_spec: f64,
    /// `LOG_PROD_OF_FRO` (eq. 37): Σ_i log ‖W_i‖_F².
    pub log_prod_of_fro: f64,
    /// `LOG_SUM_OF_FRO` (eq. 39): log d + (1/d) Σ_i log ‖W_i‖_F².
    pub log_sum_of_fro: f64,
    /// `FRO_OVER_SPEC` (eq. 33): Σ_i ‖W_i‖_F² / ‖W_i‖₂².
    pub fro_over_spec: f64,
    /// `FRO_DIST` (eq. 40): Σ_i ‖W_i − W⁰_i‖_F².
    pub fro_dist: f64,
    /// `DIST_SPEC_INIT` (eq. 41): Σ_i ‖W_i − W⁰_i‖₂².
    pub dist_spec_init: f64,
    /// `PARAM_NORM` (eq. 42): Σ_i ‖W_i‖_F².
    pub param_norm: f64,
}

impl NormMeasures {
    /// The measures of weights `w` with initialization `w0` (same layout).
    pub fn of(w: &ParamVec, w0: &ParamVec) -> NormMeasures {
        let (ws, w0s) = (weight_matrices(w), weight_matrices(w0));
        let d = ws.len() as f64;
        let spec: Vec<f64> = ws.iter().map(|m| m.spectral().powi(2)).collect();
        let fro: Vec<f64> = ws.iter().map(Matrix::frobenius_sq).collect();
        let dist: Vec<Matrix> = ws.iter().zip(&w0s).map(|(a, b)| a.minus(b)).collect();
        let dist_fro: Vec<f64> = dist.iter().map(Matrix::frobenius_sq).collect();
        let log_prod_of_spec: f64 = spec.iter().map(|s| s.ln()).sum();
        let log_prod_of_fro: f64 = fro.iter().map(|f| f.ln()).sum();
        NormMeasures {
            params: ws.iter().map(|m| m.values.len()).sum::<usize>() as f64,
            l2: fro.iter().sum::<f64>().sqrt(),
            l2_dist: dist_fro.iter().sum::<f64>().sqrt(),
            log_prod_of_spec,
            log_sum_of_spec: d.ln() + log_prod_of_spec / d,
            log_prod_of_fro,
            log_sum_of_fro: d.ln() + log_prod_of_fro / d,
            fro_over_spec: fro.iter().zip(&spec).map(|(f, s)| f / s).sum(),
            fro_dist: dist_fro.iter().sum(),
            dist_spec_init: dist.iter().map(|m| m.spectral().powi(2)).sum(),
            param_norm: fro.iter().sum(),
        }
    }

    /// With the reference code's final adjustment for `m` training examples: ½(v − log m) for
    /// the logarithmic measures, √(v/m) for the others.
    pub fn adjusted(&self, m: usize) -> NormMeasures {
        let m = m as f64;
        let (lin, log) = (|v: f64| (v / m).sqrt(), |v: f64| 0.5 * (v - m.ln()));
        NormMeasures {
            params: lin(self.params),
            l2: lin(self.l2),
            l2_dist: lin(self.l2_dist),
            log_prod_of_spec: log(self.log_prod_of_spec),
            log_sum_of_spec: log(self.log_sum_of_spec),
            log_prod_of_fro: log(self.log_prod_of_fro),
            log_sum_of_fro: log(self.log_sum_of_fro),
            fro_over_spec: lin(self.fro_over_spec),
            fro_dist: lin(self.fro_dist),
            dist_spec_init: lin(self.dist_spec_init),
            param_norm: lin(self.param_norm),
        }
    }
}
