//! The box C_ε around w and the loss as a function of the box coordinates y, shared by the
//! sharpness protocols.

use crate::curvature::fd_hessian::Differentiable;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use std::cell::RefCell;

/// A point of the box, the objective there and its gradient.
pub type Evaluated = (Vec<f64>, f64, Vec<f64>);

/// The box of (C_ε, A)-sharpness around w.
pub struct BoxProblem {
    w: ParamVec,
    w_host: Vec<f64>,
    device: Device,
    /// Columns of A (orthonormal, by Gram–Schmidt of Gaussian vectors), or None for A = I.
    basis: Option<Vec<ParamVec>>,
    /// Half-widths ε (|(Aᵀw)_i| + 1) of the box, one per coordinate of y.
    pub bounds: Vec<f64>,
}

impl BoxProblem {
    /// The box at `w` with size `eps`, in the full space or a random `subspace` (seeded by `seed`).
    pub fn new(w: &ParamVec, eps: f64, subspace: Option<usize>, seed: u64) -> BoxProblem {
        let device = w.device();
        let w_host = w.to_host_f64();
        let basis: Option<Vec<ParamVec>> = subspace.map(|p| crate::estimators::nsgd::random_frame(w, p, seed ^ 0xA5A5));
        let bounds: Vec<f64> = match &basis {
            None => w_host.iter().map(|x| eps * (x.abs() + 1.0)).collect(),
            Some(a) => a.iter().map(|col| eps * (col.dot(w).abs() + 1.0)).collect(),
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
