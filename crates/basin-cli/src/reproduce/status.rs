//! `basin reproduce NAME --status`: where every (cell, seed) of an experiment stands, read
//! from its run folders, and — when it was submitted with `--slurm` and `squeue` answers — the
//! state of the array task that owns it.

use super::experiment::Experiment;
use super::run::{Job, failure, is_complete, plan};
use crate::slurm::queue::{Submitted, states};
use std::path::Path;

/// The state of one run, from its folder alone.
fn folder_state(j: &Job, e: &Experiment, scale: &str, out: &Path) -> String {
    if let Some(who) = crate::run_lock::holder(&j.dir) {
        return format!("running ({who})");
    }
    if is_complete(j, e, scale) {
        return "finished".into();
    }
    if let Some(line) = failure(out, j) {
        return format!("failed: {line}");
    }
    if j.dir.join("summary.json").is_file() {
        return "trained, measurements missing".into();
    }
    match basin_core::train::checkpoint::latest(&j.dir) {
        Ok(Some(p)) => match crate::commands::train::checkpoint_step(&p) {
            Some(s) => format!("checkpointed at step {s}"),
            None => "checkpointed".into(),
        },
        _ if j.dir.join("config.toml").is_file() => "started, no checkpoint yet".into(),
        _ => "not started".into(),
    }
}

/// Prints the status table of `e` at `scale` in `out` and a one-line count.
pub fn print(e: &Experiment, scale: &str, seeds: usize, out: &Path) {
    let jobs = plan(e, scale, seeds, out);
    let submitted = Submitted::read(&out.join("slurm"));
    let queue = submitted.as_ref().map(|s| (s, states(&s.array)));
    println!("| run | cell | seed | state |{}", if queue.is_some() { " Slurm task | queue |" } else { "" });
    println!("|---|---|---|---|{}", if queue.is_some() { "---|---|" } else { "" });
    let mut finished = 0;
    for (i, j) in jobs.iter().enumerate() {
        let state = folder_state(j, e, scale, out);
        finished += usize::from(state == "finished");
        let q = match &queue {
            Some((s, Ok(live))) => {
                let t = i / s.per_task.max(1);
                format!(" {}_{t} | {} |", s.array, live.get(&t).map(String::as_str).unwrap_or("not in queue"))
            }
            Some((s, Err(why))) => format!(" {}_{} | ({why}) |", s.array, i / s.per_task.max(1)),
            None => String::new(),
        };
        println!("| {i} | {} | {} | {state} |{q}", j.cell, j.seed);
    }
    let sub = submitted.map(|s| format!("; array {} with report job {}", s.array, s.then)).unwrap_or_default();
    println!("{finished} of {} runs finished in {}{sub}", jobs.len(), out.display());
}
