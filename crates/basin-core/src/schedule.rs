//! Learning-rate schedules: constant, step decay at given epochs, cosine annealing with warm
//! restarts (SGDR, Loshchilov & Hutter 2017, used by S-SGD's SGDR/S-SGDR runs), linear warm-up,
//! and the large-batch scaling rules (linear: Goyal et al. 2017; square root: Hoffer et al. 2017,
//! as in SmoothOut Table 2).

use crate::error::BasinError;
use serde::{Deserialize, Serialize};

/// `[schedule]` of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// `constant`, `step` or `cosine` (with warm restarts).
    pub kind: String,
    /// `step`: epochs at which the rate is multiplied by `gamma`.
    pub milestones: Vec<usize>,
    /// `step`: the decay factor.
    pub gamma: f64,
    /// `cosine`: length in epochs of the first cycle (T₀).
    pub t0: f64,
    /// `cosine`: factor by which each cycle is longer than the last (T_mult).
    pub t_mult: f64,
    /// `cosine`: the rate at the end of each cycle (η_min).
    pub eta_min: f64,
    /// Epochs of linear warm-up from 0 to the base rate (may be fractional).
    pub warmup_epochs: f64,
    /// Large-batch scaling of the base rate: `none`, `linear` or `sqrt` in batch/base_batch.
    pub lr_scaling: String,
    /// The batch size the base rate was tuned for.
    pub base_batch: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            kind: "constant".into(),
            milestones: vec![],
            gamma: 0.1,
            t0: 10.0,
            t_mult: 2.0,
            eta_min: 0.0,
            warmup_epochs: 0.0,
            lr_scaling: "none".into(),
            base_batch: 128,
        }
    }
}

impl ScheduleConfig {
    /// Checks every field; errors name the key.
    pub fn validate(&self) -> Result<(), BasinError> {
        if !["constant", "step", "cosine"].contains(&self.kind.as_str()) {
            return Err(BasinError::config("schedule.kind", format!("unknown schedule '{}' (constant, step, cosine)", self.kind)));
        }
        if !["none", "linear", "sqrt"].contains(&self.lr_scaling.as_str()) {
            return Err(BasinError::config("schedule.lr_scaling", format!("unknown rule '{}' (none, linear, sqrt)", self.lr_scaling)));
        }
        if !(self.gamma > 0.0 && self.gamma.is_finite()) {
            return Err(BasinError::config("schedule.gamma", "must be positive and finite"));
        }
        if !(self.t0 > 0.0 && self.t0.is_finite()) {
            return Err(BasinError::config("schedule.t0", "must be positive and finite"));
        }
        if !(self.t_mult >= 1.0 && self.t_mult.is_finite()) {
            return Err(BasinError::config("schedule.t_mult", "must be ≥ 1 and finite"));
        }
        if !(self.warmup_epochs >= 0.0 && self.warmup_epochs.is_finite()) {
            return Err(BasinError::config("schedule.warmup_epochs", "must be ≥ 0 and finite"));
        }
        if !(self.eta_min >= 0.0 && self.eta_min.is_finite()) {
            // a negative floor turns the end of every cosine cycle into gradient ascent
            return Err(BasinError::config("schedule.eta_min", "must be ≥ 0 and finite"));
        }
        if self.base_batch == 0 {
            return Err(BasinError::config("schedule.base_batch", "must be ≥ 1"));
        }
        Ok(())
    }

    /// The keys this schedule's `kind` and `lr_scaling` never read, each with why. Set away from
    /// its default, such a key is an error ([`Self::check_used`]); named by `--set`, it is one
    /// at any value (`basin train`).
    pub fn unread(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.kind != "step" {
            let why = format!("schedule.kind is \"{}\", not \"step\"", self.kind);
            out.extend(["schedule.milestones", "schedule.gamma"].map(|k| (k, why.clone())));
        }
        if self.kind != "cosine" {
            let why = format!("schedule.kind is \"{}\", not \"cosine\"", self.kind);
            out.extend(["schedule.t0", "schedule.t_mult", "schedule.eta_min"].map(|k| (k, why.clone())));
        }
        if self.lr_scaling == "none" {
            out.push(("schedule.base_batch", "schedule.lr_scaling is \"none\"".into()));
        }
        out
    }

    /// An error naming a key this schedule would not read that is set away from its default:
    /// the top-level `[schedule]` and each phase's own.
    pub fn check_used(&self) -> Result<(), BasinError> {
        let at = |s: &ScheduleConfig| serde_json::json!({ "schedule": s });
        crate::train::config::first_set(&self.unread(), &at(self), &at(&ScheduleConfig::default()))
    }

    /// The base rate after the batch-size scaling rule.
    pub fn scaled_lr(&self, lr: f64, batch: usize) -> f64 {
        let k = batch as f64 / self.base_batch as f64;
        match self.lr_scaling.as_str() {
            "linear" => lr * k,
            "sqrt" => lr * k.sqrt(),
            _ => lr,
        }
    }

    /// The rate at fractional epoch `t` (epochs since the start of the phase) for base rate `lr`.
    pub fn lr_at(&self, lr: f64, t: f64) -> f64 {
        let body = match self.kind.as_str() {
            "step" => lr * self.gamma.powi(self.milestones.iter().filter(|&&m| t >= m as f64).count() as i32),
            "cosine" => {
                let (start, len) = cosine_cycle(t, self.t0, self.t_mult);
                let frac = (t - start) / len;
                self.eta_min + (lr - self.eta_min) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
            _ => lr,
        };
        if self.warmup_epochs > 0.0 && t < self.warmup_epochs {
            body * (t / self.warmup_epochs).max(0.0)
        } else {
            body
        }
    }
}

/// The cycle (start, length) containing epoch `t` among cycles of length t0, t0·m, t0·m², …,
/// in closed form: cycle k starts at t0·(mᵏ − 1)/(m − 1) (k·t0 for m = 1). A loop over the
/// cycles would take t/t0 iterations, forever for t0 = 1e-20.
fn cosine_cycle(t: f64, t0: f64, m: f64) -> (f64, f64) {
    let at = |k: f64| if m == 1.0 { (k * t0, t0) } else { (t0 * (m.powf(k) - 1.0) / (m - 1.0), t0 * m.powf(k)) };
    let k = if m == 1.0 { (t / t0).floor() } else { ((1.0 + t * (m - 1.0) / t0).ln() / m.ln()).floor() };
    let k = k.max(0.0);
    let (s, l) = at(k);
    // rounding at a cycle boundary moves k by at most one
    if t < s && k > 0.0 {
        at(k - 1.0)
    } else if t >= s + l {
        at(k + 1.0)
    } else {
        (s, l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_multiplies_at_milestones() {
        let s = ScheduleConfig { kind: "step".into(), milestones: vec![2, 4], gamma: 0.1, ..Default::default() };
        assert_eq!(s.lr_at(1.0, 1.99), 1.0);
        assert!((s.lr_at(1.0, 2.0) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(1.0, 4.5) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn cosine_restarts_follow_sgdr() {
        let s = ScheduleConfig { kind: "cosine".into(), t0: 10.0, t_mult: 2.0, eta_min: 0.0, ..Default::default() };
        assert!((s.lr_at(1.0, 0.0) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(1.0, 5.0) - 0.5).abs() < 1e-12);
        // restart at 10, second cycle of 20 epochs: halfway at 20
        assert!((s.lr_at(1.0, 10.0) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(1.0, 20.0) - 0.5).abs() < 1e-12);
        assert!((s.lr_at(1.0, 30.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cosine_cycle_in_closed_form_matches_walking_the_cycles() {
        for &(t0, m) in &[(10.0, 2.0), (3.0, 1.0), (0.7, 1.5), (1.0, 3.0)] {
            for i in 0..2000 {
                let t = i as f64 * 0.037;
                let (mut start, mut len) = (0.0, t0);
                while t >= start + len {
                    start += len;
                    len *= m;
                }
                let (s, l) = cosine_cycle(t, t0, m);
                assert!((s - start).abs() < 1e-9 && (l - len).abs() < 1e-9, "t0 {t0} m {m} t {t}: ({s}, {l}) vs ({start}, {len})");
            }
        }
        // issue 13: t0 = 1e-20 used to loop ~1e20 times
        let s = ScheduleConfig { kind: "cosine".into(), t0: 1e-20, t_mult: 1.0, ..Default::default() };
        assert!(s.lr_at(1.0, 3.5).is_finite());
    }

    #[test]
    fn non_finite_values_are_rejected_naming_the_key() {
        for (key, s) in [
            ("schedule.warmup_epochs", ScheduleConfig { warmup_epochs: f64::INFINITY, ..Default::default() }),
            ("schedule.eta_min", ScheduleConfig { eta_min: f64::NAN, ..Default::default() }),
            ("schedule.gamma", ScheduleConfig { gamma: f64::INFINITY, ..Default::default() }),
            ("schedule.t0", ScheduleConfig { t0: f64::INFINITY, ..Default::default() }),
        ] {
            let e = s.validate().unwrap_err().to_string();
            assert!(e.starts_with(key), "{e}");
        }
    }

    #[test]
    fn warmup_and_scaling() {
        let s = ScheduleConfig { warmup_epochs: 2.0, lr_scaling: "sqrt".into(), base_batch: 100, ..Default::default() };
        assert!((s.lr_at(1.0, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(s.lr_at(1.0, 3.0), 1.0);
        assert!((s.scaled_lr(0.1, 400) - 0.2).abs() < 1e-12);
        let l = ScheduleConfig { lr_scaling: "linear".into(), base_batch: 100, ..Default::default() };
        assert!((l.scaled_lr(0.1, 400) - 0.4).abs() < 1e-12);
    }
}
