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
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A zoo name (`basin models` lists them): ne-f1, keskar-f1, keskar-c1, ne-c1, simple-cnn,
    /// resnet-20/32/44/56.
    pub name: String,
    /// Ghost batch size of `ne-c1`'s batch norm (the paper: 100); 0 = ordinary batch norm.
    pub ghost_batch: usize,
    /// ReluSmoothOut (workshop eq. 12) noise a on the ReLUs of ne-f1 / keskar-f1 (0 = off).
    pub relu_noise: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { name: "ne-f1".into(), ghost_batch: 0, relu_noise: 0.0 }
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
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig { name: "mnist-slice".into(), dir: String::new(), validation: 0, augment: false, train_subset: 0, test_subset: 0 }
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
        }
    }
}

impl TrainConfig {
    /// Checks every generic field (model and data names are checked where they are resolved).
    pub fn validate(&self) -> Result<(), BasinError> {
        if self.model.name.is_empty() {
            return Err(BasinError::config("model.name", "must name a model"));
        }
        if !(self.model.relu_noise >= 0.0 && self.model.relu_noise < 1.0) {
            return Err(BasinError::config("model.relu_noise", "must be in [0, 1)"));
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
        self.optimizer.validate()?;
        self.schedule.validate()?;
        self.estimator.validate()?;
        super::phases::resolve(self)?;
        self.curvature.validate()?;
        Ok(())
    }

    /// Checks the sizes that depend on the loaded data.
    pub fn validate_against(&self, train_len: usize) -> Result<(), BasinError> {
        if self.train.batch_size > train_len {
            return Err(BasinError::config(
                "train.batch_size",
                format!("{} is larger than the training set ({train_len} images)", self.train.batch_size),
            ));
        }
        Ok(())
    }
}
