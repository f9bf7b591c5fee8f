//! Counter-based seeding: every random stream of a run (data order, noise of step t, extra
//! batches) is a pure function of (run seed, stream, index). Nothing random is carried from
//! step to step, so a run resumed from a checkpoint draws exactly what an uninterrupted run
//! draws, without serializing RNG state.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// Named streams, so that different uses of the same step index never share numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// The order of examples in an epoch.
    EpochOrder = 1,
    /// Data augmentation of a step.
    Augment = 2,
    /// The backend's global RNG (dropout) before a step.
    Backend = 3,
    /// An estimator's noise at a step.
    Estimator = 4,
    /// Extra batches (noise enhancement).
    ExtraBatch = 5,
    /// Model initialization.
    Init = 6,
    /// Augmentation of an extra batch (noise enhancement's B′).
    ExtraAugment = 7,
    /// The backend's generator before each pass of batch-norm recalibration.
    Recalibration = 8,
    /// The backend's generator for chunk c > 0 of an m-sharpness SAM step.
    ChunkMasks = 9,
    /// Hutch++'s (and Diag++'s) sketch vectors S.
    SketchProbe = 10,
    /// Hutch++'s residual probes G.
    ResidualProbe = 11,
    /// Diag++'s and Hutchinson's diagonal probes.
    DiagonalProbe = 12,
    /// Hutchinson's trace probes.
    TraceProbe = 13,
    /// The probes of the Frobenius norm.
    FrobeniusProbe = 14,
    /// The start vectors of SLQ.
    SlqProbe = 15,
    /// The start vectors of the power iteration.
    PowerStart = 16,
    /// The labels drawn by the Monte-Carlo Fisher.
    FisherLabels = 17,
    /// The backend's generator for the mini-batch gradients of alignment tracking.
    AlignmentBatches = 18,
    /// The Monte-Carlo noise of the PAC-Bayes σ searches (`basin measures`).
    PacBayesNoise = 19,
    /// The noise draws of average-case sharpness (`basin measures`).
    AverageSharpness = 20,
}

/// SplitMix64 finaliser over (seed, stream, index).
pub fn derive_seed(seed: u64, stream: Stream, index: u64) -> u64 {
    let mut z = seed
        ^ (stream as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
        ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A fresh generator for (seed, stream, index).
pub fn stream_rng(seed: u64, stream: Stream, index: u64) -> StdRng {
    StdRng::seed_from_u64(derive_seed(seed, stream, index))
}

/// Burn's backend RNG (parameter init, dropout masks) is global to the process. Seeding it and
/// drawing from it happen under this lock, so two runs in one process (parallel tests, a
/// sweep in threads) cannot interleave their draws and stay reproducible.
pub fn backend_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
