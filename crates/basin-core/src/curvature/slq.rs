//! Spectral density by stochastic Lanczos quadrature (Golub & Meurant; Ghorbani et al. 2019, as
//! in PyHessian): for each of `probes` Rademacher starts, m Lanczos steps give Ritz values θ_j
//! and weights τ_j = (first component of the j-th Ritz vector)²; the density is
//! φ(t) = (1/probes) Σ_probes Σ_j τ_j N(t; θ_j, σ²), returned as plain data for plots.

use super::lanczos::{LanczosConfig, lanczos_from};
use super::operator::LinearOperator;
use super::vector::Vector;
use serde::{Deserialize, Serialize};
use crate::rng::{Stream, derive_seed};

/// A spectral density on a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Density {
    /// Grid points (eigenvalue axis).
    pub grid: Vec<f64>,
    /// Density at each grid point (integrates to ≈ 1).
    pub density: Vec<f64>,
    /// Gaussian width σ.
    pub sigma: f64,
    /// All (node, weight) pairs of the quadrature, per probe concatenated.
    pub nodes: Vec<(f64, f64)>,
}

/// SLQ density with `probes` starts of `steps` Lanczos steps, Gaussian width `sigma` relative to
/// the spectrum's range (σ = sigma·(λ_max − λ_min)), on `points` grid points.
pub fn slq_density<O: LinearOperator>(op: &mut O, probes: usize, steps: usize, sigma: f64, points: usize, seed: u64) -> Density {
    let mut nodes = Vec::new();
    for p in 0..probes {
        let start = op.rademacher(derive_seed(seed, Stream::SlqProbe, p as u64));
        let cfg = LanczosConfig { k: 1, tol: 0.0, max_iter: steps, seed, smallest: false, bottom: 0 };
        let r = lanczos_from(op, start.scale(1.0), &cfg);
        for (theta, first) in r.ritz_all {
            nodes.push((theta, first * first / probes as f64));
        }
    }
    smooth(nodes, sigma, points)
}

/// The density of (x, weight) `nodes` smoothed by Gaussians of width `sigma` relative to the
/// nodes' range, on `points` grid points; the nodes are kept as given.
fn smooth(nodes: Vec<(f64, f64)>, sigma: f64, points: usize) -> Density {
    let lo = nodes.iter().map(|n| n.0).fold(f64::INFINITY, f64::min);
    let hi = nodes.iter().map(|n| n.0).fold(f64::NEG_INFINITY, f64::max);
    let width = (hi - lo).max(1e-12);
    let s = sigma * width;
    let (a, b) = (lo - 5.0 * s - 0.05 * width, hi + 5.0 * s + 0.05 * width);
    let grid: Vec<f64> = (0..points).map(|i| a + (b - a) * i as f64 / (points - 1).max(1) as f64).collect();
    let norm = 1.0 / (s * (2.0 * std::f64::consts::PI).sqrt());
    let density = grid
        .iter()
        .map(|&t| nodes.iter().map(|&(th, w)| w * norm * (-(t - th).powi(2) / (2.0 * s * s)).exp()).sum())
        .collect();
    Density { grid, density, sigma: s, nodes }
}

/// The density of log₁₀|λ| from the same quadrature (Papyan 2020 draws Hessian spectra so,
/// where they span orders of magnitude): each node θ_j moves to log₁₀|θ_j| with its weight,
/// and is smoothed on that axis (`sigma` relative to the log range). Nodes below `floor`·max|θ|
/// in magnitude (numerically zero) sit at log₁₀(floor·max|θ|). Its `nodes` are the moved ones.
pub fn log_density(d: &Density, sigma: f64, points: usize, floor: f64) -> Density {
    let top = d.nodes.iter().map(|n| n.0.abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let nodes = d.nodes.iter().map(|&(th, w)| (th.abs().max(floor * top).log10(), w)).collect();
    smooth(nodes, sigma, points)
}
