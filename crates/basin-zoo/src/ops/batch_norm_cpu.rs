//! Batch normalization in training mode (Ioffe & Szegedy, ICML 2015, Algorithm 1 and its
//! backward pass) as two passes over the activation each way, for `x` `[batch, c, l]`
//! (`l` = spatial size, 1 after a dense layer).
//!
//! Why: Burn 0.22.1's flex backend has no batch-norm kernel; the generic composition
//! transposes the activation (`swap_dims` + copy) for each statistic and allocates one full
//! tensor per elementwise step, forward and backward (~70 ms for keskar-c1's first layer,
//! `[128, 64, 32, 32]`). Statistics are accumulated in f64 per channel.

use rayon::prelude::*;

/// Per-channel sums `(Σ a, Σ a·b)` over batch and space, in f64, channels in parallel.
pub(crate) fn channel_sums(x: &[f32], y: Option<&[f32]>, c: usize, l: usize, shift: &[f32]) -> Vec<(f64, f64)> {
    let batch = x.len() / (c * l);
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for b in 0..batch {
                let off = (b * c + ch) * l;
                let xs = &x[off..off + l];
                let m = shift[ch];
                let (mut p1, mut p2) = (0.0f32, 0.0f32);
                match y {
                    // Σ dy and Σ dy·(x − mean)
                    Some(y) => xs.iter().zip(&y[off..off + l]).for_each(|(xv, yv)| {
                        p1 += yv;
                        p2 += yv * (xv - m);
                    }),
                    // Σ (x − shift) and Σ (x − shift)²
                    None => xs.iter().for_each(|xv| {
                        let d = xv - m;
                        p1 += d;
                        p2 += d * d;
                    }),
                }
                s1 += p1 as f64;
                s2 += p2 as f64;
            }
            (s1, s2)
        })
        .collect()
}

/// `out[b, ch, :] = x[b, ch, :] · a[ch] + y[b, ch, :] · e[ch] + d[ch]` (`y` optional), images
/// in parallel.
pub(crate) fn affine(x: &[f32], y: Option<&[f32]>, c: usize, l: usize, a: &[f32], e: &[f32], d: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(c * l).enumerate().for_each(|(b, ob)| {
        for ch in 0..c {
            let off = (b * c + ch) * l;
            let o = &mut ob[ch * l..(ch + 1) * l];
            let xs = &x[off..off + l];
            match y {
                Some(y) => o.iter_mut().zip(xs).zip(&y[off..off + l]).for_each(|((o, xv), yv)| *o = xv * a[ch] + yv * e[ch] + d[ch]),
                None => o.iter_mut().zip(xs).for_each(|(o, xv)| *o = xv * a[ch] + d[ch]),
            }
        }
    });
    out
}

/// Forward output and the batch statistics (mean, biased variance) it used.
pub struct Forward {
    /// `γ · (x − μ) / √(σ² + ε) + β`, same shape as `x`.
    pub y: Vec<f32>,
    /// Per-channel mean μ.
    pub mean: Vec<f32>,
    /// Per-channel biased variance σ² (divided by batch · l), as Burn's `batch_norm_train`.
    pub var: Vec<f32>,
}

/// Training-mode forward over `x` `[batch, c, l]`.
pub fn forward(x: &[f32], c: usize, l: usize, gamma: &[f32], beta: &[f32], eps: f64) -> Forward {
    let count = (x.len() / c) as f64;
    // Shift by the first sample of each channel so the variance sum does not cancel.
    let shift: Vec<f32> = (0..c).map(|ch| x[ch * l]).collect();
    let sums = channel_sums(x, None, c, l, &shift);
    let (mut mean, mut var) = (vec![0.0f32; c], vec![0.0f32; c]);
    for ch in 0..c {
        let (s1, s2) = sums[ch];
        let m = s1 / count;
        mean[ch] = (shift[ch] as f64 + m) as f32;
        var[ch] = (s2 / count - m * m).max(0.0) as f32;
    }
    let scale: Vec<f32> = (0..c).map(|ch| (gamma[ch] as f64 / (var[ch] as f64 + eps).sqrt()) as f32).collect();
    let offset: Vec<f32> = (0..c).map(|ch| beta[ch] - mean[ch] * scale[ch]).collect();
    Forward { y: affine(x, None, c, l, &scale, &[], &offset), mean, var }
}

/// Gradients of [`forward`] for the output gradient `dy`.
pub struct Grads {
    /// `γ/σ̂ · (dy − mean(dy) − x̂ · mean(dy · x̂))`.
    pub x: Vec<f32>,
    /// `Σ dy · x̂`.
    pub gamma: Vec<f32>,
    /// `Σ dy`.
    pub beta: Vec<f32>,
}

/// Backward of the training-mode forward, from the saved batch statistics.
#[allow(clippy::too_many_arguments)] // the forward's inputs plus dy and the saved statistics
pub fn backward(x: &[f32], dy: &[f32], c: usize, l: usize, gamma: &[f32], mean: &[f32], var: &[f32], eps: f64) -> Grads {
    let count = (x.len() / c) as f64;
    let sums = channel_sums(x, Some(dy), c, l, mean);
    let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (*v as f64 + eps).sqrt()).collect();
    let beta_grad: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
    let gamma_grad: Vec<f32> = sums.iter().zip(&inv_std).map(|(s, is)| (s.1 * is) as f32).collect();
    // dx = k·dy + a·x + d with k = γ·σ̂⁻¹, a = −k·σ̂⁻¹·mean(dy·x̂) , d = −k·mean(dy) − a·μ
    let (mut k, mut a, mut d) = (vec![0.0f32; c], vec![0.0f32; c], vec![0.0f32; c]);
    for ch in 0..c {
        let kk = gamma[ch] as f64 * inv_std[ch];
        let aa = -kk * inv_std[ch] * (sums[ch].1 * inv_std[ch] / count);
        k[ch] = kk as f32;
        a[ch] = aa as f32;
        d[ch] = (-kk * sums[ch].0 / count - aa * mean[ch] as f64) as f32;
    }
    Grads { x: affine(x, Some(dy), c, l, &a, &k, &d), gamma: gamma_grad, beta: beta_grad }
}
