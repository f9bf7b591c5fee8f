//! The one thing basin asks of a user's model.

use burn::module::Module;
use burn::tensor::Tensor;

/// A Burn module that maps images `[B, C, H, W]` to class logits `[B, K]`.
///
/// Implement this for any Burn model to train it with every estimator and analyze it with
/// every tool; the zoo's networks implement it too. Models that work on flat features simply
/// flatten their input.
pub trait Classifier: Module + 'static {
    /// Class logits (before softmax) for a batch of images.
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}
