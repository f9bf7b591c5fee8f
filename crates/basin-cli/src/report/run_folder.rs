//! What a run folder holds, read for a report: the resolved config, summary.json,
//! metrics.jsonl, and the JSON outputs of the measuring commands written into it
//! (`basin hessian`, `basin sharpness`, `basin landscape`), recognised by their content.

use crate::CliError;
use basin_core::train::metrics::MetricRecord;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A measuring command's JSON output found in a run folder.
pub enum Measurement {
    /// `basin hessian --json` (has `operator` and `mean`).
    Hessian(Value),
    /// `basin sharpness --json` (has `box` and/or `noise`).
    Sharpness(Value),
    /// `basin landscape … --out` (has `meta.kind` and `points`).
    Landscape(Value),
}

/// One run folder's contents.
pub struct RunFolder {
    /// Display name: the folder's path as given.
    pub name: String,
    /// config.toml as written by `basin train`.
    pub config: String,
    /// summary.json, once the run has finished.
    pub summary: Option<Value>,
    /// metrics.jsonl records.
    pub metrics: Vec<MetricRecord>,
    /// Measurements, by file name.
    pub measurements: Vec<(String, Measurement)>,
}

impl RunFolder {
    /// Reads `dir`; a folder without config.toml is not a run folder (exit-2 error naming it).
    pub fn load(dir: &Path) -> Result<RunFolder, CliError> {
        let config_path = dir.join("config.toml");
        if !dir.is_dir() {
            return Err(CliError::input(format!("{}: not a folder", dir.display())));
        }
        let config = std::fs::read_to_string(&config_path).map_err(|_| CliError::input(format!("{}: not a run folder (no config.toml)", dir.display())))?;
        let read_json = |p: &Path| -> Result<Value, CliError> {
            let text = std::fs::read_to_string(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?;
            serde_json::from_str(&text).map_err(|e| CliError::input(format!("{}: invalid JSON ({e})", p.display())))
        };
        let summary = dir.join("summary.json");
        let summary = if summary.is_file() { Some(read_json(&summary)?) } else { None };
        let metrics_path = dir.join("metrics.jsonl");
        let metrics = match std::fs::read_to_string(&metrics_path) {
            Ok(text) => text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| serde_json::from_str(l).map_err(|e| CliError::input(format!("{} line {}: {e}", metrics_path.display(), i + 1))))
                .collect::<Result<Vec<MetricRecord>, _>>()?,
            Err(_) => Vec::new(),
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && p.file_name().is_some_and(|n| n != "summary.json"))
            .collect();
        files.sort();
        let mut measurements = Vec::new();
        for f in files {
            let v = read_json(&f)?;
            let m = if v.get("operator").is_some() && v.get("mean").is_some() {
                Measurement::Hessian(v)
            } else if v.get("box").is_some() || v.get("noise").is_some() {
                Measurement::Sharpness(v)
            } else if v["meta"].get("kind").is_some() && v.get("points").is_some() {
                Measurement::Landscape(v)
            } else {
                continue;
            };
            measurements.push((f.file_name().unwrap_or_default().to_string_lossy().into_owned(), m));
        }
        Ok(RunFolder { name: dir.display().to_string(), config, summary, metrics, measurements })
    }

    /// The records of one kind (`step`, `epoch`, or a tracked operator's name).
    pub fn records<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a MetricRecord> + 'a {
        self.metrics.iter().filter(move |r| r.kind == kind)
    }
}
