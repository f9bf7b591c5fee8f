//! The batch scripts of an [`ArrayJob`]: plain bash with `#SBATCH` lines, readable and
//! editable by the user, and the same text `--dry-run` prints.

use super::{ArrayJob, SlurmArgs};

/// Stands for the array task's index in a task's command line; written as
/// `"$SLURM_ARRAY_TASK_ID"` in the script.
pub const TASK_ID: &str = "\u{1}TASK\u{1}";

/// `s` as one bash word: unchanged when it holds only characters bash leaves alone, else in
/// single quotes; `TASK_ID` inside it becomes `"$SLURM_ARRAY_TASK_ID"`.
pub fn quote(s: &str) -> String {
    let plain = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    let piece = |p: &str| if p.is_empty() || plain(p) { p.to_string() } else { format!("'{}'", p.replace('\'', r"'\''")) };
    if s.is_empty() {
        return "''".into();
    }
    s.split(TASK_ID).map(piece).collect::<Vec<_>>().join("\"$SLURM_ARRAY_TASK_ID\"")
}

fn command_line(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

fn cwd() -> String {
    std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| ".".into())
}

fn absolute(p: &std::path::Path) -> String {
    if p.is_absolute() { p.display().to_string() } else { format!("{}/{}", cwd(), p.display()) }
}

fn basin() -> String {
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "basin".into())
}

/// The options of `--slurm-arg` the follow-up job gets too: where it may run and who pays,
/// not the array's time, memory or GPUs.
fn placement(arg: &str) -> bool {
    ["--partition", "--account", "--qos", "--clusters", "-p", "-A", "-M", "-q"].iter().any(|k| arg == *k || arg.starts_with(&format!("{k}=")) || (k.len() == 2 && arg.starts_with(k) && arg.len() > 2))
}

fn header(name: &str, log: &str, extra: &[String]) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name={name}\n#SBATCH --chdir={}\n#SBATCH --output={log}\n#SBATCH --open-mode=append\n", cwd()));
    for a in extra {
        s.push_str(&format!("#SBATCH {a}\n"));
    }
    s
}

/// The array's script: task I runs `job.task` with I for [`TASK_ID`], as the script's own
/// process (`exec`), so Slurm's USR2 reaches `basin`.
pub fn array(job: &ArrayJob, opts: &SlurmArgs) -> String {
    let dir = absolute(job.dir);
    let mut extra = vec![format!("--array=0-{}", job.tasks - 1), "--requeue".into(), format!("--signal=B:USR2@{}", opts.signal_before)];
    extra.extend(opts.args.iter().cloned());
    let mut s = header(&job.name, &format!("{dir}/logs/%A_%a.out"), &extra);
    s.push_str("# One array task: its share of the work; on USR2 (time limit, preemption) it checkpoints\n");
    s.push_str("# and requeues itself, and the requeued task resumes. Threads: the task's CPUs.\n");
    s.push_str("if [ -n \"${SLURM_CPUS_PER_TASK:-}\" ]; then export RAYON_NUM_THREADS=$SLURM_CPUS_PER_TASK; fi\n");
    s.push_str(&format!("exec {} {}\n", quote(&basin()), command_line(&job.task)));
    s
}

/// The follow-up job's script (submitted with `--dependency=afterany:ARRAY`).
pub fn then(job: &ArrayJob, opts: &SlurmArgs) -> String {
    let dir = absolute(job.dir);
    let extra: Vec<String> = opts.args.iter().filter(|a| placement(a)).cloned().collect();
    let mut s = header(&format!("{}-{}", job.name, job.then_what), &format!("{dir}/logs/{}-%j.out", job.then_what), &extra);
    s.push_str(&format!("# After every task of the array has ended (finished, failed or cancelled): the {}.\n", job.then_what));
    s.push_str(&format!("exec {} {}\n", quote(&basin()), command_line(&job.then)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_bash_would_change_them() {
        assert_eq!(quote("--scale"), "--scale");
        assert_eq!(quote("repro/a b"), "'repro/a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote(TASK_ID), "\"$SLURM_ARRAY_TASK_ID\"");
        assert_eq!(quote(&format!("{TASK_ID}/4")), "\"$SLURM_ARRAY_TASK_ID\"/4");
    }

    #[test]
    fn the_follow_up_job_gets_placement_options_only() {
        for a in ["--partition=gpu", "-pgpu", "--account=lab", "-A=lab", "--qos=low", "--clusters=c2"] {
            assert!(placement(a), "{a}");
        }
        for a in ["--time=4:00:00", "--gres=gpu:1", "--mem=8G", "--cpus-per-task=4", "--parsable"] {
            assert!(!placement(a), "{a}");
        }
    }
}
