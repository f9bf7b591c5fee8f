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

/// Serves every allocation from the heap (no `mmap`) and never trims it, so freed buffers are
/// reused by the next step. Call once at start-up, before worker threads allocate. A no-op
/// outside glibc targets. Returns whether the allocator accepted both settings.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; both values are valid for glibc.
        unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
