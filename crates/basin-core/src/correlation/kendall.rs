//! Kendall's rank correlation between a measure and the generalization gap, as Jiang et al.
//! 2019 define it (§2, eq. 2): τ = 1/(n(n−1)) Σ_{i≠j} sign(μ_i − μ_j) sign(g_i − g_j), the
//! average over ordered pairs of models of the sign agreement (Kendall's τ_a). A tie in either
//! (sign 0) counts as neither concordant nor discordant and stays in the denominator; without
//! ties this is also scipy's default τ_b.

/// τ of `measure` against `gap` (equal lengths); NaN for fewer than two models (no pair: τ is
/// undefined, not 0).
///
/// # Panics
/// If the lengths differ.
pub fn tau(measure: &[f64], gap: &[f64]) -> f64 {
    tau_over(measure, gap, |_, _| true)
}

/// τ over the pairs of models `(i, j)` that `counts` admits (both the sum and the number of
/// pairs it is divided by): the granulated ψ_i counts only pairs that differ in hyperparameter
/// i, a bootstrap resample only pairs of two different original models. NaN without a pair.
///
/// # Panics
/// If the lengths differ.
pub fn tau_over(measure: &[f64], gap: &[f64], counts: impl Fn(usize, usize) -> bool) -> f64 {
    assert_eq!(measure.len(), gap.len(), "kendall::tau: one measure per gap");
    let n = measure.len();
    let sign = |x: f64| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 };
    let (mut s, mut pairs) = (0.0, 0usize);
    for i in 0..n {
        for j in (i + 1)..n {
            if counts(i, j) {
                s += sign(measure[i] - measure[j]) * sign(gap[i] - gap[j]);
                pairs += 1;
            }
        }
    }
    // each unordered pair stands for its two ordered ones, in the sum and in the count alike
    if pairs == 0 { f64::NAN } else { s / pairs as f64 }
}

/// A percentile bootstrap interval of τ over models: `resamples` draws of n models with
/// replacement (a fixed, seeded stream), the `(1 − level)/2` and `(1 + level)/2` quantiles of
/// their τ. With few models it is wide, which is the point: it says what this n can tell. A
/// model drawn twice is not a pair with itself: each resample's τ counts only pairs of two
/// different models (counted as tied pairs, the copies pulled every τ toward 0 by about 1/n,
/// and a perfect ranking's interval left out 1).
pub fn bootstrap_interval(measure: &[f64], gap: &[f64], resamples: usize, level: f64, seed: u64) -> (f64, f64) {
    use rand::{RngExt, SeedableRng};
    let n = measure.len();
    if n < 2 || resamples == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut taus: Vec<f64> = (0..resamples)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let (m, g): (Vec<f64>, Vec<f64>) = idx.iter().map(|&i| (measure[i], gap[i])).unzip();
            tau_over(&m, &g, |a, b| idx[a] != idx[b])
        })
        .filter(|t: &f64| !t.is_nan())
        .collect();
    // a resample that drew one model n times has no pair, and no τ
    if taus.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    taus.sort_by(f64::total_cmp);
    let k = taus.len();
    let q = |p: f64| taus[((p * (k - 1) as f64).round() as usize).min(k - 1)];
    (q((1.0 - level) / 2.0), q((1.0 + level) / 2.0))
}
