//! Average-case sharpness (Andriushchenko et al. 2023, §3, eq. 1; `eval_average_sharpness`
//! of their `sharpness.py`, `docs/measures-reference.md` §2.2):
//!
//!   S_avg = E_δ L(w + δ) − L(w),
//!
//! with δ_i ~ N(0, ρ²c_i²) ("ℓ2", no normalization to a sphere) or δ_i ~ U[−ρc_i, ρc_i]
//! ("ℓ∞"), c = |w| (adaptive) or 1 (standard), estimated with `draws` draws (20).

use super::apgd::Norm;
use crate::fastrand::{normal_vec, uniform_vec};
use crate::rng::{Stream, derive_seed};
use serde::Serialize;

/// Settings of average-case sharpness.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AverageCase {
    /// Radius ρ.
    pub rho: f64,
    /// Gaussian (ℓ2) or uniform (ℓ∞) noise.
    pub norm: Norm,
    /// Draws per batch: 20.
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl AverageCase {
    /// δ for draw `draw` of batch `batch`.
    pub fn delta(&self, c: &[f32], batch: usize, draw: usize) -> Vec<f32> {
        let key = derive_seed(self.seed, Stream::AverageSharpness, (batch * self.draws + draw) as u64);
        let unit = match self.norm {
            Norm::L2 => normal_vec(c.len(), key, 1.0),
            Norm::Linf => uniform_vec(c.len(), key, -1.0, 1.0),
        };
        unit.iter().zip(c).map(|(u, c)| (self.rho * (*u as f64) * (*c as f64)) as f32).collect()
    }

    /// The mean rise of `loss` over the draws around `w0`, for batch `batch`.
    pub fn gain(&self, w0: &[f32], c: &[f32], batch: usize, mut loss: impl FnMut(&[f32]) -> f64) -> f64 {
        let clean = loss(w0);
        let total: f64 = (0..self.draws)
            .map(|k| {
                let p: Vec<f32> = w0.iter().zip(self.delta(c, batch, k)).map(|(w, d)| w + d).collect();
                loss(&p)
            })
            .sum();
        total / self.draws as f64 - clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On ½ Σ h_i w_i² at w = 0 the expected rise is ½ρ² Σ h_i c_i² E u², with E u² = 1 for the
    /// Gaussian and 1/3 for U[−1, 1].
    #[test]
    fn average_sharpness_of_a_quadratic_is_half_rho_squared_times_the_weighted_trace() {
        let n = 3000;
        let h: Vec<f64> = (0..n).map(|i| 1.0 + (i % 5) as f64).collect();
        let c: Vec<f32> = (0..n).map(|i| 0.5 + (i % 3) as f32 * 0.5).collect();
        let f = |w: &[f32]| 0.5 * w.iter().zip(&h).map(|(&w, h)| h * (w as f64).powi(2)).sum::<f64>();
        let weighted: f64 = h.iter().zip(&c).map(|(h, &c)| h * (c as f64).powi(2)).sum();
        for (norm, moment) in [(Norm::L2, 1.0), (Norm::Linf, 1.0 / 3.0)] {
            let a = AverageCase { rho: 0.1, norm, draws: 200, seed: 3 };
            let got = a.gain(&vec![0.0; n], &c, 0, f);
            let want = 0.5 * 0.01 * weighted * moment;
            assert!((got - want).abs() < 0.01 * want, "{norm:?}: {got} vs {want}");
        }
    }
}
