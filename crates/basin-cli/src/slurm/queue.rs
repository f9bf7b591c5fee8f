//! What Slurm's queue says about an array submitted earlier: `OUT/slurm/submitted.json`
//! remembers its ids, `squeue` gives each task's state while it is in the queue.

use crate::CliError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The ids `basin … --slurm` submitted into a folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submitted {
    /// The array's job id.
    pub array: String,
    /// The follow-up job's id.
    pub then: String,
    /// Number of array tasks.
    pub tasks: usize,
    /// Units of work (runs, grid shards) per task.
    pub per_task: usize,
}

impl Submitted {
    /// The record in `dir`, if there is one.
    pub fn read(dir: &Path) -> Option<Submitted> {
        serde_json::from_str(&std::fs::read_to_string(dir.join("submitted.json")).ok()?).ok()
    }

    /// Writes the record into `dir` (through a temporary file).
    pub fn write(&self, dir: &Path) -> Result<(), CliError> {
        basin_core::train::checkpoint::write_atomic(&dir.join("submitted.json"), &serde_json::to_vec_pretty(self).expect("serializes"))?;
        Ok(())
    }
}

/// The queue state (`PENDING`, `RUNNING`, …) of every task of array `id` still in the queue,
/// by task index; empty once the array has left it. An error when `squeue` cannot run.
pub fn states(id: &str) -> Result<BTreeMap<usize, String>, String> {
    let out = Command::new("squeue").args(["-h", "-r", "-j", id, "-o", "%K %T %r"]).output().map_err(|e| format!("cannot run squeue ({e})"))?;
    if !out.status.success() {
        // a job id Slurm has forgotten (it left the queue long ago) is no error
        let why = String::from_utf8_lossy(&out.stderr);
        if why.contains("Invalid job id") {
            return Ok(BTreeMap::new());
        }
        return Err(format!("squeue -j {id}: {}", why.trim()));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// `squeue -h -r -o "%K %T %r"` lines as task → "STATE (reason)".
fn parse(text: &str) -> BTreeMap<usize, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(task), Some(state)) = (f.next().and_then(|t| t.parse::<usize>().ok()), f.next()) else { continue };
        let reason: Vec<&str> = f.collect();
        let reason = reason.join(" ");
        let s = if reason.is_empty() || reason == "None" { state.to_string() } else { format!("{state} ({reason})") };
        m.insert(task, s);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_give_each_task_its_state() {
        let m = parse("0 RUNNING None\n3 PENDING Resources\n2 PENDING BeginTime\nN/A RUNNING None\n");
        assert_eq!(m.len(), 3);
        assert_eq!(m[&0], "RUNNING");
        assert_eq!(m[&3], "PENDING (Resources)");
        assert_eq!(m[&2], "PENDING (BeginTime)");
    }
}
