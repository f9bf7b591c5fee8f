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
pub mod entropy_sgd;
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
pub use config::{ESTIMATOR_NAMES, EstimatorConfig, NoiseKind, NoisePer, SgdConfig};
pub use det_smoothout::DetSmoothOutConfig;
pub use entropy_sgd::EntropySgdConfig;
pub use noise_enhancement::NoiseEnhancementConfig;
pub use nsgd::NsgdConfig;
pub use sam::{AsamConfig, SamConfig};
pub use smoothout::SmoothOutConfig;
pub use ssgd::SymmetricSgdConfig;
pub use plain::Plain;

/// What the trainer hands an estimator at each step (`B`: the task's batch type).
///
/// Besides the step's counters it holds how every gradient of the step is computed: in ghost
/// chunks of `ghost_batch` examples or over the whole batch ([`StepContext::grad`]), and which
/// parameters received no gradient in any of the step's passes (frozen or unused ones), which
/// [`crate::task::train_step`] then leaves out of the optimizer's step.
pub struct StepContext<'a, B = Batch> {
    /// Global step index (0-based), the counter of every per-step random stream.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Source of independent extra batches.
    pub source: &'a mut dyn BatchSource<B>,
    /// Ghost batch size (`train.ghost_batch`): every gradient is the size-weighted mean of the
    /// gradients of consecutive chunks of this many examples, each its own forward pass (its
    /// own batch-norm statistics), as the SmoothOut authors' `main_gbn.py` does; 0 = the
    /// whole batch in one pass.
    pub ghost_batch: usize,
    /// Parameters a pass of this step gave no gradient (see [`StepContext::grad`]).
    absent: Vec<(burn::module::ParamId, usize)>,
}

impl<'a, B> StepContext<'a, B> {
    /// The context of `step` in a run seeded `seed`, whole batches (no ghost chunks).
    pub fn new(step: u64, seed: u64, source: &'a mut dyn BatchSource<B>) -> Self {
        StepContext { step, seed, source, ghost_batch: 0, absent: Vec::new() }
    }
    /// The same with ghost chunks of `ghost` examples (0 = off).
    pub fn with_ghost_batch(mut self, ghost: usize) -> Self {
        self.ghost_batch = ghost;
        self
    }

    /// Loss and gradient of `model` over `batch`, with its parameters replaced by `point_of(c)`
    /// for chunk `c` (`None`: the model's own weights), in `w`'s layout: the size-weighted mean
    /// Σ_c (n_c/n)·∇L_c over the ghost chunks, one forward and one backward pass each (the
    /// whole batch when `ghost_batch` is 0 or not smaller than it). A point per chunk is how
    /// SmoothOut draws its noise per chunk; the same point for every chunk is the
    /// per-batch rule of Algorithm 1. Parameters without a gradient are noted, not kept.
    pub fn grad<M>(&mut self, model: &M, w: &ParamVec, batch: &B, mut point_of: impl FnMut(usize) -> Option<ParamVec>) -> (f64, ParamVec)
    where
        M: LossModel<Batch = B>,
    {
        let chunks = ghost_chunks::<M>(batch, self.ghost_batch);
        let n: usize = chunks.iter().map(M::batch_len).sum();
        let (mut loss, mut sum) = (0.0, None::<ParamVec>);
        for (c, chunk) in chunks.iter().enumerate() {
            let weight = M::batch_len(chunk) as f64 / n as f64;
            let point = point_of(c);
            let at = match &point {
                Some(p) => p.write_into(model.clone()),
                None => model.clone(),
            };
            let (l, grads) = loss_and_grads(&at, chunk);
            self.note_absent(w, &grads);
            let g = ParamVec::from_grads(point.as_ref().unwrap_or(w), &grads);
            loss += weight * l;
            sum = Some(add_weighted(sum, weight, g, chunks.len() == 1));
        }
        (loss, sum.unwrap_or_else(|| w.zeros_like()))
    }

    /// Loss and gradient at the model's own weights, as Burn's optimizer takes them: one pass
    /// (Burn's gradients as they are) without ghost chunks, else [`StepContext::grad`].
    pub fn loss_and_grads<M>(&mut self, model: &M, batch: &B) -> (f64, GradientsParams)
    where
        M: LossModel<Batch = B>,
    {
        if !chunked::<M>(batch, self.ghost_batch) {
            return loss_and_grads(model, batch);
        }
        let w = ParamVec::from_model(model);
        let (loss, g) = self.grad(model, &w, batch, |_| None);
        (loss, to_optimizer_grads(&g))
    }

    /// Re-seeds the backend generator (dropout masks, ReluSmoothOut's Θ) of `device` to this
    /// step's value, so that every point a method evaluates sees the same masks as the first.
    /// The trainer seeds it so before the step (under [`crate::rng::backend_lock`]), so before
    /// the first pass this changes nothing there; a method with several passes calls it before
    /// each (S-SGD, SAM, ASAM, Deterministic SmoothOut), which also makes its masks a function
    /// of (seed, step) in a loop of the user's own.
    pub fn same_masks(&self, device: &burn::tensor::Device) {
        device.seed(crate::rng::derive_seed(self.seed, crate::rng::Stream::Backend, self.step));
    }

    /// Re-seeds the backend generator of `device` for chunk `c` of this step
    /// ([`chunk_mask_seed`]): chunk 0 gets the step's own masks (so one chunk is the
    /// unchunked step), every other chunk masks of its own, the same in each of its passes.
    /// m-sharpness SAM calls it before both passes of each chunk, as the reference gives each
    /// replica its own random key.
    pub fn chunk_masks(&self, device: &burn::tensor::Device, c: usize) {
        device.seed(chunk_mask_seed(self.seed, self.step, c));
    }

    fn note_absent(&mut self, w: &ParamVec, grads: &GradientsParams) {
        for s in w.slots.iter() {
            if ParamVec::slot_grad(s, grads).is_none() && !self.absent.iter().any(|(id, _)| *id == s.id) {
                self.absent.push((s.id, s.shape.len()));
            }
        }
    }

    /// `grads` without the parameters that no pass of this step gave a gradient (frozen
    /// parameters, parameters the loss does not reach): Burn's optimizer then leaves them
    /// untouched (no weight decay, no momentum), as it does under plain SGD.
    pub fn drop_absent(&self, mut grads: GradientsParams) -> GradientsParams {
        for &(id, rank) in &self.absent {
            match rank {
                1 => drop(grads.remove::<1>(id)),
                2 => drop(grads.remove::<2>(id)),
                3 => drop(grads.remove::<3>(id)),
                _ => drop(grads.remove::<4>(id)),
            }
        }
        grads
    }
}

/// The backend seed of chunk `c` of `step` in a run seeded `seed` ([`StepContext::chunk_masks`]).
pub fn chunk_mask_seed(seed: u64, step: u64, c: usize) -> u64 {
    let own = crate::rng::derive_seed(seed, crate::rng::Stream::Backend, step);
    if c == 0 { own } else { crate::rng::derive_seed(own, crate::rng::Stream::ChunkMasks, c as u64) }
}

/// `sum + weight · g`, one term of a size-weighted mean over chunks; `only` (a single chunk,
/// weight 1) keeps `g` as it is, without a pass over it.
pub(crate) fn add_weighted(sum: Option<ParamVec>, weight: f64, g: ParamVec, only: bool) -> ParamVec {
    match sum {
        None if only => g,
        None => g.scale(weight),
        Some(s) => ParamVec::lincomb(1.0, &s, weight, &g),
    }
}

/// Whether ghost chunks of `ghost` examples cut `batch` (0, or not smaller than it: no).
fn chunked<M: LossModel>(batch: &M::Batch, ghost: usize) -> bool {
    ghost != 0 && ghost < M::batch_len(batch)
}

/// `batch` as the ghost chunks of `ghost` examples a gradient takes it in: consecutive
/// chunks, the last one smaller when `ghost` does not divide the batch; the whole batch when
/// `ghost` is 0 or not smaller than it. (The SmoothOut authors' `input.chunk(B // G)` cuts
/// B = 6000, G = 128 into 46 chunks of up to 131 examples; basin's rule cuts 46 chunks of 128
/// and one of 112.)
pub fn ghost_chunks<M: LossModel>(batch: &M::Batch, ghost: usize) -> Vec<M::Batch> {
    if !chunked::<M>(batch, ghost) {
        return vec![batch.clone()];
    }
    M::split_batch(batch, ghost).unwrap_or_else(|| panic!("ghost batches of {ghost}: this model's LossModel::split_batch cannot cut its batches"))
}

/// The result of one estimate.
pub struct Estimate<M> {
    /// The point the base optimizer steps from: the input weights, except for methods whose
    /// perturbation stays in the weights (SmoothOut without de-noising).
    pub model: M,
    /// The training loss reported for this step: the estimate of the objective the method
    /// descends, from the passes it already makes. L(w; B) for SGD, SAM, ASAM, Nudged SGD and
    /// noise enhancement (the loss on B); L(w + θ; B) for SmoothOut and AdaSmoothOut, an
    /// unbiased estimate of the smoothed loss C̄(w) (SmoothOut journal eq. 8); the mean over the
    /// evaluated points for S-SGD (½[L(w + n) + L(w − n)]) and Deterministic SmoothOut
    /// ((1/N) Σ_k L(w + θ_k), eq. 1). The trainer's L*/L** thresholds compare this value.
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
