//! Running an experiment: every (cell, seed) is an ordinary `basin train` run folder
//! `OUT/<cell>/seed-<s>/`, run as a child process of this binary. Finished runs (summary.json)
//! are skipped, interrupted ones continue with `--resume`; measurements (`basin hessian`) run
//! once per finished run. Ctrl-C or SIGTERM reach the children, which checkpoint; no new run
//! starts after that.

use super::experiment::{Experiment, measurement, slug};
use crate::CliError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One unit of work: train (or resume) a run, then measure it.
struct Job {
    cell: String,
    seed: usize,
    dir: PathBuf,
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

fn child(args: &[String]) -> Result<bool, CliError> {
    let status = child_command(args)?.status().map_err(|e| CliError::run(format!("basin {}: {e}", args.join(" "))))?;
    match status.code() {
        Some(0) => Ok(true),
        Some(130) | Some(143) | None => Ok(false),
        Some(c) => Err(CliError::run(format!("basin {} exited with {c}", args.join(" ")))),
    }
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

fn train_and_measure(measure: &[String], job: &Job) -> Result<bool, CliError> {
    if job.extend {
        // the measurements describe the model at the old cap
        for m in measure {
            let (file, _) = measurement(m).expect("checked when loading");
            crate::output::remove_stale(&job.dir.join(file))?;
        }
    }
    if job.extend || !job.dir.join("summary.json").is_file() {
        let args = train_args(job, job.dir.join("config.toml").is_file());
        if !child(&args)? {
            return Ok(false);
        }
    }
    for m in measure {
        let (file, base) = measurement(m).expect("checked when loading");
        if job.dir.join(file).is_file() {
            continue;
        }
        let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        args.extend(["--run".into(), job.dir.display().to_string(), "--json".into(), job.dir.join(file).display().to_string()]);
        if !child(&args)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs every missing (cell, seed) of `e` at `scale` with `seeds` seeds into `out`, `jobs` at a
/// time, seed by seed across the cells, printing progress (runs done / total, ETA).
pub fn run(e: &Experiment, scale: &str, seeds: usize, jobs: usize, out: &Path, stop: Arc<AtomicBool>) -> Result<(), CliError> {
    std::fs::create_dir_all(out).map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
    // Seed-major order: an interrupted experiment has every cell at the same number of seeds,
    // so a partial run still compares like with like.
    let mut all = Vec::new();
    for s in 0..seeds {
        for c in &e.cells {
            all.push(Job { cell: c.name.clone(), seed: s, dir: out.join(slug(&c.name)).join(format!("seed-{s}")), sets: e.sets(c, scale, s), extend: false });
        }
    }
    for j in &mut all {
        if let Some(epochs) = check_existing(j)? {
            j.extend = stopped_below(&j.dir, epochs);
        }
    }
    let total = all.len();
    let complete = |j: &Job| !j.extend && j.dir.join("summary.json").is_file() && e.measure_at(scale).iter().all(|m| measurement(m).is_some_and(|(f, _)| j.dir.join(f).is_file()));
    let todo: Vec<Job> = all.into_iter().filter(|j| !complete(j)).collect();
    let already = total - todo.len();
    println!("{}: {} runs ({} cells × {seeds} seeds), {already} already finished, {} to run, {jobs} at a time, out {}", e.name, total, e.cells.len(), todo.len(), out.display());
    let queue = Mutex::new(todo.into_iter());
    let finished = AtomicUsize::new(0);
    let started = Instant::now();
    let error: Mutex<Option<CliError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) || error.lock().expect("lock").is_some() {
                        return;
                    }
                    let Some(job) = queue.lock().expect("lock").next() else { return };
                    match train_and_measure(e.measure_at(scale), &job) {
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
}
