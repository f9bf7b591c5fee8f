//! This machine's fp32 peak, measured: every thread runs independent chains of 512-bit fused
//! multiply-adds (AVX-512F) from registers, so the count is FMA throughput × clock, the figure
//! BENCHMARKS.md's "% of peak" divides by. One thread per core, as the benchmarks run.
//!
//!     cargo run --release -p basin-zoo --example fp32_peak [-- THREADS]

use std::time::Instant;

/// FLOPs of `iters` rounds of 12 independent 16-lane FMAs (2 FLOPs per lane).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let (m, a) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, m, a);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for v in acc {
        sum = _mm512_add_ps(sum, v);
    }
    _mm512_reduce_add_ps(sum)
}

mod common;

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("fp32_peak: this CPU has no AVX-512F");
            std::process::exit(2);
        }
        let usage = "cargo run --release -p basin-zoo --example fp32_peak [-- THREADS]";
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.len() > 1 {
            common::usage_error(usage, "at most one argument, THREADS");
        }
        let threads: usize = match args.first() {
            Some(a) => a.parse().ok().filter(|&t| t >= 1).unwrap_or_else(|| common::usage_error(usage, &format!("THREADS: '{a}' is not a number ≥ 1"))),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let iters = 200_000_000u64;
        let start = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| std::thread::spawn(move || unsafe { fma_chains(iters) }))
            .collect();
        let check: f32 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        let secs = start.elapsed().as_secs_f64();
        let flops = threads as f64 * iters as f64 * 12.0 * 16.0 * 2.0;
        println!("{threads} threads: {:.0} GFLOP/s fp32 ({:.1} GFLOP/s per thread; checksum {check:.3})", flops / secs / 1e9, flops / secs / 1e9 / threads as f64);
    }
}
