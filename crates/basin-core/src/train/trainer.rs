//! The training loop: batches in a seeded order, the configured gradient estimator, Burn's base
//! optimizer, the LR schedule, per-epoch evaluation, metrics, atomic checkpoints, resume,
//! divergence guard and interruption.

use super::callbacks::{Callback, StepInfo};
use super::checkpoint::{self, LoopState};
use super::config::TrainConfig;
use super::evaluate::evaluate;
use burn::optim::ModuleOptimizer;
use super::metrics::{MetricRecord, MetricsLog};
use crate::batch::{Batch, BatchSource, ExampleSet};
use crate::error::BasinError;
use crate::estimators::StepContext;
use crate::model::Classifier;
use crate::rng::{Stream, derive_seed, stream_rng};
use burn::tensor::Device;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The data of a run.
pub struct TrainSets<'a> {
    /// Training examples.
    pub train: &'a dyn ExampleSet,
    /// Test examples (evaluated after every epoch).
    pub test: &'a dyn ExampleSet,
    /// Validation examples, when the config holds some out.
    pub val: Option<&'a dyn ExampleSet>,
}

/// Where and how a run executes.
#[derive(Clone)]
pub struct TrainOptions {
    /// Output folder: metrics.jsonl, checkpoints/, summary.json, model.bpk.
    pub out: PathBuf,
    /// Continue from the latest checkpoint in `out`.
    pub resume: bool,
    /// Set to true (e.g. by Ctrl-C) to stop after the current step with a checkpoint.
    pub stop: Arc<AtomicBool>,
    /// A plain (non-autodiff) device; training runs on its autodiff twin.
    pub device: Device,
}

/// Progress callbacks (the CLI draws bars with them).
pub trait Observer {
    /// An epoch starts: `steps` batches, of which `done` are already taken (resume).
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _steps: usize, _done: usize) {}
    /// A step finished.
    fn step(&mut self, _step: u64, _loss: f64, _lr: f64) {}
    /// An epoch finished and was evaluated.
    fn epoch_end(&mut self, _record: &MetricRecord) {}
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// summary.json: the final numbers of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean training loss over the whole training set at the end, eval mode.
    pub train_loss: f64,
    /// Training accuracy at the end, eval mode (`None` for a regression set).
    pub train_acc: Option<f64>,
    /// Test loss at the end.
    pub test_loss: f64,
    /// Test accuracy at the end (`None` for a regression set).
    pub test_acc: Option<f64>,
    /// Validation loss, if a validation split exists.
    pub val_loss: Option<f64>,
    /// Validation accuracy, if a validation split exists.
    pub val_acc: Option<f64>,
    /// Epochs run.
    pub epochs: usize,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Seconds of training (evaluations included, across resumes).
    pub seconds: f64,
    /// Step at which the recent training loss reached L* and the rate was halved.
    pub halved_lr_at_step: Option<u64>,
    /// Step at which it fell below L** (the noise-enhancement paper's convergence time).
    pub converged_at_step: Option<u64>,
    /// The model's name.
    pub model: String,
    /// The estimator's name.
    pub estimator: String,
    /// The averaged model of `[average]` (SWA or EMA), evaluated after its batch-norm
    /// recalibration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaged: Option<super::average::AveragedSummary>,
}

/// Steps per epoch: whole batches only (the last partial batch is dropped so that every step
/// sees `batch_size` examples, which the estimators' noise scales assume).
pub fn steps_per_epoch(n: usize, batch: usize) -> usize {
    n / batch
}

/// Builds a model whose initial weights are a function of `seed` alone: seeds the backend,
/// builds, and draws every (lazily initialized) parameter at once in module order, before
/// anything else can consume the backend's random numbers.
///
/// The weights are always drawn on the flex CPU backend and then moved to `device`: every
/// backend has its own generator, and a seed should mean the same network on a laptop and on
/// a GPU (this is what lets `tests/wgpu_backend.rs` compare the two devices' runs).
pub fn init_model<M: burn::module::Module>(device: &Device, seed: u64, build: impl FnOnce(&Device) -> M) -> M {
    let _guard = crate::rng::backend_lock();
    let cpu = if device.is_autodiff() { Device::flex().autodiff() } else { Device::flex() };
    cpu.seed(derive_seed(seed, Stream::Init, 0));
    let model = build(&cpu);
    let _ = model.clone().into_record();
    if cpu == *device { model } else { model.fork(device) }
}

/// Extra batches for estimators, drawn from a seeded stream of the step; with `augment`, B′
/// gets the run's augmentation from its own stream (seed, step), so noise enhancement's
/// α·g(B) + (1 − α)·g(B′) compares two batches of the same distribution.
struct Extra<'a> {
    set: &'a dyn ExampleSet,
    steps: u64,
    seed: u64,
    augment: bool,
    device: Device,
}

impl BatchSource for Extra<'_> {
    fn examples(&self) -> Option<&dyn ExampleSet> {
        Some(self.set)
    }
    fn steps_per_epoch(&self) -> u64 {
        self.steps
    }
    fn extra_batch(&mut self, size: usize, step: u64) -> Batch {
        let mut rng = stream_rng(self.seed, Stream::ExtraBatch, step);
        let idx = rand::seq::index::sample(&mut rng, self.set.len(), size.min(self.set.len())).into_vec();
        let mut aug = self.augment.then(|| stream_rng(self.seed, Stream::ExtraAugment, step));
        self.set.batch(&idx, aug.as_mut(), &self.device)
    }
}

/// Updates the running loss window and the L* / L** events after a step.
fn track_thresholds(state: &mut LoopState, loss: f64, cfg: &TrainConfig) {
    state.recent_losses.push(loss);
    let w = cfg.train.loss_window;
    if state.recent_losses.len() > w {
        let extra = state.recent_losses.len() - w;
        state.recent_losses.drain(..extra);
    }
    if state.recent_losses.len() < w {
        return;
    }
    let mean = state.recent_losses.iter().sum::<f64>() / w as f64;
    if cfg.train.halve_lr_at_loss > 0.0 && state.halved_at.is_none() && mean <= cfg.train.halve_lr_at_loss {
        state.halved_at = Some(state.step);
        state.lr_factor *= 0.5;
    }
    if cfg.train.stop_at_loss > 0.0 && state.converged_at.is_none() && mean < cfg.train.stop_at_loss {
        state.converged_at = Some(state.step);
    }
}

/// The order of the training examples in `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut stream_rng(seed, Stream::EpochOrder, epoch as u64));
    p
}

/// Opens the run folder: a fresh run writes θ₀ (`init.bpk`, for the distance from
/// initialization of the sharpest-directions table); `--resume` loads the latest checkpoint
/// (weights, optimizer, loop state) and hands each callback its saved state. A folder that
/// already holds a run is never overwritten.
fn start_or_resume<M: Classifier>(model: M, optim: ModuleOptimizer, opts: &TrainOptions, callbacks: &mut [Box<dyn Callback<M>>]) -> Result<(M, ModuleOptimizer, LoopState), BasinError> {
    let out = &opts.out;
    match (opts.resume, checkpoint::latest(out)?) {
        (true, Some(ckpt)) => {
            let loaded = checkpoint::load(&ckpt, model, optim)?;
            let mut saved = checkpoint::load_callback_states(&ckpt)?;
            let template = crate::paramvec::ParamVec::from_model(&loaded.0);
            for cb in callbacks.iter_mut() {
                if let Some(v) = saved.remove(cb.name()) {
                    cb.load_state(v)?;
                }
                cb.load_vectors(checkpoint::load_callback_vectors(&ckpt, cb.name(), &template)?)?;
            }
            Ok(loaded)
        }
        (true, None) => Err(BasinError::file(out, "holds no checkpoint to resume (run without --resume to start)")),
        (false, Some(_)) => Err(BasinError::file(out, "already holds a run; pass --resume to continue it or choose another --out")),
        (false, None) => {
            let _ = std::fs::remove_file(out.join("slices.jsonl"));
            checkpoint::save_model_atomic(&model, &out.join("init.bpk"))?;
            Ok((model, optim, LoopState::default()))
        }
    }
}

/// An error naming the key when a phase's method perturbs a selection of parameters (`params`,
/// `layers`) that takes none of `model`'s: its noise would touch nothing
/// ([`crate::estimators::EstimatorConfig::check_selects`]). `train` calls it first; a caller
/// that writes files before training calls it before them.
pub fn check_selects<M: burn::module::Module>(cfg: &TrainConfig, model: &M) -> Result<(), BasinError> {
    let kinds: Vec<_> = crate::paramvec::ParamVec::from_model(model).slots.iter().map(|s| s.kind).collect();
    super::phases::resolve(cfg)?.iter().try_for_each(|p| p.estimator.check_selects(&kinds))
}

/// Restores a resumed estimator's state (Nudged SGD's eigenvectors) from the latest
/// checkpoint, only if that checkpoint was saved by the same phase `pi`.
fn restore_estimator<M: Classifier>(estimator: &mut dyn crate::estimators::GradientEstimator<M>, model: &M, phases: &[super::phases::Phase], pi: usize, state: &LoopState, out: &std::path::Path) -> Result<(), BasinError> {
    let last_epoch = if state.batch_in_epoch == 0 { state.epoch.saturating_sub(1) } else { state.epoch };
    let same_phase = state.step > 0 && super::phases::phase_of(phases, last_epoch) == pi;
    if same_phase && let Some(ckpt) = checkpoint::latest(out)? {
        let template = crate::paramvec::ParamVec::from_model(model);
        estimator.load_state(checkpoint::load_estimator_state(&ckpt, &template)?);
    }
    Ok(())
}

/// The `epoch` record of metrics.jsonl: the epoch's mean minibatch loss and the evaluation on
/// the test (and validation) set.
#[allow(clippy::too_many_arguments)]
fn epoch_record<M: Classifier>(model: &M, cfg: &TrainConfig, sets: &TrainSets<'_>, opts: &TrainOptions, state: &LoopState, epoch: usize, lr: f64, elapsed: f64) -> MetricRecord {
    let test = evaluate(model, sets.test, cfg.train.eval_batch_size, &opts.device);
    let val = sets.val.map(|v| evaluate(model, v, cfg.train.eval_batch_size, &opts.device));
    MetricRecord {
        kind: "epoch".into(),
        step: state.step,
        epoch: epoch + 1,
        loss: state.epoch_loss_sum / state.epoch_examples.max(1) as f64,
        accuracy: test.accuracy,
        test_loss: Some(test.loss),
        val_loss: val.map(|v| v.loss),
        val_accuracy: val.and_then(|v| v.accuracy),
        eigenvalues: None,
        alignment: None,
        lr,
        elapsed,
    }
}

/// The end of a run: training, test and validation evaluation (summary.json is written by
/// the caller, after the callbacks' `on_train_end`).
fn summarize<M: Classifier>(model: &M, cfg: &TrainConfig, sets: &TrainSets<'_>, opts: &TrainOptions, state: &LoopState, seconds: f64, estimator: String) -> Result<Summary, BasinError> {
    let eval = |set: &dyn ExampleSet| evaluate(model, set, cfg.train.eval_batch_size, &opts.device);
    let (train_eval, test) = (eval(sets.train), eval(sets.test));
    let val = sets.val.map(eval);
    let summary = Summary {
        train_loss: train_eval.loss,
        train_acc: train_eval.accuracy,
        test_loss: test.loss,
        test_acc: test.accuracy,
        val_loss: val.map(|v| v.loss),
        val_acc: val.and_then(|v| v.accuracy),
        epochs: state.epoch,
        steps: state.step,
        halved_lr_at_step: state.halved_at,
        converged_at_step: state.converged_at,
        seconds,
        model: cfg.model_label(),
        estimator,
        averaged: None,
    };
    if !train_eval.loss.is_finite() {
        return Err(BasinError::NonFinite { step: state.step.saturating_sub(1), what: format!("final training loss ({})", train_eval.loss) });
    }
    Ok(summary)
}

/// Trains `model` (built on `opts.device.autodiff()`) as `cfg` says; returns the trained model
/// and the summary, also written to `opts.out`.
///
/// ```
/// use basin_core::doc_support::{Blobs, LinearNet};
/// use basin_core::estimators::{EstimatorConfig, SamConfig};
/// use basin_core::train::{Silent, TrainConfig, TrainOptions, TrainSets, init_model, train};
/// use burn::tensor::Device;
///
/// let mut cfg = TrainConfig::default();
/// cfg.train.epochs = 3;
/// cfg.train.batch_size = 16;
/// cfg.estimator = EstimatorConfig::Sam(SamConfig::default()); // any method, same call
/// let device = Device::flex();
/// let model = init_model(&device.clone().autodiff(), cfg.seed, LinearNet::new);
/// let (train_set, test_set) = (Blobs(256), Blobs(64));
/// let sets = TrainSets { train: &train_set, test: &test_set, val: None };
/// let out = tempfile::tempdir().unwrap();
/// let opts = TrainOptions { out: out.path().into(), resume: false, stop: Default::default(), device };
/// let (_model, summary) = train(model, &cfg, &sets, &opts, &mut Silent).unwrap();
/// assert!(summary.test_acc > Some(0.9), "{:?}", summary.test_acc);
/// assert_eq!(summary.steps, 3 * (256 / 16));
/// assert!(out.path().join("summary.json").is_file());
/// ```
pub fn train<M: Classifier>(
    model: M,
    cfg: &TrainConfig,
    sets: &TrainSets<'_>,
    opts: &TrainOptions,
    obs: &mut dyn Observer,
) -> Result<(M, Summary), BasinError> {
    train_with(model, cfg, sets, opts, obs, Vec::new())
}

/// [`train`] with the user's own `callbacks`, called after the built-in ones
/// ([`super::callbacks::builtin`]) at every step and epoch; their state is checkpointed and
/// restored on resume.
///
/// ```
/// use basin_core::BasinError;
/// use basin_core::doc_support::{Blobs, LinearNet};
/// use basin_core::train::metrics::MetricsLog;
/// use basin_core::train::{Callback, Silent, StepInfo, TrainConfig, TrainOptions, TrainSets, init_model, train_with};
/// use burn::tensor::Device;
///
/// /// The largest minibatch loss seen, kept across an interruption.
/// struct WorstLoss(f64);
/// impl Callback<LinearNet> for WorstLoss {
///     fn name(&self) -> &str { "worst-loss" }
///     fn on_step(&mut self, _: &LinearNet, info: &StepInfo<'_>, _: &mut MetricsLog) -> Result<(), BasinError> {
///         self.0 = self.0.max(info.loss);
///         Ok(())
///     }
///     fn state(&self) -> Option<serde_json::Value> { Some(self.0.into()) }
///     fn load_state(&mut self, v: serde_json::Value) -> Result<(), BasinError> {
///         self.0 = v.as_f64().unwrap_or(0.0);
///         Ok(())
///     }
/// }
///
/// let mut cfg = TrainConfig::default();
/// cfg.train.epochs = 1;
/// cfg.train.batch_size = 16;
/// let device = Device::flex();
/// let model = init_model(&device.clone().autodiff(), cfg.seed, LinearNet::new);
/// let data = Blobs(128);
/// let sets = TrainSets { train: &data, test: &data, val: None };
/// let out = tempfile::tempdir().unwrap();
/// let opts = TrainOptions { out: out.path().into(), resume: false, stop: Default::default(), device };
/// train_with(model, &cfg, &sets, &opts, &mut Silent, vec![Box::new(WorstLoss(0.0))]).unwrap();
/// // its state went into the checkpoint by name
/// let ckpt = basin_core::train::checkpoint::latest(out.path()).unwrap().unwrap();
/// let states = basin_core::train::checkpoint::load_callback_states(&ckpt).unwrap();
/// assert!(states["worst-loss"].as_f64().unwrap() > 0.0);
/// ```
pub fn train_with<M: Classifier>(
    model: M,
    cfg: &TrainConfig,
    sets: &TrainSets<'_>,
    opts: &TrainOptions,
    obs: &mut dyn Observer,
    callbacks: Vec<Box<dyn Callback<M>>>,
) -> Result<(M, Summary), BasinError> {
    cfg.validate()?;
    cfg.validate_against(sets.train.len())?;
    // before anything is written: a method whose noise would touch no parameter of this model
    check_selects(cfg, &model)?;
    let out = &opts.out;
    let mut callbacks: Vec<Box<dyn Callback<M>>> = super::callbacks::builtin(cfg, &opts.out).into_iter().chain(callbacks).collect();
    let callback_states = |cbs: &[Box<dyn Callback<M>>]| checkpoint::CallbackStates {
        json: cbs.iter().filter_map(|c| c.state().map(|v| (c.name().to_string(), v))).collect(),
        vectors: cbs.iter().map(|c| (c.name().to_string(), c.vectors())).collect(),
    };
    std::fs::create_dir_all(out).map_err(|e| BasinError::file(out, e))?;
    let ad = opts.device.clone().autodiff();
    let (mut model, mut optim, mut state) = start_or_resume(model, cfg.optimizer.build(), opts, &mut callbacks)?;
    let mut log = MetricsLog::open(out, opts.resume.then_some(state.step))?;
    let phases = super::phases::resolve(cfg)?;
    let total_epochs = super::phases::total_epochs(&phases);
    let n = sets.train.len();
    let bs = cfg.train.batch_size;
    let steps = steps_per_epoch(n, bs);
    let started = Instant::now();
    let seconds_before = state.seconds;
    let elapsed = |_: &LoopState| seconds_before + started.elapsed().as_secs_f64();
    let mut extra = Extra { set: sets.train, steps: steps as u64, seed: cfg.seed, augment: cfg.data.augment, device: ad.clone() };
    let mut current_phase = usize::MAX;
    let build = |e: &crate::estimators::EstimatorConfig| -> Box<dyn crate::estimators::GradientEstimator<M>> {
        let inner = e.build::<M>(cfg.seed);
        if cfg.train.clip_norm > 0.0 { Box::new(crate::estimators::Clipped::new(inner, cfg.train.clip_norm)) } else { inner }
    };
    let mut estimator = build(&phases[0].estimator);

    while state.epoch < total_epochs && state.converged_at.is_none() {
        let epoch = state.epoch;
        let pi = super::phases::phase_of(&phases, epoch);
        let phase = &phases[pi];
        if pi != current_phase {
            estimator = build(&phase.estimator);
            // a resumed run's first phase gets the estimator state its checkpoint saved
            if current_phase == usize::MAX && opts.resume {
                restore_estimator(estimator.as_mut(), &model, &phases, pi, &state, out)?;
            }
            current_phase = pi;
        }
        let base_lr = phase.schedule.scaled_lr(phase.lr, bs);
        let order = epoch_order(n, cfg.seed, epoch);
        obs.epoch_start(epoch, total_epochs, steps, state.batch_in_epoch);
        let mut lr = base_lr;
        while state.batch_in_epoch < steps {
            let b = state.batch_in_epoch;
            let step = state.step;
            let t = (epoch - phase.start) as f64 + b as f64 / steps as f64;
            let own = phase.schedule.lr_at(base_lr, t) * state.lr_factor;
            lr = cfg.average.swa_lr(state.step, steps as u64, own).unwrap_or(own);
            let guard = crate::rng::backend_lock();
            ad.seed(derive_seed(cfg.seed, Stream::Backend, step));
            let mut aug = cfg.data.augment.then(|| stream_rng(cfg.seed, Stream::Augment, step));
            let batch = sets.train.batch(&order[b * bs..(b + 1) * bs], aug.as_mut(), &ad);
            let mut ctx = StepContext::new(step, cfg.seed, &mut extra).with_ghost_batch(cfg.train.ghost_batch);
            let (next, loss) = crate::task::train_step(model, &batch, estimator.as_mut(), &mut optim, lr, &mut ctx).map_err(|e| match e {
                BasinError::Diverged { step, loss, .. } => BasinError::Diverged { step, epoch: epoch + 1, loss },
                e => e,
            })?;
            drop(guard);
            model = next;
            state.step += 1;
            state.batch_in_epoch += 1;
            state.epoch_loss_sum += loss * bs as f64;
            state.epoch_examples += bs;
            track_thresholds(&mut state, loss, cfg);
            obs.step(state.step, loss, lr);
            let info = StepInfo {
                step: state.step,
                epoch: epoch + 1,
                loss,
                lr,
                elapsed: elapsed(&state),
                batch_size: bs,
                seed: cfg.seed,
                train: sets.train,
                device: &opts.device,
                out,
            };
            for cb in callbacks.iter_mut() {
                cb.on_step(&model, &info, &mut log)?;
            }
            if state.converged_at.is_some() {
                break;
            }
            let stop = opts.stop.load(Ordering::SeqCst);
            let periodic = cfg.train.checkpoint_every > 0 && state.step % cfg.train.checkpoint_every as u64 == 0;
            // Ctrl-C/SIGTERM always checkpoints (also after an epoch's last step: resume then
            // evaluates and closes that epoch); periodic ones leave the end of an epoch to the
            // epoch checkpoint.
            if stop || (periodic && state.batch_in_epoch < steps) {
                let s = LoopState { seconds: elapsed(&state), ..state.clone() };
                checkpoint::save(out, &model, &optim, &s, &estimator.state(), &callback_states(&callbacks))?;
            }
            if stop {
                return Err(BasinError::Interrupted { step: state.step });
            }
        }
        let record = epoch_record(&model, cfg, sets, opts, &state, epoch, lr, elapsed(&state));
        log.write(&record)?;
        obs.epoch_end(&record);
        for cb in callbacks.iter_mut() {
            cb.on_epoch_end(&model, &record, &mut log)?;
        }
        state = LoopState {
            epoch: epoch + 1,
            batch_in_epoch: 0,
            epoch_loss_sum: 0.0,
            epoch_examples: 0,
            seconds: elapsed(&state),
            ..state
        };
        checkpoint::save(out, &model, &optim, &state, &estimator.state(), &callback_states(&callbacks))?;
    }

    let estimators = phases.iter().map(|p| p.estimator.name()).collect::<Vec<_>>().join(" → ");
    let mut summary = summarize(&model, cfg, sets, opts, &state, elapsed(&state), estimators)?;
    let end = super::callbacks::EndInfo { cfg, sets, device: &opts.device, out };
    for cb in callbacks.iter_mut() {
        cb.on_train_end(&model, &end, &mut summary)?;
    }
    checkpoint::write_atomic(&out.join("summary.json"), &serde_json::to_vec_pretty(&summary).expect("summary serializes"))?;
    Ok((model, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten one-pixel images; "augmentation" adds a number drawn from the generator it is given,
    /// so a batch shows whether, and from which stream, it was augmented.
    struct Marked;
    impl ExampleSet for Marked {
        fn len(&self) -> usize {
            10
        }
        fn shape(&self) -> [usize; 3] {
            [1, 1, 1]
        }
        fn gather(&self, indices: &[usize], augment: Option<&mut rand::rngs::StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>) {
            use rand::RngExt;
            xs.clear();
            ys.clear();
            let mut aug = augment;
            for &i in indices {
                xs.push(i as f32 + aug.as_mut().map_or(0.0, |r| r.random::<f32>()));
                ys.push(0);
            }
        }
    }

    fn images(b: &Batch) -> Vec<f32> {
        b.images.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn noise_enhancements_extra_batch_is_augmented_from_its_own_stream() {
        // with data.augment, B′ must come from the same distribution as B (issue 25: it was
        // drawn clean, which biases α·g(B) + (1 − α)·g(B′) instead of enhancing its noise)
        let device = Device::flex();
        let mut extra = Extra { set: &Marked, steps: 1, seed: 5, augment: true, device: device.clone() };
        let got = images(&extra.extra_batch(4, 7));
        let mut rng = stream_rng(5, Stream::ExtraBatch, 7);
        let idx = rand::seq::index::sample(&mut rng, 10, 4).into_vec();
        let mut aug = stream_rng(5, Stream::ExtraAugment, 7);
        let expected = images(&Marked.batch(&idx, Some(&mut aug), &device));
        assert_eq!(got, expected);
        // not the training batch's stream
        let mut train_aug = stream_rng(5, Stream::Augment, 7);
        assert_ne!(got, images(&Marked.batch(&idx, Some(&mut train_aug), &device)));
        let mut clean = Extra { augment: false, ..extra };
        assert_eq!(images(&clean.extra_batch(4, 7)), images(&Marked.batch(&idx, None, &device)));
    }
}
