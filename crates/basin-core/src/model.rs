//! The one thing basin asks of a user's model.

use burn::module::Module;
use burn::tensor::Tensor;

/// A Burn module that maps images `[B, C, H, W]` to class logits `[B, K]` (or, for a regression
/// set, its `K` = T real outputs).
///
/// Implement this for any Burn model to train it with every estimator and analyze it with
/// every tool; the zoo's networks implement it too. Models that work on flat features simply
/// flatten their input.
pub trait Classifier: Module + 'static {
    /// Class logits (before softmax) for a batch of images.
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;

    /// Folds pending running-statistics updates (batch norm) into the stored values.
    ///
    /// Burn 0.22's `RunningState` keeps the latest update per thread and merges it only on the
    /// next update or an explicit `value_sync()`, so what a visitor, a checkpoint or an
    /// evaluation reads lags one step behind. The trainer calls this before every checkpoint
    /// and evaluation. The default does it for any Burn module (`Module::valid()` syncs every
    /// `RunningState` it reaches; see [`crate::running_stats::sync`]), so a model needs no
    /// override.
    fn sync_running_stats(&self) {
        crate::running_stats::sync(self)
    }

    /// The logits z at this model's parameters w and their tangent ż = (∂z/∂w)·v along the
    /// direction `dir` (a copy of the model whose parameters hold v), in evaluation mode.
    ///
    /// This is what makes the exact Hessian-vector product possible with first-order autodiff:
    /// H v is the gradient of ⟨∂L/∂z, ż⟩ (Pearlmutter 1994; see `curvature::exact_hessian`).
    /// Write it with differentiable ops on `self`'s parameters and `dir`'s parameters as
    /// constants, holding ReLU masks and max-pool arg-maxes fixed (the `basin_zoo::jvp`
    /// helpers do this layer by layer). `None` (the default) means the model has no tangent
    /// pass: the exact Hessian is then unavailable and the Gauss–Newton or finite-difference
    /// operators remain.
    fn logits_jvp(&self, dir: &Self, images: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        let _ = (dir, images);
        None
    }

    /// The input φ(x) `[B, d]` of the network's last dense layer, whose weights are the last
    /// dense parameter of the model (the penultimate representation of Petzka et al. 2021,
    /// which relative flatness needs), in evaluation mode. `None` (the default): not exposed.
    fn features(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        let _ = images;
        None
    }
}
