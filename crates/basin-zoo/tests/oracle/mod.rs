//! An independent f64 Hessian for the oracle tests: hyper-dual numbers (Fike & Alonso 2011)
//! over plain-Rust forward passes of small networks, written from the layer definitions
//! without any of basin's or Burn's code. f(x + e₁ε₁ + e₂ε₂) = f + ∂ᵢf ε₁ + ∂ⱼf ε₂ + ∂ᵢ∂ⱼf ε₁ε₂
//! exactly (no step, no truncation), so H_ij is the ε₁ε₂ part with ε₁ on parameter i and ε₂ on
//! parameter j. ReLU and max pooling branch on the real part, which is what autodiff's
//! "masks held at w" means.

pub mod nets;

use nalgebra::DMatrix;
use rayon::prelude::*;
use std::ops::{Add, Mul, Neg, Sub};

/// a + b ε₁ + c ε₂ + d ε₁ε₂ with ε₁² = ε₂² = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hd {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
}

impl Hd {
    pub const ZERO: Hd = Hd { a: 0.0, b: 0.0, c: 0.0, d: 0.0 };
    pub fn real(a: f64) -> Hd {
        Hd { a, ..Hd::ZERO }
    }
    pub fn exp(self) -> Hd {
        let e = self.a.exp();
        Hd { a: e, b: e * self.b, c: e * self.c, d: e * (self.d + self.b * self.c) }
    }
    pub fn ln(self) -> Hd {
        let i = 1.0 / self.a;
        Hd { a: self.a.ln(), b: self.b * i, c: self.c * i, d: self.d * i - self.b * self.c * i * i }
    }
    pub fn scale(self, s: f64) -> Hd {
        Hd { a: self.a * s, b: self.b * s, c: self.c * s, d: self.d * s }
    }
    pub fn relu(self) -> Hd {
        if self.a > 0.0 { self } else { Hd::ZERO }
    }
}

impl Add for Hd {
    type Output = Hd;
    fn add(self, o: Hd) -> Hd {
        Hd { a: self.a + o.a, b: self.b + o.b, c: self.c + o.c, d: self.d + o.d }
    }
}
impl Sub for Hd {
    type Output = Hd;
    fn sub(self, o: Hd) -> Hd {
        Hd { a: self.a - o.a, b: self.b - o.b, c: self.c - o.c, d: self.d - o.d }
    }
}
impl Neg for Hd {
    type Output = Hd;
    fn neg(self) -> Hd {
        self.scale(-1.0)
    }
}
impl Mul for Hd {
    type Output = Hd;
    fn mul(self, o: Hd) -> Hd {
        Hd { a: self.a * o.a, b: self.a * o.b + self.b * o.a, c: self.a * o.c + self.c * o.a, d: self.a * o.d + self.b * o.c + self.c * o.b + self.d * o.a }
    }
}

/// Mean cross-entropy of logit rows against labels: log Σ exp(z) − z_y, shifted by the real max.
pub fn cross_entropy(logits: &[Vec<Hd>], labels: &[usize]) -> Hd {
    let mut total = Hd::ZERO;
    for (z, &y) in logits.iter().zip(labels) {
        let m = z.iter().map(|v| v.a).fold(f64::NEG_INFINITY, f64::max);
        let s = z.iter().fold(Hd::ZERO, |acc, &v| acc + (v - Hd::real(m)).exp());
        total = total + s.ln() + Hd::real(m) - z[y];
    }
    total.scale(1.0 / labels.len() as f64)
}

/// The dense Hessian of `loss` at `w` (symmetric; the upper triangle is computed, in parallel).
pub fn dense_hessian(w: &[f64], loss: impl Fn(&[Hd]) -> Hd + Sync) -> DMatrix<f64> {
    let n = w.len();
    let rows: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut x: Vec<Hd> = w.iter().map(|&v| Hd::real(v)).collect();
            x[i].b = 1.0;
            (i..n)
                .map(|j| {
                    x[j].c = 1.0;
                    let h = loss(&x).d;
                    x[j].c = 0.0;
                    h
                })
                .collect()
        })
        .collect();
    DMatrix::from_fn(n, n, |r, c| if c >= r { rows[r][c - r] } else { rows[c][r - c] })
}

/// The loss alone (real part), for checking the oracle's forward pass against the model's.
pub fn value(w: &[f64], loss: impl Fn(&[Hd]) -> Hd) -> f64 {
    loss(&w.iter().map(|&v| Hd::real(v)).collect::<Vec<_>>()).a
}

/// Eigenvalues, decreasing. All-zero rows (parameters of dead ReLU units) are taken out first
/// (each is an eigenvalue 0): nalgebra 0.34's `symmetric_eigen` returned NaN on such a matrix.
pub fn eigenvalues(h: &DMatrix<f64>) -> Vec<f64> {
    let live: Vec<usize> = (0..h.nrows()).filter(|&r| h.row(r).iter().any(|&x| x != 0.0)).collect();
    let sub = DMatrix::from_fn(live.len(), live.len(), |r, c| h[(live[r], live[c])]);
    let mut e: Vec<f64> = sub.symmetric_eigen().eigenvalues.iter().copied().collect();
    e.resize(h.nrows(), 0.0);
    assert!(e.iter().all(|x| x.is_finite()), "oracle eigenvalues are not finite");
    e.sort_by(|a, b| b.total_cmp(a));
    e
}

#[test]
fn hyper_dual_numbers_give_the_closed_form_hessian() {
    // f(x, y) = exp(x·y) + ln(x) y²: H = [[y² e^{xy} − y²/x², (1 + xy) e^{xy} + 2y/x],
    //                                     [·, x² e^{xy} + 2 ln x]]
    let (x, y) = (0.7, -1.3);
    let f = |v: &[Hd]| (v[0] * v[1]).exp() + v[0].ln() * v[1] * v[1];
    let h = dense_hessian(&[x, y], f);
    let e = (x * y).exp();
    let want = [[y * y * e - y * y / (x * x), (1.0 + x * y) * e + 2.0 * y / x], [(1.0 + x * y) * e + 2.0 * y / x, x * x * e + 2.0 * x.ln()]];
    for r in 0..2 {
        for c in 0..2 {
            assert!((h[(r, c)] - want[r][c]).abs() < 1e-12, "H[{r},{c}] = {} vs {}", h[(r, c)], want[r][c]);
        }
    }
}
