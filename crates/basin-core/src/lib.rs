#![warn(missing_docs)]
// Validation is written `!(x > 0.0)` on purpose: NaN must fail it, which `x <= 0.0` would not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]
//! basin: train Burn models toward flat minima and measure how flat they are.
//!
//! Every training method of the papers is an ordinary optimizer fed a different gradient: a
//! [`GradientEstimator`](estimators::GradientEstimator) returns (loss, gradients) and Burn's own
//! optimizer applies them. See docs/ARCHITECTURE.md.

pub mod batch;
pub mod correlation;
pub mod curvature;
#[doc(hidden)]
pub mod doc_support;
pub mod error;
pub mod estimators;
pub mod fastrand;
pub mod fused;
pub mod heap;
pub mod hot_workers;
pub mod landscape;
pub mod loss;
pub mod measures;
pub mod model;
pub mod optim;
pub mod paramkind;
pub mod params;
pub mod paramvec;
pub mod rng;
pub mod running_stats;
pub mod schedule;
pub mod sharpness;
pub mod task;
pub mod train;

pub use batch::{Batch, BatchSource};
pub use error::BasinError;
pub use model::Classifier;
pub use task::{LossModel, train_step};
