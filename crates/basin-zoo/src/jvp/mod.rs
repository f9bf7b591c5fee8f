//! Networks written once, on dual numbers: the plain forward pass and the tangent pass (the
//! first half of the exact Hessian-vector product) from one definition.
//!
//! Burn has first-order autodiff only. The Hessian-vector product H v is the gradient of the
//! directional derivative D(w) = ⟨∇L(w), v⟩ = Σ ∂L/∂z · ż, where ż = J(w) v is the tangent of the
//! logits along v (Pearlmutter 1994, "Fast exact multiplication by the Hessian"). A network
//! written on [`Dual`] with the rules of [`layers`] computes (z, ż) together with ordinary
//! differentiable Burn ops, so one reverse pass over D gives H v exactly — what
//! reverse-over-reverse autodiff (PyTorch's double backward, PyHessian) returns, with ReLU masks
//! and max-pool arg-maxes held at their values at w, up to float rounding and with no step size.
//!
//! The same definition started with [`Dual::plain`] is the ordinary forward pass: no tangent is
//! formed, each rule is the layer's plain kernel, training behaviour is kept. [`DualNet`] is
//! that definition; [`logits`] and [`logits_jvp`] are the two passes, what
//! [`basin_core::Classifier`] asks for.
//!
//! A layer takes its own parameters (`layer`, tracked: the gradient flows into them) and the
//! same layer of the *direction* model (`dir`, whose parameters are the components of v,
//! constants; `None` in a plain pass). Batch norm is in evaluation mode in a tangent pass
//! (running statistics): the Hessian is taken of the evaluation-mode loss, the same function at
//! every call.

pub mod dual;
pub mod layers;

pub use dual::{Dual, Pass};
pub use layers::{batch_norm, conv2d, dropout, embedding, flatten, linear, max_pool2d};

use burn::tensor::Tensor;

/// A classifier written once, on [`Dual`]: images `[B, C, H, W]` to logits `[B, classes]`.
///
/// `dir` is the direction model in a tangent pass and `None` in a plain one; pass each layer
/// its counterpart, `dir.map(|d| &d.layer)`.
pub trait DualNet {
    /// The network on `x`, in the pass `x` carries.
    fn forward_dual(&self, dir: Option<&Self>, x: Dual<4>) -> Dual<2>;
}

/// The plain forward pass of `net`: its logits, at the cost of a network written on `Tensor`.
pub fn logits<M: DualNet>(net: &M, images: Tensor<4>) -> Tensor<2> {
    net.forward_dual(None, Dual::plain(images)).value
}

/// The tangent pass of `net` along `dir`: logits and their tangent, evaluation mode
/// (what [`basin_core::Classifier::logits_jvp`] returns).
pub fn logits_jvp<M: DualNet>(net: &M, dir: &M, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
    let z = net.forward_dual(Some(dir), Dual::constant(images));
    let t = z.tangent_or_zeros();
    (z.value, t)
}
