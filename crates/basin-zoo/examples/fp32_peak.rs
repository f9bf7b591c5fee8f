//! This machine's fp32 peak, measured: every thread runs independent chains of fused
//! multiply-adds from registers, so the count is FMA throughput × clock, the figure
//! BENCHMARKS.md's "% of peak" divides by. One thread per core, as the benchmarks run.
//! It measures each vector width the CPU has: 512-bit (AVX-512F) and 256-bit (AVX2 + FMA), the
//! latter being the peak of an AVX2-only CPU and of basin's build without the `x86-v4` feature.
//!
//!     cargo run --release -p basin-zoo --example fp32_peak [-- THREADS]

use std::time::Instant;

/// FLOPs of `iters` rounds of 12 independent 16-lane FMAs (2 FLOPs per lane).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_512(iters: u64) -> f32 {
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

/// FLOPs of `iters` rounds of 12 independent 8-lane FMAs (2 FLOPs per lane).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_chains_256(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let (m, a) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    let mut acc = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, m, a);
        }
    }
    let mut lanes = [0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for v in acc {
        sum = _mm256_add_ps(sum, v);
    }
    // SAFETY: `lanes` holds the 8 floats the unaligned store writes.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

mod common;

/// Runs `chains` on every thread and prints the GFLOP/s of `lanes`-wide FMAs.
#[cfg(target_arch = "x86_64")]
fn measure(what: &str, threads: usize, lanes: f64, chains: fn(u64) -> f32) {
    let iters = 200_000_000u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads).map(|_| std::thread::spawn(move || chains(iters))).collect();
    let check: f32 = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    let secs = start.elapsed().as_secs_f64();
    let flops = threads as f64 * iters as f64 * 12.0 * lanes * 2.0;
    println!("{what}, {threads} threads: {:.0} GFLOP/s fp32 ({:.1} GFLOP/s per thread; checksum {check:.3})", flops / secs / 1e9, flops / secs / 1e9 / threads as f64);
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        let usage = "cargo run --release -p basin-zoo --example fp32_peak [-- THREADS]";
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.len() > 1 {
            common::usage_error(usage, "at most one argument, THREADS");
        }
        let threads: usize = match args.first() {
            Some(a) => a.parse().ok().filter(|&t| t >= 1).unwrap_or_else(|| common::usage_error(usage, &format!("THREADS: '{a}' is not a number ≥ 1"))),
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut measured = false;
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was detected.
            measure("AVX-512F (512-bit FMAs)", threads, 16.0, |n| unsafe { fma_chains_512(n) });
            measured = true;
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were detected.
            measure("AVX2 + FMA (256-bit FMAs)", threads, 8.0, |n| unsafe { fma_chains_256(n) });
            measured = true;
        }
        if !measured {
            eprintln!("fp32_peak: this CPU has neither AVX-512F nor AVX2 + FMA");
            std::process::exit(2);
        }
    }
}
