//! The trainer: configs, the loop, evaluation, metrics and checkpoints.

pub mod average;
pub mod callbacks;
pub mod checkpoint;
pub mod config;
pub mod evaluate;
pub mod metrics;
pub mod phases;
pub mod trainer;

pub use config::{DataConfig, LoopConfig, ModelConfig, TrainConfig};
pub use evaluate::{Evaluation, evaluate};
pub use average::{AverageConfig, AveragedSummary};
pub use callbacks::{Callback, EndInfo, StepInfo};
pub use trainer::{Observer, Silent, Summary, TrainOptions, TrainSets, init_model, train, train_with};
