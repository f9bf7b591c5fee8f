//! The curvature engine: exact Hessian-vector products of a loss (reverse mode over the
//! model's tangent pass: Burn has no double backward), the Gauss–Newton and finite-difference
//! operators under their own names, and the algorithms that only see a linear operator: Lanczos
//! with full re-orthogonalization, power iteration with deflation, Hutchinson's trace,
//! the Frobenius norm through E‖Hv‖², and the spectral density by stochastic Lanczos quadrature.
//! Small dense eigenproblems go to nalgebra.

pub mod alignment;
pub mod block;
pub mod choice;
pub mod dense;
pub mod diagonal;
pub mod exact_hessian;
pub mod frobenius;
pub mod ggn;
pub mod fd_hessian;
pub mod hutch_pp;
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
pub use exact_hessian::ExactHessianOperator;
pub use fd_hessian::{Differentiable, FdHessianOperator};
pub use lanczos::{LanczosConfig, LanczosResult, lanczos};
pub use objective::Objective;
pub use operator::LinearOperator;
pub use vector::Vector;
