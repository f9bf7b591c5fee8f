//! One writer per run folder (issue 24): `basin train` holds an advisory lock on
//! `OUT/.basin-lock` for as long as it runs, so a second writer — a scheduler's requeued task
//! while the old one is still dying, a second `reproduce` — is refused with a one-line exit-2
//! error naming the holder, instead of interleaving its checkpoints and metrics with the
//! first's. The lock is the operating system's (`File::try_lock`, flock on Linux): it goes with
//! the process, also on `kill -9`, so a stale file never blocks a resume.

use crate::CliError;
use std::io::Write;
use std::path::Path;

/// The lock file's name inside a run folder (a run folder counts as empty with only this).
pub const LOCK_FILE: &str = ".basin-lock";

/// Held while a command writes into a run folder; released when dropped or the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

/// This host's name, for the holder line.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "an unknown host".into())
}

/// Takes the lock of run folder `dir` (creating the folder), or fails with an error naming the
/// process that holds it.
pub fn acquire(dir: &Path) -> Result<RunLock, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::input(format!("{}: {e}", dir.display())))?;
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {
            let holder = format!("pid {} on {}\n", std::process::id(), host());
            file.set_len(0).and_then(|_| file.write_all(holder.as_bytes())).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
            Ok(RunLock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).map(|h| h.trim().to_string()).unwrap_or_default();
            let holder = if holder.is_empty() { "another process".to_string() } else { holder };
            Err(CliError::input(format!("{}: another basin ({holder}) is writing this run folder; wait for it to end or stop it, then resume", dir.display())))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(CliError::input(format!("{}: cannot lock: {e}", path.display()))),
    }
}

/// Whether `dir` holds nothing but (possibly) a lock file.
pub fn is_empty(dir: &Path) -> bool {
    dir.read_dir().map(|d| d.flatten().all(|e| e.file_name() == LOCK_FILE)).unwrap_or(true)
}

/// Who holds the lock of run folder `dir` right now ("pid N on HOST"), if anyone; creates
/// nothing.
pub fn holder(dir: &Path) -> Option<String> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::File::open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => Some(std::fs::read_to_string(&path).map(|h| h.trim().to_string()).unwrap_or_default()),
    }
}
