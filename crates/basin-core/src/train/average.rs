//! `[average]`: a second, averaged model kept beside the trained one — stochastic weight
//! averaging (SWA; Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
//! Generalization", UAI 2018) or an exponential moving average (EMA) of the weights.
//!
//! The average is taken at the end of units (epochs or steps, `average.unit`; by default epochs
//! for SWA, as the paper averages once per epoch, and optimizer steps for EMA, as PyTorch's
//! `get_ema_multi_avg_fn` is used and as every EMA user expects)
//! k = start + every, start + 2·every, …:
//! - SWA: w̄ ← n/(n + 1)·w̄ + 1/(n + 1)·w, the equal-weight mean of the n + 1 weights seen
//!   (`torch.optim.swa_utils.AveragedModel`'s default, w̄ + (w − w̄)/(n + 1), in one pass);
//! - EMA: w̄ ← β·w̄ + (1 − β)·w, starting from w̄ = w at the first update.
//!
//! SWA also sets the learning rate after the first `start` units (the SWA phase), as the
//! paper's §3.1 does: `constant` holds α₂ = `average.lr`; `cyclic` runs each cycle of `every`
//! units linearly from α₁ = `average.lr_max` down to α₂, α(i) = (1 − t(i))·α₁ + t(i)·α₂ with
//! t(i) = (((i − 1) mod c) + 1)/c over the c steps of a cycle, so the weights are averaged at
//! the low end of every cycle. With `average.lr = 0` the run's own schedule goes on. The
//! switch to α₂ is a jump, as the paper's schedule; `average.anneal = A` instead moves from the
//! run's own rate to α₂ over the first A units of the phase, as PyTorch's `SWALR` does (its
//! default: 10 epochs, cosine): α = a(t)·α₂ + (1 − a(t))·α_own with t = min(1, i/(A units))
//! at the phase's i-th step and a(t) = (1 − cos πt)/2 (`anneal_strategy = "cos"`) or t
//! (`"linear"`).
//!
//! Only trainable parameters are averaged. Batch-norm running statistics of the averaged
//! weights are recomputed before the averaged model is evaluated or saved (paper §3.2,
//! PyTorch's `update_bn`): one pass over the training set in training mode, the statistics
//! averaged over the passes' batches with equal weights ([`crate::running_stats::recalibrate`]).
//!
//! [`Averaging`] is a [`Callback`]: it sees every step and epoch of any estimator and
//! optimizer, its average and count are in every checkpoint (a resumed run ends with the
//! same bits), and at the end it writes `model-swa.bpk` (or `model-ema.bpk`) into the run
//! folder and the averaged model's evaluation into summary.json.

use super::callbacks::{Callback, EndInfo, StepInfo};
use super::metrics::{MetricRecord, MetricsLog};
use super::trainer::Summary;
use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// The `[average]` section: which average, when, and SWA's learning rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AverageConfig {
    /// "none", "swa" or "ema".
    pub method: String,
    /// Unit of `start` and `every`: "epoch" or "step"; empty (the default) is the method's
    /// own, "epoch" for SWA and "step" for EMA (see [`AverageConfig::unit`]).
    pub unit: String,
    /// Units before averaging starts (SWA: the start of the SWA phase and its schedule).
    pub start: usize,
    /// Average every this many units after `start` (SWA's cycle length).
    pub every: usize,
    /// SWA: the learning rate α₂ of the SWA phase (0 = the run's own schedule goes on).
    pub lr: f64,
    /// SWA: "constant" (α₂ throughout) or "cyclic" (α₁ → α₂ over each cycle).
    pub schedule: String,
    /// SWA, cyclic: the rate α₁ at the start of each cycle.
    pub lr_max: f64,
    /// SWA, constant: units over which the rate moves from the run's own to `lr` (PyTorch's
    /// `SWALR` `anneal_epochs`); 0 = a jump at `start`.
    pub anneal: usize,
    /// SWA with `anneal`: "cos" (PyTorch's default) or "linear".
    pub anneal_strategy: String,
    /// EMA: the decay β.
    pub beta: f64,
    /// Recompute the averaged model's batch-norm running statistics before it is evaluated
    /// and saved (off: it keeps the trained model's statistics).
    pub recalibrate_bn: bool,
}

impl Default for AverageConfig {
    fn default() -> Self {
        AverageConfig { method: "none".into(), unit: String::new(), start: 0, every: 1, lr: 0.0, schedule: "constant".into(), lr_max: 0.0, anneal: 0, anneal_strategy: "cos".into(), beta: 0.999, recalibrate_bn: true }
    }
}

impl AverageConfig {
    /// The unit in force: `average.unit` when set, else the method's own ("step" for EMA,
    /// "epoch" otherwise).
    pub fn unit(&self) -> &str {
        match self.unit.as_str() {
            "" if self.method == "ema" => "step",
            "" => "epoch",
            u => u,
        }
    }

    /// True when a model is averaged.
    pub fn enabled(&self) -> bool {
        self.method != "none"
    }

    /// Checks every key, and that no key is set that the chosen method does not read.
    pub fn validate(&self) -> Result<(), BasinError> {
        let d = AverageConfig::default();
        let unused = |key: &str, why: &str| Err(BasinError::config(key, format!("is set but not used: {why}")));
        match self.method.as_str() {
            "none" => {
                // run folders of releases before 2026-12-04 wrote the then default unit "epoch"
                let written_default = AverageConfig { unit: String::new(), ..self.clone() };
                if *self != d && !(self.unit == "epoch" && written_default == d) {
                    return unused(self.first_set_key(), "average.method is \"none\" (set \"swa\" or \"ema\" to average)");
                }
                return Ok(());
            }
            "swa" | "ema" => {}
            other => return Err(BasinError::config("average.method", format!("unknown method {other:?} (none, swa, ema)"))),
        }
        if !matches!(self.unit.as_str(), "" | "epoch" | "step") {
            return Err(BasinError::config("average.unit", format!("{:?} is not \"epoch\" or \"step\"", self.unit)));
        }
        if self.every == 0 {
            return Err(BasinError::config("average.every", "must be ≥ 1"));
        }
        if self.method == "ema" {
            if !(self.beta > 0.0 && self.beta < 1.0) {
                return Err(BasinError::config("average.beta", "must be in (0, 1)"));
            }
            for (k, set) in [
                ("average.lr", self.lr != d.lr),
                ("average.schedule", self.schedule != d.schedule),
                ("average.lr_max", self.lr_max != d.lr_max),
                ("average.anneal", self.anneal != d.anneal),
                ("average.anneal_strategy", self.anneal_strategy != d.anneal_strategy),
            ] {
                if set {
                    return unused(k, "EMA does not change the learning rate (it is SWA's)");
                }
            }
            return Ok(());
        }
        if self.beta != d.beta {
            return unused("average.beta", "it is EMA's decay; average.method is \"swa\"");
        }
        if !(self.lr >= 0.0 && self.lr.is_finite()) {
            return Err(BasinError::config("average.lr", "must be a number ≥ 0"));
        }
        if !matches!(self.anneal_strategy.as_str(), "cos" | "linear") {
            return Err(BasinError::config("average.anneal_strategy", format!("{:?} is not \"cos\" or \"linear\"", self.anneal_strategy)));
        }
        if self.anneal == 0 && self.anneal_strategy != d.anneal_strategy {
            return unused("average.anneal_strategy", "average.anneal is 0 (the rate jumps to average.lr)");
        }
        if self.anneal > 0 && (self.lr == 0.0 || self.schedule != "constant") {
            return Err(BasinError::config("average.anneal", "anneals to a constant SWA rate: needs average.lr > 0 and average.schedule = \"constant\""));
        }
        match self.schedule.as_str() {
            "constant" if self.lr_max != d.lr_max => unused("average.lr_max", "average.schedule is \"constant\", not \"cyclic\""),
            "constant" => Ok(()),
            "cyclic" if !(self.lr > 0.0 && self.lr_max > self.lr && self.lr_max.is_finite()) => Err(BasinError::config("average.schedule", "\"cyclic\" needs average.lr_max > average.lr > 0")),
            "cyclic" => Ok(()),
            other => Err(BasinError::config("average.schedule", format!("{other:?} is not \"constant\" or \"cyclic\""))),
        }
    }

    /// The first key set away from its default (for the error of a section without a method).
    fn first_set_key(&self) -> &'static str {
        let d = AverageConfig::default();
        [
            ("average.unit", self.unit != d.unit),
            ("average.start", self.start != d.start),
            ("average.every", self.every != d.every),
            ("average.lr", self.lr != d.lr),
            ("average.schedule", self.schedule != d.schedule),
            ("average.lr_max", self.lr_max != d.lr_max),
            ("average.anneal", self.anneal != d.anneal),
            ("average.anneal_strategy", self.anneal_strategy != d.anneal_strategy),
            ("average.beta", self.beta != d.beta),
            ("average.recalibrate_bn", self.recalibrate_bn != d.recalibrate_bn),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map_or("average", |(k, _)| k)
    }

    /// Steps per unit for a run of `steps_per_epoch` steps per epoch.
    fn steps_per_unit(&self, steps_per_epoch: u64) -> u64 {
        if self.unit() == "step" { 1 } else { steps_per_epoch }
    }

    /// Whether the weights are averaged once `units` units are done.
    pub fn due(&self, units: u64) -> bool {
        let (start, every) = (self.start as u64, self.every as u64);
        units > start && (units - start).is_multiple_of(every)
    }

    /// The SWA learning rate of the step after `step` steps (0-based), when the SWA phase has
    /// begun and `average.lr` is set, given the run's own rate `own` at that step (what
    /// `average.anneal` starts from); `None`: the run's own schedule.
    pub fn swa_lr(&self, step: u64, steps_per_epoch: u64, own: f64) -> Option<f64> {
        if self.method != "swa" || self.lr == 0.0 {
            return None;
        }
        let spu = self.steps_per_unit(steps_per_epoch);
        let begin = self.start as u64 * spu;
        if step < begin {
            return None;
        }
        if self.schedule == "constant" && self.anneal > 0 {
            let t = ((step - begin + 1) as f64 / (self.anneal as u64 * spu).max(1) as f64).min(1.0);
            let a = if self.anneal_strategy == "linear" { t } else { 0.5 * (1.0 - (std::f64::consts::PI * t).cos()) };
            return Some(a * self.lr + (1.0 - a) * own);
        }
        if self.schedule == "constant" {
            return Some(self.lr);
        }
        let c = (self.every as u64 * spu).max(1);
        let i = step - begin + 1;
        let t = ((i - 1) % c + 1) as f64 / c as f64;
        Some((1.0 - t) * self.lr_max + t * self.lr)
    }

    /// The file stem of the averaged model: `model-swa` or `model-ema`.
    pub fn file_stem(&self) -> String {
        format!("model-{}", self.method)
    }

    /// An error naming `average.start` when a run of `epochs` epochs × `steps_per_epoch` steps
    /// would never average (the averaged model would be empty).
    pub fn validate_against(&self, epochs: usize, steps_per_epoch: u64) -> Result<(), BasinError> {
        if !self.enabled() {
            return Ok(());
        }
        let units = if self.unit() == "step" { epochs as u64 * steps_per_epoch } else { epochs as u64 };
        if units < (self.start + self.every) as u64 {
            return Err(BasinError::config("average.start", format!("{} + average.every = {} is past the run's end ({units} {}s): nothing would be averaged", self.start, self.every, self.unit())));
        }
        // EMA: after n updates the first snapshot keeps β^(n−1) of the weight
        let updates = (units - self.start as u64) / self.every as u64;
        let first = self.beta.powf(updates.saturating_sub(1) as f64);
        if self.method == "ema" && first > 0.5 {
            return Err(BasinError::config(
                "average.beta",
                format!(
                    "{} over this run's {updates} updates (one per {} {}) leaves {:.0} % of the average on the first snapshot: lower average.beta (below {:.4}) or average more often",
                    self.beta,
                    self.every,
                    self.unit(),
                    100.0 * first,
                    0.5f64.powf(1.0 / updates.saturating_sub(1).max(1) as f64)
                ),
            ));
        }
        Ok(())
    }
}

/// The averaged model's numbers in summary.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AveragedSummary {
    /// "swa" or "ema".
    pub method: String,
    /// How many weight vectors went into the average.
    pub averaged: u64,
    /// The file it was saved to (in the run folder, .bpk; the CLI adds .safetensors).
    pub file: String,
    /// Whether its batch-norm statistics were recomputed.
    pub recalibrated_bn: bool,
    /// Mean training loss over the whole training set, eval mode.
    pub train_loss: f64,
    /// Training accuracy.
    pub train_acc: Option<f64>,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_acc: Option<f64>,
    /// Validation accuracy, if a validation split exists.
    pub val_acc: Option<f64>,
}

/// The averaging callback of an `[average]` section.
pub struct Averaging {
    cfg: AverageConfig,
    avg: Option<ParamVec>,
    count: u64,
}

#[derive(Serialize, Deserialize)]
struct State {
    count: u64,
}

impl Averaging {
    /// A callback averaging as `cfg` says (`cfg.enabled()`).
    pub fn new(cfg: AverageConfig) -> Averaging {
        Averaging { cfg, avg: None, count: 0 }
    }

    /// Folds the current weights into the average.
    fn update<M: Classifier>(&mut self, model: &M) {
        let w = ParamVec::from_model(model);
        self.avg = Some(match self.avg.take() {
            None => w,
            Some(a) if self.cfg.method == "swa" => ParamVec::lincomb(self.count as f64 / (self.count + 1) as f64, &a, 1.0 / (self.count + 1) as f64, &w),
            Some(a) => ParamVec::lincomb(self.cfg.beta, &a, 1.0 - self.cfg.beta, &w),
        });
        self.count += 1;
    }

    /// The averaged weights so far (`None` before the first update).
    pub fn average(&self) -> Option<&ParamVec> {
        self.avg.as_ref()
    }
}

impl<M: Classifier> Callback<M> for Averaging {
    fn name(&self) -> &str {
        "average"
    }
    fn on_step(&mut self, model: &M, info: &StepInfo<'_>, _log: &mut MetricsLog) -> Result<(), BasinError> {
        if self.cfg.unit() == "step" && self.cfg.due(info.step) {
            self.update(model);
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, model: &M, record: &MetricRecord, _log: &mut MetricsLog) -> Result<(), BasinError> {
        if self.cfg.unit() == "epoch" && self.cfg.due(record.epoch as u64) {
            self.update(model);
        }
        Ok(())
    }
    fn state(&self) -> Option<serde_json::Value> {
        Some(serde_json::to_value(State { count: self.count }).expect("state serializes"))
    }
    fn load_state(&mut self, state: serde_json::Value) -> Result<(), BasinError> {
        let s: State = serde_json::from_value(state).map_err(|e| BasinError::config("average", format!("checkpointed state: {e}")))?;
        self.count = s.count;
        Ok(())
    }
    fn vectors(&self) -> Vec<ParamVec> {
        self.avg.iter().cloned().collect()
    }
    fn load_vectors(&mut self, mut v: Vec<ParamVec>) -> Result<(), BasinError> {
        self.avg = v.pop();
        if self.avg.is_none() != (self.count == 0) {
            return Err(BasinError::config("average", "the checkpoint's averaged weights do not match its count"));
        }
        Ok(())
    }
    /// Writes the averaged model (batch norm recalibrated) to `model-swa.bpk` / `model-ema.bpk`
    /// and its evaluation into the summary; the trained model's running statistics are put
    /// back afterwards (clones of a Burn module share them).
    fn on_train_end(&mut self, model: &M, end: &EndInfo<'_>, summary: &mut Summary) -> Result<(), BasinError> {
        let Some(avg) = &self.avg else {
            // the run ended (train.stop_at_loss) before the first average was taken: say so,
            // rather than leave a run configured for an average without one and no word
            eprintln!("average.method = \"{}\": the run ended before its first average (average.start = {}); no averaged model was written", self.cfg.method, self.cfg.start);
            return Ok(());
        };
        let trained_stats = crate::running_stats::snapshot(model);
        let averaged = avg.write_into(model.clone());
        let result = (|| {
            if self.cfg.recalibrate_bn {
                recalibrate_on(&averaged, end)?;
            }
            let eval = |set: &dyn crate::batch::ExampleSet| super::evaluate(&averaged, set, end.cfg.train.eval_batch_size, end.device);
            let (train, test) = (eval(end.sets.train), eval(end.sets.test));
            if let Some((what, v)) = [("training", train.loss), ("test", test.loss)].into_iter().find(|(_, v)| !v.is_finite()) {
                let cause = if self.cfg.recalibrate_bn { "its recalibrated batch-norm statistics or weights" } else { "its weights (or the trained model's batch-norm statistics it keeps)" };
                return Err(BasinError::config("average.method", format!("the averaged model's {what} loss is {v}: {cause} give non-finite outputs; no averaged model was written")));
            }
            let val = end.sets.val.map(eval);
            let file = format!("{}.bpk", self.cfg.file_stem());
            super::checkpoint::save_model_atomic(&averaged, &end.out.join(&file))?;
            summary.averaged = Some(AveragedSummary {
                method: self.cfg.method.clone(),
                averaged: self.count,
                file,
                recalibrated_bn: self.cfg.recalibrate_bn,
                train_loss: train.loss,
                train_acc: train.accuracy,
                test_loss: test.loss,
                test_acc: test.accuracy,
                val_acc: val.and_then(|v| v.accuracy),
            });
            Ok(())
        })();
        crate::running_stats::restore(model, &trained_stats);
        result
    }
}

/// Batch-norm recalibration of `model` (on the autodiff device: training mode) over the run's
/// training set: its examples in order, no augmentation, in batches of the size batch norm saw
/// during training (`train.ghost_batch` when set, else `train.batch_size`), the last partial
/// batch included and weighted as one batch, as PyTorch's `update_bn` takes every batch its
/// loader yields. Dropout masks are seeded per batch from the run's seed.
fn recalibrate_on<M: Classifier>(model: &M, end: &EndInfo<'_>) -> Result<(), BasinError> {
    let t = &end.cfg.train;
    let size = if t.ghost_batch > 0 { t.ghost_batch.min(t.batch_size) } else { t.batch_size };
    let set = end.sets.train;
    let (n, batches) = (set.len(), set.len().div_ceil(size));
    let device = end.device.clone().autodiff();
    crate::running_stats::recalibrate(model, batches, &device, end.cfg.seed, |i| set.batch(&(i * size..((i + 1) * size).min(n)).collect::<Vec<_>>(), None, &device))
}

#[cfg(test)]
mod tests {
    use super::AverageConfig;

    #[test]
    fn the_annealed_rate_moves_from_the_run_s_rate_to_the_swa_rate_over_the_anneal_units() {
        // 3 steps per epoch, phase from step 6, anneal over 2 epochs = 6 steps, from 0.5 to 0.01
        for (strategy, a) in [("cos", (|t: f64| 0.5 * (1.0 - (std::f64::consts::PI * t).cos())) as fn(f64) -> f64), ("linear", |t| t)] {
            let c = AverageConfig { anneal: 2, anneal_strategy: strategy.into(), ..swa("constant") };
            c.validate().unwrap();
            assert_eq!(c.swa_lr(5, 3, 0.5), None);
            for i in 1..=8u64 {
                let t = (i as f64 / 6.0).min(1.0);
                let want = a(t) * 0.01 + (1.0 - a(t)) * 0.5;
                let got = c.swa_lr(5 + i, 3, 0.5).unwrap();
                assert!((got - want).abs() < 1e-12, "{strategy}, phase step {i}: {got} vs {want}");
            }
        }
        let err = AverageConfig { anneal: 2, ..swa("cyclic") }.validate().unwrap_err().to_string();
        assert!(err.starts_with("average.anneal:"), "{err}");
        let err = AverageConfig { anneal_strategy: "linear".into(), ..swa("constant") }.validate().unwrap_err().to_string();
        assert!(err.starts_with("average.anneal_strategy:"), "{err}");
    }

    #[test]
    fn a_config_written_with_the_old_default_unit_still_loads() {
        AverageConfig { unit: "epoch".into(), ..Default::default() }.validate().unwrap();
        assert!(AverageConfig { unit: "step".into(), ..Default::default() }.validate().is_err());
    }

    #[test]
    fn ema_averages_every_step_by_default_and_a_decay_that_keeps_the_first_snapshot_is_refused() {
        let ema = AverageConfig { method: "ema".into(), ..Default::default() };
        assert_eq!((ema.unit(), AverageConfig { method: "swa".into(), ..Default::default() }.unit()), ("step", "epoch"));
        // β = 0.999 over 200 epochs of 469 steps: 0.999^93,799 of the weight on the first
        ema.validate_against(200, 469).unwrap();
        // once per epoch (the old default), 200 updates leave 0.999^199 ≈ 82 % on epoch 1
        let per_epoch = AverageConfig { unit: "epoch".into(), ..ema.clone() };
        let err = per_epoch.validate_against(200, 469).unwrap_err().to_string();
        assert!(err.starts_with("average.beta:") && err.contains("82 %"), "{err}");
        // 693 step updates leave 0.999^692 ≈ 50.05 %: refused; 694 pass
        assert!(ema.validate_against(1, 693).is_err());
        ema.validate_against(1, 694).unwrap();
    }

    fn swa(schedule: &str) -> AverageConfig {
        AverageConfig { method: "swa".into(), start: 2, every: 2, lr: 0.01, schedule: schedule.into(), lr_max: if schedule == "cyclic" { 0.05 } else { 0.0 }, ..Default::default() }
    }

    #[test]
    fn the_cyclic_rate_falls_from_lr_max_to_lr_over_each_cycle_and_the_average_is_taken_at_its_end() {
        // 3 steps per epoch: the SWA phase starts at step 6; cycles of c = 6 steps,
        // α(i) = (1 − t)·0.05 + t·0.01 with t = ((i − 1) mod 6 + 1)/6
        let c = swa("cyclic");
        c.validate().unwrap();
        let rates: Vec<Option<f64>> = (5..=12).map(|s| c.swa_lr(s, 3, 0.5)).collect();
        let t = |i: u64| ((i - 1) % 6 + 1) as f64 / 6.0;
        let want: Vec<Option<f64>> = std::iter::once(None).chain((1..=7).map(|i| Some((1.0 - t(i)) * 0.05 + t(i) * 0.01))).collect();
        assert_eq!(rates, want);
        assert_eq!(c.swa_lr(11, 3, 0.5), Some(0.01), "the cycle's last step runs at α₂");
        // averaged after epochs 4, 6, 8…: the ends of the cycles
        assert_eq!((1..=8).filter(|&k| c.due(k)).collect::<Vec<_>>(), vec![4, 6, 8]);
        assert_eq!(swa("constant").swa_lr(6, 3, 0.5), Some(0.01));
        assert_eq!(swa("constant").swa_lr(5, 3, 0.5), None);
    }

    #[test]
    fn keys_the_method_does_not_read_are_errors_naming_them() {
        let err = |c: AverageConfig| c.validate().unwrap_err().to_string();
        assert!(err(AverageConfig { beta: 0.9, ..swa("constant") }).contains("average.beta"));
        assert!(err(AverageConfig { lr_max: 0.2, ..swa("constant") }).contains("average.lr_max"));
        assert!(err(AverageConfig { lr: 0.1, method: "ema".into(), ..Default::default() }).contains("average.lr"));
        assert!(err(AverageConfig { start: 3, ..Default::default() }).contains("average.start"));
        assert!(err(AverageConfig { lr_max: 0.001, ..swa("cyclic") }).contains("average.lr_max"));
        assert!(err(AverageConfig { method: "polyak".into(), ..Default::default() }).contains("average.method"));
        assert!(swa("constant").validate_against(4, 10).is_ok());
        assert!(swa("constant").validate_against(3, 10).unwrap_err().to_string().contains("average.start"));
    }
}
