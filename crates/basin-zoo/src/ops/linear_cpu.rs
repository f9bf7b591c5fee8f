//! A dense layer on the CPU, `y = x W + b` for Burn's `Linear` layout (`W` stored `[in, out]`),
//! with the `gemm` crate's kernels and coarse, fixed parallel tasks.
//!
//! Why: on ne-f1 (7 × 500, batch 128) Burn's flex `matmul` lets `gemm` split every product
//! across the threads, and the profile shows 7 % of the step in the scheduler (yield, task
//! switches) plus copies for the transposed operands of the backward pass. Here the forward
//! product is split into fixed blocks of [`ROWS`] rows, and the backward pass runs its two
//! independent products (`dx = dy Wᵀ`, `dW = xᵀ dy`) side by side, each single-threaded, with
//! the transposes expressed as strides. Every output value is computed by one product over the
//! whole `k` in a fixed order, so results do not depend on the number of threads.

use super::conv2d_cpu::matmul;
use rayon::prelude::*;

/// Rows per forward block.
pub const ROWS: usize = 64;

/// `y [batch, out] = x [batch, in] · W [in, out] + b [out]`.
pub fn forward(x: &[f32], w: &[f32], b: Option<&[f32]>, d_in: usize, d_out: usize) -> Vec<f32> {
    let batch = x.len() / d_in;
    let mut y = vec![0.0f32; batch * d_out];
    y.par_chunks_mut(ROWS * d_out).zip(x.par_chunks(ROWS * d_in)).for_each(|(yb, xb)| {
        let rows = xb.len() / d_in;
        if let Some(b) = b {
            yb.chunks_mut(d_out).for_each(|r| r.copy_from_slice(b));
        }
        matmul(rows, d_out, d_in, yb, b.is_some(), xb, d_in, 1, w, d_out, 1);
    });
    y
}

/// Gradients of a dense layer.
pub struct Grads {
    /// `[batch, in]`, when asked for.
    pub x: Option<Vec<f32>>,
    /// `[in, out]` (empty when not asked for).
    pub w: Vec<f32>,
    /// `[out]` (empty when not asked for).
    pub b: Vec<f32>,
}

/// `dx = dy Wᵀ` (when `need_x`), and `dW = xᵀ dy`, `db = Σ_rows dy` (when `need_w`), given
/// `dy` `[batch, out]`. Skipped gradients come back empty: a first layer needs no dx, and the
/// exact Hessian's tangent pass multiplies by constant direction weights, which need no dW.
pub fn backward(x: &[f32], w: &[f32], dy: &[f32], d_in: usize, d_out: usize, need_x: bool, need_w: bool) -> Grads {
    let batch = x.len() / d_in;
    let weight_and_bias = || {
        if !need_w {
            return (Vec::new(), Vec::new());
        }
        let mut dw = vec![0.0f32; d_in * d_out];
        // dW[in, out] = xᵀ[in, batch] · dy[batch, out]: x read with swapped strides
        matmul(d_in, d_out, batch, &mut dw, false, x, 1, d_in, dy, d_out, 1);
        let mut db = vec![0.0f32; d_out];
        for row in dy.chunks(d_out) {
            db.iter_mut().zip(row).for_each(|(a, g)| *a += g);
        }
        (dw, db)
    };
    let input = || {
        let mut dx = vec![0.0f32; batch * d_in];
        // dx[batch, in] = dy[batch, out] · Wᵀ[out, in]: W read with swapped strides
        matmul(batch, d_in, d_out, &mut dx, false, dy, d_out, 1, w, 1, d_out);
        dx
    };
    let ((w, b), x) = match (need_x, need_w) {
        (true, true) => {
            let (wb, dx) = rayon::join(weight_and_bias, input);
            (wb, Some(dx))
        }
        (true, false) => ((Vec::new(), Vec::new()), Some(input())),
        (false, _) => (weight_and_bias(), None),
    };
    Grads { x, w, b }
}
