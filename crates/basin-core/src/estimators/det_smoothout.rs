//! Deterministic SmoothOut (SmoothOut workshop eq. 1, journal Fig. 1c): N noise vectors
//! θ₁ … θ_N drawn once; the gradient is the mean over the N perturbed copies w + θ_k on the same
//! batch, i.e. the gradient of the fixed N-sample average of the smoothed loss.

use super::config::NoiseKind;
use super::{Estimate, GradientEstimator, StepContext, grad_at, to_optimizer_grads};
use crate::batch::Batch;
use crate::model::Classifier;
use crate::paramkind::ParamFilter;
use crate::paramvec::ParamVec;
use crate::rng::{Stream, stream_rng};
use crate::running_stats;
use rand::RngExt;
use rand_distr::StandardNormal;

/// `[estimator] name = "det-smoothout"` (workshop eq. 1: the mean over N fixed noise vectors).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetSmoothOutConfig {
    /// Noise strength a.
    pub a: f64,
    /// Noise distribution: uniform | gaussian.
    pub noise: NoiseKind,
    /// Number of noise vectors N.
    pub copies: usize,
    /// Parameters that get noise: all | weights | conv | dense.
    pub params: ParamFilter,
}

impl Default for DetSmoothOutConfig {
    fn default() -> Self {
        DetSmoothOutConfig { a: 0.0375, noise: NoiseKind::Uniform, copies: 4, params: ParamFilter::All }
    }
}

super::builders!(DetSmoothOutConfig { with_a => a: f64, with_noise => noise: NoiseKind, with_copies => copies: usize, with_params => params: ParamFilter });

impl DetSmoothOutConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        super::config::check(self.a.is_finite() && self.a >= 0.0, "a", "must be a number ≥ 0")?;
        super::config::check(self.copies >= 1, "copies", "must be ≥ 1")
    }
    /// The estimator; its noise vectors come from the run's `seed`.
    pub fn init(&self, seed: u64) -> DetSmoothOut {
        DetSmoothOut::new(self.a, self.noise, self.copies, self.params, seed)
    }
}

/// Mean gradient over N fixed perturbations.
#[derive(Debug, Clone)]
pub struct DetSmoothOut {
    a: f64,
    noise: NoiseKind,
    copies: usize,
    params: ParamFilter,
    seed: u64,
    /// The N noise vectors (drawn at the first step from the run's seed alone, on the host, so
    /// that a resumed run draws the same ones).
    pub noises: Vec<ParamVec>,
}

impl DetSmoothOut {
    /// `copies` fixed noise vectors of strength `a`.
    pub fn new(a: f64, noise: NoiseKind, copies: usize, params: ParamFilter, seed: u64) -> Self {
        DetSmoothOut { a, noise, copies, params, seed, noises: Vec::new() }
    }

    fn draw(&self, w: &ParamVec) -> Vec<ParamVec> {
        let device = w.parts.first().map(|p| p.device()).unwrap_or_default();
        (0..self.copies)
            .map(|k| {
                let mut rng = stream_rng(self.seed, Stream::Estimator, u64::MAX - k as u64);
                let vals: Vec<f32> = (0..w.numel())
                    .map(|_| match self.noise {
                        NoiseKind::Uniform if self.a > 0.0 => rng.random_range(-self.a..self.a) as f32,
                        // a = 0: no noise (an empty range has nothing to sample)
                        NoiseKind::Uniform => 0.0,
                        NoiseKind::Gaussian => (self.a * rng.sample::<f64, _>(StandardNormal)) as f32,
                    })
                    .collect();
                w.from_host(&vals, &device).masked(|s| self.params.accepts(s.kind))
            })
            .collect()
    }
}

impl<M: Classifier> GradientEstimator<M> for DetSmoothOut {
    fn name(&self) -> &'static str {
        "det-smoothout"
    }
    fn estimate(&mut self, model: M, batch: &Batch, _ctx: &mut StepContext<'_>) -> Estimate<M> {
        let w = ParamVec::from_model(&model);
        if self.noises.is_empty() {
            self.noises = self.draw(&w);
        }
        let mut snap = None;
        let (mut loss, mut g): (f64, Option<ParamVec>) = (0.0, None);
        let n = self.noises.len() as f64;
        for (k, theta) in self.noises.iter().enumerate() {
            let (l, gk) = grad_at(&model, &w.add(theta), batch);
            if k == 0 {
                snap = Some(running_stats::snapshot(&model));
            }
            loss += l;
            // running sum, with the 1/N folded into the last fused pass
            let last = k + 1 == self.noises.len();
            g = Some(match g {
                None if last => gk.scale(1.0 / n),
                None => gk,
                Some(sum) => ParamVec::lincomb(if last { 1.0 / n } else { 1.0 }, &sum, if last { 1.0 / n } else { 1.0 }, &gk),
            });
        }
        if let Some(s) = snap {
            running_stats::restore(&model, &s);
        }
        let g = g.unwrap_or_else(|| w.zeros_like());
        Estimate { model, loss: loss / n, grads: to_optimizer_grads(&g) }
    }
}
