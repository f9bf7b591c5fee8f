//! SGD, with momentum, Nesterov momentum and L2 weight decay: Burn's own rule
//! ([`burn::optim::Sgd`]), each parameter's update done in one parallel pass on the CPU backend.
//!
//! Burn's step is a chain of tensor ops: weight decay `g ← λw + g`, momentum
//! `v ← (1 − d)g + μv`, Nesterov `g ← μv + g` (else `g ← v`), then `w ← w − η g`, each a pass
//! over memory with a fresh buffer, and on the CPU backend single-threaded. On ne-f1's 1.9 M
//! weights at batch 128 the two passes of plain SGD were 8 % of a training step (perf, Ice
//! Lake); momentum's five are a larger share, and at batch 32 the largest single cost after
//! the matrix products. [`Sgd`] reads w, g and v once and writes w and v once, in parallel
//! chunks, with the same IEEE operations in the same order per element, so the trained weights
//! are the same bits as with Burn's optimizer (a test checks this step by step).
//!
//! Its state is saved under the same names as Burn's `SgdState` (`momentum.velocity`), so a
//! checkpoint written by either resumes in the other.

use crate::fused::{CHUNK, flex_f32, tensor, values, vectorized};
use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource, join_path};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Heavy-ball momentum of [`Sgd`] (Burn's `MomentumConfig`): `v ← (1 − d)g + μv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Momentum {
    /// μ.
    pub momentum: f32,
    /// 1 − d, the gradient's weight (d the dampening), rounded to f32 as Burn's `mul_scalar`
    /// rounds it.
    pub keep: f32,
    /// Nesterov's form: the step is `μv + g` instead of `v`.
    pub nesterov: bool,
}

/// SGD with optional momentum and L2 weight decay (the penalty λ added to the gradient as λw,
/// before momentum, as Burn does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Momentum, `None` for plain SGD.
    pub momentum: Option<Momentum>,
    /// λ, `None` for none.
    pub weight_decay: Option<f32>,
}

/// A parameter's state: its velocity under momentum (absent before the first step and
/// without momentum).
#[derive(Clone)]
pub struct SgdState<const D: usize> {
    /// v.
    pub velocity: Option<Tensor<D>>,
}

/// The key Burn's `SgdState { momentum: Some(MomentumState { velocity }) }` is saved under.
const MOMENTUM: &str = "momentum";
const VELOCITY: &str = "velocity";

impl<const D: usize> RecordState for SgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        if let Some(v) = &self.velocity {
            out.push_tensor(&join_path(prefix, MOMENTUM), VELOCITY, v.clone().into_data());
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let velocity = src.take_tensor(&join_path(prefix, MOMENTUM), VELOCITY).map(|d| Tensor::from_data(d, device));
        Some(SgdState { velocity })
    }
}

impl Sgd {
    /// One parameter's new (w, v) from w, g and v, per element: the whole rule, written once
    /// for both the fused pass and the check against Burn's tensor ops.
    #[inline(always)]
    fn rule(&self, lr: f32, w: f32, g: f32, v: Option<f32>) -> (f32, f32) {
        let mut g = match self.weight_decay {
            Some(penalty) => w * penalty + g,
            None => g,
        };
        let mut vel = 0.0;
        if let Some(m) = self.momentum {
            vel = match v {
                Some(v) => g * m.keep + v * m.momentum,
                None => g,
            };
            g = if m.nesterov { vel * m.momentum + g } else { vel };
        }
        (w - g * lr, vel)
    }

    /// The step in one parallel pass over contiguous f32 tensors on the CPU backend, or `None`
    /// elsewhere.
    fn fused<const D: usize>(&self, lr: f32, w: &Tensor<D>, g: &Tensor<D>, v: Option<&Tensor<D>>) -> Option<(Tensor<D>, Option<Tensor<D>>)> {
        let flat = |t: &Tensor<D>| t.clone().reshape([t.shape().num_elements()]);
        let (fw, fg) = (flex_f32(&flat(w))?, flex_f32(&flat(g))?);
        let fv = match v {
            Some(v) => Some(flex_f32(&flat(v))?),
            None => None,
        };
        let (ws, gs, vs) = (values(&fw), values(&fg), fv.as_ref().map(values));
        let n = ws.len();
        assert!(gs.len() == n && vs.is_none_or(|v| v.len() == n), "sgd: parameter, gradient and velocity differ in size");
        let this = *self;
        // w and v of chunk c: one loop per case, each free of per-element branches (the rule's
        // are on values fixed for the loop, which the compiler hoists), on copies held in
        // registers, so that each loop vectorizes.
        let chunk = move |c: usize, wo: &mut [MaybeUninit<f32>], vo: Option<&mut [MaybeUninit<f32>]>| {
            let s = c * CHUNK;
            let (ws, gs) = (&ws[s..s + wo.len()], &gs[s..s + wo.len()]);
            vectorized(
                #[inline(always)]
                move || match (vo, vs) {
                    (Some(vo), Some(vs)) => {
                        let vs = &vs[s..s + wo.len()];
                        for i in 0..wo.len() {
                            let (w, v) = this.rule(lr, ws[i], gs[i], Some(vs[i]));
                            wo[i].write(w);
                            vo[i].write(v);
                        }
                    }
                    (Some(vo), None) => {
                        for i in 0..wo.len() {
                            let (w, v) = this.rule(lr, ws[i], gs[i], None);
                            wo[i].write(w);
                            vo[i].write(v);
                        }
                    }
                    (None, _) => {
                        for i in 0..wo.len() {
                            wo[i].write(this.rule(lr, ws[i], gs[i], None).0);
                        }
                    }
                },
            )
        };
        let (mut w_out, mut v_out) = (Vec::with_capacity(n), Vec::with_capacity(if self.momentum.is_some() { n } else { 0 }));
        let wu = &mut w_out.spare_capacity_mut()[..n];
        if self.momentum.is_some() {
            wu.par_chunks_mut(CHUNK).zip(v_out.spare_capacity_mut()[..n].par_chunks_mut(CHUNK)).enumerate().for_each(|(c, (wo, vo))| chunk(c, wo, Some(vo)));
        } else {
            wu.par_chunks_mut(CHUNK).enumerate().for_each(|(c, wo)| chunk(c, wo, None));
        }
        // SAFETY: the chunks cover the first n slots of each buffer in use, and every loop
        // above writes every slot of its chunk; f32 has no invalid bit patterns.
        unsafe {
            w_out.set_len(n);
            if self.momentum.is_some() {
                v_out.set_len(n);
            }
        }
        let device = w.device();
        let dims = w.shape();
        let velocity = self.momentum.map(|_| tensor(v_out, &device).reshape(dims.clone()));
        Some((tensor(w_out, &device).reshape(dims), velocity))
    }

    /// The step as Burn's tensor ops, in Burn's order (any backend).
    fn tensor_ops<const D: usize>(&self, lr: LearningRate, w: Tensor<D>, g: Tensor<D>, v: Option<Tensor<D>>) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut g = match self.weight_decay {
            Some(penalty) => w.clone().mul_scalar(penalty).add(g),
            None => g,
        };
        let mut velocity = None;
        if let Some(m) = self.momentum {
            let vel = match v {
                Some(v) => g.clone().mul_scalar(m.keep).add(v.mul_scalar(m.momentum)),
                None => g.clone(),
            };
            g = if m.nesterov { vel.clone().mul_scalar(m.momentum).add(g) } else { vel.clone() };
            velocity = Some(vel);
        }
        (w - g.mul_scalar(lr), velocity)
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(&self, lr: LearningRate, tensor: Tensor<D>, grad: Tensor<D>, state: Option<SgdState<D>>) -> (Tensor<D>, Option<SgdState<D>>) {
        let v = state.and_then(|s| s.velocity);
        let (w, velocity) = match self.fused(lr as f32, &tensor, &grad, v.as_ref()) {
            Some(out) => out,
            None => self.tensor_ops(lr, tensor, grad, v),
        };
        (w, Some(SgdState { velocity }))
    }

    fn to_device<const D: usize>(state: SgdState<D>, device: &Device) -> SgdState<D> {
        SgdState { velocity: state.velocity.map(|v| v.to_device(device)) }
    }
}
