//! Inside an array task: the signals that stop it, and requeuing itself after USR2 (see the
//! module doc of `crate::slurm` for the rules and why they follow submitit's).

use super::SlurmArgs;
use crate::CliError;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Slack on top of `--signal-before` within which a USR2 counts as the time-limit warning:
/// Slurm may send it up to a minute early.
const SLACK_S: u64 = 60;

/// The flags a task's signals set: `stop` on USR2, SIGTERM and SIGINT; `warned` on USR2 only.
#[derive(Clone)]
pub struct TaskSignals {
    /// Finish the current step, checkpoint and stop.
    pub stop: Arc<AtomicBool>,
    /// Slurm's USR2 came: after stopping, requeue.
    pub warned: Arc<AtomicBool>,
}

impl TaskSignals {
    /// Registers the handlers (flags only; the work happens in the task's loop).
    pub fn register() -> TaskSignals {
        let s = TaskSignals { stop: Arc::new(AtomicBool::new(false)), warned: Arc::new(AtomicBool::new(false)) };
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGUSR2] {
            let _ = signal_hook::flag::register(signal, s.stop.clone());
        }
        let _ = signal_hook::flag::register(signal_hook::consts::SIGUSR2, s.warned.clone());
        s
    }
}

/// `JOB_TASK` of this array task (what `scontrol requeue` takes), or the plain job id.
fn own_job() -> Option<String> {
    match (std::env::var("SLURM_ARRAY_JOB_ID"), std::env::var("SLURM_ARRAY_TASK_ID")) {
        (Ok(a), Ok(t)) => Some(format!("{a}_{t}")),
        _ => std::env::var("SLURM_JOB_ID").ok(),
    }
}

/// Seconds of squeue's `%L` (time left: `[D-]HH:MM:SS`, `MM:SS`, `SS`); `None` for
/// `UNLIMITED`, `NOT_SET`, `INVALID`.
fn seconds_left(text: &str) -> Option<u64> {
    let t = text.trim();
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (d.parse::<u64>().ok()?, r),
        None => (0, t),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse::<u64>().ok()).collect::<Option<_>>()?;
    let hms = parts.iter().fold(0, |acc, p| acc * 60 + p);
    (parts.len() <= 3 && !parts.is_empty()).then_some(days * 86_400 + hms)
}

fn time_left(job: &str) -> Option<u64> {
    let out = Command::new("squeue").args(["-h", "-j", job, "-o", "%L"]).output().ok()?;
    seconds_left(&String::from_utf8_lossy(&out.stdout))
}

/// Whether a USR2 with `left` seconds to go is the time-limit warning of `--signal-before`.
fn is_time_limit(left: Option<u64>, opts: &SlurmArgs) -> bool {
    left.is_some_and(|l| l <= opts.signal_before as u64 + SLACK_S)
}

/// After this task stopped on USR2 with its state saved: requeues it (`scontrol requeue`),
/// unless it is the `--max-requeue + 1`-th time limit. The time-limit count lives in
/// `dir/requeues/task-I` (preemptions do not add to it). Returns the line to print; an error
/// (exit 3) when the task is not requeued, so Slurm records it as not done.
pub fn requeue_self(dir: &Path, task: usize, opts: &SlurmArgs) -> Result<String, CliError> {
    let job = own_job().ok_or_else(|| CliError::run("USR2 outside a Slurm job: checkpointed, not requeued"))?;
    let timed_out = is_time_limit(time_left(&job), opts);
    let counter = dir.join("requeues").join(format!("task-{task}"));
    let count: u32 = std::fs::read_to_string(&counter).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    if timed_out && count >= opts.max_requeue {
        return Err(CliError { code: 3, message: format!("task {task} ({job}) reached its time limit {} times (--max-requeue {}): checkpointed, not requeued; resubmit with a longer --slurm-arg=--time", count + 1, opts.max_requeue) });
    }
    if timed_out {
        std::fs::create_dir_all(counter.parent().expect("has a parent")).map_err(|e| CliError::run(format!("{}: {e}", counter.display())))?;
        basin_core::train::checkpoint::write_atomic(&counter, format!("{}\n", count + 1).as_bytes())?;
    }
    let out = Command::new("scontrol").args(["requeue", &job]).output().map_err(|e| CliError::run(format!("scontrol requeue {job}: {e}")))?;
    if !out.status.success() {
        return Err(CliError { code: 3, message: format!("scontrol requeue {job}: {}; checkpointed, not requeued", String::from_utf8_lossy(&out.stderr).trim()) });
    }
    let why = if timed_out { format!("time limit {} of {}", count + 1, opts.max_requeue) } else { "preemption".to_string() };
    Ok(format!("task {task} ({job}): checkpointed and requeued ({why}); it resumes when Slurm starts it again"))
}

/// Whether USR2 came (the caller then requeues rather than just stopping).
pub fn warned(s: &TaskSignals) -> bool {
    s.warned.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_time_left_parses_in_every_format() {
        assert_eq!(seconds_left("1:58"), Some(118));
        assert_eq!(seconds_left("59:30\n"), Some(3570));
        assert_eq!(seconds_left("1:02:03"), Some(3723));
        assert_eq!(seconds_left("2-01:00:00"), Some(2 * 86_400 + 3600));
        assert_eq!(seconds_left("45"), Some(45));
        assert_eq!(seconds_left("UNLIMITED"), None);
        assert_eq!(seconds_left("INVALID"), None);
        assert_eq!(seconds_left(""), None);
    }

    #[test]
    fn only_a_warning_near_the_limit_counts_as_a_time_limit() {
        let opts = SlurmArgs { signal_before: 120, ..Default::default() };
        assert!(is_time_limit(Some(150), &opts));
        assert!(is_time_limit(Some(180), &opts));
        assert!(!is_time_limit(Some(181), &opts));
        assert!(!is_time_limit(Some(3600), &opts));
        assert!(!is_time_limit(None, &opts));
    }
}
