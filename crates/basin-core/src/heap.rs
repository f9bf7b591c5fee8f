//! [`keep_freed_memory`]: stop glibc's allocator from handing large freed buffers back to the
//! kernel, which a CPU training step otherwise pays for with page faults on every step.
//!
//! Why: a Burn CPU step allocates fresh activation and gradient buffers of tens of MB (keskar-c1:
//! 33.5 MB per `[128, 64, 32, 32]` activation). glibc serves blocks above its mmap threshold
//! (at most 32 MB) with `mmap` and returns them with `munmap`, so every step faults every page
//! in again, and each `munmap` shoots down the TLB of the other cores (an IPI per fault in a VM).
//! `perf` on the keskar-c1 step showed 20–25 % of the time in `exc_page_fault`,
//! `clear_page_erms` and `smp_call_function_many_cond`; with freed memory kept the step went
//! from 519 ms to 342 ms (BENCHMARKS.md). The cost is that the process keeps its peak heap.
//!
//! One arena (`M_ARENA_MAX` = 1): glibc gives threads other than the main one arenas of their
//! own, and with nothing trimmed each keeps its own peak. Since the CLI runs a numerical
//! command on a worker of rayon's pool (`hot_workers`), its buffers came from a second arena
//! beside the main one: the peak RSS of simple-cnn's top-5 on 500 images went from 517 to
//! 835–864 MB, and back to 504–517 MB with one arena, no slower (3 alternating rounds,
//! BENCHMARKS.md). Small blocks still come from each thread's cache without a lock.

/// Serves every allocation from one heap (no `mmap`, one arena for all threads) and never trims
/// it, so freed buffers are reused by the next step. Call once at start-up, before worker
/// threads allocate. A no-op outside glibc targets. Returns whether the allocator accepted all
/// three settings.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; the values are valid for glibc.
        unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 && libc::mallopt(libc::M_ARENA_MAX, 1) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
