//! Output files of the measuring commands: never overwritten silently.

use crate::CliError;
use std::path::{Path, PathBuf};

/// Refuses (exit 2, naming the file) when any of `paths` exists and `force` is not set. Called
/// before any work, so a refusal costs nothing and loses nothing.
pub fn refuse_overwrite(paths: &[PathBuf], force: bool) -> Result<(), CliError> {
    if force {
        return Ok(());
    }
    match paths.iter().find(|p| p.exists()) {
        Some(p) => Err(CliError::input(format!("{}: exists; pass --force to overwrite it", p.display()))),
        None => Ok(()),
    }
}

/// Removes `path` when it exists (a stale result that must be made again); an error other than
/// "not found" names the file.
pub fn remove_stale(path: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CliError::run(format!("{}: {e}", path.display()))),
        _ => Ok(()),
    }
}

/// A fraction of a data set given as `flag`: an error naming it unless in (0, 1].
pub fn check_fraction(flag: &str, v: f64) -> Result<(), CliError> {
    if v > 0.0 && v <= 1.0 { Ok(()) } else { Err(CliError::input(format!("{flag}: must be in (0, 1] (got {v})"))) }
}

/// A number of Monte-Carlo samples given as `flag`: an error naming it below 2, the fewest
/// that give a standard error.
pub fn check_samples(flag: &str, n: usize) -> Result<(), CliError> {
    if n >= 2 { Ok(()) } else { Err(CliError::input(format!("{flag}: must be ≥ 2 (a standard error needs two)"))) }
}

/// A plot's files: the SVG and the PNG beside it.
pub fn plot_files(svg: &Path) -> [PathBuf; 2] {
    [svg.to_path_buf(), svg.with_extension("png")]
}

/// Rewrites a safetensors file's JSON header with its keys sorted (tensor entries and the
/// `__metadata__` map), so identical weights give byte-identical files: Burn's store writes its
/// metadata from a hash map, whose order changes from run to run. The tensor data and its
/// offsets are untouched; the header is padded with spaces to a multiple of 8 bytes.
pub fn canonical_safetensors(path: &Path) -> Result<(), CliError> {
    use std::collections::BTreeMap;
    let bad = |why: &str| CliError::run(format!("{}: {why}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| CliError::run(format!("{}: {e}", path.display())))?;
    let n = u64::from_le_bytes(bytes.get(..8).ok_or_else(|| bad("too short"))?.try_into().expect("8 bytes")) as usize;
    let header = bytes.get(8..8 + n).ok_or_else(|| bad("header length past the end"))?;
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    let sorted: BTreeMap<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Object(o) => serde_json::to_value(o.into_iter().collect::<BTreeMap<_, _>>()).expect("json"),
                v => v,
            };
            (k, v)
        })
        .collect();
    let mut text = serde_json::to_vec(&sorted).expect("json");
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend((text.len() as u64).to_le_bytes());
    out.extend(text);
    out.extend(&bytes[8 + n..]);
    std::fs::write(path, out).map_err(|e| CliError::run(format!("{}: {e}", path.display())))
}

/// An accuracy as a percentage for a line or a table cell; "n/a" where there is none (a
/// regression set, fitted by the mean squared error).
pub fn percent(accuracy: Option<f64>) -> String {
    accuracy.map_or_else(|| "n/a".into(), |a| format!("{:.2}%", 100.0 * a))
}
