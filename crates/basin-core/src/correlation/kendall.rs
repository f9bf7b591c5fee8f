//! Kendall's rank correlation between a measure and the generalization gap, as Jiang et al.
//! 2019 define it (§2, eq. 2): τ = 1/(n(n−1)) Σ_{i≠j} sign(μ_i − μ_j) sign(g_i − g_j), the
//! average over ordered pairs of models of the sign agreement (Kendall's τ_a). A tie in either
//! (sign 0) counts as neither concordant nor discordant and stays in the denominator; without
//! ties this is also scipy's default τ_b.

/// τ of `measure` against `gap` (equal lengths); 0 for fewer than two models.
///
/// # Panics
/// If the lengths differ.
pub fn tau(measure: &[f64], gap: &[f64]) -> f64 {
    assert_eq!(measure.len(), gap.len(), "kendall::tau: one measure per gap");
    let n = measure.len();
    if n < 2 {
        return 0.0;
    }
    let sign = |x: f64| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 };
    let mut s = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            s += sign(measure[i] - measure[j]) * sign(gap[i] - gap[j]);
        }
    }
    // each unordered pair stands for its two ordered ones
    2.0 * s / (n * (n - 1)) as f64
}
