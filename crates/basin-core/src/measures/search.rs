//! The bisection that both of Jiang et al.'s flatness searches run (2019, §C: the σ of the
//! PAC-Bayes measures and the α of worst-case sharpness): the largest perturbation scale at
//! which the training accuracy moves by a fixed deviation. It follows `_pacbayes_sigma` of
//! Dziugaite et al.'s `measures.py` (`docs/measures-reference.md` §1.5): the scale starts at the
//! middle of [0, upper], each trial halves the bracket, the search stops early once the
//! displacement is within `tolerance` of `deviation`, and the value is the **last scale tried**
//! (not a bracket end).

use serde::Serialize;

/// Settings of a deviation search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeviationSearch {
    /// The bracket's upper end (the lower is 0): 2 in the reference code.
    pub upper: f64,
    /// Trials at most: 15.
    pub depth: usize,
    /// The displacement sought: 0.1 (ten points of training accuracy).
    pub deviation: f64,
    /// Stop once |displacement − deviation| < tolerance: 0.01.
    pub tolerance: f64,
}

impl Default for DeviationSearch {
    fn default() -> Self {
        DeviationSearch { upper: 2.0, depth: 15, deviation: 0.1, tolerance: 0.01 }
    }
}

/// What a search found: the scale and every trial `(scale, displacement)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// The last scale tried.
    pub scale: f64,
    /// Each trial in order.
    pub trials: Vec<(f64, f64)>,
}

impl DeviationSearch {
    /// Bisects on the scale. `displacement(t, s)` is the displacement at scale `s` in trial `t`
    /// (the trial index seeds its noise); it must grow with `s`. A displacement that is not a
    /// number (a diverged network) counts as too much perturbation.
    pub fn run(&self, mut displacement: impl FnMut(usize, f64) -> f64) -> Found {
        let (mut lo, mut hi) = (0.0, self.upper);
        let mut found = Found { scale: hi / 2.0, trials: Vec::with_capacity(self.depth) };
        for t in 0..self.depth {
            let s = (lo + hi) / 2.0;
            let d = displacement(t, s);
            found.scale = s;
            found.trials.push((s, d));
            if (d - self.deviation).abs() < self.tolerance {
                break;
            }
            if d.is_nan() || d > self.deviation {
                hi = s;
            } else {
                lo = s;
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_scale_of_a_linear_displacement_and_stops_within_tolerance() {
        // displacement = s/10: the deviation 0.1 is reached at s = 1, which is the first trial
        let f = DeviationSearch::default().run(|_, s| s / 10.0);
        assert_eq!(f.trials.len(), 1);
        assert_eq!(f.scale, 1.0);
        // displacement = s²: sought 0.1 ± 0.01, so s ∈ (√0.09, √0.11)
        let f = DeviationSearch::default().run(|_, s| s * s);
        assert!((0.3..0.3317).contains(&f.scale), "{f:?}");
        assert!(f.trials.len() > 2);
    }

    #[test]
    fn a_nan_displacement_is_too_much_perturbation() {
        let f = DeviationSearch { tolerance: 1e-9, depth: 30, ..Default::default() }.run(|_, s| if s > 0.5 { f64::NAN } else { s });
        assert!((f.scale - 0.1).abs() < 1e-6, "{f:?}");
    }
}
