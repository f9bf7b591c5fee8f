//! Slurm (issue 24): a long sweep as one job array on a cluster. `basin reproduce --slurm`
//! and `basin landscape surface --slurm` write two batch scripts under a `slurm/` folder —
//! the array, whose task I runs the same `basin` command with `--task I` (or `--shard I/N`),
//! and a follow-up job (the report, the merge) that waits for the whole array
//! (`--dependency=afterany`) — and submit them with `sbatch`; `--dry-run` prints them instead.
//!
//! What a task does on a time limit or a preemption, as submitit does for the same problem:
//! the array asks for `--requeue --signal=B:USR2@G`, so Slurm sends USR2 to the task's batch
//! process (the `basin` the script `exec`s) G seconds before the time limit — and at
//! preemption, where the administrator set `SchedulerParameters=preempt_send_user_signal`.
//! The task stops its run at the end of a step, checkpoints, and requeues itself (`scontrol
//! requeue JOB_TASK`); the requeued task resumes from the checkpoint bit-identically. A USR2
//! with less than G + 60 s left counts as a time limit, and those requeues stop after
//! `--max-requeue` (a run that never fits its time limit is not requeued for ever); one with more
//! time left is a preemption and always requeues. SIGTERM alone (`scancel`, a preemption without
//! the user signal) checkpoints and exits without requeuing: a cancelled task stays cancelled,
//! and a preempted one is requeued by Slurm itself (`PreemptMode=REQUEUE` with `--requeue`).

pub mod queue;
pub mod requeue;
pub mod script;

use crate::CliError;
use clap::Args;
use std::path::Path;
use std::process::Command;

/// Options of a command that can run as a Slurm array.
#[derive(Args, Clone, Debug, Default)]
pub struct SlurmArgs {
    /// Run as a Slurm job array: write the batch scripts under the output's `slurm/` folder and
    /// submit them with sbatch (see "On a cluster" in the guide).
    #[arg(long)]
    pub slurm: bool,
    /// An sbatch option for the array, e.g. --slurm-arg=--partition=gpu,
    /// --slurm-arg=--time=4:00:00, --slurm-arg=--gres=gpu:1 (repeatable). The follow-up job gets
    /// only the --partition, --account, --qos and --clusters ones.
    #[arg(long = "slurm-arg", value_name = "ARG", allow_hyphen_values = true, requires = "slurm")]
    pub args: Vec<String>,
    /// With --slurm: print the batch scripts and the sbatch commands, submit nothing.
    #[arg(long, requires = "slurm")]
    pub dry_run: bool,
    /// Seconds before the time limit at which Slurm warns a task (USR2) so it checkpoints and
    /// requeues itself.
    #[arg(long, value_name = "SECONDS", default_value_t = SIGNAL_BEFORE)]
    pub signal_before: u32,
    /// How many times a task requeues itself after a time limit (preemptions do not count).
    #[arg(long, value_name = "N", default_value_t = MAX_REQUEUE)]
    pub max_requeue: u32,
}

const SIGNAL_BEFORE: u32 = 120;
const MAX_REQUEUE: u32 = 3;

impl SlurmArgs {
    /// An error naming `--signal-before` or `--max-requeue` when set where no Slurm array or
    /// task runs (`in_slurm` false): there they would be accepted and ignored.
    pub fn check_used(&self, in_slurm: bool) -> Result<(), CliError> {
        match (in_slurm, self.signal_before != SIGNAL_BEFORE, self.max_requeue != MAX_REQUEUE) {
            (false, true, _) => Err(CliError::input("--signal-before: only with --slurm (or an array task)")),
            (false, _, true) => Err(CliError::input("--max-requeue: only with --slurm (or an array task)")),
            _ => Ok(()),
        }
    }
}

/// One array and the job that waits for it, ready to be written and submitted.
pub struct ArrayJob<'a> {
    /// Job name (`basin-NAME`).
    pub name: String,
    /// Folder of the scripts, logs and `submitted.json` (`OUT/slurm`).
    pub dir: &'a Path,
    /// Number of array tasks.
    pub tasks: usize,
    /// Units of work per task (recorded for `--status`).
    pub per_task: usize,
    /// The task's command line; `script::TASK_ID` stands for the array task's index.
    pub task: Vec<String>,
    /// The follow-up job's command line (`reproduce --report`, `landscape … --merge`).
    pub then: Vec<String>,
    /// What the follow-up job does, for the printed summary.
    pub then_what: &'static str,
}

/// This process's arguments (after the program) without the options in `flags` and
/// `valued` (the latter with their values, given as `--opt V` or `--opt=V`): the command an
/// array task runs again, without `--slurm` and its options.
pub fn own_args(flags: &[&str], valued: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let key = a.split_once('=').map(|(k, _)| k).unwrap_or(&a);
        if flags.contains(&a.as_str()) {
            continue;
        }
        if valued.contains(&key) {
            if !a.contains('=') {
                args.next();
            }
            continue;
        }
        out.push(a);
    }
    out
}

/// The job ids `sbatch --parsable` printed (`ID` or `ID;CLUSTER`).
fn job_id(stdout: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stdout);
    let id = text.trim().split(';').next()?.trim().to_string();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then_some(id)
}

fn sbatch(args: &[String]) -> Result<String, CliError> {
    let out = Command::new("sbatch")
        .args(args)
        .output()
        .map_err(|e| CliError::input(format!("--slurm: cannot run sbatch ({e}); is Slurm installed and SLURM_CONF set?")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(CliError::input(format!("--slurm: sbatch {} failed: {why}", args.join(" "))));
    }
    job_id(&out.stdout).ok_or_else(|| CliError::run(format!("sbatch printed no job id: {}", String::from_utf8_lossy(&out.stdout).trim())))
}

/// Writes the two scripts of `job` and submits them (or, with `--dry-run`, prints them):
/// the array first, then the follow-up with `--dependency=afterany:ARRAY`. Refuses when an
/// array submitted earlier into the same folder is still in the queue (two arrays would be
/// two writers on every run folder).
pub fn submit(job: &ArrayJob, opts: &SlurmArgs) -> Result<(), CliError> {
    if job.tasks == 0 {
        return Err(CliError::input("--slurm: nothing to run"));
    }
    let array = script::array(job, opts);
    let then = script::then(job, opts);
    let (array_path, then_path) = (job.dir.join("array.sh"), job.dir.join(format!("{}.sh", job.then_what)));
    if opts.dry_run {
        println!("# {} (not written: --dry-run)\n{array}", array_path.display());
        println!("# {} (not written: --dry-run)\n{then}", then_path.display());
        println!("# would run: sbatch --parsable {}", array_path.display());
        println!("# then:      sbatch --parsable --dependency=afterany:<array id> {}", then_path.display());
        return Ok(());
    }
    if let Some(prev) = queue::Submitted::read(job.dir) {
        let live = queue::states(&prev.array).map_err(CliError::input)?;
        if !live.is_empty() {
            return Err(CliError::input(format!(
                "{}: array {} submitted earlier is still in the queue ({} tasks); wait for it or `scancel {}` first",
                job.dir.display(),
                prev.array,
                live.len(),
                prev.array
            )));
        }
    }
    std::fs::create_dir_all(job.dir.join("logs")).map_err(|e| CliError::input(format!("{}: {e}", job.dir.display())))?;
    for (path, text) in [(&array_path, &array), (&then_path, &then)] {
        basin_core::train::checkpoint::write_atomic(path, text.as_bytes())?;
    }
    let array_id = sbatch(&["--parsable".into(), array_path.display().to_string()])?;
    let then_id = sbatch(&["--parsable".into(), format!("--dependency=afterany:{array_id}"), then_path.display().to_string()])?;
    queue::Submitted { array: array_id.clone(), then: then_id.clone(), tasks: job.tasks, per_task: job.per_task }.write(job.dir)?;
    println!("submitted array {array_id} ({} tasks) and {} job {then_id} (after the array); logs in {}/logs", job.tasks, job.then_what, job.dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbatch_parsable_output_gives_the_job_id() {
        assert_eq!(job_id(b"1234\n").as_deref(), Some("1234"));
        assert_eq!(job_id(b"77;cluster-a\n").as_deref(), Some("77"));
        assert_eq!(job_id(b"Submitted batch job 5\n"), None);
        assert_eq!(job_id(b""), None);
    }
}
