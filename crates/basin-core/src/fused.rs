//! Fused element-wise passes over parameter vectors on the flex CPU backend.
//!
//! The estimators combine whole parameter vectors every step (w + θ, w ± n, (g₊ + g₋)/2,
//! w + ρ·g/‖g‖, α·g₁ + (1 − α)·g₂). As tensor ops each combination is two or three passes
//! over memory with a fresh buffer per op; on ne-f1's 1.9 M weights a pass costs about as
//! much as 3 % of a training step, so these passes were most of SmoothOut's and SAM's
//! overhead (issue 14). Here each combination reads its inputs once and writes its output
//! once, in parallel chunks. The chunking is fixed, so every result is independent of the
//! thread count; products and sums round exactly as the tensor ops they replace.
//! Tensors on any other backend (or not contiguous f32) take the tensor-op path.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Values per parallel task.
pub(crate) const CHUNK: usize = 1 << 16;

/// The flex primitive of `t` when it holds contiguous f32 values on the CPU backend.
pub(crate) fn flex_f32(t: &Tensor<1>) -> Option<FlexTensor> {
    let f = t.clone().try_into_primitive::<Flex>().ok()?;
    f.as_slice::<f32>().is_some().then_some(f)
}

/// The values of a tensor [`flex_f32`] returned.
pub(crate) fn values(f: &FlexTensor) -> &[f32] {
    f.as_slice::<f32>().expect("checked by flex_f32")
}

/// A 1-D tensor on `device` owning `values` (no copy on the CPU backend).
pub(crate) fn tensor(values: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// Whether the CPU runs AVX-512 builds of the host loops (fused passes and noise draws); never
/// in a build without the `x86-v4` feature, whose kernels stop at AVX2 + FMA everywhere.
#[cfg(all(target_arch = "x86_64", feature = "x86-v4"))]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512dq")
}

/// `f()` compiled for AVX-512 when the CPU has it, else for AVX2 + FMA when it has those (the
/// body is inlined into a function built with the features), else as the portable build. The
/// crate is built for baseline x86-64, whose 4-lane SSE loops made a fused pass slower than
/// Burn's own two tensor ops (0.8 against 0.55 ms for `a·x + b·y` over ne-f1's 1.9 M weights);
/// the AVX2 tier is what CPUs without AVX-512 (and builds without the `x86-v4` feature) run.
/// Results are the same bits on every tier: every loop here does the same IEEE operations in
/// the same order per element, and Rust never contracts a multiply and an add into an FMA.
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(feature = "x86-v4")]
        {
            /// # Safety
            /// The CPU must support AVX-512F and AVX-512DQ.
            #[target_feature(enable = "avx512f,avx512dq")]
            unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            if avx512() {
                // SAFETY: `avx512` detected the features.
                return unsafe { wide(f) };
            }
        }
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: both features were detected.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `n` values written by `body(chunk, start)` over parallel chunks of [`CHUNK`] values, with no
/// zero-filling pass first. `body` must write every value of its chunk.
pub(crate) fn par_fill(n: usize, body: impl Fn(&mut [MaybeUninit<f32>], usize) + Sync) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    v.spare_capacity_mut()[..n].par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| body(chunk, c * CHUNK));
    // SAFETY: `body` wrote every one of the first n slots (its contract), and f32 has no
    // invalid bit patterns.
    unsafe { v.set_len(n) };
    v
}

/// `a·x + b·y`, in one pass on the CPU backend (the coefficients rounded to f32 there, as
/// `mul_scalar` on an f32 tensor does; exact f64 coefficients for f64 tensors).
///
/// ```
/// use basin_core::fused::axpby;
/// use burn::tensor::{Device, Tensor};
/// let d = Device::flex();
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &d);
/// let y = Tensor::<1>::from_floats([10.0, 20.0, 30.0], &d);
/// let z = axpby(2.0, &x, 0.5, &y).to_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(z, [7.0, 14.0, 21.0]);
/// ```
pub fn axpby(a: f64, x: &Tensor<1>, b: f64, y: &Tensor<1>) -> Tensor<1> {
    let (a32, b32) = (a as f32, b as f32);
    map2(x, y, move |xv, yv| a32 * xv + b32 * yv).unwrap_or_else(|| x.clone().mul_scalar(a) + y.clone().mul_scalar(b))
}

/// `(x + b·y, x − b·y)`, both in one pass over `x` and `y` on the CPU backend: S-SGD's two
/// symmetric points.
pub fn plus_minus(x: &Tensor<1>, b: f64, y: &Tensor<1>) -> (Tensor<1>, Tensor<1>) {
    match (flex_f32(x), flex_f32(y)) {
        (Some(fx), Some(fy)) => {
            let b = b as f32;
            let (xs, ys) = (values(&fx), values(&fy));
            assert_eq!(xs.len(), ys.len(), "plus_minus: lengths differ");
            let n = xs.len();
            let (mut plus, mut minus): (Vec<f32>, Vec<f32>) = (Vec::with_capacity(n), Vec::with_capacity(n));
            plus.spare_capacity_mut()[..n]
                .par_chunks_mut(CHUNK)
                .zip(minus.spare_capacity_mut()[..n].par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(|(c, (p, m))| {
                    let s = c * CHUNK;
                    vectorized(
                        #[inline(always)]
                        || {
                            for (((p, m), &xv), &yv) in p.iter_mut().zip(m.iter_mut()).zip(&xs[s..]).zip(&ys[s..]) {
                                let d = b * yv;
                                p.write(xv + d);
                                m.write(xv - d);
                            }
                        },
                    )
                });
            // SAFETY: the chunks cover both buffers' first n slots and every slot was written.
            unsafe {
                plus.set_len(n);
                minus.set_len(n);
            }
            let device = x.device();
            (tensor(plus, &device), tensor(minus, &device))
        }
        _ => {
            let d = y.clone().mul_scalar(b);
            (x.clone() + d.clone(), x.clone() - d)
        }
    }
}

/// Σᵢ term(aᵢ, bᵢ) in f64 with eight independent accumulators: one accumulator is a chain of
/// dependent additions (4 cycles each), eight vectorize and keep the adder busy.
#[inline(always)]
fn sum8(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (u, v) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += term(u[l], v[l]);
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(&u, &v)| term(u, v)).sum();
    acc.iter().sum::<f64>() + tail
}

/// Σᵢ term(xᵢ, yᵢ) over per-chunk partial sums added in chunk order: independent of the thread
/// count.
fn par_sum(xs: &[f32], ys: &[f32], term: impl Fn(f32, f32) -> f64 + Sync + Copy) -> f64 {
    let partial: Vec<f64> = xs.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)).map(|(a, b)| vectorized(#[inline(always)] || sum8(a, b, term))).collect();
    partial.iter().sum()
}

/// `f(xᵢ, yᵢ)` element by element in one parallel pass, or `None` when either tensor is not
/// a contiguous f32 tensor on the CPU backend.
///
/// `f` is `Copy` (and moved into the chunks' closure) so that each chunk's loop works on its own copy: a closure reached through a
/// reference is re-read from memory after every store (the output might alias it), which kept
/// the loop scalar; a local copy lives in registers and the loop vectorizes.
pub fn map2(x: &Tensor<1>, y: &Tensor<1>, f: impl Fn(f32, f32) -> f32 + Sync + Copy) -> Option<Tensor<1>> {
    let (fx, fy) = (flex_f32(x)?, flex_f32(y)?);
    let (xs, ys) = (values(&fx), values(&fy));
    assert_eq!(xs.len(), ys.len(), "map2: lengths differ");
    let out = par_fill(xs.len(), move |chunk, s| {
        vectorized(
            #[inline(always)]
            || {
                for ((o, &a), &b) in chunk.iter_mut().zip(&xs[s..]).zip(&ys[s..]) {
                    o.write(f(a, b));
                }
            },
        )
    });
    Some(tensor(out, &x.device()))
}

/// Σᵢ f(xᵢ, yᵢ)², accumulated in f64 in one read of both tensors, or `None` as for [`map2`].
pub fn sum_sq_map2(x: &Tensor<1>, y: &Tensor<1>, f: impl Fn(f32, f32) -> f32 + Sync + Copy) -> Option<f64> {
    let (fx, fy) = (flex_f32(x)?, flex_f32(y)?);
    Some(par_sum(values(&fx), values(&fy), move |u, v| {
        let t = f(u, v) as f64;
        t * t
    }))
}

/// Inner products ⟨xᵢ, yᵢ⟩ of paired tensors, accumulated in f64, with at most one host read
/// for all of them: per-tensor reads cost more than the sums on a model of a dozen layers.
pub fn dots(pairs: &[(&Tensor<1>, &Tensor<1>)]) -> Vec<f64> {
    let flex: Option<Vec<(FlexTensor, FlexTensor)>> = pairs.iter().map(|(x, y)| Some((flex_f32(x)?, flex_f32(y)?))).collect();
    match flex {
        Some(f) => f
            .iter()
            .map(|(fx, fy)| par_sum(values(fx), values(fy), |u, v| u as f64 * v as f64))
            .collect(),
        None if pairs.is_empty() => Vec::new(),
        None => {
            let sums: Vec<Tensor<1>> = pairs.iter().map(|(x, y)| ((*x).clone() * (*y).clone()).sum()).collect();
            Tensor::cat(sums, 0).to_data().convert::<f64>().try_to_vec::<f64>().expect("float data")
        }
    }
}

/// ⟨x, yⱼ⟩ for every j, accumulated in f64, reading x once (chunk by chunk, each chunk of x
/// against every yⱼ while it is in cache) instead of once per j; `None` as for [`map2`].
/// Each sum is the one [`dots`] takes (the same chunks, the same order within them).
pub fn dots_many(x: &Tensor<1>, ys: &[&Tensor<1>]) -> Option<Vec<f64>> {
    let (fx, fys) = flex_many(x, ys, "dots_many")?;
    let (xs, yss): (&[f32], Vec<&[f32]>) = (values(&fx), fys.iter().map(values).collect());
    let partial: Vec<Vec<f64>> = xs
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, a)| yss.iter().map(|y| vectorized(#[inline(always)] || sum8(a, &y[c * CHUNK..c * CHUNK + a.len()], |u, v| u as f64 * v as f64))).collect())
        .collect();
    Some((0..ys.len()).map(|j| partial.iter().map(|p| p[j]).sum()).collect())
}

/// `x − Σⱼ cⱼ yⱼ` in one pass (each chunk of the output built in cache from x and every yⱼ);
/// the coefficients rounded to f32 as [`axpby`] rounds them; `None` as for [`map2`].
pub fn subtract_combination(x: &Tensor<1>, ys: &[&Tensor<1>], c: &[f64]) -> Option<Tensor<1>> {
    assert_eq!(c.len(), ys.len(), "subtract_combination: one coefficient per vector");
    let (fx, fys) = flex_many(x, ys, "subtract_combination")?;
    let (xs, yss): (&[f32], Vec<&[f32]>) = (values(&fx), fys.iter().map(values).collect());
    let c32: Vec<f32> = c.iter().map(|&c| -c as f32).collect();
    let out = par_fill(xs.len(), |o, s| {
        let x = &xs[s..s + o.len()];
        for (o, &xv) in o.iter_mut().zip(x) {
            o.write(xv);
        }
        // SAFETY: every value of the chunk was written just above, and f32 has no invalid bit
        // patterns.
        let o = unsafe { &mut *(o as *mut [MaybeUninit<f32>] as *mut [f32]) };
        for (y, &cj) in yss.iter().zip(&c32) {
            let y = &y[s..s + o.len()];
            vectorized(
                #[inline(always)]
                || {
                    for (o, &yv) in o.iter_mut().zip(y) {
                        *o += cj * yv;
                    }
                },
            )
        }
    });
    Some(tensor(out, &x.device()))
}

/// The flex views of `x` and every `yⱼ` (all of `x`'s length), for the passes that read one
/// vector against many; `None` as for [`map2`].
fn flex_many(x: &Tensor<1>, ys: &[&Tensor<1>], what: &str) -> Option<(FlexTensor, Vec<FlexTensor>)> {
    let fx = flex_f32(x)?;
    let fys: Vec<FlexTensor> = ys.iter().map(|y| flex_f32(y)).collect::<Option<_>>()?;
    let n = values(&fx).len();
    assert!(fys.iter().all(|y| values(y).len() == n), "{what}: lengths differ");
    Some((fx, fys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor<1> {
        tensor(v.to_vec(), &Device::flex())
    }
    fn host(t: Tensor<1>) -> Vec<f32> {
        t.to_data().try_to_vec::<f32>().unwrap()
    }
    fn data(n: usize, k: f32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * k).sin() * 3.0).collect()
    }

    #[test]
    fn fused_passes_match_the_tensor_ops_they_replace_bit_for_bit() {
        // longer than a chunk, so several tasks and a ragged tail are covered
        let n = 2 * CHUNK + 123;
        let (x, y) = (data(n, 0.37), data(n, 1.3));
        let (tx, ty) = (t(&x), t(&y));
        let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| 0.5 * a + -1.25 * b).collect();
        assert_eq!(host(axpby(0.5, &tx, -1.25, &ty)), want);
        assert_eq!(host(axpby(0.5, &tx, -1.25, &ty)), host(tx.clone().mul_scalar(0.5) + ty.clone().mul_scalar(-1.25)));
        let (p, m) = plus_minus(&tx, 0.3, &ty);
        assert_eq!(host(p), x.iter().zip(&y).map(|(a, b)| a + 0.3 * b).collect::<Vec<_>>());
        assert_eq!(host(m), x.iter().zip(&y).map(|(a, b)| a - 0.3 * b).collect::<Vec<_>>());
    }

    #[test]
    fn many_dots_and_one_combination_match_one_pair_at_a_time_bit_for_bit() {
        let n = 2 * CHUNK + 77;
        let x = t(&data(n, 0.21));
        let ys: Vec<Tensor<1>> = (0..3).map(|j| t(&data(n, 0.5 + j as f32))).collect();
        let refs: Vec<&Tensor<1>> = ys.iter().collect();
        let many = dots_many(&x, &refs).unwrap();
        let one: Vec<f64> = ys.iter().map(|y| dots(&[(&x, y)])[0]).collect();
        assert_eq!(many, one);
        let c = [0.3, -1.7, 2.5];
        let want = ys.iter().zip(c).fold(x.clone(), |w, (y, c)| axpby(1.0, &w, -c, y));
        assert_eq!(host(subtract_combination(&x, &refs, &c).unwrap()), host(want));
    }

    #[test]
    fn dots_are_exact_f64_sums() {
        let n = CHUNK + 5;
        let (x, y) = (data(n, 0.11), data(n, 0.7));
        let want: f64 = x.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
        let (tx, ty) = (t(&x), t(&y));
        let got = dots(&[(&tx, &ty), (&ty, &ty)]);
        assert!((got[0] - want).abs() <= 1e-9 * want.abs().max(1.0), "{} vs {want}", got[0]);
        let yy: f64 = y.iter().map(|&v| v as f64 * v as f64).sum();
        assert!((got[1] - yy).abs() <= 1e-9 * yy);
    }
}

/// The coefficients of one Langevin step of Entropy-SGD ([`langevin_step`]).
#[derive(Debug, Clone, Copy)]
pub struct Langevin {
    /// λ, weight decay inside the gradient.
    pub weight_decay: f32,
    /// m, Nesterov momentum (0 = none).
    pub momentum: f32,
    /// γ, the coupling to w.
    pub gamma: f32,
    /// ε/√(η′/2), the noise's factor.
    pub noise: f32,
    /// η′.
    pub lr: f32,
    /// β₁ of the running mean.
    pub beta1: f32,
}

/// One Langevin step of Entropy-SGD on one tensor, reading each input once and writing
/// (w′, v, μ) once, instead of seven separate passes (`estimators::entropy_sgd` has the
/// equations): d = g + λw′; v ← m·v + d; d ← d + m·v; d ← d − γ(w − w′) + c·ξ;
/// w′ ← w′ − η′d; μ ← β₁μ + (1 − β₁)w′. `v` absent is zero (the first step), `xi` absent no
/// noise; `None` off the CPU backend.
#[allow(clippy::too_many_arguments)]
pub fn langevin_step(g: &Tensor<1>, wp: &Tensor<1>, w: &Tensor<1>, v: Option<&Tensor<1>>, mu: &Tensor<1>, xi: Option<&Tensor<1>>, k: Langevin) -> Option<(Tensor<1>, Tensor<1>, Tensor<1>)> {
    let (fg, fwp, fw, fmu) = (flex_f32(g)?, flex_f32(wp)?, flex_f32(w)?, flex_f32(mu)?);
    let fv = match v {
        Some(v) => Some(flex_f32(v)?),
        None => None,
    };
    let fxi = match xi {
        Some(x) => Some(flex_f32(x)?),
        None => None,
    };
    let (gs, wps, ws, mus) = (values(&fg), values(&fwp), values(&fw), values(&fmu));
    let (vs, xis) = (fv.as_ref().map(values), fxi.as_ref().map(values));
    let n = gs.len();
    assert!([wps.len(), ws.len(), mus.len()].iter().all(|&l| l == n), "langevin_step: lengths differ");
    let (mut wp_out, mut v_out, mut mu_out) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
    wp_out.par_chunks_mut(CHUNK).zip(v_out.par_chunks_mut(CHUNK)).zip(mu_out.par_chunks_mut(CHUNK)).enumerate().for_each(|(c, ((wo, vo), mo))| {
        let s = c * CHUNK;
        vectorized(#[inline(always)] || for j in 0..wo.len() {
            let i = s + j;
            let mut d = gs[i] + k.weight_decay * wps[i];
            let vel = k.momentum * vs.map_or(0.0, |v| v[i]) + d;
            if k.momentum > 0.0 {
                d += k.momentum * vel;
            }
            d += -k.gamma * (ws[i] - wps[i]) + xis.map_or(0.0, |x| k.noise * x[i]);
            let new = wps[i] - k.lr * d;
            wo[j] = new;
            vo[j] = vel;
            mo[j] = k.beta1 * mus[i] + (1.0 - k.beta1) * new;
        })
    });
    let device = w.device();
    Some((tensor(wp_out, &device), tensor(v_out, &device), tensor(mu_out, &device)))
}
