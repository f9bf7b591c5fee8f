//! The curvature engine: Hessian-vector products of a loss by finite differences of gradients
//! (Burn has no double backward), and the algorithms that only see a linear operator: Lanczos
//! with full re-orthogonalization, power iteration with deflation, Hutchinson's trace,
//! the Frobenius norm through E‖Hv‖², and the spectral density by stochastic Lanczos quadrature.
//! Small dense eigenproblems go to nalgebra.

pub mod choice;
pub mod dense;
pub mod frobenius;
pub mod ggn;
pub mod hessian;
pub mod hutchinson;
pub mod lanczos;
pub mod objective;
pub mod operator;
pub mod power;
pub mod slice;
pub mod slq;
pub mod track;
pub mod vector;

pub use dense::DenseOperator;
pub use hessian::{Differentiable, HessianOperator};
pub use lanczos::{LanczosConfig, LanczosResult, lanczos};
pub use objective::Objective;
pub use operator::LinearOperator;
pub use vector::Vector;
