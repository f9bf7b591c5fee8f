//! Fast, reproducible noise on the host for the per-step perturbations.
//!
//! SmoothOut's promise is that its only overhead is adding and removing noise, so the noise
//! must cost a small fraction of a training step: ne-f1's 1.9 M weights in well under a
//! millisecond. Burn's flex backend draws random tensors one value at a time (≈ 7 ns per
//! value), and a sequential generator (Xoshiro256++, basin's first version) cannot use the
//! vector units. basin therefore draws value `i` of a buffer as a pure function of
//! (key, i): the output of SplitMix64 (Steele, Lea & Flood, OOPSLA 2014, the generator of
//! Java's `SplittableRandom`) at position `i`, i.e. the SplitMix64 finaliser of
//! `key + (i + 1) · γ`. Every value is independent of every other, so the loop vectorizes
//! (AVX-512 when the CPU has it, chosen at run time) and is split across threads without
//! changing a single value: the noise depends only on the key, never on the thread count or
//! the instruction set.
//!
//! Uniform values take the top 24 bits of one output; normal values are Box–Muller pairs from
//! the two 24-bit halves of one output, with branch-free polynomial `ln`, `sin` and `cos`
//! (checked against f64 libm to 1e-6) so that they vectorize too.

use crate::fused::{par_fill, vectorized};
#[cfg(test)]
use crate::fused::CHUNK;
use std::mem::MaybeUninit;

/// SplitMix64's increment γ (the golden ratio in 64-bit fixed point).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
/// 2⁻²⁴: a 24-bit integer times this is a float in [0, 1) with every value exact.
const INV24: f32 = 1.0 / (1u64 << 24) as f32;

/// Output `i` of the SplitMix64 sequence seeded `key`.
#[inline(always)]
fn splitmix(key: u64, i: u64) -> u64 {
    let mut z = key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes `base(j) + U(lo, hi)` for positions `start..start + out.len()` (`base` is zero for
/// plain noise, a weight buffer for a perturbed point: the sum rounds exactly as adding a
/// separately drawn noise tensor would).
#[inline(always)]
fn uniform_body(out: &mut [MaybeUninit<f32>], base: impl Fn(usize) -> f32, key: u64, start: u64, lo: f32, span: f32) {
    for (j, v) in out.iter_mut().enumerate() {
        let x = splitmix(key, start + j as u64);
        v.write(base(j) + (lo + span * ((x >> 40) as f32 * INV24)));
    }
}

/// [`uniform_body`] added to `base` when given (of the chunk's length), or plain noise.
#[inline(always)]
fn uniform_any(out: &mut [MaybeUninit<f32>], base: Option<&[f32]>, key: u64, start: u64, lo: f32, span: f32) {
    match base {
        Some(w) => uniform_body(out, |j| w[j], key, start, lo, span),
        None => uniform_body(out, |_| 0.0, key, start, lo, span),
    }
}

/// One chunk of uniform noise, added to `base` when given (of the chunk's length), built for
/// AVX-512 when the CPU has it (8 lanes of 64-bit multiplies; [`vectorized`]).
fn uniform_chunk(out: &mut [MaybeUninit<f32>], base: Option<&[f32]>, key: u64, start: u64, lo: f32, span: f32) {
    vectorized(
        #[inline(always)]
        || uniform_any(out, base, key, start, lo, span),
    )
}

/// ln u for u in (0, 1], branch-free so that it vectorizes: u = m·2ᵉ with m in [√½, √2),
/// ln u = e·ln 2 + 2 atanh s, s = (m − 1)/(m + 1), |s| ≤ 0.172, and the atanh series to s⁹
/// (truncation below 1e-9, under f32's rounding).
#[inline(always)]
fn ln_unit(u: f32) -> f32 {
    let bits = u.to_bits();
    let m = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000); // [1, 2)
    let big = m > std::f32::consts::SQRT_2;
    let m = if big { 0.5 * m } else { m };
    let e = ((bits >> 23) as i32 - 127 + big as i32) as f32;
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let atanh2 = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (2.0 / 5.0 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0)))));
    e * std::f32::consts::LN_2 + atanh2
}

/// (sin 2πt, cos 2πt) for t in [0, 1), branch-free: t = q/4 + r with q = round(4t) and
/// |r| ≤ 1/8 (exact in f32), Taylor polynomials on x = 2πr in [−π/4, π/4] (to x⁹ and x¹⁰,
/// truncation below 3e-9), then the quadrant's swap and signs.
#[inline(always)]
fn sin_cos_turns(t: f32) -> (f32, f32) {
    let q = (4.0 * t).round();
    let x = std::f32::consts::TAU * (t - 0.25 * q);
    let x2 = x * x;
    let s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0)))));
    let c = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
    let q = q as u32 & 3;
    let (sin, cos) = if q & 1 == 1 { (c, s) } else { (s, c) };
    let sin = if q >= 2 { -sin } else { sin };
    let cos = if q == 1 || q == 2 { -cos } else { cos };
    (sin, cos)
}

/// Writes N(0, std²) values for positions `start..start + out.len()` (`start` even): pair
/// `p` is Box–Muller on the two 24-bit halves of SplitMix64 output `p`, with the branch-free
/// [`ln_unit`] and [`sin_cos_turns`] so that the loop vectorizes (libm's scalar `ln`, `sin`
/// and `cos` made basin's first version 4× slower than drawing with the Ziggurat method).
#[inline(always)]
fn normal_body(out: &mut [MaybeUninit<f32>], key: u64, start: u64, std: f32) {
    // Pair p of the buffer: (r cos, r sin) from output start/2 + p.
    #[inline(always)]
    fn pair(key: u64, p: u64, std: f32) -> (f32, f32) {
        let x = splitmix(key, p);
        // u1 in (0, 1], u2 in [0, 1)
        let u1 = ((x >> 40) as f32 + 1.0) * INV24;
        let u2 = ((x >> 8) & 0xFF_FFFF) as f32 * INV24;
        let r = std * (-2.0 * ln_unit(u1)).sqrt();
        let (s, c) = sin_cos_turns(u2);
        (r * c, r * s)
    }
    // Blocks of 16 pairs computed into arrays, then interleaved: the form LLVM vectorizes.
    const B: usize = 16;
    let first = start / 2;
    let done = (out.len() / (2 * B)) * B;
    let mut blocks = out.chunks_exact_mut(2 * B);
    for (b, block) in (&mut blocks).enumerate() {
        let (mut zc, mut zs) = ([0f32; B], [0f32; B]);
        for l in 0..B {
            (zc[l], zs[l]) = pair(key, first + (b * B + l) as u64, std);
        }
        for l in 0..B {
            block[2 * l].write(zc[l]);
            block[2 * l + 1].write(zs[l]);
        }
    }
    for (j, rest) in blocks.into_remainder().chunks_mut(2).enumerate() {
        let (c, s) = pair(key, first + (done + j) as u64, std);
        rest[0].write(c);
        if let Some(second) = rest.get_mut(1) {
            second.write(s);
        }
    }
}

/// One chunk of normal noise, built for AVX-512 when the CPU has it ([`vectorized`]).
fn normal_chunk(out: &mut [MaybeUninit<f32>], key: u64, start: u64, std: f32) {
    vectorized(
        #[inline(always)]
        || normal_body(out, key, start, std),
    )
}

/// `n` i.i.d. U(lo, hi) values determined by `key` (no zero-filling pass first).
///
/// Value `i` depends only on (`key`, `i`): a longer draw extends a shorter one, and the
/// thread count and instruction set change nothing.
///
/// ```
/// use basin_core::fastrand::uniform_vec;
/// let a = uniform_vec(100_000, 7, -0.5, 0.5);
/// assert!(a.iter().all(|v| (-0.5..0.5).contains(v)));
/// assert_eq!(a[..10], uniform_vec(10, 7, -0.5, 0.5)[..]);
/// assert_ne!(a[..10], uniform_vec(10, 8, -0.5, 0.5)[..]);
/// ```
pub fn uniform_vec(n: usize, key: u64, lo: f32, hi: f32) -> Vec<f32> {
    par_fill(n, |chunk, start| uniform_chunk(chunk, None, key, start as u64, lo, hi - lo))
}

/// `w + θ` with θ = `uniform_vec(w.len(), key, lo, hi)`, bit for bit, in one pass: θ is never
/// stored, so perturbing a model's weights reads them once and writes the point once.
pub fn add_uniform(w: &[f32], key: u64, lo: f32, hi: f32) -> Vec<f32> {
    par_fill(w.len(), |chunk, s| uniform_chunk(chunk, Some(&w[s..s + chunk.len()]), key, s as u64, lo, hi - lo))
}

/// `n` i.i.d. N(0, std²) values determined by `key`.
pub fn normal_vec(n: usize, key: u64, std: f32) -> Vec<f32> {
    par_fill(n, |chunk, start| normal_chunk(chunk, key, start as u64, std))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_moments_range_and_determinism() {
        let a = uniform_vec(300_001, 7, -0.5, 0.5);
        assert!(a.iter().all(|v| (-0.5..0.5).contains(v)));
        let n = a.len() as f64;
        let mean: f64 = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var: f64 = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        // U(-1/2, 1/2): mean 0 ± 3·sqrt(1/12/n), variance 1/12
        assert!(mean.abs() < 3.0 * (1.0 / 12.0 / n).sqrt(), "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "var {var}");
        assert_eq!(a, uniform_vec(300_001, 7, -0.5, 0.5));
        assert_ne!(a, uniform_vec(300_001, 8, -0.5, 0.5));
        // neighbouring values are uncorrelated
        let lag: f64 = a.windows(2).map(|w| w[0] as f64 * w[1] as f64).sum::<f64>() / n;
        assert!(lag.abs() < 0.002, "lag-1 covariance {lag}");
    }

    #[test]
    fn the_vector_path_draws_the_scalar_paths_values() {
        // The AVX-512 body and the portable body must agree bit for bit (a run must not depend
        // on the machine's instruction set), and a value must not depend on the chunking.
        let n = 3 * CHUNK + 17;
        let fast = uniform_vec(n, 11, -2.0, 3.0);
        let mut portable = vec![MaybeUninit::uninit(); n];
        uniform_body(&mut portable, |_| 0.0, 11, 0, -2.0, 5.0);
        let portable: Vec<f32> = portable.into_iter().map(|v| unsafe { v.assume_init() }).collect();
        assert_eq!(fast, portable);
        let mut tail = vec![MaybeUninit::uninit(); 5];
        uniform_body(&mut tail, |_| 0.0, 11, (n - 5) as u64, -2.0, 5.0);
        assert_eq!(fast[n - 5..], tail.into_iter().map(|v| unsafe { v.assume_init() }).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn add_uniform_is_the_sum_with_the_drawn_noise_bit_for_bit() {
        let w: Vec<f32> = (0..CHUNK + 999).map(|i| (i as f32 * 0.37).sin() * 10.0).collect();
        let theta = uniform_vec(w.len(), 4, -0.1, 0.1);
        let sum: Vec<f32> = w.iter().zip(&theta).map(|(a, b)| a + b).collect();
        assert_eq!(add_uniform(&w, 4, -0.1, 0.1), sum);
    }

    #[test]
    fn uniform_is_uniform_by_a_kolmogorov_smirnov_test() {
        // D_n of 200 000 draws against the U(0, 1) CDF; the 1 % critical value is 1.63/√n.
        let mut a = uniform_vec(200_000, 5, 0.0, 1.0);
        a.sort_by(f32::total_cmp);
        let n = a.len() as f64;
        let d = a.iter().enumerate().map(|(i, &v)| ((i + 1) as f64 / n - v as f64).abs().max((v as f64 - i as f64 / n).abs())).fold(0.0, f64::max);
        assert!(d < 1.63 / n.sqrt(), "KS distance {d}");
    }

    #[test]
    fn polynomial_ln_sin_cos_match_f64_libm() {
        let mut worst = (0f64, 0f64, 0f64);
        for i in 0..(1u32 << 20) {
            // every 16th 24-bit grid point of (0, 1], and the extremes
            let u = ((i << 4) + 1) as f32 * INV24;
            let t = (i << 4) as f32 * INV24;
            worst.0 = worst.0.max((ln_unit(u) as f64 - (u as f64).ln()).abs());
            let (s, c) = sin_cos_turns(t);
            let a = std::f64::consts::TAU * t as f64;
            worst.1 = worst.1.max((s as f64 - a.sin()).abs());
            worst.2 = worst.2.max((c as f64 - a.cos()).abs());
        }
        assert!(ln_unit(1.0) == 0.0 && (ln_unit(INV24) as f64 - (INV24 as f64).ln()).abs() < 4e-6);
        assert!(worst.0 < 4e-6 && worst.1 < 1e-6 && worst.2 < 1e-6, "max errors ln {:e}, sin {:e}, cos {:e}", worst.0, worst.1, worst.2);
    }

    #[test]
    fn normal_vector_path_matches_the_portable_path() {
        let n = CHUNK + 7;
        let fast = normal_vec(n, 21, 1.5);
        let mut portable = vec![MaybeUninit::uninit(); n];
        normal_body(&mut portable, 21, 0, 1.5);
        assert_eq!(fast, portable.into_iter().map(|v| unsafe { v.assume_init() }).collect::<Vec<_>>());
    }

    #[test]
    fn normal_moments() {
        let a = normal_vec(200_000, 3, 2.0);
        let n = a.len() as f64;
        let mean: f64 = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var: f64 = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let kurt: f64 = a.iter().map(|&v| ((v as f64 - mean) / var.sqrt()).powi(4)).sum::<f64>() / n;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 4.0).abs() < 0.06, "var {var}");
        assert!((kurt - 3.0).abs() < 0.1, "kurtosis {kurt}");
        // tails: P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027 (± 4 binomial standard deviations)
        for (k, p) in [(2.0, 0.0455), (3.0, 0.0027)] {
            let frac = a.iter().filter(|&&v| (v / 2.0).abs() as f64 > k).count() as f64 / n;
            assert!((frac - p).abs() < 4.0 * (p * (1.0 - p) / n).sqrt(), "P(|z| > {k}) = {frac}");
        }
        // a shorter (and odd-length) draw is a prefix of a longer one
        assert_eq!(normal_vec(1001, 3, 2.0)[..], a[..1001]);
    }
}
