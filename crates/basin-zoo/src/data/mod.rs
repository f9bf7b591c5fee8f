//! Data sets of the papers: MNIST and Fashion-MNIST (IDX), CIFAR-10/100 (binary version),
//! normalization, augmentation, validation splits and deterministic shuffling; the Penn
//! Treebank language-model corpus (`corpus`).

pub mod arrays;
pub mod cifar;
pub mod corpus;
pub mod dataset;
pub mod error;
pub mod idx;
pub mod prepare;
pub mod shuffle;
pub mod sources;
pub mod transform;

pub use dataset::{Dataset, TrainTest};
pub use error::DataError;
pub use prepare::{RunData, prepare};
pub use sources::{DATASET_NAMES, load};
pub use transform::{Normalization, PreparedSet};
