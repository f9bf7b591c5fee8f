//! Progress bars (indicatif) for training: one bar over all steps with ETA, and a line per epoch.

use basin_core::train::Observer;
use basin_core::train::metrics::MetricRecord;
use indicatif::{ProgressBar, ProgressStyle};

/// Draws a step bar with ETA and prints each epoch's numbers above it.
pub struct Bars {
    bar: ProgressBar,
}

impl Bars {
    /// A bar over `total` steps, `done` already taken.
    pub fn new(total: u64, done: u64) -> Bars {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} epoch {prefix} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}")
                .expect("template parses")
                .progress_chars("=> "),
        );
        bar.set_position(done);
        Bars { bar }
    }
    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Bars {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, _steps: usize, _done: usize) {
        self.bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
    }
    fn step(&mut self, step: u64, loss: f64, lr: f64) {
        self.bar.set_position(step);
        self.bar.set_message(format!("loss {loss:.4} lr {lr:.3e}"));
    }
    fn epoch_end(&mut self, r: &MetricRecord) {
        let val = match (r.val_loss, r.val_accuracy) {
            (Some(l), a) => format!("  val loss {l:.4} acc {}", crate::output::percent(a)),
            _ => String::new(),
        };
        let line = format!(
            "epoch {:>3}  train loss {:.4}  test loss {:.4}  test acc {}{val}  ({:.1}s)",
            r.epoch,
            r.loss,
            r.test_loss.unwrap_or(f64::NAN),
            crate::output::percent(r.accuracy),
            r.elapsed
        );
        // indicatif draws nothing when stderr is not a terminal; the epoch lines still matter.
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}
