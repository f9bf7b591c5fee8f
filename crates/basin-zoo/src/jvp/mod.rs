//! Forward-mode (tangent) passes of the zoo's layers, the first half of the exact Hessian-vector
//! product.
//!
//! Burn has first-order autodiff only. The Hessian-vector product H v is the gradient of the
//! directional derivative D(w) = ⟨∇L(w), v⟩ = Σ ∂L/∂z · ż, where ż = J(w) v is the tangent of the
//! logits along v (Pearlmutter 1994, "Fast exact multiplication by the Hessian"). These functions
//! compute (z, ż) together with ordinary differentiable Burn ops, so one reverse pass over
//! D gives H v exactly — what reverse-over-reverse autodiff (PyTorch's double backward,
//! PyHessian) returns, with ReLU masks and max-pool arg-maxes held at their values at w, up to
//! float rounding and with no step size.
//!
//! A layer takes its own parameters (`layer`, tracked: the gradient flows into them) and the
//! same layer of the *direction* model (`dir`, whose parameters are the components of v,
//! constants). Batch norm is in evaluation mode (running statistics): the Hessian is taken of
//! the evaluation-mode loss, the same function at every call.

pub mod dual;
pub mod layers;

pub use dual::Dual;
pub use layers::{batch_norm, conv2d, linear, max_pool2d};
