//! Jiang et al.'s worst-case sharpness scale α (2019, §C: the measures 1/α′² and its
//! magnitude-aware form, which came out among the best predictors of the gap): the largest box
//! radius α such that the worst point in the box, found by gradient **ascent** on the training
//! loss, moves the training accuracy by the deviation (0.1), found by the same bisection as
//! the PAC-Bayes σ ([`DeviationSearch`]).
//!
//! The box is |δ_i| ≤ α (plain) or |δ_i| ≤ α|w_i| (magnitude-aware), as the only code of the
//! first author's that searches it does (the PGDL competition's sharpness baseline,
//! `docs/measures-reference.md` §4.4, whose magnitude-aware box has no ε); the paper's
//! appendix, which may add an ε, could not be read here. The ascent inside the box is
//! Andriushchenko et al.'s ℓ∞ projected ascent ([`Apgd`], 20 steps), which is sign-gradient
//! ascent with the box projection. [`Direction::Descent`] minimizes the loss inside the box
//! instead, the direction of the PGDL baseline's optimizer steps, to show what the direction
//! does: only the direction changes, so it is an ablation, not a reproduction of that
//! baseline (20 SGD steps at lr 1e-3 on batches of 64, the last iterate kept, accuracy on
//! fresh batches, §4.4). On a network that fits its training set a descent hardly moves the
//! accuracy, and α runs to the top of the bisection's bracket.

use super::apgd::{Apgd, Norm};
use super::search::{DeviationSearch, Found};
use serde::{Deserialize, Serialize};

/// Which way the search inside the box goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Maximize the loss (the definition).
    #[default]
    Ascent,
    /// Minimize it (the direction of the PGDL sharpness baseline's optimizer steps).
    Descent,
}

/// Settings of an α search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlphaSearch {
    /// The bisection on α.
    pub search: DeviationSearch,
    /// Ascent steps per trial radius.
    pub iters: usize,
    /// The box scaled by |w| (α′).
    pub magnitude: bool,
    /// Ascent (the definition) or descent (the ablation).
    pub direction: Direction,
}

impl Default for AlphaSearch {
    fn default() -> Self {
        AlphaSearch { search: DeviationSearch::default(), iters: 20, magnitude: false, direction: Direction::Ascent }
    }
}

impl AlphaSearch {
    /// α for the point `w0`: at each trial radius the ascent of `loss_grad` (loss and
    /// gradient) in the box, then `statistic` (the training accuracy) at the worst point,
    /// compared with `clean`, its value at `w0`.
    pub fn alpha(&self, w0: &[f32], clean: f64, mut loss_grad: impl FnMut(&[f32]) -> (f64, Vec<f32>), mut statistic: impl FnMut(&[f32]) -> f64) -> Found {
        let c: Vec<f32> = if self.magnitude { w0.iter().map(|w| w.abs()).collect() } else { vec![1.0; w0.len()] };
        let sign = if self.direction == Direction::Ascent { 1.0 } else { -1.0 };
        self.search.run(|_, alpha| {
            let apgd = Apgd { iters: self.iters, ..Apgd::new(alpha, Norm::Linf) };
            let worst = apgd.maximize(w0, &c, |w| {
                let (l, g) = loss_grad(w);
                (sign * l, g.into_iter().map(|g| sign as f32 * g).collect())
            });
            let at: Vec<f32> = w0.iter().zip(&worst.delta).map(|(w, d)| w + d).collect();
            (statistic(&at) - clean).abs()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(w) = ½ wᵀHw + bᵀw with H = vvᵀ + 0.1 I: over the box |δ_i| ≤ α the rise is largest at
    /// δ = α·sign(v) (b ∥ v), ½α²(‖v‖₁² + 0.1 d) + α b·sign(v), so the α at which it equals Δ
    /// is the positive root of that quadratic. With the rise itself as the statistic, the
    /// search must find it. A descent (whose displacement is the loss's fall) finds another α.
    #[test]
    fn alpha_of_a_quadratic_is_the_root_of_the_worst_rise() {
        let v = [1.0f64, -0.7, 0.4, 0.9, -0.2, 0.5];
        let b: Vec<f64> = v.iter().map(|v| 0.5 * v).collect();
        let f = |w: &[f32]| -> (f64, Vec<f32>) {
            let vw: f64 = v.iter().zip(w).map(|(v, &w)| v * w as f64).sum();
            let loss = 0.5 * (vw * vw + 0.1 * w.iter().map(|&w| (w as f64).powi(2)).sum::<f64>()) + b.iter().zip(w).map(|(b, &w)| b * w as f64).sum::<f64>();
            (loss, v.iter().zip(w).zip(&b).map(|((v, &w), b)| (v * vw + 0.1 * w as f64 + b) as f32).collect())
        };
        let delta = 0.05;
        let search = DeviationSearch { deviation: delta, tolerance: 1e-6, depth: 40, upper: 2.0 };
        let l1: f64 = v.iter().map(|v| v.abs()).sum();
        let (qa, qb) = (0.5 * (l1 * l1 + 0.6), 0.5 * l1);
        let want = (-qb + (qb * qb + 4.0 * qa * delta).sqrt()) / (2.0 * qa);
        let w0 = [0.0f32; 6];
        let got = AlphaSearch { search, ..Default::default() }.alpha(&w0, 0.0, f, |w| f(w).0);
        assert!((got.scale - want).abs() < 1e-3 * want, "α {} vs {want}", got.scale);
        let descent = AlphaSearch { search, direction: Direction::Descent, ..Default::default() }.alpha(&w0, 0.0, f, |w| f(w).0);
        assert!((descent.scale - want).abs() > 0.1 * want, "descent α {} vs {want}", descent.scale);
    }
}
