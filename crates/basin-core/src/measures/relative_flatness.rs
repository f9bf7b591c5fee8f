//! Relative flatness κ_Tr (Petzka et al. 2021, "Relative Flatness and Generalization", their
//! `CorrelationFlatnessGeneralization`: `measure_comparison.py` and `utils.py`;
//! `docs/measures-reference.md` §3) of the last dense layer W (n output neurons × d inputs,
//! `w_s = W[s, ·]` the weights of neuron s):
//!
//! ```text
//!   κ_Tr = Σ_{i,j} ⟨w_i, w_j⟩ · Tr(H_{j,i}),  H_{j,i}[a, b] = ∂²L / ∂W[j,a] ∂W[i,b],
//! ```
//!
//! over all ordered pairs, L the mean cross-entropy over the set. The logits are linear in W,
//! so the blocks have a closed form in the layer's input φ(x) and the softmax p(x):
//! `H_{j,i}[a,b] = mean_x φ_a φ_b (diag p − ppᵀ)_{ji}`, hence
//!
//!   κ_Tr = mean_x ‖φ(x)‖² · Σ_{i,j} (W Wᵀ)_{ij} (diag p(x) − p(x)p(x)ᵀ)_{ij},
//!
//! computed here in one pass (their code builds the n·d × n·d Hessian by double backward).
//! As in `measure_comparison.py`, each feature is first scaled to unit standard deviation
//! over the set (φ_k/σ_k, and W's column k times σ_k: the same function), which makes κ_Tr
//! invariant to rescaling the penultimate neurons. `SyntheticExperiments/` divides each
//! trace by d (`divide_by_inputs`).

use serde::Serialize;

/// Settings of κ_Tr.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RelativeFlatness {
    /// Scale each feature to unit standard deviation first (`measure_comparison.py`).
    pub normalize_features: bool,
    /// Divide each trace by d (their synthetic experiments and the FAM regularizer).
    pub divide_by_inputs: bool,
}

impl Default for RelativeFlatness {
    fn default() -> Self {
        RelativeFlatness { normalize_features: true, divide_by_inputs: false }
    }
}

impl RelativeFlatness {
    /// κ_Tr from the features `phi` (`[m, d]` row-major), the softmax `probs` (`[m, n]`) and
    /// the layer's weights `w` as Burn stores a dense layer (`[d, n]`, row-major).
    pub fn kappa(&self, phi: &[f32], probs: &[f32], w: &[f32], d: usize, n: usize) -> f64 {
        let m = probs.len() / n;
        let mut sigma = vec![1.0f64; d];
        if self.normalize_features {
            for (k, s) in sigma.iter_mut().enumerate() {
                let mean = (0..m).map(|x| phi[x * d + k] as f64).sum::<f64>() / m as f64;
                let var = (0..m).map(|x| (phi[x * d + k] as f64 - mean).powi(2)).sum::<f64>() / m as f64;
                if var > 0.0 {
                    *s = var.sqrt();
                }
            }
        }
        // G = W' W'ᵀ (n × n) with W'[i, k] = W[i, k] σ_k
        let mut g = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..d).map(|k| w[k * n + i] as f64 * w[k * n + j] as f64 * sigma[k] * sigma[k]).sum();
            }
        }
        let total: f64 = (0..m)
            .map(|x| {
                let f_sq: f64 = (0..d).map(|k| (phi[x * d + k] as f64 / sigma[k]).powi(2)).sum();
                let p = &probs[x * n..(x + 1) * n];
                let mut s = 0.0;
                for i in 0..n {
                    for j in 0..n {
                        let a = if i == j { p[i] as f64 } else { 0.0 } - p[i] as f64 * p[j] as f64;
                        s += g[i * n + j] * a;
                    }
                }
                f_sq * s
            })
            .sum();
        let kappa = total / m as f64;
        if self.divide_by_inputs { kappa / d as f64 } else { kappa }
    }
}
