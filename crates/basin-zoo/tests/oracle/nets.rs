//! Forward passes of the oracle networks in hyper-dual arithmetic, from the layer definitions:
//! dense y_o = b_o + Σ_i x_i W[i, o] (Burn stores `Linear` weights `[in, out]`), convolution
//! with zero padding, batch norm with running statistics, ReLU, max pooling over the in-bounds
//! part of each window, row-major (C, H, W) flattening.

use super::{Hd, cross_entropy};
use burn::module::Module;
use std::collections::HashMap;

/// Where each trainable tensor sits in the flat parameter vector, and the running statistics.
pub struct Layout {
    offsets: HashMap<String, (usize, Vec<usize>)>,
    consts: HashMap<String, Vec<f64>>,
}

impl Layout {
    /// The layout of `model` and its trainable parameters in basin's `ParamVec` slot order (so
    /// vectors compare entry by entry with basin's); `prefix` (e.g. `Mlp.`, the enum variant of
    /// a `ZooModel`) is removed from the paths.
    pub fn of<M: Module>(model: &M, prefix: &str) -> (Layout, Vec<f64>) {
        let strip = |p: &str| p.strip_prefix(prefix).unwrap_or(p).to_string();
        let pv = basin_core::paramvec::ParamVec::from_model(model);
        let mut offsets = HashMap::new();
        let mut off = 0;
        for s in pv.slots.iter() {
            offsets.insert(strip(&s.path), (off, s.shape.clone()));
            off += s.numel();
        }
        let consts = basin_core::params::collect(model)
            .into_iter()
            .filter(|e| e.path.ends_with("running_mean") || e.path.ends_with("running_var"))
            .map(|e| (strip(&e.path), e.values.iter().map(|&v| v as f64).collect()))
            .collect();
        (Layout { offsets, consts }, pv.to_host_f64())
    }
    /// The tensor at `path` (and its shape).
    pub fn get<'a>(&self, w: &'a [Hd], path: &str) -> (&'a [Hd], &[usize]) {
        let (off, shape) = self.offsets.get(path).unwrap_or_else(|| panic!("no parameter {path}"));
        (&w[*off..*off + shape.iter().product::<usize>()], shape)
    }
    /// A running statistic.
    pub fn konst(&self, path: &str) -> &[f64] {
        self.consts.get(path).unwrap_or_else(|| panic!("no running statistic {path}"))
    }
}

/// Dense layer named `name` (`name.weight` `[in, out]`, `name.bias`).
pub fn dense(l: &Layout, w: &[Hd], name: &str, x: &[Hd]) -> Vec<Hd> {
    let (wt, shape) = l.get(w, &format!("{name}.weight"));
    let (b, _) = l.get(w, &format!("{name}.bias"));
    let (n_in, n_out) = (shape[0], shape[1]);
    assert_eq!(x.len(), n_in);
    (0..n_out).map(|o| (0..n_in).fold(b[o], |acc, i| acc + x[i] * wt[i * n_out + o])).collect()
}

/// Batch norm `name` in evaluation mode over `x` laid out (C, spatial) with Burn's ε = 1e-5.
pub fn batch_norm(l: &Layout, w: &[Hd], name: &str, x: &[Hd], channels: usize) -> Vec<Hd> {
    let (g, _) = l.get(w, &format!("{name}.gamma"));
    let (b, _) = l.get(w, &format!("{name}.beta"));
    let (mean, var) = (l.konst(&format!("{name}.running_mean")), l.konst(&format!("{name}.running_var")));
    let spatial = x.len() / channels;
    (0..x.len())
        .map(|k| {
            let c = k / spatial;
            (x[k] - Hd::real(mean[c])).scale(1.0 / (var[c] + 1e-5).sqrt()) * g[c] + b[c]
        })
        .collect()
}

/// Convolution `name` (`weight` `[o, c, k, k]`, `bias`), stride 1, zero padding `pad`, on
/// `x` (c, h, w); returns (o, h', w').
pub fn conv(l: &Layout, w: &[Hd], name: &str, x: &[Hd], (c, h, wd): (usize, usize, usize), pad: usize) -> (Vec<Hd>, (usize, usize, usize)) {
    let (wt, shape) = l.get(w, &format!("{name}.weight"));
    let (b, _) = l.get(w, &format!("{name}.bias"));
    let (o, k) = (shape[0], shape[2]);
    assert_eq!(shape[1], c);
    let (ho, wo) = (h + 2 * pad - k + 1, wd + 2 * pad - k + 1);
    let mut y = Vec::with_capacity(o * ho * wo);
    for oc in 0..o {
        for i in 0..ho {
            for j in 0..wo {
                let mut acc = b[oc];
                for ic in 0..c {
                    for u in 0..k {
                        for v in 0..k {
                            let (r, s) = ((i + u) as isize - pad as isize, (j + v) as isize - pad as isize);
                            if r >= 0 && s >= 0 && (r as usize) < h && (s as usize) < wd {
                                acc = acc + x[ic * h * wd + r as usize * wd + s as usize] * wt[((oc * c + ic) * k + u) * k + v];
                            }
                        }
                    }
                }
                y.push(acc);
            }
        }
    }
    (y, (o, ho, wo))
}

/// Max pooling k×k, stride s, padding p (padding never wins): the in-bounds element with the
/// largest real part.
pub fn max_pool(x: &[Hd], (c, h, wd): (usize, usize, usize), k: usize, s: usize, p: usize) -> (Vec<Hd>, (usize, usize, usize)) {
    let (ho, wo) = ((h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1);
    let mut y = Vec::with_capacity(c * ho * wo);
    for ch in 0..c {
        for i in 0..ho {
            for j in 0..wo {
                let mut best: Option<Hd> = None;
                for u in 0..k {
                    for v in 0..k {
                        let (r, t) = ((i * s + u) as isize - p as isize, (j * s + v) as isize - p as isize);
                        if r >= 0 && t >= 0 && (r as usize) < h && (t as usize) < wd {
                            let e = x[ch * h * wd + r as usize * wd + t as usize];
                            if best.is_none_or(|b| e.a > b.a) {
                                best = Some(e);
                            }
                        }
                    }
                }
                y.push(best.expect("window inside the image"));
            }
        }
    }
    (y, (c, ho, wo))
}

fn relu(x: Vec<Hd>) -> Vec<Hd> {
    x.into_iter().map(Hd::relu).collect()
}

fn real(x: &[f64]) -> Vec<Hd> {
    x.iter().map(|&v| Hd::real(v)).collect()
}

/// basin_zoo's `Mlp` (`hidden.i`, optional `norms.i`, `output`) in evaluation mode.
pub fn mlp_loss(l: &Layout, w: &[Hd], xs: &[Vec<f64>], ys: &[usize], depth: usize, bn: bool) -> Hd {
    let logits: Vec<Vec<Hd>> = xs
        .iter()
        .map(|x| {
            let mut h = real(x);
            for i in 0..depth {
                h = dense(l, w, &format!("hidden.{i}"), &h);
                if bn {
                    let n = h.len();
                    h = batch_norm(l, w, &format!("norms.{i}"), &h, n);
                }
                h = relu(h);
            }
            dense(l, w, "output", &h)
        })
        .collect();
    cross_entropy(&logits, ys)
}

/// The test's small CNN: conv1 (3×3, pad 1) → bn → ReLU → max pool 3×3/2 pad 1 → conv2
/// (3×3, pad 1) → ReLU → flatten → fc.
pub fn cnn_loss(l: &Layout, w: &[Hd], xs: &[Vec<f64>], ys: &[usize], side: usize) -> Hd {
    let logits: Vec<Vec<Hd>> = xs
        .iter()
        .map(|x| {
            let (h, s) = conv(l, w, "conv1", &real(x), (1, side, side), 1);
            let h = relu(batch_norm(l, w, "bn", &h, s.0));
            let (h, s) = max_pool(&h, s, 3, 2, 1);
            let (h, _) = conv(l, w, "conv2", &h, s, 1);
            dense(l, w, "fc", &relu(h))
        })
        .collect();
    cross_entropy(&logits, ys)
}
