//! Keeping rayon's workers awake through work that alternates short serial parts with parallel
//! matrix products, as training steps and Hessian products do (issue 39, item 5).
//!
//! A rayon worker that finds no job spins for a few dozen rounds and then sleeps on a futex;
//! the next parallel product has to wake it, and on a virtual machine a wake-up takes tens of
//! microseconds. A training step of ne-f1 at batch 128 runs dozens of parallel regions in
//! 10–15 ms with serial element-wise work between them, so the workers fell asleep and were
//! woken again all through it: `perf stat` counted ≈ 120 context switches per step and 1.58 of
//! 2 CPUs busy, where PyTorch's OpenMP threads spin between regions and keep 1.95 busy.
//! [`with_hot_workers`] runs a closure on a worker of the pool while every other worker runs a
//! job that polls for work ([`rayon::yield_now`]) until the closure returns, so that each
//! product's halves start at once. On ne-f1 that made the step 7–34 % faster (median 23 %, 8
//! alternating pairs on an Ice Lake VM; BENCHMARKS.md). The price is OpenMP's: the pool's
//! cores stay busy while the closure runs, whether or not it has parallel work, which a
//! process beside it would have used. `basin` runs its numerical commands this way unless
//! `BASIN_WAIT_POLICY=passive` (docs/guide/cpu-dispatch.md).

use rayon::Yield;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

thread_local! {
    /// Whether this thread is running a spinner already. A spinner runs the jobs it finds, and
    /// a job that waits for another may be handed a second spinner while it waits: that one
    /// must return at once, or the job below it on this thread's stack could never finish.
    static SPINNING: Cell<bool> = const { Cell::new(false) };
}

/// How many workers are spinning at this moment, over every pool (for tests and diagnostics).
static SPINNERS: AtomicUsize = AtomicUsize::new(0);

/// The number of rayon workers, in any pool, that are polling for jobs for a
/// [`with_hot_workers`] call at this moment.
pub fn spinning_workers() -> usize {
    SPINNERS.load(Ordering::SeqCst)
}

/// Runs `f` on a worker of the current rayon pool (the global one outside any pool) while the
/// pool's other workers poll for jobs instead of sleeping, and returns what `f` returns. The
/// calling thread waits. With a one-thread pool it runs `f` here. The results are those of
/// `f` run anywhere else: rayon splits work the same way whichever worker runs a part.
pub fn with_hot_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let n = rayon::current_num_threads();
    if n < 2 {
        return f();
    }
    let stop = AtomicBool::new(false);
    rayon::scope(|s| {
        // One spinner per worker (a broadcast job runs on the thread it is sent to; spawned
        // ones were taken two at a time by the first worker to wake). `f` runs on this
        // worker, whose spinner, run while `f` waits inside a join, must return: it would
        // wait for `f` and `f` for it.
        let owner = rayon::current_thread_index();
        let stop = &stop;
        s.spawn_broadcast(move |_, _| spin_until(stop, owner));
        let out = f();
        stop.store(true, Ordering::Release);
        out
    })
}

/// A spinner's body: runs the pool's jobs as they appear until `stop`.
fn spin_until(stop: &AtomicBool, owner: Option<usize>) {
    if rayon::current_thread_index() == owner || SPINNING.get() {
        return;
    }
    SPINNING.set(true);
    SPINNERS.fetch_add(1, Ordering::SeqCst);
    while !stop.load(Ordering::Acquire) {
        match rayon::yield_now() {
            Some(Yield::Executed) => {}
            // On an idle machine `sched_yield` returns at once and the worker stays on its
            // core; where other threads wait for a core (several processes on too few CPUs,
            // a test suite) it gives the core to them instead of burning its time slice.
            Some(Yield::Idle) => std::thread::yield_now(),
            None => break,
        }
    }
    SPINNERS.fetch_sub(1, Ordering::SeqCst);
    SPINNING.set(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// `SPINNERS` counts over every pool: these tests take turns so that each sees its own.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn pool(n: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    }

    /// Sums that need the pool's parallel work, with a known total.
    fn work(rounds: u64) -> u64 {
        (0..rounds)
            .map(|i| (0..1000u64).into_par_iter().map(|x| x * i).sum::<u64>())
            .sum()
    }

    fn expected(rounds: u64) -> u64 {
        (0..rounds).sum::<u64>() * (999 * 1000 / 2)
    }

    #[test]
    fn the_other_workers_spin_while_f_runs_and_stop_after() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let p = pool(3);
        let (seen, sum) = p.install(|| {
            with_hot_workers(|| {
                let t = Instant::now();
                while spinning_workers() < 2 && t.elapsed() < Duration::from_secs(10) {
                    std::hint::spin_loop();
                }
                (spinning_workers(), work(50))
            })
        });
        assert_eq!(
            seen, 2,
            "workers spinning while f ran: want the pool's other 2"
        );
        assert_eq!(sum, expected(50));
        let t = Instant::now();
        while spinning_workers() > 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        assert_eq!(
            spinning_workers(),
            0,
            "spinners left running after f returned"
        );
    }

    #[test]
    fn nested_and_concurrent_calls_finish_with_the_right_results() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let p = pool(3);
        let nested = p.install(|| with_hot_workers(|| with_hot_workers(|| work(40)) + work(10)));
        assert_eq!(nested, expected(40) + expected(10));
        // two threads outside the pool, each running a hot section on it at once
        let results: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| s.spawn(|| p.install(|| with_hot_workers(|| work(200)))))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results, vec![expected(200); 2]);
    }

    #[test]
    fn a_one_thread_pool_runs_f_on_its_thread() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let same = pool(1).install(|| {
            let me = std::thread::current().id();
            with_hot_workers(|| std::thread::current().id() == me && spinning_workers() == 0)
        });
        assert!(same);
    }
}
