//! Lanczos, power iteration, Hutchinson, Frobenius and SLQ on dense symmetric matrices with
//! known spectra, through the same operator interface the Hessian uses.

use basin_core::curvature::frobenius::frobenius;
use basin_core::curvature::hutchinson::hutchinson;
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::power::power_iteration;
use basin_core::curvature::slq::slq_density;
use basin_core::curvature::{DenseOperator, LinearOperator};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn spectrum_with_tail(top: &[f64], n: usize) -> Vec<f64> {
    let mut v = top.to_vec();
    // a bulk of small eigenvalues in [-0.5, 0.5]
    v.extend((0..n - top.len()).map(|i| -0.5 + i as f64 / (n - top.len()) as f64));
    v
}

#[test]
fn lanczos_finds_top_eigenpairs_with_small_residuals() {
    let spec = spectrum_with_tail(&[50.0, 30.0, 20.0, 10.0, 5.0], 200);
    let mut op = DenseOperator::with_spectrum(&spec, 1);
    let r = lanczos(&mut op, &LanczosConfig { k: 5, tol: 1e-8, max_iter: 200, seed: 3, smallest: false, bottom: 0 });
    assert!(r.converged);
    for (got, want) in r.eigenvalues.iter().zip([50.0, 30.0, 20.0, 10.0, 5.0]) {
        assert!(rel(*got, want) < 1e-8, "{got} vs {want}");
    }
    // residuals are real: ‖A y − θ y‖ computed directly
    for (theta, y) in r.eigenvalues.iter().zip(&r.eigenvectors) {
        let ay = op.apply(y);
        let res: f64 = ay.iter().zip(y).map(|(a, b)| (a - theta * b).powi(2)).sum::<f64>().sqrt();
        assert!(res < 1e-6, "residual {res}");
    }
    assert!(r.iterations < 100, "{} iterations", r.iterations);
}

#[test]
fn lanczos_handles_clusters_and_negative_eigenvalues() {
    // a cluster of three nearly equal top eigenvalues and a strongly negative end
    let mut spec = spectrum_with_tail(&[10.0, 10.0 - 1e-4, 10.0 - 2e-4, 4.0], 150);
    spec.push(-20.0);
    spec.push(-7.0);
    let mut op = DenseOperator::with_spectrum(&spec, 2);
    let r = lanczos(&mut op, &LanczosConfig { k: 4, tol: 1e-10, max_iter: 152, seed: 1, smallest: false, bottom: 0 });
    let want = [10.0, 10.0 - 1e-4, 10.0 - 2e-4, 4.0];
    for (g, w) in r.eigenvalues.iter().zip(want) {
        assert!((g - w).abs() < 1e-7, "{:?}", r.eigenvalues);
    }
    let s = lanczos(&mut op, &LanczosConfig { k: 2, tol: 1e-10, max_iter: 152, seed: 1, smallest: true, bottom: 0 });
    assert!((s.eigenvalues[0] + 20.0).abs() < 1e-7 && (s.eigenvalues[1] + 7.0).abs() < 1e-7, "{:?}", s.eigenvalues);
}

#[test]
fn one_lanczos_run_gives_both_ends_in_fewer_products_than_two() {
    // `basin hessian --top-k K --bottom-k J` used to run a second Lanczos from the same start
    let mut spec = spectrum_with_tail(&[10.0, 6.0, 4.0], 150);
    spec.push(-20.0);
    spec.push(-7.0);
    let cfg = |k, smallest, bottom| LanczosConfig { k, tol: 1e-9, max_iter: 152, seed: 1, smallest, bottom };
    let both = lanczos(&mut DenseOperator::with_spectrum(&spec, 2), &cfg(3, false, 2));
    assert!(both.converged);
    for (g, w) in both.eigenvalues.iter().zip([10.0, 6.0, 4.0]) {
        assert!(rel(*g, w) < 1e-8, "top {:?}", both.eigenvalues);
    }
    for (g, w) in both.bottom_eigenvalues.iter().zip([-20.0, -7.0]) {
        assert!(rel(*g, w) < 1e-8, "bottom {:?}", both.bottom_eigenvalues);
    }
    assert!(both.bottom_residuals.iter().all(|r| *r <= 1e-9 * 20.0), "{:?}", both.bottom_residuals);
    let top = lanczos(&mut DenseOperator::with_spectrum(&spec, 2), &cfg(3, false, 0));
    let low = lanczos(&mut DenseOperator::with_spectrum(&spec, 2), &cfg(2, true, 0));
    assert_eq!(both.iterations, top.iterations.max(low.iterations), "one run costs the slower end's products");
    assert!(both.iterations < top.iterations + low.iterations);
}

#[test]
fn power_iteration_with_deflation_agrees_but_needs_more_products() {
    let spec = spectrum_with_tail(&[50.0, 40.0, 30.0, 25.0, 20.0], 200);
    let mut op = DenseOperator::with_spectrum(&spec, 4);
    let p = power_iteration(&mut op, 5, 1e-10, 5000, 9);
    for (g, w) in p.eigenvalues.iter().zip([50.0, 40.0, 30.0, 25.0, 20.0]) {
        assert!(rel(*g, w) < 1e-4, "{:?}", p.eigenvalues);
    }
    let mut op2 = DenseOperator::with_spectrum(&spec, 4);
    let l = lanczos(&mut op2, &LanczosConfig { k: 5, tol: 1e-6, max_iter: 200, seed: 9, smallest: false, bottom: 0 });
    assert!(l.iterations * 2 < p.iterations, "Lanczos {} vs power {}", l.iterations, p.iterations);
}

#[test]
fn hutchinson_trace_is_within_three_standard_errors() {
    let spec: Vec<f64> = (0..300).map(|i| (i as f64 * 0.37).sin() * 3.0 + 1.0).collect();
    let trace: f64 = spec.iter().sum();
    let mut op = DenseOperator::with_spectrum(&spec, 5);
    let e = hutchinson(&mut op, 200, 0.0, 17);
    assert_eq!(e.samples, 200);
    assert!((e.mean - trace).abs() <= 3.0 * e.stderr, "trace {trace}, estimate {} ± {}", e.mean, e.stderr);
    assert!(e.stderr > 0.0 && e.stderr < 0.2 * trace.abs());
}

#[test]
fn frobenius_norm_matches_the_spectrum() {
    let spec: Vec<f64> = (0..200).map(|i| if i < 3 { 20.0 } else { (i as f64 * 0.1).cos() }).collect();
    let fro: f64 = spec.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut op = DenseOperator::with_spectrum(&spec, 6);
    let e = frobenius(&mut op, 300, 2);
    assert!((e.mean - fro).abs() <= 3.0 * e.stderr + 1e-9, "{fro} vs {} ± {}", e.mean, e.stderr);
}

#[test]
fn slq_density_integrates_to_one_and_has_mass_where_the_eigenvalues_are() {
    // half the eigenvalues near -1, half near +3
    let spec: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { -1.0 + 0.01 * (i as f64).sin() } else { 3.0 + 0.01 * (i as f64).cos() }).collect();
    let mut op = DenseOperator::with_spectrum(&spec, 7);
    let d = slq_density(&mut op, 8, 30, 0.02, 400, 1);
    let dx = d.grid[1] - d.grid[0];
    let integral: f64 = d.density.iter().sum::<f64>() * dx;
    assert!((integral - 1.0).abs() < 0.02, "∫φ = {integral}");
    let mass = |lo: f64, hi: f64| d.grid.iter().zip(&d.density).filter(|(t, _)| **t >= lo && **t <= hi).map(|(_, p)| p * dx).sum::<f64>();
    assert!((mass(-1.5, -0.5) - 0.5).abs() < 0.1, "mass near -1: {}", mass(-1.5, -0.5));
    assert!((mass(2.5, 3.5) - 0.5).abs() < 0.1, "mass near 3: {}", mass(2.5, 3.5));
    assert!(mass(0.5, 2.0) < 0.02);
}

/// Hutch++ against plain Hutchinson at the same number of products, over many draws, on a
/// spectrum shaped like a Hessian's (a few large outliers over a bulk near zero, both signs):
/// unbiased (the mean over draws within 3 standard errors of the true trace), its standard
/// error honest (the draws' spread matches the reported one within a factor 2), far smaller
/// mean-squared error than Hutchinson's, and exact on an operator of rank below m/3.
#[test]
fn hutch_pp_is_unbiased_honest_and_beats_hutchinson_at_equal_cost() {
    use basin_core::curvature::hutch_pp::hutch_pp;
    let spec: Vec<f64> = (0..240).map(|i| if i < 6 { 80.0 / (1.0 + i as f64) } else { 0.05 * ((i as f64) * 0.77).sin() }).collect();
    let trace: f64 = spec.iter().sum();
    let (draws, m) = (200, 30);
    let (mut pp, mut plain, mut reported) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..draws {
        let mut op = DenseOperator::with_spectrum(&spec, 3);
        let e = hutch_pp(&mut op, m, 100 * d);
        assert_eq!((e.samples, op.calls()), (m, m), "the product budget");
        pp.push(e.mean);
        reported.push(e.stderr);
        let mut op = DenseOperator::with_spectrum(&spec, 3);
        plain.push(hutchinson(&mut op, m, 0.0, 100 * d).mean);
    }
    let mse = |xs: &[f64]| xs.iter().map(|x| (x - trace).powi(2)).sum::<f64>() / xs.len() as f64;
    let mean = pp.iter().sum::<f64>() / draws as f64;
    let spread = mse(&pp).sqrt();
    assert!((mean - trace).abs() <= 3.0 * spread / (draws as f64).sqrt(), "biased: {mean} vs {trace}");
    let typical = reported.iter().sum::<f64>() / draws as f64;
    assert!(typical > 0.5 * spread && typical < 2.0 * spread, "reported stderr {typical} vs actual spread {spread}");
    assert!(mse(&pp) < 0.01 * mse(&plain), "Hutch++ MSE {} vs Hutchinson {}", mse(&pp), mse(&plain));
    // rank 5 < m/3: the sketch holds the whole operator, the estimate is exact
    let low: Vec<f64> = (0..100).map(|i| if i < 5 { (i + 1) as f64 } else { 0.0 }).collect();
    let mut op = DenseOperator::with_spectrum(&low, 4);
    let e = hutch_pp(&mut op, 30, 1);
    assert!((e.mean - 15.0).abs() < 1e-9, "{}", e.mean);
}

/// The density of log₁₀|λ| on a spectrum over six orders of magnitude (10⁻³ … 10², both signs,
/// 40 eigenvalues at each power): integrates to one, and the mass within ±0.5 of each power is
/// that power's share of the eigenvalues (1/6 each), where the linear axis puts almost all of it
/// in one peak at 0.
#[test]
fn the_log_density_finds_each_order_of_magnitude_s_share() {
    use basin_core::curvature::slq::log_density;
    let spec: Vec<f64> = (0..240).map(|i| 10f64.powi(i / 40 - 3) * if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
    let mut op = DenseOperator::with_spectrum(&spec, 2);
    let d = slq_density(&mut op, 40, 240, 0.01, 400, 5);
    let l = log_density(&d, 0.01, 600, 1e-9);
    let dx = l.grid[1] - l.grid[0];
    let total: f64 = l.density.iter().sum::<f64>() * dx;
    assert!((total - 1.0).abs() < 0.02, "∫ = {total}");
    for k in -3..=2 {
        let mass: f64 = l.grid.iter().zip(&l.density).filter(|(u, _)| (**u - k as f64).abs() < 0.5).map(|(_, p)| p * dx).sum();
        assert!((mass - 1.0 / 6.0).abs() < 0.05, "10^{k}: mass {mass}");
    }
}

/// A dense operator that records the key of every probe vector drawn from it.
struct Recording {
    op: DenseOperator,
    keys: std::cell::RefCell<Vec<u64>>,
}

impl LinearOperator for Recording {
    type V = Vec<f64>;
    fn apply(&mut self, v: &Vec<f64>) -> Vec<f64> {
        self.op.apply(v)
    }
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn rademacher(&self, seed: u64) -> Vec<f64> {
        self.keys.borrow_mut().push(seed);
        self.op.rademacher(seed)
    }
    fn gaussian(&self, seed: u64) -> Vec<f64> {
        self.keys.borrow_mut().push(seed);
        self.op.gaussian(seed)
    }
    fn calls(&self) -> usize {
        self.op.calls()
    }
}

#[test]
fn no_two_randomized_estimators_or_parts_of_one_share_a_probe_past_a_thousand_products() {
    // Hutch++ with 3,300 products draws 1,100 sketch and 1,100 residual probes: with keys
    // seed + 2000 + i and seed + 3000 + i they shared 100, and Hutchinson, Frobenius and SLQ
    // drew from neighbouring ranges; every stream now has its own name in rng::derive_seed
    use basin_core::curvature::hutch_pp::hutch_pp;
    let mut op = Recording { op: DenseOperator::with_spectrum(&[3.0, 2.0, 1.0, 0.5, 0.25, 0.1], 4), keys: Default::default() };
    hutch_pp(&mut op, 3300, 7);
    hutchinson(&mut op, 1100, 0.0, 7);
    frobenius(&mut op, 1100, 7);
    slq_density(&mut op, 1100, 3, 0.01, 10, 7);
    power_iteration(&mut op, 2, 0.0, 5, 7);
    let keys = op.keys.into_inner();
    let distinct: std::collections::HashSet<u64> = keys.iter().copied().collect();
    assert!(keys.len() >= 1100 * 5, "{} probes drawn", keys.len());
    assert_eq!(distinct.len(), keys.len(), "{} of {} probe keys repeat", keys.len() - distinct.len(), keys.len());
}
