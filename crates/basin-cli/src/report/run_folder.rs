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
    /// The line number of a torn last line of metrics.jsonl (a process killed while writing
    /// it), left out of `metrics`; the page says so.
    pub torn_line: Option<usize>,
    /// Measurements, by file name.
    pub measurements: Vec<(String, Measurement)>,
}

/// The measuring commands' JSON outputs in `dir`, by file name, recognised by their content
/// (other JSON files are left alone).
fn measurements_in(dir: &Path) -> Result<Vec<(String, Measurement)>, CliError> {
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
    Ok(measurements)
}

/// A JSON file, or an exit-2 error naming it.
fn read_json(p: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(p).map_err(|e| CliError::input(format!("{}: {e}", p.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::input(format!("{}: invalid JSON ({e})", p.display())))
}

/// The records of metrics.jsonl. A last line that does not parse and has no line end is a
/// write cut short by a kill: it is left out and its number returned. Any other bad line is an
/// error (its number and why).
pub fn parse_metrics(text: &str) -> Result<(Vec<MetricRecord>, Option<usize>), (usize, serde_json::Error)> {
    let lines: Vec<(usize, &str)> = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).collect();
    let mut records = Vec::with_capacity(lines.len());
    for (k, &(i, l)) in lines.iter().enumerate() {
        match serde_json::from_str(l) {
            Ok(r) => records.push(r),
            Err(_) if k + 1 == lines.len() && !text.ends_with('\n') => return Ok((records, Some(i + 1))),
            Err(e) => return Err((i + 1, e)),
        }
    }
    Ok((records, None))
}

impl RunFolder {
    /// Reads `dir`; a folder without config.toml is not a run folder (exit-2 error naming it).
    pub fn load(dir: &Path) -> Result<RunFolder, CliError> {
        let config_path = dir.join("config.toml");
        if !dir.is_dir() {
            return Err(CliError::input(format!("{}: not a folder", dir.display())));
        }
        let config = std::fs::read_to_string(&config_path).map_err(|_| CliError::input(format!("{}: not a run folder (no config.toml)", dir.display())))?;
        let summary = dir.join("summary.json");
        let summary = if summary.is_file() { Some(read_json(&summary)?) } else { None };
        let metrics_path = dir.join("metrics.jsonl");
        let (metrics, torn_line) = match std::fs::read_to_string(&metrics_path) {
            Ok(text) => parse_metrics(&text).map_err(|(line, e)| CliError::input(format!("{} line {line}: {e}", metrics_path.display())))?,
            Err(_) => (Vec::new(), None),
        };
        let measurements = measurements_in(dir)?;
        Ok(RunFolder { name: dir.display().to_string(), config, summary, metrics, torn_line, measurements })
    }

    /// A model that is no run folder (`--onnx`, `--weights`): `summary` is its evaluation,
    /// `config` the resolved config it was loaded with, and the measurements those in
    /// `measurements` (a folder of `basin hessian`/`sharpness`/`landscape` JSON outputs).
    pub fn of_model(name: String, config: String, summary: Value, measurements: Option<&Path>) -> Result<RunFolder, CliError> {
        let measurements = match measurements {
            Some(dir) if !dir.is_dir() => return Err(CliError::input(format!("--measurements: {}: not a folder", dir.display()))),
            Some(dir) => measurements_in(dir)?,
            None => Vec::new(),
        };
        Ok(RunFolder { name, config, summary: Some(summary), metrics: Vec::new(), torn_line: None, measurements })
    }

    /// The records of one kind (`step`, `epoch`, or a tracked operator's name).
    pub fn records<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a MetricRecord> + 'a {
        self.metrics.iter().filter(move |r| r.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_metrics;

    #[test]
    fn a_torn_last_line_is_left_out_and_reported_but_a_bad_line_elsewhere_is_an_error() {
        let good = r#"{"kind":"epoch","step":10,"epoch":1,"loss":0.5,"lr":0.1,"elapsed":1.0}"#;
        let text = format!("{good}\n{good}\n{{\"kind\":\"ep");
        let (records, torn) = parse_metrics(&text).unwrap();
        assert_eq!((records.len(), torn), (2, Some(3)));
        assert_eq!(parse_metrics(&format!("{good}\n{good}\n")).unwrap().1, None);
        // a complete bad line, or one before the end, is not a torn write
        assert_eq!(parse_metrics(&format!("{good}\n{{oops}}\n")).unwrap_err().0, 2);
        assert_eq!(parse_metrics(&format!("{{oops\n{good}\n")).unwrap_err().0, 1);
    }
}
