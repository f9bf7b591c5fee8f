//! Base optimizers: SGD, SGD with momentum (Burn's rules, each step one fused pass:
//! [`sgd`]) and Adam (Burn's), with weight decay.

pub mod sgd;

use crate::error::BasinError;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use serde::{Deserialize, Serialize};

/// The base optimizer of a run (`[optimizer]` in a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// `sgd`, `momentum` (SGD with momentum) or `adam`.
    pub name: String,
    /// Base learning rate (before schedule and batch-size scaling).
    pub lr: f64,
    /// Momentum coefficient for `momentum`.
    pub momentum: f64,
    /// Nesterov momentum for `momentum`.
    pub nesterov: bool,
    /// L2 weight decay (λw added to the gradient by the optimizer, as Burn's do), 0 = none.
    pub weight_decay: f64,
    /// Adam β₁.
    pub beta1: f64,
    /// Adam β₂.
    pub beta2: f64,
    /// Adam ε.
    pub epsilon: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            name: "momentum".into(),
            lr: 0.01,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Checks every field; errors name the key.
    pub fn validate(&self) -> Result<(), BasinError> {
        if !["sgd", "momentum", "adam"].contains(&self.name.as_str()) {
            return Err(BasinError::config("optimizer.name", format!("unknown optimizer '{}' (sgd, momentum, adam)", self.name)));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(BasinError::config("optimizer.lr", format!("must be a positive number, got {}", self.lr)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(BasinError::config("optimizer.momentum", format!("must be in [0, 1), got {}", self.momentum)));
        }
        if self.nesterov && self.name == "momentum" && self.momentum == 0.0 {
            return Err(BasinError::config("optimizer.nesterov", "with optimizer.momentum = 0 Nesterov's step is plain SGD's; set a momentum"));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(BasinError::config("optimizer.weight_decay", format!("must be ≥ 0, got {}", self.weight_decay)));
        }
        for (k, v) in [("optimizer.beta1", self.beta1), ("optimizer.beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return Err(BasinError::config(k, format!("must be in [0, 1), got {v}")));
            }
        }
        if !(self.epsilon > 0.0) {
            return Err(BasinError::config("optimizer.epsilon", format!("must be positive, got {}", self.epsilon)));
        }
        Ok(())
    }

    /// The optimizer for this config: basin's fused SGD ([`sgd::Sgd`]) or Burn's Adam.
    pub fn build(&self) -> ModuleOptimizer {
        let wd = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.name.as_str() {
            "adam" => AdamConfig::new()
                .with_beta_1(self.beta1 as f32)
                .with_beta_2(self.beta2 as f32)
                .with_epsilon(self.epsilon as f32)
                .with_weight_decay(wd)
                .init(),
            name => ModuleOptimizer::from(sgd::Sgd {
                momentum: (name == "momentum").then_some(sgd::Momentum { momentum: self.momentum as f32, keep: 1.0, nesterov: self.nesterov }),
                weight_decay: (self.weight_decay > 0.0).then_some(self.weight_decay as f32),
            }),
        }
    }
}
