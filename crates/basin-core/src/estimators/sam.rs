//! Sharpness-aware minimization, the baseline users compare with: SAM (Foret et al., ICLR 2021)
//! takes the gradient at w + ε with ε = ρ · g/‖g‖; ASAM (Kwon et al., ICML 2021) uses the
//! adaptive ε = ρ · T_w² g / ‖T_w g‖ with T_w = |w| + η, as the authors' `asam.py` does, on
//! every parameter whose PyTorch name contains `weight`: weight matrices, kernels and the
//! scales of normalization layers (Burn's `gamma`), and 1 on biases and shifts (`beta`). The
//! defaults are the authors' (`asam.py`): ρ = 0.5, η = 0.01 for ASAM, ρ = 0.05 for SAM.
//!
//! Both passes of a step see the same dropout masks, and only the first updates batch-norm
//! running statistics.
//!
//! **m-sharpness** (Foret et al. §4, "m-sharpness"; `num_batch_splits` = B/m of Keras's
//! `SharpnessAwareMinimization`, which needs m to divide B): with `m > 0` the batch is cut into chunks of m examples (the
//! last one smaller when m does not divide B, by the same rule as `train.ghost_batch`:
//! [`super::ghost_chunks`]), each chunk j takes its own ascent step ε_j from its own gradient,
//! and the step's gradient is the size-weighted mean of the chunks' gradients at w + ε_j. The
//! paper finds smaller m generalizes better (its Fig. 3); m = 0 or m ≥ B is plain SAM/ASAM.
//! Each chunk is its own forward pass (its own batch-norm statistics), as on the authors' one
//! chunk per accelerator, with dropout masks of its own (the reference gives each replica its
//! own random key), the same in its two passes ([`StepContext::chunk_masks`]); the batch-norm
//! running statistics move once per step, from the first chunk's first pass, as for every
//! other method.

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::paramkind::ParamKind;
use crate::paramvec::{ParamVec, Slot};
use crate::running_stats;
use crate::task::LossModel;

/// `[estimator] name = "sam"` (Foret et al.; ρ = 0.05).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamConfig {
    /// Neighbourhood radius ρ.
    pub rho: f64,
    /// Examples per m-sharpness chunk, each with its own ε (0 = the whole batch).
    pub m: usize,
}

impl Default for SamConfig {
    fn default() -> Self {
        SamConfig { rho: 0.05, m: 0 }
    }
}

super::builders!(SamConfig { with_rho => rho: f64, with_m => m: usize });

impl SamConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.rho.is_finite() && self.rho > 0.0, "rho", "must be positive")
    }
    /// The estimator.
    pub fn init(&self) -> Sam {
        Sam::new(self.rho).with_m(self.m)
    }
}

/// `[estimator] name = "asam"` (Kwon et al.; T_w = |w| + η on weights and norm scales).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsamConfig {
    /// Neighbourhood radius ρ (the authors' default 0.5; the paper uses 0.5 … 2).
    pub rho: f64,
    /// η added to |w| in T_w.
    pub eta: f64,
    /// Examples per m-sharpness chunk, each with its own ε (0 = the whole batch).
    pub m: usize,
}

impl Default for AsamConfig {
    fn default() -> Self {
        AsamConfig { rho: 0.5, eta: 0.01, m: 0 }
    }
}

super::builders!(AsamConfig { with_rho => rho: f64, with_eta => eta: f64, with_m => m: usize });

impl AsamConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.rho.is_finite() && self.rho > 0.0, "rho", "must be positive")?;
        super::config::check(self.eta.is_finite() && self.eta >= 0.0, "eta", "must be ≥ 0")
    }
    /// The estimator.
    pub fn init(&self) -> Sam {
        Sam::asam(self.rho, self.eta).with_m(self.m)
    }
}

/// SAM or ASAM.
#[derive(Debug, Clone)]
pub struct Sam {
    rho: f64,
    /// `Some(η)` for ASAM.
    adaptive: Option<f64>,
    /// Examples per m-sharpness chunk (0 = the whole batch).
    m: usize,
    /// The last step's first gradient (of its first chunk under m-sharpness), from which ε is
    /// computed again on request (with the weights the step started from): the step itself
    /// never stores ε, and holds no buffer of the weights across the optimizer's step.
    last: Option<ParamVec>,
}

impl Sam {
    /// SAM with radius ρ.
    pub fn new(rho: f64) -> Self {
        Sam { rho, adaptive: None, m: 0, last: None }
    }
    /// ASAM with radius ρ and η.
    pub fn asam(rho: f64, eta: f64) -> Self {
        Sam { rho, adaptive: Some(eta), m: 0, last: None }
    }
    /// The same with m-sharpness chunks of `m` examples (0 = the whole batch).
    pub fn with_m(mut self, m: usize) -> Self {
        self.m = m;
        self
    }
    /// The ascent step ε of the last step, which started from weights `w` (for inspection and
    /// tests).
    pub fn last_epsilon(&self, w: &ParamVec) -> Option<ParamVec> {
        self.last.as_ref().map(|g| ascent(w, g, self.rho, self.adaptive))
    }
}

/// The ascent step ε for gradient `g` at weights `w`.
pub fn ascent(w: &ParamVec, g: &ParamVec, rho: f64, adaptive: Option<f64>) -> ParamVec {
    let (d, f) = ascent_parts(w, g, rho, adaptive);
    d.scale(f)
}

/// Whether T_w = |w| + η applies to a parameter: the authors' `'weight' in name`, i.e. weight
/// matrices, kernels and normalization scales (PyTorch's `bn.weight` is Burn's `gamma`).
pub fn scaled(s: &Slot) -> bool {
    s.kind.is_weight() || (s.kind == ParamKind::Norm && s.path.rsplit('.').next().is_some_and(|last| last == "gamma" || last.contains("weight")))
}

/// ε as (direction, factor): (g, ρ/‖g‖) for SAM, (T_w² g, ρ/‖T_w g‖) for ASAM.
fn ascent_parts(w: &ParamVec, g: &ParamVec, rho: f64, adaptive: Option<f64>) -> (ParamVec, f64) {
    match adaptive {
        None => (g.clone(), rho / g.norm().max(1e-12)),
        Some(eta) => {
            let t = w.map(|s, p| if scaled(s) { p.abs().add_scalar(eta) } else { p.ones_like() });
            let tg = t.mul(g);
            let f = rho / tg.norm().max(1e-12);
            (tg.mul(&t), f)
        }
    }
}

/// ASAM's point w + ρ T_w² g/‖T_w g‖ in two fused passes per layer (the norm, then the point)
/// instead of five; `None` off the CPU backend.
fn asam_point(w: &ParamVec, g: &ParamVec, rho: f64, eta: f64) -> Option<ParamVec> {
    let eta32 = eta as f32;
    let mut sq = 0.0;
    for ((s, wp), gp) in w.slots.iter().zip(&w.parts).zip(&g.parts) {
        sq += if scaled(s) { crate::fused::sum_sq_map2(wp, gp, move |w, g| (w.abs() + eta32) * g)? } else { crate::fused::sum_sq_map2(wp, gp, |_, g| g)? };
    }
    let f = (rho / sq.sqrt().max(1e-12)) as f32;
    let parts = w
        .slots
        .iter()
        .zip(&w.parts)
        .zip(&g.parts)
        .map(|((s, wp), gp)| {
            if scaled(s) {
                crate::fused::map2(wp, gp, move |w, g| {
                    let t = w.abs() + eta32;
                    w + f * (t * g * t)
                })
            } else {
                crate::fused::map2(wp, gp, move |w, g| w + f * g)
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ParamVec { slots: w.slots.clone(), parts })
}

impl<M: LossModel> GradientEstimator<M> for Sam {
    fn name(&self) -> &'static str {
        if self.adaptive.is_some() { "asam" } else { "sam" }
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        let chunks = super::ghost_chunks::<M>(batch, self.m);
        let n: usize = chunks.iter().map(M::batch_len).sum();
        let (mut loss, mut sum) = (0.0, None::<ParamVec>);
        self.last = None;
        // one statistics update per step: the first chunk's first pass (the policy of
        // running_stats); every later pass is undone
        let mut kept: Option<running_stats::RunningSnapshot> = None;
        for (c, chunk) in chunks.iter().enumerate() {
            let weight = M::batch_len(chunk) as f64 / n as f64;
            ctx.chunk_masks(&w.device(), c);
            let (l, g0) = ctx.grad(&model, &w, chunk, |_| None);
            // w + ε in fused passes, without ε as a vector of its own
            let point = self.adaptive.and_then(|eta| asam_point(&w, &g0, self.rho, eta)).unwrap_or_else(|| {
                let (d, f) = ascent_parts(&w, &g0, self.rho, self.adaptive);
                ParamVec::lincomb(1.0, &w, f, &d)
            });
            let snap = kept.get_or_insert_with(|| running_stats::snapshot(&model)).clone();
            ctx.chunk_masks(&w.device(), c);
            let (_, g) = ctx.grad(&model, &w, chunk, |_| Some(point.clone()));
            running_stats::restore(&model, &snap);
            loss += weight * l;
            sum = Some(super::add_weighted(sum, weight, g, chunks.len() == 1));
            self.last.get_or_insert(g0);
        }
        let g = sum.expect("a batch has at least one chunk");
        Estimate { model, loss, grads: to_optimizer_grads(&g) }
    }
}
