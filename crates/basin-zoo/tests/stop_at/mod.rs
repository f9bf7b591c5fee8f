//! An observer that interrupts a run as Ctrl-C does, for the resume tests.

use basin_core::train::Observer;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Sets the run's stop flag once `at` steps are done.
pub struct StopAt {
    /// The step after which the run stops.
    pub at: u64,
    /// The run's `TrainOptions::stop`.
    pub flag: Arc<AtomicBool>,
}

impl Observer for StopAt {
    fn step(&mut self, step: u64, _loss: f64, _lr: f64) {
        if step == self.at {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}
