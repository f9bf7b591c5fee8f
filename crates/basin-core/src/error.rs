//! The library's error type: every variant reads as one line naming what is wrong.

use std::path::PathBuf;

/// Errors a user of the library can meet.
#[derive(Debug, thiserror::Error)]
pub enum BasinError {
    /// A configuration value is invalid; `key` is its dotted name in the TOML config.
    #[error("{key}: {reason}")]
    Config {
        /// Dotted key, e.g. `optimizer.lr`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The loss became NaN or infinite: training stopped at that step.
    #[error("training diverged at step {step} (epoch {epoch}): loss = {loss}; the last good checkpoint is kept")]
    Diverged {
        /// Global step (0-based) whose loss was not finite.
        step: u64,
        /// Epoch of that step.
        epoch: usize,
        /// The loss value.
        loss: f64,
    },
    /// The weights (or the loss at the end) became NaN or infinite after an update: training
    /// stopped before writing them anywhere.
    #[error("training diverged at step {step}: non-finite {what}; nothing was written with them, the last good checkpoint is kept")]
    NonFinite {
        /// Global step (0-based) whose update produced them.
        step: u64,
        /// What is non-finite (`weights`, `final training loss`).
        what: String,
    },
    /// The run was interrupted (Ctrl-C); it can be resumed from the last checkpoint.
    #[error("interrupted at step {step}; resume with --resume")]
    Interrupted {
        /// Global step reached.
        step: u64,
    },
}

impl BasinError {
    /// A config error for `key`.
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        BasinError::Config { key: key.into(), reason: reason.into() }
    }
    /// A file error for `path`.
    pub fn file(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        BasinError::File { path: path.into(), reason: reason.to_string() }
    }
}
