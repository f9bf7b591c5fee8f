//! Batch-norm running statistics across the extra forward passes of an estimator.
//!
//! Policy: **only the first forward pass of a step updates running statistics.** SmoothOut's
//! single pass (at w+θ) updates them as the reference implementation does; S-SGD's pass at w−n,
//! SAM's second pass at w+ε, noise enhancement's pass on B' and Deterministic SmoothOut's copies
//! 2..N leave them untouched, so a step moves the statistics once whatever the method (the fix
//! SAM ports are asked for). Running state is shared (`Arc`) between clones of a Burn module,
//! so the estimator snapshots it after the first pass and restores it after the others.
//! S-SGD, whose two passes are symmetric, keeps the mean of the two passes' updates instead.
//!
//! This works for any Burn module: pending updates are folded in through `Module::valid()`,
//! which syncs every `RunningState` it reaches, so a user's model needs no
//! `sync_running_stats` of its own.

use crate::task::LossModel;
use crate::paramkind::ParamKind;
use burn::module::{ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use std::collections::HashMap;

/// Saved values of every running statistic of a model.
#[derive(Debug, Clone, Default)]
pub struct RunningSnapshot {
    values: HashMap<ParamId, Tensor<1>>,
}

struct Restore<'a> {
    values: &'a HashMap<ParamId, Tensor<1>>,
}

impl ModuleMapper for Restore<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        match self.values.get(&param.id) {
            Some(v) => {
                let (id, old, mapper) = param.consume();
                let shape: [usize; D] = old.dims();
                Param::from_mapped_value(id, v.clone().reshape(shape), mapper)
            }
            None => param,
        }
    }
}

/// Folds every pending running-statistics update of `model` into its stored values: Burn's
/// `RunningState` keeps a thread's latest update aside until the next one, and
/// `Module::valid()` syncs every running state it reaches, for any module.
pub fn sync<M: burn::module::Module>(model: &M) {
    let _ = model.valid();
}

/// The running statistics of `model` now (pending updates folded in first).
pub fn snapshot<M: LossModel>(model: &M) -> RunningSnapshot {
    sync(model);
    let mut values = HashMap::new();
    crate::params::for_each_float(model, |path, id, t, shape| {
        if ParamKind::classify(path, &shape) == ParamKind::State {
            values.insert(id, t);
        }
    });
    RunningSnapshot { values }
}

/// Puts `snap` back into `model`'s (shared) running statistics, discarding updates since.
pub fn restore<M: LossModel>(model: &M, snap: &RunningSnapshot) {
    if snap.values.is_empty() {
        return;
    }
    sync(model);
    let _ = model.clone().map(&mut Restore { values: &snap.values });
}

impl RunningSnapshot {
    /// True when the model has no running statistics.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    /// The mean of two snapshots of the same model, statistic by statistic.
    pub fn midpoint(&self, other: &RunningSnapshot) -> RunningSnapshot {
        let values = self.values.iter().map(|(id, a)| (*id, other.values.get(id).map_or_else(|| a.clone(), |b| (a.clone() + b.clone()).mul_scalar(0.5)))).collect();
        RunningSnapshot { values }
    }
}

impl RunningSnapshot {
    /// Every statistic of this snapshot set to `value`.
    fn filled(&self, value: f32) -> RunningSnapshot {
        RunningSnapshot { values: self.values.iter().map(|(id, t)| (*id, t.ones_like().mul_scalar(value))).collect() }
    }
    /// The values on the host, by id.
    fn host(&self) -> HashMap<ParamId, Vec<f64>> {
        self.values.iter().map(|(id, t)| (*id, t.to_data().convert::<f64>().try_to_vec::<f64>().expect("float data"))).collect()
    }
}

/// The backend seed of every forward pass of batch `i` in [`recalibrate`] for a run seeded
/// `seed`: both passes of the first batch draw the same dropout masks (and ReluSmoothOut
/// noise), so differencing them isolates the momentum.
pub fn recalibration_seed(seed: u64, i: usize) -> u64 {
    crate::rng::derive_seed(seed, crate::rng::Stream::Recalibration, i as u64)
}

/// Batch-norm recalibration (Izmailov et al. 2018 §3.2; PyTorch's `swa_utils.update_bn` with
/// `momentum = None`): sets every running statistic of `model` to the equal-weight mean, over
/// `batches` batches (`batch(i)`, i = 0..batches), of the statistic each batch gives, by
/// forward passes of `model.loss` in training mode (`model` on an autodiff device).
///
/// Works for any module whose running statistic r is updated from a batch's statistic s as
/// r ← (1 − μ)·r + μ·s, without knowing μ: the first batch is run from r = 1 and from r = 0,
/// which gives μ = 1 − (r₁ − r₀) element by element and s = r₀/μ; every later batch from
/// r = 0 gives s = r/μ. A statistic no pass moves (μ = 0) keeps its value. The model's
/// statistics are shared with its clones, which see the new values too.
///
/// The differencing needs both passes of the first batch to compute the same function: a
/// dropout layer before a batch norm (keskar-c1's dense → BN → ReLU → dropout → dense → BN)
/// would otherwise give the two passes different masks, μ̂ = μ(1 − Δs), and every
/// recalibrated statistic of that layer scaled by 1/(1 − Δs) (negative variances, NaN
/// evaluations). So the backend generator of `device` is seeded with
/// [`recalibration_seed`]`(seed, i)` before every pass of batch `i`, under
/// [`crate::rng::backend_lock`] (the caller must not hold it). A statistic that comes out
/// non-finite is an error naming it; nothing is changed then.
pub fn recalibrate<M: LossModel>(model: &M, batches: usize, device: &burn::tensor::Device, seed: u64, mut batch: impl FnMut(usize) -> M::Batch) -> Result<(), crate::error::BasinError> {
    let base = snapshot(model);
    if base.is_empty() || batches == 0 {
        return Ok(());
    }
    let _rng = crate::rng::backend_lock();
    let (zero, one) = (base.filled(0.0), base.filled(1.0));
    let run = |from: &RunningSnapshot, b: &M::Batch, i: usize| {
        restore(model, from);
        device.seed(recalibration_seed(seed, i));
        let _ = model.loss(b);
        snapshot(model).host()
    };
    let first = batch(0);
    let from_one = run(&one, &first, 0);
    let from_zero = run(&zero, &first, 0);
    drop(first);
    let mu: HashMap<ParamId, Vec<f64>> = from_zero.iter().map(|(id, r0)| (*id, r0.iter().zip(&from_one[id]).map(|(a, b)| 1.0 - (b - a)).collect())).collect();
    let moved = |m: f64| m.abs() > 1e-6;
    // Σ over the batches of each batch's statistic s = r/μ (r run from 0)
    let mut sum: HashMap<ParamId, Vec<f64>> = mu.iter().map(|(id, m)| (*id, vec![0.0; m.len()])).collect();
    let mut add = |from_zero: HashMap<ParamId, Vec<f64>>| {
        for (id, r) in from_zero {
            for ((s, r), &m) in sum.get_mut(&id).expect("same statistics").iter_mut().zip(&r).zip(&mu[&id]) {
                if moved(m) {
                    *s += r / m;
                }
            }
        }
    };
    add(from_zero);
    for i in 1..batches {
        add(run(&zero, &batch(i), i));
    }
    let base_host = base.host();
    let mut values = HashMap::new();
    for (id, t) in &base.values {
        let mean: Vec<f32> = sum[id].iter().zip(&mu[id]).zip(&base_host[id]).map(|((s, &m), &b)| if moved(m) { (s / batches as f64) as f32 } else { b as f32 }).collect();
        if let Some(bad) = mean.iter().find(|v| !v.is_finite()) {
            restore(model, &base);
            let path = crate::params::collect(model).into_iter().find(|e| e.id == *id).map_or_else(|| "a running statistic".to_string(), |e| e.path);
            return Err(crate::error::BasinError::config("average.recalibrate_bn", format!("recalibrating batch norm gave {bad} in {path}: the training batches give a non-finite statistic")));
        }
        values.insert(*id, Tensor::<1>::from_floats(&mean[..], &t.device()));
    }
    restore(model, &RunningSnapshot { values });
    Ok(())
}
