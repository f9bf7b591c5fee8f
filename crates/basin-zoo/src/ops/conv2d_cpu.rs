//! 2-D convolution on the CPU as im2col + one matrix product per image (forward, input
//! gradient, weight and bias gradients), with the `gemm` crate's AVX-512/FMA kernels.
//!
//! Why not Burn's own: the flex backend of Burn 0.22.1 runs `conv2d` through its 3-D path, the
//! input gradient through `conv_transpose3d`, and the weight gradient as a convolution of the
//! batch-transposed input with a `ho × wo` kernel — a `K = batch · ho · wo` product lowered
//! through a 200 MB im2col buffer per call. Profiles of keskar-c1 (BENCHMARKS.md) put two
//! thirds of its step outside the matrix kernels. Here every product stays per image
//! (`[o, k] · [k, n]` with `k = c·kh·kw`, `n = ho·wo`), the lowered image (≤ a few MB) stays
//! in cache, and images run in parallel with rayon.
//!
//! Determinism: the weight gradient sums fixed chunks of [`CHUNK`] images and then the chunk
//! partials in index order, so results do not depend on the number of threads (resume stays
//! bit-identical).

use super::im2col::{Geometry, col2im, im2col};
use rayon::prelude::*;

/// Images per weight-gradient partial sum.
pub const CHUNK: usize = 8;

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` with explicit row/column strides, single-threaded
/// (parallelism is over images here, over blocks and products in [`super::linear_cpu`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32], rhs_rs: usize, rhs_cs: usize) {
    assert!(dst.len() >= m * n);
    // SAFETY: dst is exclusively borrowed and holds the m × n values of row stride n.
    unsafe { matmul_raw(m, n, k, dst.as_mut_ptr(), n, accumulate, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs) }
}

/// `lhs[m, k] · rhs[k, n]` into a fresh row-major buffer, without zero-filling it first: with
/// `read_dst` off, `gemm` writes every value of the destination before reading any (zeros when
/// `k = 0`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn product(m: usize, n: usize, k: usize, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32], rhs_rs: usize, rhs_cs: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(m * n);
    // SAFETY: the buffer holds m · n values of row stride n, owned here; gemm writes all of them
    // (read_dst = false), so every one of the first m · n slots is written before `set_len`.
    unsafe {
        matmul_raw(m, n, k, v.as_mut_ptr(), n, false, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs);
        v.set_len(m * n);
    }
    v
}

/// [`matmul`] into `dst` with row stride `dst_rs` (a block of columns of a wider matrix).
///
/// # Safety
/// `dst` must be valid for writes at `i · dst_rs + j` for `i < m`, `j < n`, and no other
/// thread may read or write those values during the call.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul_raw(m: usize, n: usize, k: usize, dst: *mut f32, dst_rs: usize, accumulate: bool, lhs: &[f32], lhs_rs: usize, lhs_cs: usize, rhs: &[f32], rhs_rs: usize, rhs_cs: usize) {
    assert!(n <= dst_rs || m <= 1);
    assert!(m == 0 || k == 0 || (m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
    assert!(n == 0 || k == 0 || (k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    // SAFETY: the asserts keep every index the product reads inside lhs and rhs; the caller
    // guarantees the destination values.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Forward: `y[b] = W · im2col(x[b]) + bias` for a batch `x` `[batch, c, h, w]` and weight
/// `[o, c, kh, kw]`; returns `y` `[batch, o, ho, wo]`.
pub fn forward(g: &Geometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (k, n) = (g.k(), g.n());
    let batch = x.len() / g.input_len();
    let mut y = vec![0.0f32; batch * g.output_len()];
    y.par_chunks_mut(g.output_len()).zip(x.par_chunks(g.input_len())).for_each_init(
        || vec![0.0f32; k * n],
        |cols, (yb, xb)| {
            im2col(g, xb, cols);
            if let Some(bias) = bias {
                yb.chunks_mut(n).zip(bias).for_each(|(row, b)| row.fill(*b));
            }
            matmul(g.o, n, k, yb, bias.is_some(), weight, k, 1, cols, n, 1);
        },
    );
    y
}

/// Gradients of one convolution given the output gradient `dy` `[batch, o, ho, wo]`.
pub struct Grads {
    /// `[batch, c, h, w]`, when asked for.
    pub x: Option<Vec<f32>>,
    /// The weight `[o, c, kh, kw]` and bias `[o]` gradients, when asked for.
    pub weight: Option<(Vec<f32>, Vec<f32>)>,
}

/// Backward: when `need_w`, `dW = Σ_b dy[b] · im2col(x[b])ᵀ` and `db = Σ_b Σ_n dy[b]`; when
/// `need_x`, `dx[b] = col2im(Wᵀ · dy[b])`. The exact Hessian's tangent pass convolves the
/// layer's input with the direction's kernel, a constant: its backward needs only `dx`, and
/// skipping the weight gradient there saves a lowering and a product per image.
///
/// Both products are laid out for the `gemm` crate's packing: its micro-kernel wants the
/// operand along the output's contiguous axis to be contiguous too, and packs a row-major one
/// element by element (a strided gather: 14 % of keskar-c1's step when `dW` was computed as
/// `[o, k]` from the lowered image, whose `k × n` block is row-major). So the weight gradient is
/// accumulated transposed, `dWᵀ [k, o] += im2col(x[b]) · dy[b]ᵀ` (the gathered operand is then
/// `dy[b]`, `o × n` instead of `k × n`), and `Wᵀ` is transposed once per call instead of
/// gathered once per image.
pub fn backward(g: &Geometry, x: &[f32], weight: &[f32], dy: &[f32], need_x: bool, need_w: bool) -> Grads {
    let (k, n, o) = (g.k(), g.n(), g.o);
    let batch = x.len() / g.input_len();
    let mut dx = if need_x { vec![0.0f32; x.len()] } else { Vec::new() };
    let weight_t = if need_x { transposed(weight, o, k) } else { Vec::new() };
    let chunks = batch.div_ceil(CHUNK);
    let mut dx_parts: Vec<&mut [f32]> = if need_x { dx.chunks_mut(CHUNK * g.input_len()).collect() } else { (0..chunks).map(|_| &mut [][..]).collect() };
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_parts
        .par_iter_mut()
        .enumerate()
        .map(|(chunk, dx_chunk)| {
            let first = chunk * CHUNK;
            let last = (first + CHUNK).min(batch);
            let mut dw_t = if need_w { vec![0.0f32; k * o] } else { Vec::new() };
            let mut db = if need_w { vec![0.0f32; o] } else { Vec::new() };
            let mut cols = if need_w { vec![0.0f32; k * n] } else { Vec::new() };
            let mut dcols = if need_x { vec![0.0f32; k * n] } else { Vec::new() };
            for b in first..last {
                let xb = &x[b * g.input_len()..(b + 1) * g.input_len()];
                let dyb = &dy[b * g.output_len()..(b + 1) * g.output_len()];
                if need_w {
                    im2col(g, xb, &mut cols);
                    // dWᵀ[k, o] += cols[k, n] · dy_b[o, n]ᵀ
                    matmul(k, o, n, &mut dw_t, b > first, &cols, n, 1, dyb, 1, n);
                    db.iter_mut().zip(dyb.chunks(n)).for_each(|(d, row)| *d += row.iter().sum::<f32>());
                }
                if need_x {
                    // dcols[k, n] = Wᵀ[k, o] · dy_b[o, n]
                    matmul(k, n, o, &mut dcols, false, &weight_t, o, 1, dyb, n, 1);
                    let off = (b - first) * g.input_len();
                    col2im(g, &dcols, &mut dx_chunk[off..off + g.input_len()]);
                }
            }
            (dw_t, db)
        })
        .collect();
    if !need_w {
        return Grads { x: need_x.then_some(dx), weight: None };
    }
    let mut parts = partials.into_iter();
    let (mut weight_grad_t, mut bias_grad) = parts.next().unwrap_or_else(|| (vec![0.0; o * k], vec![0.0; o]));
    for (dw, db) in parts {
        weight_grad_t.iter_mut().zip(&dw).for_each(|(a, b)| *a += b);
        bias_grad.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
    }
    Grads { x: need_x.then_some(dx), weight: Some((transposed(&weight_grad_t, k, o), bias_grad)) }
}

/// `a` `[rows, cols]` (row-major) transposed to `[cols, rows]`.
pub(crate) fn transposed(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; a.len()];
    transpose::transpose(a, &mut t, cols, rows);
    t
}
