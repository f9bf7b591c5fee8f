//! Sharpness-aware minimization, the baseline users compare with: SAM (Foret et al., ICLR 2021)
//! takes the gradient at w + ε with ε = ρ · g/‖g‖; ASAM (Kwon et al., ICML 2021) uses the
//! adaptive ε = ρ · T_w² g / ‖T_w g‖ with T_w = |w| + η on weight matrices and kernels (1 on
//! biases and norm parameters, as in the authors' code).

use super::{Estimate, GradientEstimator, StepContext, grad_at, loss_and_grads, to_optimizer_grads};
use crate::task::LossModel;
use crate::paramvec::ParamVec;
use crate::running_stats;

/// `[estimator] name = "sam"` (Foret et al.; ρ = 0.05).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamConfig {
    /// Neighbourhood radius ρ.
    pub rho: f64,
}

impl Default for SamConfig {
    fn default() -> Self {
        SamConfig { rho: 0.05 }
    }
}

super::builders!(SamConfig { with_rho => rho: f64 });

impl SamConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.rho.is_finite() && self.rho > 0.0, "rho", "must be positive")
    }
    /// The estimator.
    pub fn init(&self) -> Sam {
        Sam::new(self.rho)
    }
}

/// `[estimator] name = "asam"` (Kwon et al.; T_w = |w| + η on weights).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsamConfig {
    /// Neighbourhood radius ρ (the ASAM paper uses 0.5 … 2).
    pub rho: f64,
    /// η added to |w| in T_w.
    pub eta: f64,
}

impl Default for AsamConfig {
    fn default() -> Self {
        AsamConfig { rho: 0.05, eta: 0.01 }
    }
}

super::builders!(AsamConfig { with_rho => rho: f64, with_eta => eta: f64 });

impl AsamConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.rho.is_finite() && self.rho > 0.0, "rho", "must be positive")?;
        super::config::check(self.eta.is_finite() && self.eta >= 0.0, "eta", "must be ≥ 0")
    }
    /// The estimator.
    pub fn init(&self) -> Sam {
        Sam::asam(self.rho, self.eta)
    }
}

/// SAM or ASAM.
#[derive(Debug, Clone)]
pub struct Sam {
    rho: f64,
    /// `Some(η)` for ASAM.
    adaptive: Option<f64>,
    /// The last step's weights and gradient, from which ε is computed again on request: the
    /// step itself never stores ε as a vector of its own.
    last: Option<(ParamVec, ParamVec)>,
}

impl Sam {
    /// SAM with radius ρ.
    pub fn new(rho: f64) -> Self {
        Sam { rho, adaptive: None, last: None }
    }
    /// ASAM with radius ρ and η.
    pub fn asam(rho: f64, eta: f64) -> Self {
        Sam { rho, adaptive: Some(eta), last: None }
    }
    /// The ascent step ε of the last step (for inspection and tests).
    pub fn last_epsilon(&self) -> Option<ParamVec> {
        self.last.as_ref().map(|(w, g)| ascent(w, g, self.rho, self.adaptive))
    }
}

/// The ascent step ε for gradient `g` at weights `w`.
pub fn ascent(w: &ParamVec, g: &ParamVec, rho: f64, adaptive: Option<f64>) -> ParamVec {
    let (d, f) = ascent_parts(w, g, rho, adaptive);
    d.scale(f)
}

/// ε as (direction, factor): (g, ρ/‖g‖) for SAM, (T_w² g, ρ/‖T_w g‖) for ASAM.
fn ascent_parts(w: &ParamVec, g: &ParamVec, rho: f64, adaptive: Option<f64>) -> (ParamVec, f64) {
    match adaptive {
        None => (g.clone(), rho / g.norm().max(1e-12)),
        Some(eta) => {
            let t = w.map(|s, p| if s.kind.is_weight() { p.abs().add_scalar(eta) } else { p.ones_like() });
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
    let weight = |s: &crate::paramvec::Slot| s.kind.is_weight();
    let mut sq = 0.0;
    for ((s, wp), gp) in w.slots.iter().zip(&w.parts).zip(&g.parts) {
        sq += if weight(s) { crate::fused::sum_sq_map2(wp, gp, |w, g| (w.abs() + eta32) * g)? } else { crate::fused::sum_sq_map2(wp, gp, |_, g| g)? };
    }
    let f = (rho / sq.sqrt().max(1e-12)) as f32;
    let parts = w
        .slots
        .iter()
        .zip(&w.parts)
        .zip(&g.parts)
        .map(|((s, wp), gp)| {
            if weight(s) {
                crate::fused::map2(wp, gp, |w, g| {
                    let t = w.abs() + eta32;
                    w + f * (t * g * t)
                })
            } else {
                crate::fused::map2(wp, gp, |w, g| w + f * g)
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(ParamVec { slots: w.slots.clone(), parts })
}

impl<M: LossModel> GradientEstimator<M> for Sam {
    fn name(&self) -> &'static str {
        if self.adaptive.is_some() { "asam" } else { "sam" }
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, _ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let (loss, grads) = loss_and_grads(&model, batch);
        let w = ParamVec::from_model(&model);
        let g0 = ParamVec::from_grads(&w, &grads);
        // w + ε in fused passes, without ε as a vector of its own
        let point = self.adaptive.and_then(|eta| asam_point(&w, &g0, self.rho, eta)).unwrap_or_else(|| {
            let (d, f) = ascent_parts(&w, &g0, self.rho, self.adaptive);
            ParamVec::lincomb(1.0, &w, f, &d)
        });
        let snap = running_stats::snapshot(&model);
        let (_, g) = grad_at(&model, &point, batch);
        running_stats::restore(&model, &snap);
        self.last = Some((w, g0));
        Estimate { model, loss, grads: to_optimizer_grads(&g) }
    }
}
