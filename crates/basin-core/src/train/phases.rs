//! Phases: a run is a list of phases, each with its epochs, learning rate, schedule and
//! estimator, so the S-SGD paper's "75 − 25S − 25S" (75 epochs SGD, then 25 + 25 epochs S-SGD at
//! lower rates) or SGDR → S-SGDR are plain configs. Without `[[phases]]` a run is one phase
//! built from `train.epochs`, `optimizer.lr`, `[schedule]` and `[estimator]`.

use super::config::TrainConfig;
use crate::error::BasinError;
use crate::estimators::EstimatorConfig;
use crate::schedule::ScheduleConfig;
use serde::{Deserialize, Serialize};

/// One `[[phases]]` entry; a missing field inherits the top-level value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PhaseConfig {
    /// Epochs of this phase (≥ 1).
    pub epochs: usize,
    /// Base learning rate of this phase (default: `optimizer.lr`).
    pub lr: Option<f64>,
    /// Schedule within this phase, its epochs counted from the phase start (default: `[schedule]`).
    pub schedule: Option<ScheduleConfig>,
    /// Estimator of this phase (default: `[estimator]`).
    pub estimator: Option<EstimatorConfig>,
}

/// A phase with everything resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// First epoch (0-based, global).
    pub start: usize,
    /// Epochs.
    pub epochs: usize,
    /// Base learning rate (before batch-size scaling).
    pub lr: f64,
    /// Schedule (time measured from `start`).
    pub schedule: ScheduleConfig,
    /// Estimator.
    pub estimator: EstimatorConfig,
}

/// The phases of `cfg`, checked.
pub fn resolve(cfg: &TrainConfig) -> Result<Vec<Phase>, BasinError> {
    if cfg.phases.is_empty() {
        return Ok(vec![Phase {
            start: 0,
            epochs: cfg.train.epochs,
            lr: cfg.optimizer.lr,
            schedule: cfg.schedule.clone(),
            estimator: cfg.estimator.with_run_lr(cfg.optimizer.lr),
        }]);
    }
    let mut start = 0;
    let mut out = Vec::new();
    for (i, p) in cfg.phases.iter().enumerate() {
        let key = |k: &str| format!("phases[{i}].{k}");
        if p.epochs == 0 {
            return Err(BasinError::config(key("epochs"), "must be ≥ 1"));
        }
        let lr = p.lr.unwrap_or(cfg.optimizer.lr);
        if !(lr.is_finite() && lr > 0.0) {
            return Err(BasinError::config(key("lr"), format!("must be a positive number, got {lr}")));
        }
        if let Some(own) = &p.schedule {
            // a phase's own schedule is checked as the top-level one is: no key of another kind
            own.check_used().map_err(|e| prefix(e, &format!("phases[{i}].")))?;
        }
        let schedule = p.schedule.clone().unwrap_or_else(|| cfg.schedule.clone());
        schedule.validate().map_err(|e| prefix(e, &format!("phases[{i}].")))?;
        let estimator = p.estimator.clone().unwrap_or_else(|| cfg.estimator.clone());
        estimator.validate().map_err(|e| prefix(e, &format!("phases[{i}].")))?;
        out.push(Phase { start, epochs: p.epochs, lr, schedule, estimator: estimator.with_run_lr(lr) });
        start += p.epochs;
    }
    Ok(out)
}

fn prefix(e: BasinError, p: &str) -> BasinError {
    match e {
        BasinError::Config { key, reason } => BasinError::Config { key: format!("{p}{key}"), reason },
        other => other,
    }
}

/// Total epochs of the phases.
pub fn total_epochs(phases: &[Phase]) -> usize {
    phases.iter().map(|p| p.epochs).sum()
}

/// The phase containing global epoch `epoch` (the last one past the end).
pub fn phase_of(phases: &[Phase], epoch: usize) -> usize {
    phases.iter().position(|p| epoch < p.start + p.epochs).unwrap_or(phases.len() - 1)
}
