//! The data of a run as the config describes it: loaded, subset, split, normalized.

use super::{DataError, Normalization, PreparedSet};
use basin_core::train::DataConfig;
use std::path::Path;

/// Prepared train / validation / test sets.
pub struct RunData {
    /// Training examples (after the validation split).
    pub train: PreparedSet,
    /// Held-out validation examples, if any.
    pub val: Option<PreparedSet>,
    /// Test examples.
    pub test: PreparedSet,
    /// Image shape [C, H, W].
    pub shape: [usize; 3],
    /// Number of classes.
    pub classes: usize,
}

/// Loads and prepares the data of `cfg`; the normalization is fitted on the training part.
pub fn prepare(cfg: &DataConfig, seed: u64) -> Result<RunData, DataError> {
    let dir = (!cfg.dir.is_empty()).then(|| Path::new(&cfg.dir));
    let tt = super::load(&cfg.name, dir)?;
    let mut train = if cfg.train_subset > 0 { tt.train.take(cfg.train_subset) } else { tt.train };
    let test = if cfg.test_subset > 0 { tt.test.take(cfg.test_subset) } else { tt.test };
    let mut val = None;
    if cfg.validation > 0 {
        let (t, v) = train.split_validation(cfg.validation, seed)?;
        train = t;
        val = Some(v);
    }
    let norm = Normalization::fit(&train);
    Ok(RunData {
        shape: [train.channels, train.height, train.width],
        classes: train.num_classes,
        val: val.as_ref().map(|v| PreparedSet::new(v, &norm)),
        test: PreparedSet::new(&test, &norm),
        train: PreparedSet::new(&train, &norm),
    })
}
