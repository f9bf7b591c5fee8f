//! The PAC-Bayes flatness measures of Jiang et al. 2019 (§C, eqs. 48–49, 53 and the
//! magnitude-aware 56–57, 61), as `measures.py` of Dziugaite et al. 2020 computes them
//! (`docs/measures-reference.md` §1.5–1.6).
//!
//! σ is the largest noise scale at which the mean training accuracy of the perturbed networks
//! (Monte-Carlo over `samples` draws, all parameters perturbed, batch-norm statistics not)
//! stays within a deviation of the clean accuracy, found by [`DeviationSearch`]. The plain
//! noise is u_i ~ N(0, σ²); the magnitude-aware noise is u_i ~ N(0, σ′²w_i² + ε²), ε = 1e-3.
//!
//! The reference code passes these **variances** to `torch.normal` as standard deviations
//! (σ², resp. σ′²w² + ε², as the std). [`NoiseScale::Paper`] follows the paper's definition;
//! [`NoiseScale::ReferenceCode`] reproduces the code. The bounds take the σ found as a std in
//! both, as the code does.
//!
//! Values are raw, before the reference code's final √(v/m), like [`super::norms`].

use super::search::{DeviationSearch, Found};
use crate::fastrand::normal_vec;
use crate::rng::{Stream, derive_seed};
use serde::{Deserialize, Serialize};

/// How the noise scale found by the search becomes the noise's standard deviation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseScale {
    /// The paper's N(0, σ²) and N(0, σ′²w² + ε²).
    #[default]
    Paper,
    /// `measures.py`: the variance expression used as the standard deviation.
    ReferenceCode,
}

impl NoiseScale {
    /// The names the CLI accepts.
    pub const NAMES: &[&str] = &["paper", "reference-code"];

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Option<NoiseScale> {
        match name {
            "paper" => Some(NoiseScale::Paper),
            "reference-code" => Some(NoiseScale::ReferenceCode),
            _ => None,
        }
    }
}

/// A PAC-Bayes σ search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PacBayes {
    /// The bisection.
    pub search: DeviationSearch,
    /// Monte-Carlo draws per trial: 10.
    pub samples: usize,
    /// `Some(ε)` for the magnitude-aware σ′ (ε = 1e-3 in the reference code).
    pub magnitude_eps: Option<f64>,
    /// Paper or reference-code noise.
    pub scale: NoiseScale,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for PacBayes {
    fn default() -> Self {
        PacBayes { search: DeviationSearch::default(), samples: 10, magnitude_eps: None, scale: NoiseScale::Paper, seed: 0 }
    }
}

impl PacBayes {
    /// The standard deviation of the noise on a parameter of value `w` at scale `sigma`.
    pub fn std(&self, sigma: f64, w: f64) -> f64 {
        let variance = match self.magnitude_eps {
            None => sigma * sigma,
            Some(eps) => sigma * sigma * w * w + eps * eps,
        };
        match self.scale {
            NoiseScale::Paper => variance.sqrt(),
            NoiseScale::ReferenceCode => variance,
        }
    }

    /// `w + u` for draw `draw` of trial `trial` at scale `sigma`.
    pub fn perturbed(&self, w: &[f32], sigma: f64, trial: usize, draw: usize) -> Vec<f32> {
        let key = derive_seed(self.seed, Stream::PacBayesNoise, (trial * self.samples + draw) as u64);
        let z = normal_vec(w.len(), key, 1.0);
        w.iter().zip(z).map(|(&w, z)| w + (self.std(sigma, w as f64) * z as f64) as f32).collect()
    }

    /// σ (or σ′) for the point `w`: `statistic` of a perturbed point (the training accuracy in
    /// Jiang et al.; any quantity that grows away from `clean` with the noise), its mean over the
    /// draws compared with `clean`, its value at `w`.
    pub fn sigma(&self, w: &[f32], clean: f64, mut statistic: impl FnMut(&[f32]) -> f64) -> Found {
        self.search.run(|t, s| {
            let mean = (0..self.samples).map(|k| statistic(&self.perturbed(w, s, t, k))).sum::<f64>() / self.samples as f64;
            (mean - clean).abs()
        })
    }
}

/// The three measures of one σ: the bound from the initialization, from the origin, and the
/// flatness 1/σ².
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// `*.init` (eq. 48 / 56).
    pub init: f64,
    /// `*.orig` (eq. 49 / 57).
    pub orig: f64,
    /// `*.flatness`, 1/σ² (eq. 53 / 61).
    pub flatness: f64,
}

/// Eqs. 48, 49, 53: ‖r‖²/(4σ²) + log(m/σ) + 10 with r = w − w⁰ and r = w (weights only,
/// `dist_sq` and `w_sq` their squared norms), and 1/σ²; m training examples.
pub fn bounds(sigma: f64, dist_sq: f64, w_sq: f64, m: usize) -> Bounds {
    let b = |r_sq: f64| r_sq / (4.0 * sigma * sigma) + (m as f64 / sigma).ln() + 10.0;
    Bounds { init: b(dist_sq), orig: b(w_sq), flatness: 1.0 / (sigma * sigma) }
}

/// Eqs. 56, 57, 61: ¼ Σ_i log[(ε² + (σ′² + 1)‖r‖²/ω) / (ε² + σ′²(w_i − w⁰_i)²)] + log(m/σ′) + 10
/// over the ω weights, with `dist` = w − w⁰ per weight (the denominator uses it for both
/// bounds, as the paper and the code do), and 1/σ′².
pub fn magnitude_bounds(sigma: f64, eps: f64, dist: &[f64], w_sq: f64, m: usize) -> Bounds {
    let omega = dist.len() as f64;
    let (s2, e2) = (sigma * sigma, eps * eps);
    let dist_sq: f64 = dist.iter().map(|d| d * d).sum();
    let b = |r_sq: f64| {
        let numerator = e2 + (s2 + 1.0) * r_sq / omega;
        0.25 * dist.iter().map(|d| (numerator / (e2 + s2 * d * d)).ln()).sum::<f64>() + (m as f64 / sigma).ln() + 10.0
    };
    Bounds { init: b(dist_sq), orig: b(w_sq), flatness: 1.0 / s2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a quadratic f(w) = ½ Σ h_i w_i² at its minimum, E f(w + u) = ½ Σ h_i std_i²: with the
    /// paper's noise ½σ² tr H, so the σ at which the expected rise is Δ is √(2Δ / tr H); the
    /// reference code's std σ² gives ½σ⁴ tr H, so its σ is the square root of that.
    #[test]
    fn the_sigma_of_a_quadratic_is_the_closed_form_for_both_noise_scales() {
        let h: Vec<f64> = (0..400).map(|i| 0.5 + (i % 7) as f64).collect();
        let tr: f64 = h.iter().sum();
        let f = |w: &[f32]| 0.5 * w.iter().zip(&h).map(|(&w, h)| h * (w as f64).powi(2)).sum::<f64>();
        let delta = 0.05 * tr; // the σ sought is √0.1 ≈ 0.316
        let search = DeviationSearch { deviation: delta, tolerance: 1e-3 * delta, depth: 40, upper: 2.0 };
        let w = vec![0.0f32; h.len()];
        let paper = PacBayes { search, samples: 200, ..Default::default() }.sigma(&w, 0.0, f);
        let want = (2.0 * delta / tr).sqrt();
        assert!((paper.scale - want).abs() < 0.01 * want, "σ {} vs {want}", paper.scale);
        let code = PacBayes { search, samples: 200, scale: NoiseScale::ReferenceCode, ..Default::default() }.sigma(&w, 0.0, f);
        assert!((code.scale - want.sqrt()).abs() < 0.01 * want.sqrt(), "σ {} vs {}", code.scale, want.sqrt());
    }

    #[test]
    fn the_magnitude_aware_noise_has_variance_sigma_squared_w_squared_plus_eps_squared() {
        let p = PacBayes { magnitude_eps: Some(1e-3), ..Default::default() };
        let w = vec![0.5f32; 200_000];
        let u: Vec<f64> = p.perturbed(&w, 0.2, 0, 0).iter().map(|&x| x as f64 - 0.5).collect();
        let var = u.iter().map(|x| x * x).sum::<f64>() / u.len() as f64;
        let want = 0.04 * 0.25 + 1e-6;
        assert!((var - want).abs() < 0.02 * want, "{var} vs {want}");
        let code = PacBayes { scale: NoiseScale::ReferenceCode, ..p };
        assert!((code.std(0.2, 0.5) - want).abs() < 1e-12);
    }

    #[test]
    fn bounds_follow_the_equations() {
        let b = bounds(0.5, 2.0, 8.0, 100);
        assert!((b.init - (2.0 + (200f64).ln() + 10.0)).abs() < 1e-12);
        assert!((b.orig - (8.0 + (200f64).ln() + 10.0)).abs() < 1e-12);
        assert_eq!(b.flatness, 4.0);
        // one weight, ε = 0: ¼ log((σ²+1)d²/(σ²d²)) + log(m/σ) + 10
        let m = magnitude_bounds(0.5, 0.0, &[3.0], 9.0, 100);
        assert!((m.init - (0.25 * (1.25f64 / 0.25).ln() + (200f64).ln() + 10.0)).abs() < 1e-12);
    }
}
