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
    /// Number of classes; for a regression set, the number of real targets per example.
    pub classes: usize,
    /// The test set is the training set (arrays without `x_test`, `y_test`): fine for
    /// measuring a model, not for reporting test accuracy, which `basin train` refuses.
    pub test_is_train: bool,
}

impl RunData {
    /// Real-valued targets (an `.npz` whose `y` holds floats), fitted by the mean squared error.
    pub fn is_regression(&self) -> bool {
        self.train.values.is_some()
    }
}

/// Loads and prepares the data of `cfg`; the normalization is fitted on the training part.
pub fn prepare(cfg: &DataConfig, seed: u64) -> Result<RunData, DataError> {
    if !cfg.npz.is_empty() {
        return prepare_arrays(cfg, seed);
    }
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
        test_is_train: false,
        shape: [train.channels, train.height, train.width],
        classes: train.num_classes,
        val: val.as_ref().map(|v| PreparedSet::new(v, &norm)),
        test: PreparedSet::new(&test, &norm),
        train: PreparedSet::new(&train, &norm),
    })
}

/// `data.npz`: the arrays as given (no normalization), with the same subsets and validation
/// split as image files. A file without `x_test`, `y_test` has no test set: the training
/// examples stand in for it, and `basin train` refuses such a file (it reports test metrics).
fn prepare_arrays(cfg: &DataConfig, seed: u64) -> Result<RunData, DataError> {
    let path = Path::new(&cfg.npz);
    let arrays = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => {
            let y = path.with_file_name(format!("{}_labels.npy", path.file_stem().and_then(|s| s.to_str()).unwrap_or("x")));
            super::arrays::read_npy_pair(path, &y)?
        }
        _ => super::arrays::read_npz(path)?,
    };
    let first = |set: PreparedSet, n: usize| if n > 0 && n < set.len() { set.select(&(0..n).collect::<Vec<_>>()) } else { set };
    let mut train = first(arrays.train, cfg.train_subset);
    let test_is_train = arrays.test.is_none();
    let test = first(arrays.test.unwrap_or_else(|| train.clone()), cfg.test_subset);
    let mut val = None;
    if cfg.validation > 0 {
        if cfg.validation >= train.len() {
            return Err(DataError::Invalid(format!("data.validation = {} leaves no training example (the arrays have {})", cfg.validation, train.len())));
        }
        let (t, v) = super::dataset::validation_split(train.len(), cfg.validation, seed);
        val = Some(train.select(&v));
        train = train.select(&t);
    }
    Ok(RunData { shape: train.shape, classes: train.num_classes.max(test.num_classes), val, test, train, test_is_train })
}
