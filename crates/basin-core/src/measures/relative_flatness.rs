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
//! invariant to rescaling the penultimate neurons; a feature with σ_k = 0 keeps φ_k and loses its
//! outgoing weights (W's column times 0), as there. `SyntheticExperiments/` divides each
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
        let sigma: Vec<f64> = if self.normalize_features { (0..d).map(|k| std_dev((0..m).map(|x| phi[x * d + k] as f64))).collect() } else { vec![1.0; d] };
        // G = W' W'ᵀ (n × n) with W'[i, k] = W[i, k] σ_k. As in `measure_comparison.py`, a
        // feature with σ_k = 0 (a dead unit) keeps φ_k but has its outgoing weights multiplied
        // by 0: they no longer count, and κ_Tr stays invariant to rescaling such a unit.
        let mut g = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = (0..d).map(|k| w[k * n + i] as f64 * w[k * n + j] as f64 * sigma[k] * sigma[k]).sum();
            }
        }
        let total: f64 = (0..m)
            .map(|x| {
                let f_sq: f64 = (0..d).map(|k| (phi[x * d + k] as f64 / if sigma[k] > 0.0 { sigma[k] } else { 1.0 }).powi(2)).sum();
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

/// The population standard deviation (`np.std`, ddof 0) of `values`.
fn std_dev(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (sum, count) = values.clone().fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    let mean = sum / count as f64;
    (values.map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dead penultimate unit (φ_k = 0 on every example) counts for nothing after the
    /// normalization, as `measure_comparison.py` zeroes its outgoing weights: κ_Tr equals κ_Tr
    /// of the same layer with the unit removed, whatever its outgoing weights are.
    #[test]
    fn a_dead_feature_counts_for_nothing() {
        let (m, d, n, dead) = (5, 3, 4, 1);
        let phi: Vec<f32> = (0..m * d).map(|i| if i % d == dead { 0.0 } else { ((i * 37) % 11) as f32 / 5.0 }).collect();
        let probs: Vec<f32> = (0..m)
            .flat_map(|x| {
                let e: Vec<f32> = (0..n).map(|i| ((x + 2 * i) % 5) as f32 * 0.3).map(f32::exp).collect();
                let z: f32 = e.iter().sum();
                e.into_iter().map(move |v| v / z)
            })
            .collect();
        let w: Vec<f32> = (0..d * n).map(|i| ((i * 13) % 7) as f32 / 3.0 - 1.0).collect();
        let keep = |k: &usize| *k != dead;
        let phi_live: Vec<f32> = (0..m * d).filter(|i| keep(&(i % d))).map(|i| phi[i]).collect();
        let w_live: Vec<f32> = (0..d).filter(keep).flat_map(|k| w[k * n..(k + 1) * n].to_vec()).collect();
        let rf = RelativeFlatness::default();
        let live = rf.kappa(&phi_live, &probs, &w_live, d - 1, n);
        let mut w_big = w.clone();
        w_big[dead * n..(dead + 1) * n].iter_mut().for_each(|v| *v *= 50.0);
        for w in [&w, &w_big] {
            let got = rf.kappa(&phi, &probs, w, d, n);
            assert!((got - live).abs() <= 1e-9 * live.abs(), "{got} vs {live} without the dead unit");
        }
    }
}
