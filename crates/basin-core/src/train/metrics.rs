//! metrics.jsonl: one JSON object per line, `kind` = `step` (every `log_every` steps),
//! `epoch` (after each epoch's evaluation) or the curvature operator's name — `hessian`, `ggn`
//! (Gauss–Newton) or `fd` — for the top eigenvalues tracked every `curvature.track_every` steps.

use crate::error::BasinError;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of metrics.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRecord {
    /// `step`, `epoch`, or the tracked operator (`hessian`, `ggn`, `fd`).
    pub kind: String,
    /// Global steps taken when the record was written.
    pub step: u64,
    /// Epoch (1-based for `epoch` lines: the epoch just finished; the running epoch for steps).
    pub epoch: usize,
    /// Training loss: the batch loss (`step`) or the epoch's mean batch loss (`epoch`).
    pub loss: f64,
    /// Test accuracy (`epoch` lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accuracy: Option<f64>,
    /// Test loss (`epoch` lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub test_loss: Option<f64>,
    /// Validation loss and accuracy when a validation split exists (`epoch` lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_accuracy: Option<f64>,
    /// Top Hessian eigenvalues on the tracking subset (`hessian` lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eigenvalues: Option<Vec<f64>>,
    /// The gradient and the last step along the top eigenvectors (`curvature.track_alignment`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alignment: Option<crate::curvature::alignment::Alignment>,
    /// Learning rate of the step.
    pub lr: f64,
    /// Seconds of training so far.
    pub elapsed: f64,
}

/// Appends records to `metrics.jsonl`.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `dir/metrics.jsonl`. A fresh run truncates it; a resumed run keeps only the lines
    /// up to `keep_until_step`, so the log reads as if the run had never stopped.
    pub fn open(dir: &Path, keep_until_step: Option<u64>) -> Result<MetricsLog, BasinError> {
        let path = dir.join("metrics.jsonl");
        let kept = match keep_until_step {
            Some(s) if path.exists() => {
                let text = std::fs::read_to_string(&path).map_err(|e| BasinError::file(&path, e))?;
                text.lines()
                    .filter(|l| serde_json::from_str::<MetricRecord>(l).map(|r| r.step <= s).unwrap_or(false))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            }
            _ => String::new(),
        };
        std::fs::write(&path, kept).map_err(|e| BasinError::file(&path, e))?;
        let file = std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| BasinError::file(&path, e))?;
        Ok(MetricsLog { path, file })
    }
    /// Appends one record.
    pub fn write(&mut self, r: &MetricRecord) -> Result<(), BasinError> {
        let line = serde_json::to_string(r).expect("record serializes");
        writeln!(self.file, "{line}").map_err(|e| BasinError::file(&self.path, e))
    }
}
