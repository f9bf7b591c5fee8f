//! im2col / col2im for one NCHW image: the lowering that turns a 2-D convolution into one
//! matrix product (Chellapilla, Puri & Simard 2006; Caffe's `im2col_cpu`).

/// Shape of one 2-D convolution: input `[c, h, w]`, kernel `[o, c, kh, kw]`, stride, and
/// explicit padding (top/left; bottom/right only enter through the output size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride along height.
    pub sh: usize,
    /// Stride along width.
    pub sw: usize,
    /// Zero rows added above the image.
    pub pt: usize,
    /// Zero columns added left of the image.
    pub pl: usize,
    /// Output height.
    pub ho: usize,
    /// Output width.
    pub wo: usize,
}

impl Geometry {
    /// Geometry for input `[c, h, w]`, kernel `[o, c, kh, kw]`, stride `[sh, sw]` and padding
    /// `(top, left, bottom, right)`; `None` when the kernel does not fit the padded input.
    pub fn new(input: [usize; 3], kernel: [usize; 4], stride: [usize; 2], padding: [usize; 4]) -> Option<Geometry> {
        let [c, h, w] = input;
        let [o, kc, kh, kw] = kernel;
        let [sh, sw] = stride;
        let [pt, pl, pb, pr] = padding;
        if kc != c || sh == 0 || sw == 0 || h + pt + pb < kh || w + pl + pr < kw {
            return None;
        }
        Some(Geometry { c, h, w, o, kh, kw, sh, sw, pt, pl, ho: (h + pt + pb - kh) / sh + 1, wo: (w + pl + pr - kw) / sw + 1 })
    }

    /// Rows of the lowered matrix: `c · kh · kw` (the reduction length of the product).
    pub fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of the lowered matrix: output positions `ho · wo`.
    pub fn n(&self) -> usize {
        self.ho * self.wo
    }

    /// Elements of one input image.
    pub fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements of one output image.
    pub fn output_len(&self) -> usize {
        self.o * self.n()
    }

    /// For kernel offset `k` along one axis: the range of outputs whose input index
    /// `out · s + k − p` falls inside `0..len`.
    pub(crate) fn valid(out: usize, len: usize, s: usize, k: usize, p: usize) -> std::ops::Range<usize> {
        // first out with out*s + k >= p
        let lo = if k >= p { 0 } else { (p - k).div_ceil(s) };
        // last out with out*s + k - p <= len - 1
        let hi = if len + p > k { ((len + p - k - 1) / s + 1).min(out) } else { 0 };
        lo.min(hi)..hi
    }
}

/// Writes `cols[(ci·kh + i)·kw + j][oy·wo + ox] = x[ci][oy·sh + i − pt][ox·sw + j − pl]` (zero
/// outside the image). `x` holds one image `[c, h, w]`, `cols` is `[k, n]` row-major.
///
/// With stride 1 and an output as wide as the input ("same" padding, as in simple-cnn's and
/// the ResNets' 3 × 3 layers), row `r` of `cols` is the image plane shifted by one offset,
/// so the valid rows go in one copy and only the padding columns are zeroed after it: the
/// copy per output line it replaces was a `memcpy` call per 28 values, and the lowering was
/// 15 % of simple-cnn's Hessian product.
pub fn im2col(g: &Geometry, x: &[f32], cols: &mut [f32]) {
    let n = g.n();
    debug_assert_eq!(x.len(), g.input_len());
    debug_assert_eq!(cols.len(), g.k() * n);
    let shifted = g.sh == 1 && g.sw == 1 && g.wo == g.w;
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for i in 0..g.kh {
            let rows = Geometry::valid(g.ho, g.h, g.sh, i, g.pt);
            for j in 0..g.kw {
                let r = (ci * g.kh + i) * g.kw + j;
                let dst = &mut cols[r * n..(r + 1) * n];
                let cs = Geometry::valid(g.wo, g.w, g.sw, j, g.pl);
                if shifted {
                    shifted_row(g, plane, dst, rows.clone(), cs, i, j);
                    continue;
                }
                for oy in 0..g.ho {
                    let line = &mut dst[oy * g.wo..(oy + 1) * g.wo];
                    if !rows.contains(&oy) || cs.is_empty() {
                        line.fill(0.0);
                        continue;
                    }
                    line[..cs.start].fill(0.0);
                    line[cs.end..].fill(0.0);
                    let src = &plane[(oy * g.sh + i - g.pt) * g.w..];
                    let x0 = cs.start * g.sw + j - g.pl;
                    if g.sw == 1 {
                        line[cs.clone()].copy_from_slice(&src[x0..x0 + cs.len()]);
                    } else {
                        for (t, v) in line[cs.clone()].iter_mut().enumerate() {
                            *v = src[x0 + t * g.sw];
                        }
                    }
                }
            }
        }
    }
}

/// One row of [`im2col`] for stride 1 and `wo = w`: `dst[d] = plane[d + (i − pt)·w + j − pl]`
/// over the span from the first valid output to the last, then zeros outside the valid rows
/// `rows` and columns `cs` (inside the span those positions read a neighbouring image row).
fn shifted_row(g: &Geometry, plane: &[f32], dst: &mut [f32], rows: std::ops::Range<usize>, cs: std::ops::Range<usize>, i: usize, j: usize) {
    let wo = g.wo;
    if rows.is_empty() || cs.is_empty() {
        dst.fill(0.0);
        return;
    }
    let (first, end) = (rows.start * wo + cs.start, (rows.end - 1) * wo + cs.end);
    // the source of `first`: row rows.start + i − pt, column cs.start + j − pl (both valid)
    let src = (rows.start + i - g.pt) * g.w + cs.start + j - g.pl;
    dst[first..end].copy_from_slice(&plane[src..src + (end - first)]);
    dst[..first].fill(0.0);
    dst[end..].fill(0.0);
    for oy in rows.start..rows.end {
        let line = &mut dst[oy * wo..(oy + 1) * wo];
        if oy > rows.start {
            line[..cs.start].fill(0.0);
        }
        if oy + 1 < rows.end {
            line[cs.end..].fill(0.0);
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` `[k, n]` back onto the input pixel it
/// was read from, accumulating into `dx` `[c, h, w]` (which the caller zeroes).
pub fn col2im(g: &Geometry, cols: &[f32], dx: &mut [f32]) {
    let n = g.n();
    debug_assert_eq!(dx.len(), g.input_len());
    debug_assert_eq!(cols.len(), g.k() * n);
    for ci in 0..g.c {
        let plane = &mut dx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for i in 0..g.kh {
            let rows = Geometry::valid(g.ho, g.h, g.sh, i, g.pt);
            for j in 0..g.kw {
                let r = (ci * g.kh + i) * g.kw + j;
                let src = &cols[r * n..(r + 1) * n];
                let cs = Geometry::valid(g.wo, g.w, g.sw, j, g.pl);
                if cs.is_empty() {
                    continue;
                }
                for oy in rows.clone() {
                    let line = &src[oy * g.wo + cs.start..oy * g.wo + cs.end];
                    let y = oy * g.sh + i - g.pt;
                    let x0 = cs.start * g.sw + j - g.pl;
                    let out = &mut plane[y * g.w..(y + 1) * g.w];
                    if g.sw == 1 {
                        out[x0..x0 + line.len()].iter_mut().zip(line).for_each(|(d, s)| *d += s);
                    } else {
                        for (t, s) in line.iter().enumerate() {
                            out[x0 + t * g.sw] += s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct definition of the lowered matrix, one entry at a time.
    fn naive(g: &Geometry, x: &[f32]) -> Vec<f32> {
        let mut cols = vec![0.0; g.k() * g.n()];
        for ci in 0..g.c {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    for oy in 0..g.ho {
                        for ox in 0..g.wo {
                            let y = (oy * g.sh + i) as isize - g.pt as isize;
                            let xx = (ox * g.sw + j) as isize - g.pl as isize;
                            if y >= 0 && xx >= 0 && (y as usize) < g.h && (xx as usize) < g.w {
                                cols[((ci * g.kh + i) * g.kw + j) * g.n() + oy * g.wo + ox] = x[(ci * g.h + y as usize) * g.w + xx as usize];
                            }
                        }
                    }
                }
            }
        }
        cols
    }

    fn geometries() -> Vec<Geometry> {
        vec![
            Geometry::new([3, 7, 6], [2, 3, 5, 5], [1, 1], [2, 2, 2, 2]).unwrap(),
            Geometry::new([2, 9, 8], [2, 2, 3, 3], [2, 2], [1, 1, 1, 1]).unwrap(),
            Geometry::new([2, 5, 7], [1, 2, 3, 2], [2, 1], [0, 3, 1, 0]).unwrap(),
            Geometry::new([1, 4, 4], [1, 1, 5, 5], [1, 3], [1, 1, 0, 0]).unwrap(),
            // stride 1 with the output as wide as the input (the shifted-plane path): "same"
            // 3 × 3, asymmetric padding, no padding on a 1-wide input, a kernel wider than the
            // input, and an output taller than the input
            Geometry::new([2, 6, 5], [3, 2, 3, 3], [1, 1], [1, 1, 1, 1]).unwrap(),
            Geometry::new([1, 5, 6], [1, 1, 3, 4], [1, 1], [0, 3, 2, 0]).unwrap(),
            Geometry::new([2, 4, 1], [1, 2, 2, 1], [1, 1], [0, 0, 0, 0]).unwrap(),
            Geometry::new([1, 3, 2], [1, 1, 3, 5], [1, 1], [1, 2, 1, 2]).unwrap(),
            Geometry::new([1, 2, 3], [1, 1, 1, 3], [1, 1], [3, 1, 2, 1]).unwrap(),
        ]
    }

    #[test]
    fn im2col_matches_the_definition() {
        for g in geometries() {
            let x: Vec<f32> = (0..g.input_len()).map(|i| i as f32 * 0.5 - 3.0).collect();
            let mut cols = vec![f32::NAN; g.k() * g.n()];
            im2col(&g, &x, &mut cols);
            assert_eq!(cols, naive(&g, &x), "{g:?}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint() {
        // <im2col(x), c> = <x, col2im(c)> for all x, c.
        for g in geometries() {
            let x: Vec<f32> = (0..g.input_len()).map(|i| ((i * 7 % 11) as f32) - 5.0).collect();
            let c: Vec<f32> = (0..g.k() * g.n()).map(|i| ((i * 5 % 13) as f32) - 6.0).collect();
            let mut cols = vec![0.0; c.len()];
            im2col(&g, &x, &mut cols);
            let mut dx = vec![0.0; x.len()];
            col2im(&g, &c, &mut dx);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| (*a as f64) * (*b as f64)).sum();
            assert_eq!(lhs, rhs, "{g:?}");
        }
    }
}
