//! A dense layer on the CPU, `y = x W + b` for Burn's `Linear` layout (`W` stored `[in, out]`),
//! with the `gemm` crate's kernels and coarse, fixed parallel tasks.
//!
//! Why: on ne-f1 (7 × 500, batch 128) Burn's flex `matmul` lets `gemm` split every product
//! across the threads, and the profile shows 7 % of the step in the scheduler (yield, task
//! switches) plus copies for the transposed operands of the backward pass. Here the forward
//! product is split into fixed tasks, and the backward pass runs its two independent products
//! (`dx = dy Wᵀ`, `dW = xᵀ dy`) side by side, each single-threaded, with the transposes
//! expressed as strides. Every output value is computed by one product over the whole `k` in a
//! fixed order, so results do not depend on the number of threads.
//!
//! The tasks are laid out for `gemm`'s packing, which copies the operand along the output's
//! contiguous axis into panels, and gathers it element by element when that operand is
//! row-major (17 % of ne-f1's step was packing): the forward tasks split `W`'s columns (each
//! packs its half of `W` once, where row blocks of the batch each packed all of it), and the
//! input gradient is computed transposed, `dxᵀ = W · dyᵀ`, so that the gathered operand is
//! `dy` (`batch × out`) instead of `W` (`in × out`).

use super::conv2d_cpu::{matmul_raw, product, transposed};
use rayon::prelude::*;

/// Rows per forward task (large batches, as in evaluation, split into row blocks too).
pub const ROWS: usize = 256;

/// The two column blocks of a forward task: `W`'s columns halved, the first half rounded up to
/// a whole number of 16-lane vectors (one block for outputs of at most 16).
fn column_blocks(d_out: usize) -> Vec<std::ops::Range<usize>> {
    let half = d_out.div_ceil(2).next_multiple_of(16);
    if half >= d_out { std::iter::once(0..d_out).collect() } else { vec![0..half, half..d_out] }
}

/// A destination pointer handed to tasks that write disjoint values of one buffer.
#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: the tasks sharing a `Dst` write disjoint blocks (see `blocked_product`).
unsafe impl Send for Dst {}
unsafe impl Sync for Dst {}

/// `lhs[m, k] · rhs[k, n] (+ bias)` (`rhs` row-major `[k, n]`, `lhs` with strides `lhs_rs`,
/// `lhs_cs`) as parallel tasks over blocks of `rows` rows × [`column_blocks`]: each task packs
/// only its columns of `rhs`. With a bias every row starts as the bias and the products
/// accumulate onto it; without one the buffer is not zero-filled (gemm writes every value).
#[allow(clippy::too_many_arguments)]
fn blocked_product(m: usize, n: usize, k: usize, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32], bias: Option<&[f32]>, rows: usize) -> Vec<f32> {
    let mut out: Vec<f32> = match bias {
        Some(b) => {
            let mut out = Vec::with_capacity(m * n);
            (0..m).for_each(|_| out.extend_from_slice(b));
            out
        }
        None => Vec::with_capacity(m * n),
    };
    let cols = column_blocks(n);
    let tasks: Vec<(usize, std::ops::Range<usize>)> = (0..m).step_by(rows.max(1)).flat_map(|r| cols.iter().map(move |c| (r, c.clone()))).collect();
    let dst = Dst(out.as_mut_ptr());
    tasks.into_par_iter().for_each(|(r0, c)| {
        let d = dst;
        // SAFETY: task (r0, c) writes rows r0..r0 + rows, columns c of the m × n buffer (row
        // stride n, inside its capacity), which no other task touches, and the buffer outlives
        // the parallel loop.
        unsafe { matmul_raw(rows.min(m - r0), c.len(), k, d.0.add(r0 * n + c.start), n, bias.is_some(), &lhs[r0 * lhs_rs..], lhs_rs, lhs_cs, &rhs[c.start..], n, 1) };
    });
    // SAFETY: the tasks cover every row and column; each value was the bias (accumulated onto)
    // or written by gemm (read_dst = false).
    unsafe { out.set_len(m * n) };
    out
}

/// `y [batch, out] = x [batch, in] · W [in, out] + b [out]`.
pub fn forward(x: &[f32], w: &[f32], b: Option<&[f32]>, d_in: usize, d_out: usize) -> Vec<f32> {
    blocked_product(x.len() / d_in, d_out, d_in, x, d_in, 1, w, b, ROWS)
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
        // dW[in, out] = xᵀ[in, batch] · dy[batch, out]: x read with swapped strides
        (product(d_in, d_out, batch, x, 1, d_in, dy, d_out, 1), bias_grad(dy, d_out))
    };
    let input = || {
        // dxᵀ[in, batch] = W[in, out] · dyᵀ[out, batch]: dy read with swapped strides
        transposed(&product(d_in, batch, d_out, w, d_out, 1, dy, 1, d_out), d_in, batch)
    };
    let ((w, b), x) = match (need_x, need_w) {
        (true, true) => {
            let (wb, dx) = rayon::join(weight_and_bias, input);
            (wb, Some(dx))
        }
        // The tangent pass's product with constant direction weights: no dW to run beside dx,
        // so dx's rows are split instead (one single-threaded product left a core idle there,
        // an eighth of the exact Hessian product's matrix work).
        (true, false) => ((Vec::new(), Vec::new()), Some(input_rows(w, dy, d_in, d_out))),
        // A first layer: no dx to run beside dW, so dW's columns are split instead (a single
        // product left a core idle for ne-f1's largest layer).
        (false, true) => ((weight_columns(x, dy, d_in, d_out), bias_grad(dy, d_out)), None),
        (false, false) => ((Vec::new(), Vec::new()), None),
    };
    Grads { x, w, b }
}

/// `dx = dy Wᵀ` as parallel tasks over blocks of [`ROWS`] rows of `dx` (at least two blocks
/// when there are two rows or more), each computed transposed as [`backward`]'s single product
/// is, `dxᵀ[:, rows] = W · dy[rows]ᵀ`, written into its columns of `dxᵀ`.
fn input_rows(w: &[f32], dy: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
    let batch = dy.len() / d_out;
    let rows = ROWS.min(batch.div_ceil(2)).max(1);
    let mut dx_t: Vec<f32> = Vec::with_capacity(d_in * batch);
    let dst = Dst(dx_t.as_mut_ptr());
    (0..batch).step_by(rows).collect::<Vec<_>>().into_par_iter().for_each(|r0| {
        let d = dst;
        let r1 = (r0 + rows).min(batch);
        // SAFETY: the task writes columns r0..r1 of the d_in × batch buffer (row stride batch,
        // inside its capacity), which no other task touches, and the buffer outlives the loop.
        unsafe { matmul_raw(d_in, r1 - r0, d_out, d.0.add(r0), batch, false, w, d_out, 1, &dy[r0 * d_out..], 1, d_out) };
    });
    // SAFETY: the tasks cover every column of every row, each written by gemm (read_dst = false).
    unsafe { dx_t.set_len(d_in * batch) };
    transposed(&dx_t, d_in, batch)
}

/// `db [out] = Σ_rows dy`.
fn bias_grad(dy: &[f32], d_out: usize) -> Vec<f32> {
    let mut db = vec![0.0f32; d_out];
    for row in dy.chunks(d_out) {
        db.iter_mut().zip(row).for_each(|(a, g)| *a += g);
    }
    db
}

/// `dW = xᵀ dy` as parallel tasks over [`column_blocks`] of `dW` (all `in` rows in each).
fn weight_columns(x: &[f32], dy: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
    blocked_product(d_in, d_out, x.len() / d_in, x, 1, d_in, dy, None, d_in)
}
