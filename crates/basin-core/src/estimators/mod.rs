//! Gradient estimators: every training method of the papers is Burn's ordinary optimizer fed a
//! different gradient. An estimator returns the loss and the gradients (and the point the
//! optimizer should step from); the base optimizer (SGD, momentum, Adam) is never touched.

/// Burn-`Config`-style builders: `with_<key>(value) -> Self` for each listed field.
macro_rules! builders {
    ($ty:ident { $($with:ident => $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Returns the config with `", stringify!($field), "` set.")]
                pub fn $with(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}
pub(crate) use builders;

pub mod ada_smoothout;
pub mod clipped;
pub mod config;
pub mod det_smoothout;
pub mod noise_enhancement;
pub mod nsgd;
pub mod plain;
pub mod sam;
pub mod smoothout;
pub mod ssgd;

use crate::batch::{Batch, BatchSource};
use crate::task::LossModel;
use crate::paramvec::ParamVec;
use burn::optim::GradientsParams;

pub use ada_smoothout::AdaSmoothOutConfig;
pub use clipped::Clipped;
pub use config::{ESTIMATOR_NAMES, EstimatorConfig, NoiseKind, SgdConfig};
pub use det_smoothout::DetSmoothOutConfig;
pub use noise_enhancement::NoiseEnhancementConfig;
pub use nsgd::NsgdConfig;
pub use sam::{AsamConfig, SamConfig};
pub use smoothout::SmoothOutConfig;
pub use ssgd::SymmetricSgdConfig;
pub use plain::Plain;

/// What the trainer hands an estimator at each step (`B`: the task's batch type).
pub struct StepContext<'a, B = Batch> {
    /// Global step index (0-based), the counter of every per-step random stream.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Source of independent extra batches.
    pub source: &'a mut dyn BatchSource<B>,
}

/// The result of one estimate.
pub struct Estimate<M> {
    /// The point the base optimizer steps from: the input weights, except for methods whose
    /// perturbation stays in the weights (SmoothOut without de-noising).
    pub model: M,
    /// The training loss reported for this step (at the unperturbed weights where the method
    /// computes it, else at the first evaluated point).
    pub loss: f64,
    /// The gradient handed to the base optimizer.
    pub grads: GradientsParams,
}

/// A method that turns (model, batch) into a gradient for the base optimizer.
pub trait GradientEstimator<M: LossModel> {
    /// Short name used in configs and logs.
    fn name(&self) -> &'static str;
    /// The gradient for this step. `model` lives on an autodiff device.
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M>;
    /// State that must survive a checkpoint (vectors in the model's parameter layout), for
    /// estimators that carry any (Nudged SGD's eigenvectors). Stateless methods return nothing.
    fn state(&self) -> Vec<ParamVec> {
        Vec::new()
    }
    /// Restores what [`state`](Self::state) returned.
    fn load_state(&mut self, _state: Vec<ParamVec>) {}
}

/// Loss and gradients of `model` on `batch`: one forward and one backward pass.
pub fn loss_and_grads<M: LossModel>(model: &M, batch: &M::Batch) -> (f64, GradientsParams) {
    let loss = model.loss(batch);
    let value = loss.clone().into_scalar::<f32>() as f64;
    let grads = GradientsParams::from_grads(loss.backward(), model);
    (value, grads)
}


/// Loss and gradient (in `point`'s layout) of `model` with its trainable parameters replaced by
/// `point`: the building block of every perturbation method.
pub fn grad_at<M: LossModel>(model: &M, point: &ParamVec, batch: &M::Batch) -> (f64, ParamVec) {
    let m = point.write_into(model.clone());
    let (loss, grads) = loss_and_grads(&m, batch);
    (loss, ParamVec::from_grads(point, &grads))
}

/// The gradient as Burn's optimizer takes it (on the parameters' own, non-autodiff device).
pub fn to_optimizer_grads(g: &ParamVec) -> GradientsParams {
    g.to_grads(&g.device())
}
