//! 2-D max pooling on the CPU with the argmax of every window kept for the backward pass,
//! images in parallel.
//!
//! Why: Burn 0.22.1's flex `max_pool2d_with_indices` took ~45 ms forward + backward for
//! keskar-c1's first pool (`[128, 64, 32, 32]`, 3×3 / 2), more than the convolution after it.

use super::im2col::Geometry;
use rayon::prelude::*;

/// Output `[batch, c, ho, wo]` and, per output, the flat index inside its input plane
/// (`iy · w + ix`) of the maximum (the first one on ties; NaN wins, as in PyTorch).
pub fn forward(g: &Geometry, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let plane_in = g.h * g.w;
    let plane_out = g.ho * g.wo;
    let planes = x.len() / plane_in;
    let mut y = vec![0.0f32; planes * plane_out];
    let mut arg = vec![0u32; planes * plane_out];
    let rows: Vec<(usize, usize)> = (0..g.ho).map(|oy| window(oy, g.sh, g.pt, g.kh, g.h)).collect();
    let cols: Vec<(usize, usize)> = (0..g.wo).map(|ox| window(ox, g.sw, g.pl, g.kw, g.w)).collect();
    y.par_chunks_mut(plane_out).zip(arg.par_chunks_mut(plane_out)).zip(x.par_chunks(plane_in)).for_each_init(
        || (vec![0.0f32; g.w], vec![0u32; g.w]),
        |(colmax, colrow), ((yp, ap), xp)| {
            for (oy, &(y0, y1)) in rows.iter().enumerate() {
                // Column maxima over the window's rows, then maxima over the window's columns.
                colmax.copy_from_slice(&xp[y0 * g.w..(y0 + 1) * g.w]);
                colrow.fill(y0 as u32);
                for iy in y0 + 1..y1 {
                    let line = &xp[iy * g.w..(iy + 1) * g.w];
                    for ((m, r), &v) in colmax.iter_mut().zip(colrow.iter_mut()).zip(line) {
                        let t = wins(v, *m);
                        *m = pick_f32(t, v, *m);
                        *r = pick(t, iy as u32, *r);
                    }
                }
                for (ox, &(x0, x1)) in cols.iter().enumerate() {
                    let (mut best, mut at) = (colmax[x0], x0 as u32);
                    for (ix, &v) in colmax.iter().enumerate().take(x1).skip(x0 + 1) {
                        let t = wins(v, best);
                        best = pick_f32(t, v, best);
                        at = pick(t, ix as u32, at);
                    }
                    yp[oy * g.wo + ox] = best;
                    ap[oy * g.wo + ox] = colrow[at as usize] * g.w as u32 + at;
                }
            }
        },
    );
    (y, arg)
}

/// Whether `v` replaces the current maximum `m`: larger, or the first NaN.
#[inline(always)]
fn wins(v: f32, m: f32) -> bool {
    (v > m) | (v.is_nan() & !m.is_nan())
}

/// `if t { a } else { b }` as bit operations: LLVM turns selects in loops back into branches,
/// which mispredict half the time on random activations (measured: 25 ms instead of 7 ms for
/// keskar-c1's first pool).
#[inline(always)]
fn pick(t: bool, a: u32, b: u32) -> u32 {
    let m = (t as u32).wrapping_neg();
    (a & m) | (b & !m)
}

#[inline(always)]
fn pick_f32(t: bool, a: f32, b: f32) -> f32 {
    f32::from_bits(pick(t, a.to_bits(), b.to_bits()))
}

/// Input rows (or columns) `[start, end)` covered by output `o` of a window of `k` with stride
/// `s` and leading padding `p` over an axis of length `len`.
fn window(o: usize, s: usize, p: usize, k: usize, len: usize) -> (usize, usize) {
    let start = (o * s).saturating_sub(p);
    let end = (o * s + k).saturating_sub(p).min(len);
    (start, end.max(start))
}

/// The values of `t` (shaped like the pooled input) at the saved argmax positions: the tangent
/// of max pooling, whose derivative selects each window's winner.
pub fn gather(g: &Geometry, arg: &[u32], t: &[f32]) -> Vec<f32> {
    let (plane_in, plane_out) = (g.h * g.w, g.ho * g.wo);
    let mut out = vec![0.0f32; arg.len()];
    out.par_chunks_mut(plane_out).zip(arg.par_chunks(plane_out)).zip(t.par_chunks(plane_in)).for_each(|((op, ap), tp)| {
        op.iter_mut().zip(ap).for_each(|(o, &i)| *o = tp[i as usize]);
    });
    out
}

/// Input gradient: every output gradient added to the input position that won its window.
pub fn backward(g: &Geometry, arg: &[u32], dy: &[f32]) -> Vec<f32> {
    let plane_in = g.h * g.w;
    let plane_out = g.ho * g.wo;
    let planes = dy.len() / plane_out;
    let mut dx = vec![0.0f32; planes * plane_in];
    dx.par_chunks_mut(plane_in).zip(arg.par_chunks(plane_out)).zip(dy.par_chunks(plane_out)).for_each(|((dxp, ap), dyp)| {
        for (&i, &d) in ap.iter().zip(dyp) {
            dxp[i as usize] += d;
        }
    });
    dx
}
