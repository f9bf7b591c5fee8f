//! The task-generic core: what every estimator and the training step ask of a model.
//!
//! A [`LossModel`] is "model + batch → scalar loss". Image classification is one implementation
//! (every [`Classifier`] is a `LossModel` with cross-entropy on image batches, or the mean
//! squared error when a batch's targets are real values); a language
//! model, a regression network or anything else with a differentiable mean loss implements
//! the trait directly and gets every gradient estimator and [`train_step`].

use crate::batch::Batch;
use crate::error::BasinError;
use crate::estimators::{GradientEstimator, StepContext};
use crate::model::Classifier;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Tensor;

/// A Burn module with a loss: the one thing the estimators and the training step need.
///
/// ```
/// use basin_core::task::LossModel;
/// use burn::module::Module;
/// use burn::nn::{Linear, LinearConfig};
/// use burn::tensor::{Device, Tensor};
///
/// /// Least-squares regression: batches of (inputs [B, 3], targets [B, 1]).
/// #[derive(Module, Debug)]
/// struct Regressor { fc: Linear }
///
/// impl LossModel for Regressor {
///     type Batch = (Tensor<2>, Tensor<2>);
///     fn loss(&self, (x, y): &Self::Batch) -> Tensor<1> {
///         (self.fc.forward(x.clone()) - y.clone()).powi_scalar(2).mean()
///     }
///     fn batch_len((x, _): &Self::Batch) -> usize { x.dims()[0] }
/// }
///
/// let device = Device::flex().autodiff();
/// let model = Regressor { fc: LinearConfig::new(3, 1).init(&device) };
/// let batch = (Tensor::<2>::ones([4, 3], &device), Tensor::<2>::zeros([4, 1], &device));
/// let (loss, _grads) = basin_core::estimators::loss_and_grads(&model, &batch);
/// assert!(loss.is_finite() && loss >= 0.0);
/// ```
pub trait LossModel: Module + 'static {
    /// One batch of training data, on the model's device.
    type Batch: Clone;
    /// The mean loss over `batch` (a one-element tensor); it is differentiated, so build it
    /// with differentiable ops on the model's parameters.
    fn loss(&self, batch: &Self::Batch) -> Tensor<1>;
    /// The number of examples in `batch` (noise enhancement draws an independent batch of the
    /// same size).
    fn batch_len(batch: &Self::Batch) -> usize;
    /// Folds pending running-statistics updates into the stored values (see
    /// [`Classifier::sync_running_stats`]); the default does it for any Burn module.
    fn sync_state(&self) {
        crate::running_stats::sync(self)
    }
    /// `batch` cut into consecutive chunks of `size` examples, the last one smaller (ghost
    /// batches, `train.ghost_batch`); `None` (the default) when this task's batches cannot be
    /// cut, and ghost batches are then refused.
    fn split_batch(batch: &Self::Batch, size: usize) -> Option<Vec<Self::Batch>> {
        let _ = (batch, size);
        None
    }
    /// The tangent of the loss: D = ⟨∇L(w), v⟩, the directional derivative of the mean loss
    /// over `batch` along the direction `dir` (a copy of the model whose parameters hold v,
    /// as constants), as a one-element tensor differentiable in `self`'s parameters, in
    /// evaluation mode. Its gradient is H v (Pearlmutter 1994), which is all the exact Hessian
    /// needs ([`crate::curvature::Objective::hvp`]). `None` (the default): no tangent pass; the
    /// finite-difference Hessian remains. Every [`Classifier`] has it through
    /// [`Classifier::logits_jvp`] and [`crate::loss::loss_tangent`]: D = mean_i (softmax(zᵢ) − e_{yᵢ})·żᵢ
    /// for class labels, 2/(B·T) Σ (zᵢ − yᵢ)·żᵢ for real-valued targets.
    fn loss_jvp(&self, dir: &Self, batch: &Self::Batch) -> Option<Tensor<1>> {
        let _ = (dir, batch);
        None
    }
    /// Whether [`loss_jvp`](Self::loss_jvp) exists, probed on `batch` (a classifier probes
    /// one example only).
    fn has_loss_jvp(&self, dir: &Self, batch: &Self::Batch) -> bool {
        self.loss_jvp(dir, batch).is_some()
    }
}

/// Every image classifier is a loss model: the mean cross-entropy of its logits, or their mean
/// squared error when the batch's targets are real values.
impl<M: Classifier> LossModel for M {
    type Batch = Batch;
    fn loss(&self, batch: &Batch) -> Tensor<1> {
        crate::loss::loss(self.logits(batch.images.clone()), &batch.targets)
    }
    fn batch_len(batch: &Batch) -> usize {
        batch.len()
    }
    fn sync_state(&self) {
        self.sync_running_stats()
    }
    fn split_batch(batch: &Batch, size: usize) -> Option<Vec<Batch>> {
        Some(batch.split(size))
    }
    fn loss_jvp(&self, dir: &Self, batch: &Batch) -> Option<Tensor<1>> {
        let (z, zt) = self.logits_jvp(dir, batch.images.clone())?;
        Some(crate::loss::loss_tangent(z, zt, &batch.targets))
    }
    fn has_loss_jvp(&self, dir: &Self, batch: &Batch) -> bool {
        self.logits_jvp(dir, batch.images.clone().narrow(0, 0, 1)).is_some()
    }
}

/// One training step, the core every loop shares: the estimator's gradient for `batch`, then
/// the base optimizer's step at learning rate `lr` from the point the estimator returns.
///
/// Parameters that no pass of the step gave a gradient (frozen ones, ones the loss does not
/// reach) are left out of the optimizer's step, so weight decay and momentum never move them.
///
/// Returns the new model and the step's training loss. A non-finite loss is
/// [`BasinError::Diverged`] and non-finite weights after the step are
/// [`BasinError::NonFinite`]: a caller never keeps a NaN model as "good".
pub fn train_step<M: LossModel>(
    model: M,
    batch: &M::Batch,
    estimator: &mut dyn GradientEstimator<M>,
    optim: &mut ModuleOptimizer,
    lr: f64,
    ctx: &mut StepContext<'_, M::Batch>,
) -> Result<(M, f64), BasinError> {
    let step = ctx.step;
    let est = estimator.estimate(model, batch, ctx);
    if !est.loss.is_finite() {
        return Err(BasinError::Diverged { step, epoch: 0, loss: est.loss });
    }
    let model = optim.step(lr, est.model, ctx.drop_absent(est.grads));
    if !crate::params::all_finite(&model) {
        return Err(BasinError::NonFinite { step, what: "weights".into() });
    }
    Ok((model, est.loss))
}
