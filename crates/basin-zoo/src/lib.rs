#![warn(missing_docs)]
//! basin-zoo: the networks and data sets of the flat-minima papers (noise enhancement, Keskar
//! et al. as used by SmoothOut, sharpest directions, CIFAR ResNets) as ordinary Burn modules
//! and in-memory data sets.

pub mod data;
pub mod jvp;
pub mod models;
pub mod ops;

pub use models::{MODEL_NAMES, ModelOptions, ZooModel};

/// The README's Rust blocks (the "Use it as a library" section), compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The user guide's library chapter (docs/guide/library.md), its Rust blocks run as doctests.
#[doc = include_str!("../../../docs/guide/library.md")]
#[cfg(doctest)]
pub struct GuideLibraryDoctests;

