//! `basin reproduce`: list, run and report the papers' experiments (see `crate::reproduce`).

use crate::CliError;
use crate::reproduce::experiment::Experiment;
use crate::reproduce::{report, run, status};
use crate::slurm::{self, ArrayJob, SlurmArgs, script::TASK_ID};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Arguments of `basin reproduce`.
#[derive(Args)]
pub struct ReproduceArgs {
    /// Experiment name (a file experiments/NAME.toml) or a path to an experiment file.
    name: Option<String>,
    /// List the experiments with their paper, table or figure, scale and time here.
    #[arg(long)]
    list: bool,
    /// quick (minutes, reduced data and epochs), full (the paper's protocol as far as the data
    /// allows), or another scale the experiment file defines (`--list` shows them).
    #[arg(long, default_value = "quick")]
    scale: String,
    /// The training protocol: `paper` (the paper's text) or one the experiment file defines,
    /// e.g. `smoothout-code` (what the authors' published code does); its runs and report go
    /// to their own folder (default repro/NAME-SCALE-PROTOCOL).
    #[arg(long, default_value = "paper")]
    protocol: String,
    /// Seeds per cell (default: the experiment's for the scale).
    #[arg(long)]
    seeds: Option<usize>,
    /// Runs at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Output folder (default: repro/NAME-SCALE).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only aggregate the runs that exist into report.md / report.json.
    #[arg(long)]
    report: bool,
    /// Folder of the experiment files.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
    /// For each cell and seed: finished, checkpointed at step S, not started, or failed with
    /// its error line; with --slurm's record and squeue, the array task's queue state beside it.
    #[arg(long)]
    status: bool,
    /// Do only run I of the experiment's runs (numbered seed-major, as `--status` lists them),
    /// or runs I·K … I·K + K − 1 with --per-task K: what one Slurm array task does.
    #[arg(long, value_name = "I")]
    task: Option<usize>,
    /// Runs per array task (clusters cap the array's size).
    #[arg(long, value_name = "K", default_value_t = 1)]
    per_task: usize,
    #[command(flatten)]
    slurm: SlurmArgs,
}

fn find(dir: &Path, name: &str) -> Result<Experiment, CliError> {
    let p = Path::new(name);
    let path = if p.extension().is_some_and(|e| e == "toml") { p.to_path_buf() } else { dir.join(format!("{name}.toml")) };
    if !path.is_file() {
        let known = list_files(dir).iter().filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())).collect::<Vec<_>>().join(", ");
        return Err(CliError::input(format!("{}: no such experiment (known: {known})", path.display())));
    }
    Experiment::load(&path)
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Runs `basin reproduce`.
pub fn run(args: ReproduceArgs) -> Result<(), CliError> {
    if args.list {
        println!("| experiment | reproduces | data | seeds | quick | full | other scales | protocols |");
        println!("|---|---|---|---|---|---|---|---|");
        for p in list_files(&args.experiments) {
            let e = Experiment::load(&p)?;
            let data = if e.stand_in_for.is_empty() { e.data.clone() } else { format!("{} (stand-in for {})", e.data, e.stand_in_for) };
            let t = |s: &str| e.minutes.get(s).map(|m| if *m >= 90.0 { format!("≈ {:.1} h", m / 60.0) } else { format!("≈ {m:.0} min") }).unwrap_or_else(|| "—".into());
            let other: Vec<String> = e.scale_names().into_iter().skip(2).map(|s| format!("{s} ({} seeds, {})", e.seeds_at(&s), t(&s))).collect();
            let other = if other.is_empty() { "—".to_string() } else { other.join(", ") };
            println!("| {} | {} | {data} | {} / {} | {} | {} | {other} | {} |", e.name, e.source, e.seeds_at("quick"), e.seeds_at("full"), t("quick"), t("full"), e.protocol_names().join(", "));
        }
        return Ok(());
    }
    let name = args.name.as_deref().ok_or_else(|| CliError::input("reproduce: give an experiment name or --list"))?;
    if args.jobs == 0 || args.seeds == Some(0) {
        return Err(CliError::input("--jobs, --seeds: must be ≥ 1"));
    }
    let e = find(&args.experiments, name)?.at_scale(&args.scale)?.with_protocol(&args.protocol)?;
    let seeds = args.seeds.unwrap_or(e.seeds_at(&args.scale));
    let suffix = if args.protocol == "paper" { String::new() } else { format!("-{}", args.protocol) };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("repro/{}-{}{suffix}", e.name, args.scale)));
    if args.per_task == 0 {
        return Err(CliError::input("--per-task: must be ≥ 1"));
    }
    let modes = [args.status, args.report, args.slurm.slurm, args.task.is_some()].iter().filter(|m| **m).count();
    if modes > 1 {
        return Err(CliError::input("--status, --report, --slurm, --task: give one of them"));
    }
    args.slurm.check_used(args.slurm.slurm || args.task.is_some())?;
    if args.jobs != 1 && (args.status || args.report) {
        return Err(CliError::input("--jobs: --status and --report run nothing (drop --jobs)"));
    }
    if args.jobs != 1 && (args.slurm.slurm || args.task.is_some()) {
        return Err(CliError::input("--jobs: a Slurm array runs its tasks side by side; each task runs one run at a time (drop --jobs)"));
    }
    if args.per_task != 1 && !(args.slurm.slurm || args.task.is_some()) {
        return Err(CliError::input("--per-task: only with --slurm or --task"));
    }
    if args.status {
        status::print(&e, &args.scale, seeds, &out);
        return Ok(());
    }
    if args.slurm.slurm {
        return submit(&args, &e, name, seeds, &out);
    }
    if let Some(task) = args.task {
        let signals = slurm::requeue::TaskSignals::register();
        return match run::run_task(&e, &args.scale, seeds, &out, task, args.per_task, &signals)? {
            run::TaskEnd::Done => Ok(()),
            run::TaskEnd::Stopped { warned: true } => {
                println!("{}", slurm::requeue::requeue_self(&out.join("slurm"), task, &args.slurm)?);
                Ok(())
            }
            run::TaskEnd::Stopped { warned: false } => Err(CliError { code: 143, message: format!("task {task} interrupted; its runs are checkpointed and resume when it runs again") }),
        };
    }
    if !args.report {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(signal, stop.clone());
        }
        run::run(&e, &args.scale, seeds, args.jobs, &out, stop)?;
    }
    if !out.is_dir() {
        return Err(CliError::input(format!("{}: no runs yet (run `basin reproduce {name} --scale {}` first)", out.display(), args.scale)));
    }
    let r = report::build(&e, &args.scale, seeds, &out);
    report::write(&e, &r, &out)?;
    print!("{}", report::markdown(&e, &r));
    println!("wrote {}/report.md, report.json", out.display());
    Ok(())
}

/// `--slurm`: the experiment as one array (a task per run, or `--per-task` runs) and a report
/// job after it; each task is this command with `--task I`.
fn submit(args: &ReproduceArgs, e: &Experiment, name: &str, seeds: usize, out: &Path) -> Result<(), CliError> {
    let total = run::plan(e, &args.scale, seeds, out).len();
    let mut common: Vec<String> = vec!["reproduce".into(), name.into(), "--scale".into(), args.scale.clone(), "--protocol".into(), args.protocol.clone(), "--seeds".into(), seeds.to_string()];
    common.extend(["--out".into(), out.display().to_string(), "--experiments".into(), args.experiments.display().to_string()]);
    let mut task = common.clone();
    task.extend(["--per-task".into(), args.per_task.to_string(), "--signal-before".into(), args.slurm.signal_before.to_string(), "--max-requeue".into(), args.slurm.max_requeue.to_string(), "--task".into(), TASK_ID.into()]);
    let mut then = common;
    then.push("--report".into());
    let dir = out.join("slurm");
    let job = ArrayJob { name: format!("basin-{}", e.name), dir: &dir, tasks: run::task_count(total, args.per_task), per_task: args.per_task, task, then, then_what: "report" };
    println!("{}: {total} runs ({} cells × {seeds} seeds) as {} array tasks of {} run(s), out {}", e.name, e.cells.len(), job.tasks, args.per_task, out.display());
    slurm::submit(&job, &args.slurm)
}
