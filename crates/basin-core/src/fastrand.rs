//! Fast, reproducible noise on the host for the per-step perturbations.
//!
//! Burn's flex backend draws random tensors one value at a time (≈ 7 ns per value here: 12 ms
//! for ne-f1's 1.7 M weights, as long as the training step itself). SmoothOut's promise is that
//! its only overhead is adding and removing noise, so basin draws noise with Xoshiro256++ in
//! 64 Ki-value chunks, each chunk seeded from (key, chunk index) and filled in parallel: the
//! values depend only on the key, never on the thread count, and cost ≈ 0.2 ms per million.

use crate::rng::{Stream, derive_seed};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

const CHUNK: usize = 1 << 16;

/// Fills `out` with i.i.d. U(lo, hi) values determined by `key`.
pub fn fill_uniform(out: &mut [f32], key: u64, lo: f32, hi: f32) {
    let span = hi - lo;
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(key, Stream::Estimator, c as u64));
        let mut pairs = chunk.chunks_exact_mut(2);
        for p in &mut pairs {
            let x = rng.next_u64();
            p[0] = lo + span * ((x >> 40) as f32 * (1.0 / (1u64 << 24) as f32));
            p[1] = lo + span * (((x >> 8) & 0xFF_FFFF) as f32 * (1.0 / (1u64 << 24) as f32));
        }
        for v in pairs.into_remainder() {
            *v = lo + span * ((rng.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32));
        }
    });
}

/// Fills `out` with i.i.d. N(0, std²) values determined by `key` (Box–Muller on the uniforms).
pub fn fill_normal(out: &mut [f32], key: u64, std: f32) {
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(derive_seed(key, Stream::Estimator, c as u64));
        for p in chunk.chunks_mut(2) {
            let x = rng.next_u64();
            // u1 in (0, 1], u2 in [0, 1)
            let u1 = ((x >> 40) as f32 + 1.0) * (1.0 / (1u64 << 24) as f32);
            let u2 = ((x >> 8) & 0xFF_FFFF) as f32 * (1.0 / (1u64 << 24) as f32);
            let r = std * (-2.0 * u1.ln()).sqrt();
            let (s, co) = (std::f32::consts::TAU * u2).sin_cos();
            p[0] = r * co;
            if p.len() > 1 {
                p[1] = r * s;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_moments_range_and_determinism() {
        let mut a = vec![0f32; 300_001];
        fill_uniform(&mut a, 7, -0.5, 0.5);
        assert!(a.iter().all(|v| (-0.5..0.5).contains(v)));
        let n = a.len() as f64;
        let mean: f64 = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var: f64 = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        // U(-1/2, 1/2): mean 0 ± 3·sqrt(1/12/n), variance 1/12
        assert!(mean.abs() < 3.0 * (1.0 / 12.0 / n).sqrt(), "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "var {var}");
        let mut b = vec![0f32; 300_001];
        fill_uniform(&mut b, 7, -0.5, 0.5);
        assert_eq!(a, b);
        fill_uniform(&mut b, 8, -0.5, 0.5);
        assert_ne!(a, b);
        // neighbouring values are uncorrelated
        let lag: f64 = a.windows(2).map(|w| w[0] as f64 * w[1] as f64).sum::<f64>() / n;
        assert!(lag.abs() < 0.002, "lag-1 covariance {lag}");
    }

    #[test]
    fn normal_moments() {
        let mut a = vec![0f32; 200_000];
        fill_normal(&mut a, 3, 2.0);
        let n = a.len() as f64;
        let mean: f64 = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var: f64 = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let kurt: f64 = a.iter().map(|&v| ((v as f64 - mean) / var.sqrt()).powi(4)).sum::<f64>() / n;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 4.0).abs() < 0.06, "var {var}");
        assert!((kurt - 3.0).abs() < 0.1, "kurtosis {kurt}");
    }
}
