//! Callbacks: what the training loop does besides batch → estimator → optimizer.
//!
//! The loop (`trainer::train_with`) keeps only what controls it: the order of batches, the
//! step itself (`task::train_step`), the learning-rate schedule and the L*/L** thresholds
//! (they change the rate and end the run), per-epoch evaluation, checkpoints and resume.
//! Everything that only *observes* the run is a [`Callback`], called after every step and
//! after every evaluated epoch, as in Burn's learner and Lightning: the step log, the
//! curvature tracking of `[curvature] track_every` and the eigen-slices of `slice_at` are
//! built in (see [`builtin`]), and a user adds their own measurement with `train_with`
//! without touching the loop.
//!
//! A callback with state returns it from [`Callback::state`] as JSON; it is written into every
//! checkpoint (`callbacks.json`, by [`Callback::name`]) and handed back through
//! [`Callback::load_state`] on resume, so a resumed run's callbacks see what an uninterrupted
//! run's would.

use super::config::TrainConfig;
use super::metrics::{MetricRecord, MetricsLog};
use crate::batch::ExampleSet;
use crate::error::BasinError;
use super::trainer::{Summary, TrainSets};
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::tensor::Device;
use std::path::Path;

/// Where the run stands after a step.
pub struct StepInfo<'a> {
    /// Steps taken so far (this one included).
    pub step: u64,
    /// Epoch of the step (1-based).
    pub epoch: usize,
    /// The step's training loss.
    pub loss: f64,
    /// The step's learning rate.
    pub lr: f64,
    /// Seconds of training so far (across resumes).
    pub elapsed: f64,
    /// Batch size of the run.
    pub batch_size: usize,
    /// The run's seed.
    pub seed: u64,
    /// The training set.
    pub train: &'a dyn ExampleSet,
    /// The run's plain (non-autodiff) device.
    pub device: &'a Device,
    /// The run folder.
    pub out: &'a Path,
}

/// Something that watches a run. Every method has a do-nothing default.
pub trait Callback<M: Classifier> {
    /// A unique name: the key of this callback's state in a checkpoint.
    fn name(&self) -> &str;
    /// After every optimizer step. `log` is the run's metrics.jsonl.
    fn on_step(&mut self, _model: &M, _info: &StepInfo<'_>, _log: &mut MetricsLog) -> Result<(), BasinError> {
        Ok(())
    }
    /// After an epoch has been evaluated and its record logged.
    fn on_epoch_end(&mut self, _model: &M, _record: &MetricRecord, _log: &mut MetricsLog) -> Result<(), BasinError> {
        Ok(())
    }
    /// State to checkpoint (`None`: stateless).
    fn state(&self) -> Option<serde_json::Value> {
        None
    }
    /// Restores what [`state`](Self::state) returned, when a run resumes.
    fn load_state(&mut self, _state: serde_json::Value) -> Result<(), BasinError> {
        Ok(())
    }
    /// Parameter-space vectors to checkpoint beside the JSON state (an averaged model), written
    /// bit for bit (`callback-NAME.bin`).
    fn vectors(&self) -> Vec<ParamVec> {
        Vec::new()
    }
    /// Restores what [`vectors`](Self::vectors) returned, when a run resumes (after
    /// [`load_state`](Self::load_state)).
    fn load_vectors(&mut self, _vectors: Vec<ParamVec>) -> Result<(), BasinError> {
        Ok(())
    }
    /// After the last epoch, before summary.json is written: a callback may add to `summary`.
    fn on_train_end(&mut self, _model: &M, _end: &EndInfo<'_>, _summary: &mut Summary) -> Result<(), BasinError> {
        Ok(())
    }
}

/// What a callback sees at the end of a run.
pub struct EndInfo<'a> {
    /// The run's config.
    pub cfg: &'a TrainConfig,
    /// The run's data.
    pub sets: &'a TrainSets<'a>,
    /// The run's plain (non-autodiff) device.
    pub device: &'a Device,
    /// The run folder.
    pub out: &'a Path,
}

/// A metrics record of `kind` at this step (the fields a step knows; the rest empty).
fn record(kind: &str, info: &StepInfo<'_>, loss: f64, eigenvalues: Option<Vec<f64>>) -> MetricRecord {
    MetricRecord {
        kind: kind.into(),
        step: info.step,
        epoch: info.epoch,
        loss,
        accuracy: None,
        test_loss: None,
        val_loss: None,
        val_accuracy: None,
        eigenvalues,
        alignment: None,
        lr: info.lr,
        elapsed: info.elapsed,
    }
}

/// `[train] log_every`: a `step` record of the minibatch loss every `every` steps.
pub struct StepLog {
    /// Log every this many steps.
    pub every: u64,
}

impl<M: Classifier> Callback<M> for StepLog {
    fn name(&self) -> &str {
        "step-log"
    }
    fn on_step(&mut self, _model: &M, info: &StepInfo<'_>, log: &mut MetricsLog) -> Result<(), BasinError> {
        if info.step.is_multiple_of(self.every) {
            log.write(&record("step", info, info.loss, None))?;
        }
        Ok(())
    }
}

/// `[curvature] track_every`: the top eigenvalues of the configured curvature operator on a
/// fixed training subset every `track_every` steps (sharpest-directions Fig. 1); with
/// `track_alignment`, also the gradient and the last step along their eigenvectors
/// ([`crate::curvature::alignment`]).
pub struct CurvatureTracking {
    /// The `[curvature]` section.
    pub cfg: crate::curvature::track::CurvatureConfig,
    /// With `track_alignment`: the weights one step before the next tracking step (in the
    /// checkpoint, so a resumed run records the same step).
    pub previous: Option<ParamVec>,
}

impl<M: Classifier> Callback<M> for CurvatureTracking {
    fn name(&self) -> &str {
        "curvature-tracking"
    }
    fn on_step(&mut self, model: &M, info: &StepInfo<'_>, log: &mut MetricsLog) -> Result<(), BasinError> {
        let every = self.cfg.track_every as u64;
        if !info.step.is_multiple_of(every) {
            if self.cfg.track_alignment && (info.step + 1).is_multiple_of(every) {
                self.previous = Some(ParamVec::from_model(model));
            }
            return Ok(());
        }
        let idx = crate::curvature::track::subset_for(info.train, &self.cfg, info.seed, 0);
        if !self.cfg.track_alignment {
            let top = crate::curvature::track::top_eigen(model, info.train, &idx, &self.cfg, info.seed, info.device)?;
            return log.write(&record(self.cfg.operator.name(), info, top.loss, Some(top.eigenvalues)));
        }
        let (top, vectors, g) = crate::curvature::track::top_eigenpairs(model, info.train, &idx, &self.cfg, info.seed, info.device)?;
        let w = ParamVec::from_model(model);
        let step = self.previous.take().map(|p| w.sub(&p));
        let mut r = record(self.cfg.operator.name(), info, top.loss, Some(top.eigenvalues));
        let mut a = crate::curvature::alignment::alignment(&vectors, &g, step.as_ref());
        a.batches = Some(crate::curvature::alignment::batch_alignment(&vectors, &minibatch_gradients(model, info, &idx)));
        r.alignment = Some(a);
        if every == 1 {
            self.previous = Some(w);
        }
        log.write(&r)
    }
    fn vectors(&self) -> Vec<ParamVec> {
        self.previous.iter().cloned().collect()
    }
    fn load_vectors(&mut self, mut vectors: Vec<ParamVec>) -> Result<(), BasinError> {
        self.previous = vectors.pop();
        Ok(())
    }
}

/// The gradients of the mini-batches of the run's batch size that cut `idx` (the last one
/// partial), in training mode (dropout masks seeded per batch from the run's seed and step),
/// as the sharpest-directions code takes them; batch-norm running statistics are left as they
/// were.
fn minibatch_gradients<M: Classifier>(model: &M, info: &StepInfo<'_>, idx: &[usize]) -> Vec<ParamVec> {
    let ad = info.device.clone().autodiff();
    let w = ParamVec::from_model(model);
    let stats = crate::running_stats::snapshot(model);
    let _rng = crate::rng::backend_lock();
    let grads = idx
        .chunks(info.batch_size.max(1))
        .enumerate()
        .map(|(b, chunk)| {
            ad.seed(crate::rng::derive_seed(crate::rng::derive_seed(info.seed, crate::rng::Stream::AlignmentBatches, info.step), crate::rng::Stream::AlignmentBatches, b as u64));
            let (_, g) = crate::estimators::loss_and_grads(model, &info.train.batch(chunk, None, &ad));
            ParamVec::from_grads(&w, &g)
        })
        .collect();
    crate::running_stats::restore(model, &stats);
    grads
}

/// `[curvature] slice_at`: the loss along the top eigenvector at the listed steps, appended to
/// `slices.jsonl` (sharpest-directions Fig. 3).
pub struct EigenSlices {
    /// The `[curvature]` section.
    pub cfg: crate::curvature::track::CurvatureConfig,
}

impl<M: Classifier> Callback<M> for EigenSlices {
    fn name(&self) -> &str {
        "eigen-slices"
    }
    fn on_step(&mut self, model: &M, info: &StepInfo<'_>, _log: &mut MetricsLog) -> Result<(), BasinError> {
        if !self.cfg.slice_at.contains(&info.step) {
            return Ok(());
        }
        let idx = crate::curvature::track::subset_for(info.train, &self.cfg, info.seed, 0);
        let ks: Vec<f64> = (0..41).map(|i| -5.0 + 0.25 * i as f64).collect();
        let (sl, _) = crate::curvature::slice::eigen_slice(model, info.train, &idx, info.batch_size, info.lr, &ks, info.step, self.cfg.operator, info.device)?;
        let path = info.out.join("slices.jsonl");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| BasinError::file(&path, e))?;
        writeln!(f, "{}", serde_json::to_string(&sl).expect("slice serializes")).map_err(|e| BasinError::file(&path, e))
    }
}

/// `[train] keep_every`: the weights every N epochs or steps in `OUT/trajectory/step-S.bpk`
/// (written through a temporary file and a rename), the checkpoints of a trajectory plot
/// (`basin landscape trajectory`; Li et al. 2018 §7).
pub struct KeepWeights {
    /// Keep every this many units.
    pub every: usize,
    /// Whether the unit is a step (else an epoch).
    pub per_step: bool,
    /// The run folder.
    pub out: std::path::PathBuf,
}

impl KeepWeights {
    fn keep<M: Classifier>(&self, model: &M, step: u64, out: &Path) -> Result<(), BasinError> {
        let dir = out.join("trajectory");
        std::fs::create_dir_all(&dir).map_err(|e| BasinError::file(&dir, e))?;
        super::checkpoint::save_model_atomic(model, &dir.join(format!("step-{step:09}.bpk")))
    }
}

impl<M: Classifier> Callback<M> for KeepWeights {
    fn name(&self) -> &str {
        "keep-weights"
    }
    fn on_step(&mut self, model: &M, info: &StepInfo<'_>, _log: &mut MetricsLog) -> Result<(), BasinError> {
        if self.per_step && info.step.is_multiple_of(self.every as u64) {
            self.keep(model, info.step, &self.out)?;
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, model: &M, record: &MetricRecord, _log: &mut MetricsLog) -> Result<(), BasinError> {
        if !self.per_step && record.epoch.is_multiple_of(self.every) {
            self.keep(model, record.step, &self.out)?;
        }
        Ok(())
    }
}

/// The callbacks a config asks for: the step log (`log_every` > 0), curvature tracking
/// (`track_every` > 0), eigen-slices (`slice_at` not empty), the kept weights (`keep_every`
/// > 0) and the averaged model (`[average]`), in that order.
pub fn builtin<M: Classifier>(cfg: &TrainConfig, out: &Path) -> Vec<Box<dyn Callback<M>>> {
    let mut v: Vec<Box<dyn Callback<M>>> = Vec::new();
    if cfg.train.log_every > 0 {
        v.push(Box::new(StepLog { every: cfg.train.log_every as u64 }));
    }
    if cfg.curvature.track_every > 0 {
        v.push(Box::new(CurvatureTracking { cfg: cfg.curvature.clone(), previous: None }));
    }
    if !cfg.curvature.slice_at.is_empty() {
        v.push(Box::new(EigenSlices { cfg: cfg.curvature.clone() }));
    }
    if cfg.train.keep_every > 0 {
        v.push(Box::new(KeepWeights { every: cfg.train.keep_every, per_step: cfg.train.keep_unit == "step", out: out.to_path_buf() }));
    }
    if cfg.average.enabled() {
        v.push(Box::new(super::average::Averaging::new(cfg.average.clone())));
    }
    v
}
