//! Worst-case sharpness by Andriushchenko et al.'s projected ascent (2023, §3, eq. 2; their
//! `sharpness.py`, `eval_APGD_sharpness` and `weight_ascent_step_momentum`;
//! `docs/measures-reference.md` §2.1):
//!
//!   S_max = max_{‖δ ⊘ c‖_p ≤ ρ} L(w + δ) − L(w),
//!
//! with c = |w| for adaptive sharpness and c = 1 for standard sharpness, p ∈ {2, ∞}.
//!
//! The ascent is theirs, step for step: δ₀ = 0; a step δ + η·g/‖g‖₂·c (ℓ2) or δ + η·sign(g)·c
//! (ℓ∞) from the gradient at the current point; the projection onto the ball, the ellipsoid
//! Σ(δ_i/c_i)² ≤ ρ² (adaptive ℓ2, by bisection on the Lagrange multiplier) or the box;
//! then momentum 0.75 against the previous δ, unprojected (a convex combination of feasible
//! points). η starts at 2ρ and halves at the APGD checkpoints (iterations 5, 9, 12, 15, 16,
//! 18, 19 of 20) when fewer than 75 % of the steps since the last one improved the loss, or
//! when neither the step size nor the best loss changed; then the point returns to the best
//! one found. The value is the best loss over all iterates minus the clean loss.
//!
//! Two departures from the definition are the reference code's, and [`Protocol::Basin`] removes
//! them ([`Protocol::ReferenceCode`] is the default, as their numbers were made):
//! - At a halving the code moves the weights back to the best point but keeps the current δ,
//!   so the next step starts from a stale δ. basin restores δ too.
//! - Adaptive ℓ2: the step c⊙g/‖g‖ followed by the Euclidean projection onto the ellipsoid
//!   does not ascend the objective in the rescaled coordinates u = δ ⊘ c (its fixed points
//!   satisfy g ∝ δ ⊘ c³, where a maximum needs g ∝ δ ⊘ c²), so it stops short of the maximum:
//!   on the quadratic of the tests, 8 % below ½ρ²λ_max(CHC). basin ascends in u (the step
//!   c²⊙g/‖c⊙g‖, then the radial projection onto the ellipsoid), which reaches it. For the
//!   ℓ∞ box and for standard sharpness the two coincide.
//!
//! Coordinates with c_i = 0 never move (the reference's ellipsoid norm divides 0 by 0 there
//! and silently skips the projection).

use serde::{Deserialize, Serialize};

/// The norm of the perturbation set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// The ball (or ellipsoid).
    L2,
    /// The box.
    Linf,
}

/// Whose ascent (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// `sharpness.py` as written.
    #[default]
    ReferenceCode,
    /// A halving restores δ; adaptive ℓ2 ascends in u = δ ⊘ c.
    Basin,
}

impl Protocol {
    /// The names the CLI accepts.
    pub const NAMES: &[&str] = &["reference-code", "basin"];

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "reference-code" => Some(Protocol::ReferenceCode),
            "basin" => Some(Protocol::Basin),
            _ => None,
        }
    }
}

/// Settings of the ascent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Apgd {
    /// Radius ρ.
    pub rho: f64,
    /// Norm of the set.
    pub norm: Norm,
    /// Steps: 20.
    pub iters: usize,
    /// The first step size is 2ρ times this: 1.
    pub step_size_mult: f64,
    /// 0.75.
    pub momentum: f64,
    /// 0.75.
    pub min_update_ratio: f64,
    /// Whose ascent.
    pub protocol: Protocol,
}

impl Apgd {
    /// Their defaults at radius `rho`.
    pub fn new(rho: f64, norm: Norm) -> Apgd {
        Apgd { rho, norm, iters: 20, step_size_mult: 1.0, momentum: 0.75, min_update_ratio: 0.75, protocol: Protocol::ReferenceCode }
    }
}

/// The best point an ascent found.
#[derive(Debug, Clone, PartialEq)]
pub struct Worst {
    /// The loss there minus the clean loss.
    pub gain: f64,
    /// The clean loss.
    pub clean: f64,
    /// δ at the best point.
    pub delta: Vec<f32>,
}

/// The iterations at which the step size may halve: APGD's checkpoints p_j·n (Croce & Hein
/// 2020), p₀ = 0, p₁ = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06).
pub fn checkpoints(iters: usize) -> Vec<usize> {
    let (mut p, mut w) = (vec![0.0f64, 0.22], vec![0usize, (iters as f64 * 0.22).ceil() as usize]);
    while w[w.len() - 1] < iters && w[w.len() - 1] != w[w.len() - 2] {
        let next = p[p.len() - 1] + (p[p.len() - 1] - p[p.len() - 2] - 0.03).max(0.06);
        p.push(next);
        w.push((next * iters as f64).ceil() as usize);
    }
    w.remove(0);
    w
}

fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// ‖δ ⊘ c‖₂ over the coordinates with c_i ≠ 0.
fn weighted_norm(delta: &[f32], c: &[f32]) -> f64 {
    delta.iter().zip(c).filter(|(_, c)| **c != 0.0).map(|(&d, &c)| (d as f64 / c as f64).powi(2)).sum::<f64>().sqrt()
}

/// The Euclidean projection onto {Σ(δ_i/c_i)² ≤ ρ²}: δ_i/(1 + λ/c_i²), the multiplier λ by
/// Newton's method on 1/N(λ) = 1/ρ, N the weighted norm of the shrunk δ (for the ball, c = 1,
/// 1/N is linear in λ and one step is exact), to 1e-9 relative; the reference code bisects to
/// 1e-5 absolute.
fn project_ellipsoid(delta: &mut [f32], c: &[f32], rho: f64) {
    if weighted_norm(delta, c) <= rho {
        return;
    }
    // N(λ)² = Σ d²c²/(c²+λ)² and its derivative, over the coordinates with c ≠ 0
    let norm_and_slope = |lambda: f64| -> (f64, f64) {
        let (mut n2, mut d2) = (0.0, 0.0);
        for (&d, &c) in delta.iter().zip(c).filter(|(_, c)| **c != 0.0) {
            let (d, c2) = (d as f64, (c as f64).powi(2));
            let q = c2 + lambda;
            n2 += d * d * c2 / (q * q);
            d2 += -2.0 * d * d * c2 / (q * q * q);
        }
        (n2.sqrt(), d2)
    };
    let mut lambda = 0.0f64;
    for _ in 0..100 {
        let (n, dn2) = norm_and_slope(lambda);
        if (n - rho).abs() <= 1e-9 * rho {
            break;
        }
        // g = 1/N, g' = −(dN²/dλ)/(2N³)
        let (g, dg) = (1.0 / n, -dn2 / (2.0 * n * n * n));
        lambda = (lambda - (g - 1.0 / rho) / dg).max(0.0);
    }
    let n = norm_and_slope(lambda).0;
    let fix = if n > rho { rho / n } else { 1.0 };
    delta.iter_mut().zip(c).for_each(|(d, &c)| {
        let c2 = (c as f64).powi(2);
        *d = if c == 0.0 { 0.0 } else { (*d as f64 * c2 / (c2 + lambda) * fix) as f32 }
    });
}

impl Apgd {
    /// Maximizes the loss around `w0` over {‖δ ⊘ c‖ ≤ ρ}, `c` = |w0| (adaptive) or ones
    /// (standard). `loss_grad` gives the loss and its gradient at a point.
    pub fn maximize(&self, w0: &[f32], c: &[f32], mut loss_grad: impl FnMut(&[f32]) -> (f64, Vec<f32>)) -> Worst {
        let n = w0.len();
        let at = |d: &[f32]| -> Vec<f32> { w0.iter().zip(d).map(|(w, d)| w + d).collect() };
        let mut delta = vec![0.0f32; n];
        let mut prev = delta.clone();
        let (clean, mut g) = loss_grad(w0);
        let mut step = 2.0 * self.rho * self.step_size_mult;
        let mut best = (clean, delta.clone(), g.clone());
        let (mut prev_step, mut prev_best, mut prev_cp, mut updates) = (step, clean, 0usize, 0usize);
        let cps = checkpoints(self.iters);
        for i in 0..self.iters {
            let backup = delta.clone();
            match self.norm {
                Norm::L2 if self.protocol == Protocol::ReferenceCode => {
                    let gn = g.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
                    let f = step / (gn + 1e-12);
                    delta.iter_mut().zip(&g).zip(c).for_each(|((d, &g), &c)| *d += (f * g as f64 * c as f64) as f32);
                    project_ellipsoid(&mut delta, c, self.rho);
                }
                Norm::L2 => {
                    let gn = g.iter().zip(c).map(|(&x, &c)| (x as f64 * c as f64).powi(2)).sum::<f64>().sqrt();
                    let f = step / (gn + 1e-12);
                    delta.iter_mut().zip(&g).zip(c).for_each(|((d, &g), &c)| *d += (f * g as f64 * (c as f64).powi(2)) as f32);
                    let norm = weighted_norm(&delta, c);
                    if norm > self.rho {
                        delta.iter_mut().for_each(|d| *d = (*d as f64 * self.rho / norm) as f32);
                    }
                }
                Norm::Linf => delta.iter_mut().zip(&g).zip(c).for_each(|((d, &g), &c)| {
                    let r = (self.rho * c as f64) as f32;
                    *d = (*d + (step as f32) * sign(g) * c).clamp(-r, r);
                }),
            }
            let m = self.momentum as f32;
            delta.iter_mut().zip(&prev).for_each(|(d, p)| *d = m * *d + (1.0 - m) * p);
            prev = backup;
            let (loss, grad) = loss_grad(&at(&delta));
            g = grad;
            if loss > best.0 {
                best = (loss, delta.clone(), g.clone());
                updates += 1;
            }
            if cps.contains(&i) {
                let few = (updates as f64) < self.min_update_ratio * (i - prev_cp) as f64;
                let stuck = prev_step == step && prev_best == best.0;
                (prev_step, prev_best, prev_cp, updates) = (step, best.0, i, 0);
                if few || stuck {
                    step *= 0.5;
                    g = best.2.clone();
                    if self.protocol == Protocol::Basin {
                        delta = best.1.clone();
                    }
                }
            }
        }
        Worst { gain: best.0 - clean, clean, delta: best.1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(w) = ½ wᵀHw + bᵀw for a small b (so the ascent from w = 0 has a direction).
    fn quadratic(h: &[Vec<f64>], b: &[f64]) -> impl FnMut(&[f32]) -> (f64, Vec<f32>) {
        move |w: &[f32]| {
            let hw: Vec<f64> = h.iter().map(|r| r.iter().zip(w).map(|(a, &x)| a * x as f64).sum()).collect();
            let f = 0.5 * hw.iter().zip(w).map(|(a, &x)| a * x as f64).sum::<f64>() + b.iter().zip(w).map(|(a, &x)| a * x as f64).sum::<f64>();
            (f, hw.iter().zip(b).map(|(a, b)| (a + b) as f32).collect())
        }
    }

    /// H = Q diag(λ) Qᵀ with Q a product of Givens rotations.
    fn rotated(lambda: &[f64]) -> Vec<Vec<f64>> {
        let n = lambda.len();
        let mut q: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| (i == j) as u8 as f64).collect()).collect();
        for k in 0..n - 1 {
            let (c, s) = ((0.3 + k as f64).cos(), (0.3 + k as f64).sin());
            for row in q.iter_mut() {
                let (a, b) = (row[k], row[k + 1]);
                (row[k], row[k + 1]) = (c * a - s * b, s * a + c * b);
            }
        }
        (0..n).map(|i| (0..n).map(|j| (0..n).map(|k| q[i][k] * lambda[k] * q[j][k]).sum()).collect()).collect()
    }

    #[test]
    fn checkpoints_are_the_reference_codes() {
        assert_eq!(checkpoints(20), vec![5, 9, 12, 15, 16, 18, 19, 20]);
        assert_eq!(checkpoints(100), vec![22, 41, 58, 70, 80, 87, 93, 99, 105]);
    }

    /// Standard ℓ2: the maximum of ½δᵀHδ over ‖δ‖ ≤ ρ is ½ρ²λ_max.
    #[test]
    fn worst_case_l2_sharpness_of_a_quadratic_is_half_rho_squared_lambda_max() {
        let h = rotated(&[4.0, 1.5, 1.0, 0.5, 0.2, 0.1]);
        let b = vec![1e-4; 6];
        let (rho, c) = (0.5, vec![1.0f32; 6]);
        let w = Apgd::new(rho, Norm::L2).maximize(&[0.0; 6], &c, quadratic(&h, &b));
        let want = 0.5 * rho * rho * 4.0;
        assert!((w.gain - want).abs() < 2e-3 * want, "{} vs {want}", w.gain);
        let norm = w.delta.iter().map(|&d| (d as f64).powi(2)).sum::<f64>().sqrt();
        assert!(norm <= rho * (1.0 + 1e-6), "inside the ball: {norm}");
    }

    /// Adaptive ℓ2: δ = C u with ‖u‖ ≤ ρ, so the maximum is ½ρ²λ_max(C H C). basin's ascent
    /// reaches it; the reference code's stays feasible and stops below it.
    #[test]
    fn adaptive_l2_sharpness_reaches_the_maximum_over_the_ellipsoid() {
        let h = rotated(&[3.0, 2.0, 1.0, 0.5, 0.2]);
        let c = [2.0f32, 0.5, 1.0, 3.0, 0.25];
        let chc: Vec<Vec<f64>> = (0..5).map(|i| (0..5).map(|j| c[i] as f64 * h[i][j] * c[j] as f64).collect()).collect();
        // λ_max(CHC) by power iteration
        let mut v = vec![1.0f64; 5];
        let mut lam = 0.0;
        for _ in 0..2000 {
            let u: Vec<f64> = chc.iter().map(|r| r.iter().zip(&v).map(|(a, b)| a * b).sum()).collect();
            lam = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            v = u.iter().map(|x| x / lam).collect();
        }
        let rho = 0.3;
        let want = 0.5 * rho * rho * lam;
        let basin = Apgd { protocol: Protocol::Basin, ..Apgd::new(rho, Norm::L2) }.maximize(&[0.0; 5], &c, quadratic(&h, &[1e-4; 5]));
        assert!((basin.gain - want).abs() < 2e-3 * want, "{} vs {want}", basin.gain);
        assert!(weighted_norm(&basin.delta, &c) <= rho * (1.0 + 1e-5));
        let code = Apgd::new(rho, Norm::L2).maximize(&[0.0; 5], &c, quadratic(&h, &[1e-4; 5]));
        assert!(weighted_norm(&code.delta, &c) <= rho * (1.0 + 1e-5));
        assert!(code.gain < 0.95 * want, "the reference ascent stops short: {} vs {want}", code.gain);
    }

    /// ℓ∞: the maximum of a convex quadratic over the box is at a vertex δ = ρ·c⊙s, here by
    /// brute force over the 2⁶ sign vectors s; standard (c = 1) and adaptive. The linear term
    /// makes the maximum one-sided, so that a descent fails.
    #[test]
    fn worst_case_linf_sharpness_of_a_quadratic_is_the_best_vertex() {
        let v = [1.0, -0.7, 0.4, 0.9, -0.2, 0.5];
        let h: Vec<Vec<f64>> = (0..6).map(|i| (0..6).map(|j| v[i] * v[j] + if i == j { 0.1 } else { 0.0 }).collect()).collect();
        let b: Vec<f64> = v.iter().map(|v| 0.5 * v).collect();
        for c in [[1.0f32; 6], [0.5, 2.0, 1.0, 0.3, 1.5, 1.0]] {
            let rho = 0.05;
            let brute = (0..64u32)
                .map(|m| {
                    let d: Vec<f64> = (0..6).map(|i| if m >> i & 1 == 1 { rho * c[i] as f64 } else { -rho * c[i] as f64 }).collect();
                    (0..6).map(|i| 0.5 * (0..6).map(|j| d[i] * h[i][j] * d[j]).sum::<f64>() + b[i] * d[i]).sum::<f64>()
                })
                .fold(0.0, f64::max);
            let w = Apgd::new(rho, Norm::Linf).maximize(&[0.0; 6], &c, quadratic(&h, &b));
            assert!((w.gain - brute).abs() < 1e-3 * brute, "{} vs {brute}", w.gain);
            assert!(w.delta.iter().zip(&c).all(|(d, c)| d.abs() <= (rho as f32) * c * 1.000001));
        }
    }

    /// The projection is the Euclidean one: for y outside the ellipsoid, x = P(y) lies on it
    /// and y − x is normal to it there (∝ x ⊘ c²), and a point inside stays.
    #[test]
    fn the_ellipsoid_projection_satisfies_its_optimality_conditions() {
        let c = [2.0f32, 0.5, 1.0, 3.0, 0.25, 1.5];
        let y = [1.0f32, -2.0, 0.5, 3.0, 0.7, -0.2];
        let mut x = y;
        project_ellipsoid(&mut x, &c, 0.8);
        assert!((weighted_norm(&x, &c) - 0.8).abs() < 1e-6);
        let ratios: Vec<f64> = (0..6).map(|i| (y[i] - x[i]) as f64 / (x[i] as f64 / (c[i] as f64).powi(2))).collect();
        assert!(ratios.iter().all(|r| (r - ratios[0]).abs() < 1e-4 * ratios[0].abs()), "{ratios:?}");
        let mut inside = [0.1f32, 0.0, 0.0, 0.0, 0.0, 0.0];
        project_ellipsoid(&mut inside, &c, 0.8);
        assert_eq!(inside, [0.1, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn coordinates_with_zero_scale_never_move() {
        let h = rotated(&[2.0, 1.0, 0.5]);
        for norm in [Norm::L2, Norm::Linf] {
            let w = Apgd::new(0.1, norm).maximize(&[0.0; 3], &[1.0, 0.0, 1.0], quadratic(&h, &[1e-3; 3]));
            assert_eq!(w.delta[1], 0.0);
            assert!(w.gain > 0.0);
        }
    }
}
