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
