//! `BASIN_WAIT_POLICY`: whether rayon's workers spin between the parallel parts of a numerical
//! command (`active`, the default) or sleep (`passive`), as `OMP_WAIT_POLICY` does for
//! OpenMP. Spinning made ne-f1's training step 7–34 % faster on a 2-vCPU VM (BENCHMARKS.md,
//! issue 39) and keeps every core of the pool busy while the command runs; `passive` leaves
//! idle cores to other processes. `basin_core::hot_workers` has the why.

use crate::CliError;

/// The environment variable.
pub const VAR: &str = "BASIN_WAIT_POLICY";

/// Whether workers spin: `BASIN_WAIT_POLICY` unset or `active` → true, `passive` → false,
/// anything else an input error naming the variable.
pub fn active() -> Result<bool, CliError> {
    match std::env::var(VAR) {
        Err(std::env::VarError::NotPresent) => Ok(true),
        Ok(v) if v.eq_ignore_ascii_case("active") => Ok(true),
        Ok(v) if v.eq_ignore_ascii_case("passive") => Ok(false),
        Ok(v) => Err(CliError::input(format!("{VAR}={v:?}: expected active or passive"))),
        Err(e) => Err(CliError::input(format!("{VAR}: {e}"))),
    }
}
