//! The box C_ε around w and the loss as a function of the box coordinates y, shared by the
//! sharpness protocols.

use crate::curvature::fd_hessian::Differentiable;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use std::cell::RefCell;

/// A point of the box, the objective there and its gradient.
pub type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// How the random p-dimensional subspace A of the box is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A with orthonormal columns (Gram–Schmidt of Gaussian vectors), so A⁺ = Aᵀ: basin's
    /// protocol.
    Orthonormal,
    /// The SmoothOut authors' `measure_sharpness.py`: A⁺ is p × n with entries uniform on
    /// [−1, 1] (`np.random.rand(p, n)*2 − 1`), each row scaled to unit length (the script's
    /// comment says columns; its `axis=1` normalizes rows), not orthogonalized, and
    /// A = pinv(A⁺) = A⁺ᵀ (A⁺A⁺ᵀ)⁻¹; the box bounds y by ε(|A⁺w| + 1).
    PseudoInverse,
}

/// The box of (C_ε, A)-sharpness around w.
pub struct BoxProblem {
    w: ParamVec,
    w_host: Vec<f64>,
    device: Device,
    /// Columns of A, or None for A = I.
    basis: Option<Vec<ParamVec>>,
    /// Half-widths ε (|(A⁺w)_i| + 1) of the box, one per coordinate of y.
    pub bounds: Vec<f64>,
}

impl BoxProblem {
    /// The box at `w` with size `eps`, in the full space or a random `subspace` of the kind
    /// `frame` (seeded by `seed`).
    pub fn new(w: &ParamVec, eps: f64, subspace: Option<usize>, frame: Frame, seed: u64) -> BoxProblem {
        let device = w.device();
        let w_host = w.to_host_f64();
        let (basis, bounds) = match subspace {
            None => (None, w_host.iter().map(|x| eps * (x.abs() + 1.0)).collect()),
            Some(p) => {
                // rows of A⁺ and columns of A: the same vectors for an orthonormal frame
                let (rows, cols) = match frame {
                    Frame::Orthonormal => {
                        let a = crate::estimators::nsgd::random_frame(w, p, seed ^ 0xA5A5);
                        (a.clone(), a)
                    }
                    Frame::PseudoInverse => pseudo_inverse_frame(w, p, seed ^ 0xA5A5),
                };
                let bounds = rows.iter().map(|r| eps * (r.dot(w).abs() + 1.0)).collect();
                (Some(cols), bounds)
            }
        };
        BoxProblem { w: w.clone(), w_host, device, basis, bounds }
    }

    /// f(w + A y) and its gradient Aᵀ∇f with respect to y.
    pub fn loss_grad(&self, f: &mut dyn Differentiable, y: &[f64]) -> (f64, Vec<f64>) {
        let point = match &self.basis {
            None => {
                let x: Vec<f64> = self.w_host.iter().zip(y).map(|(a, b)| a + b).collect();
                self.w.from_host_f64(&x, &self.device)
            }
            Some(a) => a.iter().zip(y).fold(self.w.clone(), |acc, (col, yi)| acc.axpy(*yi, col)),
        };
        let (val, grad) = f.loss_grad(&point);
        let g: Vec<f64> = match &self.basis {
            None => grad.to_host_f64(),
            Some(a) => a.iter().map(|col| col.dot(&grad)).collect(),
        };
        (val, g)
    }

    /// The solver's bounds.
    pub fn solver_bounds(&self) -> rcompat_lbfgsb::Bounds {
        let lower: Vec<f64> = self.bounds.iter().map(|b| -b).collect();
        rcompat_lbfgsb::Bounds::new(lower, self.bounds.clone()).expect("the box has finite, ordered bounds")
    }
}

/// [`Frame::PseudoInverse`]: the rows of A⁺ (uniform on [−1, 1], unit length) and the columns
/// of A = A⁺ᵀ G⁻¹ with G = A⁺A⁺ᵀ, the p × p Gram matrix inverted in f64 (A⁺ has full row rank
/// with probability 1; its rows are nearly orthogonal when p ≪ n, so G is well conditioned).
pub fn pseudo_inverse_frame(w: &ParamVec, p: usize, key: u64) -> (Vec<ParamVec>, Vec<ParamVec>) {
    let rows: Vec<ParamVec> = (0..p)
        .map(|i| {
            let r = w.uniform(key.wrapping_add(i as u64), -1.0, 1.0);
            r.scale(1.0 / r.norm())
        })
        .collect();
    let gram = nalgebra::DMatrix::from_fn(p, p, |i, j| if i <= j { rows[i].dot(&rows[j]) } else { 0.0 });
    let gram = nalgebra::DMatrix::from_fn(p, p, |i, j| if i <= j { gram[(i, j)] } else { gram[(j, i)] });
    let inv = gram.cholesky().expect("the rows of A⁺ are linearly independent").inverse();
    let cols = (0..p)
        .map(|j| {
            // column j of A: Σ_i A⁺_i · (G⁻¹)_{ij}
            rows.iter().enumerate().fold(w.zeros_like(), |acc, (i, r)| acc.axpy(inv[(i, j)], r))
        })
        .collect();
    (rows, cols)
}

/// Runs L-BFGS-B (R's `optim` semantics) on the value and gradient `fg`, evaluated once per
/// point: the solver asks for the value and the gradient of the same point through two
/// callbacks, and one network evaluation gives both.
pub fn lbfgsb(
    y0: Vec<f64>,
    bounds: rcompat_lbfgsb::Bounds,
    control: rcompat_lbfgsb::OptimControl,
    fg: impl FnMut(&[f64]) -> (f64, Vec<f64>),
) -> Result<rcompat_lbfgsb::OptimResult, rcompat_lbfgsb::OptimError> {
    let fg = RefCell::new(fg);
    let cache: RefCell<Option<Evaluated>> = RefCell::new(None);
    let at = |y: &[f64]| -> (f64, Vec<f64>) {
        if let Some((x, v, g)) = cache.borrow().as_ref()
            && x.as_slice() == y
        {
            return (*v, g.clone());
        }
        let (v, g) = (fg.borrow_mut())(y);
        *cache.borrow_mut() = Some((y.to_vec(), v, g.clone()));
        (v, g)
    };
    rcompat_lbfgsb::optim_lbfgsb_with_gradient(y0, bounds, |y| at(y).0, |y| at(y).1, control)
}
