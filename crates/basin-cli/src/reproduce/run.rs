//! Running an experiment: every (cell, seed) is an ordinary `basin train` run folder
//! `OUT/<cell>/seed-<s>/`, run as a child process of this binary. Finished runs (summary.json)
//! are skipped, interrupted ones continue with `--resume`; measurements (`basin hessian`) run
//! once per finished run. Ctrl-C or SIGTERM reach the children, which checkpoint; no new run
//! starts after that. The runs are numbered in one order (seed-major, [`plan`]): the local
//! runner works through all of them, a Slurm array task (`--task I`) through its share.
//! A run that fails leaves its error line in `OUT/failed/<cell>-seed-<s>.txt` (for
//! `--status`) until it succeeds.

use super::experiment::{Experiment, measurement, slug};
use crate::CliError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One unit of work: train (or resume) a run, then measure it.
pub struct Job {
    /// The cell's name.
    pub cell: String,
    /// The seed.
    pub seed: usize,
    /// Its run folder.
    pub dir: PathBuf,
    sets: Vec<String>,
    /// The run ended at its epoch cap without converging and the experiment now allows more
    /// epochs: it continues (`basin train --resume` with the larger `train.epochs`).
    extend: bool,
}

fn basin_exe() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(|e| CliError::run(format!("cannot find the basin binary: {e}")))
}

/// Runs `args` of this binary; `Ok(true)` on success, `Ok(false)` when interrupted.
/// A child `basin` that never outlives this process: Linux sends it SIGTERM when its parent
/// dies (`PR_SET_PDEATHSIG`), also on `kill -9` or a scheduler's kill at the time limit, and it
/// then checkpoints and exits as on Ctrl-C; one whose parent died before that was set exits at
/// once. So a killed `reproduce` leaves no writer behind on its run folders.
fn child_command(args: &[String]) -> Result<Command, CliError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(basin_exe()?);
    cmd.args(args);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(143);
            }
            Ok(())
        });
    }
    Ok(cmd)
}

/// Where a child writes its error line (the `BASIN_ERROR_FILE` it is given, see `main`).
const ERROR_FILE_ENV: &str = "BASIN_ERROR_FILE";

/// How the runner starts its child processes.
struct Children<'a> {
    /// Set (an array task's USR2, which only reaches this process), it sends the running child
    /// the SIGTERM that makes it checkpoint and stop.
    forward: &'a AtomicBool,
    /// The `RAYON_NUM_THREADS` each child gets, from [`child_threads`]; `None` leaves the
    /// environment as it is.
    threads: Option<usize>,
}

/// Threads for each child when `jobs` runs go side by side: the machine's cores shared out, at
/// least one each. Without it each child's pool would be as wide as the machine, `jobs` times
/// the cores, and its idle workers spin between parallel parts (`BASIN_WAIT_POLICY`), taking
/// the cores the other runs wait for. Two one-thread runs did 1.29–1.39× the work of one
/// two-thread run on a 2-core VM (BENCHMARKS.md). A `RAYON_NUM_THREADS` the user set is kept
/// (`None`), as is everything for one job at a time.
pub fn child_threads(jobs: usize) -> Option<usize> {
    if jobs <= 1 || std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some((cores / jobs).max(1))
}

/// Runs `basin ARGS` for `job` and waits; `Ok(false)` when it was interrupted.
fn child(args: &[String], job: &Job, out: &Path, children: &Children) -> Result<bool, CliError> {
    let what = || format!("basin {}", args.join(" "));
    let error_file = failure_file(out, job).with_extension("child");
    crate::output::remove_stale(&error_file)?;
    let mut cmd = child_command(args)?;
    if let Some(n) = children.threads {
        cmd.env("RAYON_NUM_THREADS", n.to_string());
    }
    let mut c = cmd.env(ERROR_FILE_ENV, &error_file).spawn().map_err(|e| CliError::run(format!("{}: {e}", what())))?;
    let mut forwarded = false;
    let status = loop {
        if let Some(status) = c.try_wait().map_err(|e| CliError::run(format!("{}: {e}", what())))? {
            break status;
        }
        if !forwarded && children.forward.load(Ordering::SeqCst) {
            // SAFETY: kill(2) on the pid of a child this process has not yet waited for.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            forwarded = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    match status.code() {
        Some(0) => Ok(true),
        Some(130) | Some(143) | None => Ok(false),
        Some(code) => {
            let line = std::fs::read_to_string(&error_file).map(|t| t.trim().to_string()).unwrap_or_default();
            let _ = std::fs::remove_file(&error_file);
            let why = if line.is_empty() { String::new() } else { format!(": {line}") };
            // a child's bad input (a config the experiment gives it) is the experiment's
            Err(CliError { code: if code == 2 { 2 } else { 1 }, message: format!("{} exited with {code}{why}", what()) })
        }
    }
}

/// The failure record of `job` in experiment folder `out`.
fn failure_file(out: &Path, job: &Job) -> PathBuf {
    out.join("failed").join(format!("{}-seed-{}.txt", slug(&job.cell), job.seed))
}

/// The error line a failed run left, if it has not succeeded since.
pub fn failure(out: &Path, job: &Job) -> Option<String> {
    std::fs::read_to_string(failure_file(out, job)).ok().map(|t| t.trim().to_string())
}

fn record_failure(out: &Path, job: &Job, err: &CliError) -> Result<(), CliError> {
    let f = failure_file(out, job);
    std::fs::create_dir_all(f.parent().expect("has a parent")).map_err(|e| CliError::run(format!("{}: {e}", f.display())))?;
    basin_core::train::checkpoint::write_atomic(&f, format!("{}\n", err.message).as_bytes())?;
    Ok(())
}

/// `basin train --out DIR [--resume] --set …` for `job`.
fn train_args(job: &Job, resume: bool) -> Vec<String> {
    let mut args: Vec<String> = vec!["train".into(), "--out".into(), job.dir.display().to_string()];
    if resume {
        args.push("--resume".into());
    }
    for s in &job.sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    args
}

/// An existing run folder must hold this experiment's config (a folder left by an earlier
/// version of the experiment file is an error naming the folder and the key, not silently
/// reused): `basin train --resume --dry-run` with the cell's overrides checks exactly that. It
/// accepts a larger `train.epochs` (the run is extended) and prints the config to run, whose
/// `train.epochs` is returned; `None` for a folder without a run.
fn check_existing(job: &Job) -> Result<Option<i64>, CliError> {
    if !job.dir.join("config.toml").is_file() {
        return Ok(None);
    }
    let mut args = train_args(job, true);
    args.push("--dry-run".into());
    let out = Command::new(basin_exe()?).args(&args).output().map_err(|e| CliError::run(format!("basin train --dry-run: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().trim_start_matches("error: ").to_string();
        return Err(CliError::input(format!("{}: was run with another config ({why}); delete it or choose another --out", job.dir.display())));
    }
    let cfg: toml::Table = toml::from_str(&String::from_utf8_lossy(&out.stdout)).map_err(|e| CliError::run(format!("basin train --dry-run printed no config: {e}")))?;
    Ok(epoch_cap(&cfg))
}

/// The number of epochs a run's config asks for: the sum of its `[[phases]]` when it has
/// phases (`train.epochs` is then unused), else `train.epochs`.
fn epoch_cap(cfg: &toml::Table) -> Option<i64> {
    match cfg.get("phases").and_then(toml::Value::as_array).filter(|p| !p.is_empty()) {
        Some(phases) => phases.iter().map(|p| p.get("epochs").and_then(toml::Value::as_integer)).sum(),
        None => cfg.get("train").and_then(|t| t.get("epochs")).and_then(toml::Value::as_integer),
    }
}

/// Whether the finished run in `dir` stopped at an epoch cap below `epochs` without converging
/// (its summary.json has no `converged_at_step` and fewer `epochs`), so a larger cap extends it.
fn stopped_below(dir: &Path, epochs: i64) -> bool {
    let Some(summary) = std::fs::read_to_string(dir.join("summary.json")).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()) else {
        return false;
    };
    summary["converged_at_step"].is_null() && summary["epochs"].as_i64().is_some_and(|ran| ran < epochs)
}

/// Whether the finished run in `dir` has an averaged model (`[average]`): its measurements are
/// then the averaged model's, the method's result.
fn has_averaged_model(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("summary.json")).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()).is_some_and(|s| s["averaged"].is_object())
}

/// The `--measures` list of a measurement that `basin measures` takes, which writes
/// measures.json itself, one measure at a time, instead of to a `--json` path; `None` for the
/// others.
fn measures_list(args: &[&'static str]) -> Option<&'static str> {
    match args {
        ["measures", "--measures", list] => Some(list),
        _ => None,
    }
}

/// Whether measurement `m` of run `dir` is done: its file exists, and for `basin measures`,
/// whose file exists from its first measure on, holds every measure it asks for.
fn measured(dir: &Path, m: &str) -> bool {
    match measurement(m) {
        Some((file, args)) => measures_list(args).map_or_else(|| dir.join(file).is_file(), |list| crate::commands::measures::holds(dir, list)),
        None => false,
    }
}

fn train_and_measure(measure: &[String], job: &Job, out: &Path, children: &Children) -> Result<bool, CliError> {
    if job.extend {
        // the measurements describe the model at the old cap
        for m in measure {
            let (file, _) = measurement(m).expect("checked when loading");
            crate::output::remove_stale(&job.dir.join(file))?;
        }
    }
    if job.extend || !job.dir.join("summary.json").is_file() {
        let args = train_args(job, job.dir.join("config.toml").is_file());
        if !child(&args, job, out, children)? {
            return Ok(false);
        }
    }
    for m in measure {
        let (file, base) = measurement(m).expect("checked when loading");
        if measured(&job.dir, m) {
            continue;
        }
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(["--run".into(), job.dir.display().to_string()]);
        let own_file = measures_list(base).is_some();
        if !own_file {
            // not measured: its file is missing, and what an interrupted attempt left beside it
            // (a plot written before the JSON) is made again
            args.extend(["--json".into(), job.dir.join(file).display().to_string(), "--force".into()]);
        }
        if has_averaged_model(&job.dir) {
            if own_file {
                return Err(CliError::input(format!("{}: measurement '{m}': `basin measures` measures the run's final weights, not its averaged model ([average]); drop one of the two", job.dir.display())));
            }
            args.push("--averaged".into());
        }
        if !child(&args, job, out, children)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every (cell, seed) of `e` at `scale` with `seeds` seeds, in the order runs are numbered:
/// seed-major, so an interrupted experiment has every cell at the same number of seeds and a
/// partial run still compares like with like.
pub fn plan(e: &Experiment, scale: &str, seeds: usize, out: &Path) -> Vec<Job> {
    let mut all = Vec::new();
    for s in 0..seeds {
        for c in &e.cells {
            all.push(Job { cell: c.name.clone(), seed: s, dir: out.join(slug(&c.name)).join(format!("seed-{s}")), sets: e.sets(c, scale, s), extend: false });
        }
    }
    all
}

/// Checks an existing run folder against the experiment and notes whether it is extended;
/// `true` when the run is complete (trained and measured, nothing to do).
fn prepare(j: &mut Job, e: &Experiment, scale: &str) -> Result<bool, CliError> {
    if let Some(epochs) = check_existing(j)? {
        j.extend = stopped_below(&j.dir, epochs);
    }
    Ok(is_complete(j, e, scale))
}

/// Whether run `j` is trained (at its current cap) and has every measurement of the scale.
pub fn is_complete(j: &Job, e: &Experiment, scale: &str) -> bool {
    !j.extend && j.dir.join("summary.json").is_file() && e.measure_at(scale).iter().all(|m| measured(&j.dir, m))
}

/// Trains and measures one job, keeping its failure record in step: written on an error,
/// removed on success.
fn run_one(e: &Experiment, scale: &str, job: &Job, out: &Path, children: &Children) -> Result<bool, CliError> {
    match train_and_measure(e.measure_at(scale), job, out, children) {
        Ok(done) => {
            if done {
                crate::output::remove_stale(&failure_file(out, job))?;
            }
            Ok(done)
        }
        Err(err) => {
            record_failure(out, job, &err)?;
            Err(err)
        }
    }
}

/// Runs every missing (cell, seed) of `e` at `scale` with `seeds` seeds into `out`, `jobs` at a
/// time, in [`plan`]'s order, printing progress (runs done / total, ETA).
pub fn run(e: &Experiment, scale: &str, seeds: usize, jobs: usize, out: &Path, stop: Arc<AtomicBool>) -> Result<(), CliError> {
    std::fs::create_dir_all(out).map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
    let mut all = plan(e, scale, seeds, out);
    let total = all.len();
    let mut todo = Vec::new();
    for mut j in all.drain(..) {
        if !prepare(&mut j, e, scale)? {
            todo.push(j);
        }
    }
    let already = total - todo.len();
    let threads = child_threads(jobs);
    let each = threads.map(|n| format!(" (RAYON_NUM_THREADS={n} for each)")).unwrap_or_default();
    println!("{}: {} runs ({} cells × {seeds} seeds), {already} already finished, {} to run, {jobs} at a time{each}, out {}", e.name, total, e.cells.len(), todo.len(), out.display());
    let queue = Mutex::new(todo.into_iter());
    let finished = AtomicUsize::new(0);
    let started = Instant::now();
    let error: Mutex<Option<CliError>> = Mutex::new(None);
    // the children get Ctrl-C and a scheduler's SIGTERM themselves
    let forward = AtomicBool::new(false);
    let children = Children { forward: &forward, threads };
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) || error.lock().expect("lock").is_some() {
                        return;
                    }
                    let Some(job) = queue.lock().expect("lock").next() else { return };
                    match run_one(e, scale, &job, out, &children) {
                        Ok(true) => {
                            let k = finished.fetch_add(1, Ordering::SeqCst) + 1;
                            let left = total - already - k;
                            // wall time per finished run already counts the runs in parallel
                            let eta = started.elapsed().as_secs_f64() / k as f64 * left as f64;
                            println!("[{}/{total} runs] {} seed {} done; ETA {:.0} min", already + k, job.cell, job.seed, eta / 60.0);
                        }
                        Ok(false) => {
                            stop.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(err) => {
                            *error.lock().expect("lock") = Some(err);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(err) = error.into_inner().expect("lock") {
        return Err(err);
    }
    if stop.load(Ordering::SeqCst) {
        return Err(CliError { code: 130, message: format!("interrupted; run the same command again to continue ({} of {total} runs finished)", already + finished.load(Ordering::SeqCst)) });
    }
    Ok(())
}

/// The runs of array task `task` when each task does `per_task` of them: [`plan`]'s runs
/// `task·K … task·K + K − 1` (fewer in the last task).
pub fn task_range(total: usize, task: usize, per_task: usize) -> std::ops::Range<usize> {
    let start = (task * per_task).min(total);
    start..(start + per_task).min(total)
}

/// Number of array tasks for `total` runs at `per_task` runs each.
pub fn task_count(total: usize, per_task: usize) -> usize {
    total.div_ceil(per_task)
}

/// What an array task's runs came to.
pub enum TaskEnd {
    /// Every run of the task is complete.
    Done,
    /// Stopped by a signal with the run's state saved; `warned` when it was Slurm's USR2 (the
    /// caller requeues the task).
    Stopped {
        /// USR2 (not SIGTERM or Ctrl-C) stopped it.
        warned: bool,
    },
}

/// Does array task `task`'s share of the runs, one after the other, exactly as the local
/// runner does each (skip if complete, resume if checkpointed, train, measure). A failing run
/// does not keep the task's other runs from running; the first error is returned at the end.
pub fn run_task(e: &Experiment, scale: &str, seeds: usize, out: &Path, task: usize, per_task: usize, signals: &crate::slurm::requeue::TaskSignals) -> Result<TaskEnd, CliError> {
    std::fs::create_dir_all(out).map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
    let mut all = plan(e, scale, seeds, out);
    let total = all.len();
    let range = task_range(total, task, per_task);
    if range.is_empty() {
        return Err(CliError::input(format!("--task: {task} is past the last task ({} runs, {per_task} per task: tasks 0 to {})", total, task_count(total, per_task).saturating_sub(1))));
    }
    println!("{} task {task}: runs {} to {} of {total}", e.name, range.start, range.end - 1);
    let (mut first_error, mut failed, runs) = (None, 0, range.len());
    for mut job in all.drain(range) {
        if signals.stop.load(Ordering::SeqCst) {
            return Ok(TaskEnd::Stopped { warned: crate::slurm::requeue::warned(signals) });
        }
        let prepared = prepare(&mut job, e, scale);
        match prepared.and_then(|complete| if complete { Ok(true) } else { run_one(e, scale, &job, out, &Children { forward: &signals.warned, threads: None }) }) {
            Ok(true) => println!("{} seed {}: done", job.cell, job.seed),
            Ok(false) => return Ok(TaskEnd::Stopped { warned: crate::slurm::requeue::warned(signals) }),
            Err(err) => {
                eprintln!("{} seed {} failed: {}", job.cell, job.seed, err.message);
                failed += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) if runs > 1 => Err(CliError { code: err.code, message: format!("{failed} of the task's {runs} runs failed; the first: {}", err.message) }),
        Some(err) => Err(err),
        None => Ok(TaskEnd::Done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phased_run_s_cap_is_the_sum_of_its_phases() {
        let cfg: toml::Table = toml::from_str("[train]\nepochs = 10\n[[phases]]\nepochs = 3\n[[phases]]\nepochs = 2\nlr = 0.01\n").unwrap();
        assert_eq!(epoch_cap(&cfg), Some(5));
        let cfg: toml::Table = toml::from_str("phases = []\n[train]\nepochs = 10\n").unwrap();
        assert_eq!(epoch_cap(&cfg), Some(10));
    }

    #[test]
    fn array_tasks_cover_every_run_once() {
        for (total, k) in [(33, 1), (33, 4), (8, 3), (1, 5)] {
            let n = task_count(total, k);
            let covered: Vec<usize> = (0..n).flat_map(|t| task_range(total, t, k)).collect();
            assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} runs, {k} per task");
            assert!(task_range(total, n, k).is_empty());
        }
    }
}
