//! The subcommands of `basin`.

pub mod bench;
pub mod bench_ops;
pub mod correlate;
pub mod data;
pub mod export;
pub mod hessian;
pub mod landscape;
pub mod measures;
pub mod sharpness;
pub mod report;
pub mod reproduce;
pub mod sharpest;
pub mod train;
