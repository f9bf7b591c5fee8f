//! The run configuration: one TOML file, every field documented and defaulted. Unknown keys are
//! rejected (serde `deny_unknown_fields`), and [`TrainConfig::validate`] names the key of any
//! invalid value.

use crate::error::BasinError;
use crate::estimators::EstimatorConfig;
use crate::optim::OptimizerConfig;
use crate::schedule::ScheduleConfig;
use serde::{Deserialize, Serialize};

/// A whole training run (`basin train --config F.toml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Seed of every random stream of the run (init, data order, augmentation, estimator noise).
    pub seed: u64,
    /// Which network.
    pub model: ModelConfig,
    /// Which data.
    pub data: DataConfig,
    /// Epochs, batch sizes, logging.
    pub train: LoopConfig,
    /// The base optimizer.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// The gradient estimator (the flat-minima method).
    pub estimator: EstimatorConfig,
    /// Optional `[[phases]]`: epochs, lr, schedule and estimator per phase (see `phases`).
    /// When present, the run's length is the sum of their epochs and `train.epochs` is unused.
    pub phases: Vec<super::phases::PhaseConfig>,
    /// Hessian eigenvalue tracking during training.
    pub curvature: crate::curvature::track::CurvatureConfig,
    /// An averaged model beside the trained one (SWA or EMA).
    pub average: super::average::AverageConfig,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A zoo name (`basin models` lists them): ne-f1, keskar-f1, keskar-c1, ne-c1, simple-cnn,
    /// resnet-20/32/44/56.
    pub name: String,
    /// Old name of `train.ghost_batch` (it once applied to `ne-c1`'s batch norm only); a
    /// config that sets it loads with the value moved to `train.ghost_batch`.
    pub ghost_batch: usize,
    /// ReluSmoothOut (workshop eq. 12) noise a on every ReLU of the network (0 = off).
    pub relu_noise: f64,
    /// Hidden units per layer of the `mlp` family (0 = its default, 512); an error for a
    /// fixed architecture.
    pub width: usize,
    /// Hidden layers of the `mlp` family (0 = its default, 2); an error for a fixed architecture.
    pub depth: usize,
    /// Dropout probability after each hidden ReLU of the `mlp` family in training (0 = none).
    pub dropout: f64,
    /// An ONNX file (exported from PyTorch) to train or measure instead of a zoo network,
    /// starting from its own weights; `model.name` must then be left unset.
    pub onnx: String,
    /// A regular expression: the parameters whose name it matches (anywhere in the name) are
    /// kept fixed in training (no gradient, so no step, weight decay or momentum moves them).
    /// Names are a zoo network's module paths (`Mlp.hidden.0.weight`) or an ONNX graph's
    /// initializer names (PyTorch's `state_dict` names). Empty = none.
    pub freeze: String,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { name: "ne-f1".into(), ghost_batch: 0, relu_noise: 0.0, width: 0, depth: 0, dropout: 0.0, onnx: String::new(), freeze: String::new() }
    }
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// mnist-slice (bundled), mnist, fashion-mnist, cifar10, cifar100.
    pub name: String,
    /// Folder of the files; empty = the default folder of the data set.
    pub dir: String,
    /// Images held out of the training set as a validation set (0 = none).
    pub validation: usize,
    /// CIFAR-style augmentation: pad 4, random crop, random horizontal flip.
    pub augment: bool,
    /// Use only the first N training images (0 = all).
    pub train_subset: usize,
    /// Use only the first N test images (0 = all).
    pub test_subset: usize,
    /// NumPy arrays instead of a named data set: an `.npz` with `x`, `y` (and `x_test`,
    /// `y_test`), or an `.npy` of inputs beside its `<stem>_labels.npy`; used as given (no
    /// normalization). `data.name` must then be left unset.
    pub npz: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { name: "mnist-slice".into(), dir: String::new(), validation: 0, augment: false, train_subset: 0, test_subset: 0, npz: String::new() }
    }
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Batch size of evaluation passes (no gradients, so larger is fine).
    pub eval_batch_size: usize,
    /// Write a step line to metrics.jsonl every N steps (0 = epoch lines only).
    pub log_every: usize,
    /// Also checkpoint every N steps inside an epoch (0 = at epoch ends only).
    pub checkpoint_every: usize,
    /// L* of the noise-enhancement paper: halve the learning rate (once, for the rest of the
    /// run) when the recent training loss first reaches this value (0 = off).
    pub halve_lr_at_loss: f64,
    /// L**: stop training when the recent training loss falls below this value; the step is
    /// reported as the convergence time (0 = off).
    pub stop_at_loss: f64,
    /// Steps in the running mean of minibatch losses that L* and L** compare against.
    pub loss_window: usize,
    /// Ghost batches: every gradient of a step is computed chunk by chunk, consecutive chunks
    /// of this many examples (the last one smaller), each its own forward and backward pass
    /// (its own batch-norm statistics, which also update the running statistics once per
    /// chunk), and averaged with the chunks' sizes as weights (Hoffer et al. 2017; the
    /// SmoothOut authors' `main_gbn.py` uses 128). 0 = the whole batch in one pass.
    pub ghost_batch: usize,
    /// Global gradient-norm clipping of the gradient handed to the optimizer, ‖g‖ ≤ c over all
    /// parameters together (the SmoothOut authors' code clips at 5); 0 = off.
    pub clip_norm: f64,
    /// Keep the weights every N units (`keep_unit`) in `OUT/trajectory/step-S.bpk`, for
    /// `basin landscape trajectory` (0 = off).
    pub keep_every: usize,
    /// Unit of `keep_every`: "epoch" or "step".
    pub keep_unit: String,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            epochs: 10,
            batch_size: 64,
            eval_batch_size: 1000,
            log_every: 10,
            checkpoint_every: 0,
            halve_lr_at_loss: 0.0,
            stop_at_loss: 0.0,
            loss_window: 50,
            ghost_batch: 0,
            clip_norm: 0.0,
            keep_every: 0,
            keep_unit: "epoch".into(),
        }
    }
}

impl TrainConfig {
    /// The network, as reports name it: the zoo name or the ONNX file's name.
    pub fn model_label(&self) -> String {
        file_label(&self.model.onnx).unwrap_or_else(|| self.model.name.clone())
    }

    /// The data, as reports name it: the data set name or the arrays' file name.
    pub fn data_label(&self) -> String {
        file_label(&self.data.npz).unwrap_or_else(|| self.data.name.clone())
    }

    /// Moves settings of older config files to their current keys: `model.ghost_batch` (which
    /// applied to `ne-c1` only) becomes `train.ghost_batch`. A file that sets both to different
    /// values is an error naming the old key.
    pub fn migrate(mut self) -> Result<TrainConfig, BasinError> {
        if self.model.ghost_batch != 0 {
            if self.train.ghost_batch != 0 && self.train.ghost_batch != self.model.ghost_batch {
                return Err(BasinError::config("model.ghost_batch", format!("{} differs from train.ghost_batch = {}; it is the old name of train.ghost_batch, keep one", self.model.ghost_batch, self.train.ghost_batch)));
            }
            self.train.ghost_batch = self.model.ghost_batch;
            self.model.ghost_batch = 0;
        }
        Ok(self)
    }

    /// Checks every generic field (model and data names are checked where they are resolved).
    pub fn validate(&self) -> Result<(), BasinError> {
        if self.model.name.is_empty() {
            return Err(BasinError::config("model.name", "must name a model"));
        }
        if !(self.model.relu_noise >= 0.0 && self.model.relu_noise < 1.0) {
            return Err(BasinError::config("model.relu_noise", "must be in [0, 1)"));
        }
        if !self.model.onnx.is_empty() && self.model.name != ModelConfig::default().name {
            return Err(BasinError::config("model.name", format!("'{}' and model.onnx both name the network; set one", self.model.name)));
        }
        if !self.model.onnx.is_empty() {
            // the file's own graph: the zoo's architecture keys have nothing to act on
            let m = &self.model;
            let set = [("model.width", m.width != 0), ("model.depth", m.depth != 0), ("model.dropout", m.dropout != 0.0), ("model.relu_noise", m.relu_noise != 0.0)];
            if let Some((key, _)) = set.iter().find(|(_, on)| *on) {
                return Err(BasinError::config(*key, "shapes a zoo network; model.onnx brings its own graph"));
            }
        }
        if !self.data.npz.is_empty() && self.data.name != DataConfig::default().name {
            return Err(BasinError::config("data.name", format!("'{}' and data.npz both name the data; set one", self.data.name)));
        }
        if !self.data.npz.is_empty() && (self.data.augment || !self.data.dir.is_empty()) {
            return Err(BasinError::config(if self.data.augment { "data.augment" } else { "data.dir" }, "applies to image files, not to data.npz"));
        }
        if !(self.model.dropout >= 0.0 && self.model.dropout < 1.0) {
            return Err(BasinError::config("model.dropout", "must be in [0, 1)"));
        }
        if self.train.epochs == 0 {
            return Err(BasinError::config("train.epochs", "must be ≥ 1"));
        }
        if self.train.batch_size == 0 {
            return Err(BasinError::config("train.batch_size", "must be ≥ 1"));
        }
        if self.train.eval_batch_size == 0 {
            return Err(BasinError::config("train.eval_batch_size", "must be ≥ 1"));
        }
        if !(self.train.halve_lr_at_loss >= 0.0) {
            return Err(BasinError::config("train.halve_lr_at_loss", "must be ≥ 0"));
        }
        if !(self.train.stop_at_loss >= 0.0) {
            return Err(BasinError::config("train.stop_at_loss", "must be ≥ 0"));
        }
        if self.train.loss_window == 0 {
            return Err(BasinError::config("train.loss_window", "must be ≥ 1"));
        }
        if !(self.train.clip_norm >= 0.0 && self.train.clip_norm.is_finite()) {
            return Err(BasinError::config("train.clip_norm", "must be a number ≥ 0"));
        }
        if !matches!(self.train.keep_unit.as_str(), "epoch" | "step") {
            return Err(BasinError::config("train.keep_unit", format!("{:?} is not \"epoch\" or \"step\"", self.train.keep_unit)));
        }
        if self.model.ghost_batch != 0 {
            return Err(BasinError::config("model.ghost_batch", "is now train.ghost_batch (it applies to every model); load the config with TrainConfig::migrate"));
        }
        self.optimizer.validate()?;
        self.schedule.validate()?;
        self.estimator.validate()?;
        let phases = super::phases::resolve(self)?;
        if self.train.ghost_batch == 0 && phases.iter().any(|p| p.estimator.noise_per() == Some(crate::estimators::config::NoisePer::Chunk)) {
            return Err(BasinError::config("estimator.noise_per", "\"chunk\" draws noise per ghost chunk: set train.ghost_batch (the authors' code: 128)"));
        }
        self.curvature.validate()?;
        self.average.validate()?;
        if self.average.method == "swa" && self.average.lr > 0.0 && self.train.halve_lr_at_loss > 0.0 {
            return Err(BasinError::config("train.halve_lr_at_loss", "the SWA phase runs at its own rate (average.lr), which this halving would not reach: set one of the two"));
        }
        if phases.iter().any(|p| p.estimator.name() == "nsgd") && (self.optimizer.name != "sgd" || self.optimizer.weight_decay != 0.0) {
            let key = if self.optimizer.name != "sgd" { "optimizer.name" } else { "optimizer.weight_decay" };
            return Err(BasinError::config(
                key,
                "Nudged SGD takes learning rate γη along the sharpest directions only under plain SGD without weight decay (momentum and Adam filter or rescale the nudged gradient, and the decay is added after it): use optimizer.name = \"sgd\", weight_decay = 0",
            ));
        }
        self.check_used()
    }

    /// A key set away from its default that this configuration never reads ([`Self::unread`])
    /// is an error naming it: a setting accepted and ignored would mislead.
    pub fn check_used(&self) -> Result<(), BasinError> {
        let json = |c: &TrainConfig| serde_json::to_value(c).expect("a config serializes");
        first_set(&self.unread(), &json(self), &json(&TrainConfig::default()))
    }

    /// The keys this configuration never reads, each with why: the momentum keys outside
    /// `momentum`, Adam's outside `adam`, a schedule's keys under another kind, `base_batch`
    /// without LR scaling, the curvature keys when nothing is tracked, `curvature.eps` for the
    /// exact Hessian, `train.keep_unit` when no weights are kept, and `train.loss_window` without
    /// an L* or L** threshold. [`Self::check_used`] refuses one set away from its default; `basin
    /// train` refuses one named by `--set` at any value (a config file written by a run holds
    /// every key, so only the keys a user names can tell a choice from a default).
    pub fn unread(&self) -> Vec<(&'static str, String)> {
        let (o, c, t) = (&self.optimizer, &self.curvature, &self.train);
        let mut out = Vec::new();
        if o.name != "momentum" {
            let why = format!("optimizer.name is \"{}\", not \"momentum\"", o.name);
            out.extend(["optimizer.momentum", "optimizer.nesterov"].map(|k| (k, why.clone())));
        }
        if o.name != "adam" {
            let why = format!("optimizer.name is \"{}\", not \"adam\"", o.name);
            out.extend(["optimizer.beta1", "optimizer.beta2", "optimizer.epsilon"].map(|k| (k, why.clone())));
        }
        out.extend(self.schedule.unread());
        if c.track_every == 0 {
            // the eigen-slices (curvature.slice_at) read the subset and the operator only: their
            // Lanczos run is fixed (k = 1, tol 1e-3, 40 steps, the operator's own step)
            let nothing = "nothing is tracked (curvature.track_every = 0 and no curvature.slice_at)";
            let why = if c.slice_at.is_empty() { nothing } else { "only the tracking uses it (curvature.track_every = 0), and curvature.slice_at's slices run their own fixed Lanczos (k = 1, tol 1e-3, 40 steps)" };
            let tracking_only = ["curvature.top_k", "curvature.max_iter", "curvature.tol", "curvature.eps", "curvature.batch_size", "curvature.track_alignment"];
            out.extend(tracking_only.map(|k| (k, why.to_string())));
            if c.slice_at.is_empty() {
                out.extend(["curvature.subset", "curvature.operator"].map(|k| (k, nothing.to_string())));
            }
        }
        if c.operator == crate::curvature::choice::OperatorKind::Hessian {
            out.push(("curvature.eps", "the exact Hessian (curvature.operator = \"hessian\") has no step".into()));
        }
        if t.keep_every == 0 {
            out.push(("train.keep_unit", "train.keep_every is 0 (no weights are kept)".into()));
        }
        if t.halve_lr_at_loss == 0.0 && t.stop_at_loss == 0.0 {
            out.push(("train.loss_window", "neither train.halve_lr_at_loss nor train.stop_at_loss is set".into()));
        }
        out
    }

    /// Checks the sizes that depend on the loaded data.
    pub fn validate_against(&self, train_len: usize) -> Result<(), BasinError> {
        if self.train.batch_size > train_len {
            return Err(BasinError::config(
                "train.batch_size",
                format!("{} is larger than the training set ({train_len} images)", self.train.batch_size),
            ));
        }
        let t = &self.train;
        if t.ghost_batch >= t.batch_size {
            // one chunk holds the whole batch: the ghost batches would change nothing
            return Err(BasinError::config("train.ghost_batch", format!("{} is not below train.batch_size = {}: a single chunk, no ghost batches", t.ghost_batch, t.batch_size)));
        }
        let phases = super::phases::resolve(self)?;
        let epochs = super::phases::total_epochs(&phases);
        let steps_per_epoch = super::trainer::steps_per_epoch(train_len, self.train.batch_size) as u64;
        let steps = epochs as u64 * steps_per_epoch;
        if (t.stop_at_loss > 0.0 || t.halve_lr_at_loss > 0.0) && t.loss_window as u64 > steps {
            // the running loss is compared only once the window is full: never, in this run
            return Err(BasinError::config("train.loss_window", format!("{} steps is longer than the run ({steps} steps): the loss thresholds would never be checked", t.loss_window)));
        }
        for p in &phases {
            if let EstimatorConfig::EntropySgd(c) = &p.estimator {
                // γ grows with the run's global step, so the phase's last step is what counts
                c.validate_run((p.start + p.epochs) as u64 * steps_per_epoch)?;
            }
        }
        self.average.validate_against(epochs, steps_per_epoch)
    }
}

/// The first of the `unread` keys (dotted, with why) whose value in `now` differs from its value
/// in `default` (both serialized configs), as the error naming it.
pub(crate) fn first_set(unread: &[(&'static str, String)], now: &serde_json::Value, default: &serde_json::Value) -> Result<(), BasinError> {
    let at = |v: &serde_json::Value, key: &str| v.pointer(&format!("/{}", key.replace('.', "/"))).cloned();
    match unread.iter().find(|(k, _)| at(now, k) != at(default, k)) {
        Some((k, why)) => Err(BasinError::config(*k, format!("is set but not used: {why}"))),
        None => Ok(()),
    }
}

/// The file name of a non-empty path.
fn file_label(path: &str) -> Option<String> {
    (!path.is_empty()).then(|| std::path::Path::new(path).file_name().map_or_else(|| path.to_string(), |f| f.to_string_lossy().into_owned()))
}
