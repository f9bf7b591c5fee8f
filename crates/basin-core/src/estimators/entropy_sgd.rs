//! Entropy-SGD (Chaudhari et al., "Entropy-SGD: Biasing Gradient Descent Into Wide Valleys",
//! ICLR 2017, Algorithm 1), as the authors' `python/optim.py` (repository
//! `ucla-vision/entropy-sgd`) computes it. Each step runs L steps of stochastic gradient
//! Langevin dynamics on a copy w′ of the weights, coupled to w with strength γ:
//!
//! ```text
//! w′ ← w,  μ ← w,  v ← 0
//! L times:  d ← ∇f(w′; B_i) + λ w′;   v ← m v + d;   d ← d + m v        (Nesterov, as the code)
//!           d ← d − γ (w − w′) + ε / √(η′/2) · ξ,  ξ ~ N(0, I)
//!           w′ ← w′ − η′ d;   μ ← β₁ μ + (1 − β₁) w′
//! gradient handed to the base optimizer:  w − μ   (the paper's Algorithm 1: γ (w − μ))
//! ```
//!
//! with the scoping γ = γ₀ (1 + γ₁)^t at step t (the paper's §4.3). Where the code and the
//! paper differ, basin follows the code by default and names the paper's variant:
//! `outer = "paper"` multiplies the outer gradient by γ as Algorithm 1 writes it. The code's
//! `state['t']` is never incremented, so its γ stays γ₀ whatever its `scoping` (γ₁ = 1e-3 in
//! `train.py`): basin's default `scoping = 0` is that; `scoping = γ₁ > 0` is the paper's (and the
//! Lua code's) growing schedule, named. A growing γ makes the inner recursion's coupling
//! w′ ← w′ + η′γ (w − w′) diverge once γ η′ > 2 (with γ₀ = 1e-4, γ₁ = 1e-3, η′ = 0.1 at about
//! step 12,200), so a configuration whose γ would pass 2/η′ within the run is refused
//! ([`EntropySgdConfig::validate_run`]). The other defaults are the authors' `python/train.py`'s:
//! γ₀ = 1e-4, ε = 1e-4, β₁ = 0.75 (the weight of the old μ, `mw.mul_(beta1).add_(1 − beta1, w′)`;
//! the paper's Algorithm 1 writes its average with an α that could not be checked here against
//! which of the two terms it weights), inner momentum 0.9 (Nesterov), and L = 20 (the paper's
//! experiments; the script's default L = 0 is plain SGD, which `name = "sgd"` is) — but for the
//! inner rate η′: the code's 0.1 (with Nesterov momentum 0.9, an effective step of about 1) is
//! for the authors' networks, with batch norm and dropout; on basin's default model (ne-f1, no
//! normalization) with the default optimizer it sits at the edge of stability (it diverged at
//! step 11 on a Zen 4 machine, issue 37; it trained on a Zen 5). So `inner_lr = 0`, the default,
//! runs the Langevin steps at the base optimizer's rate of the phase (0.01 by default): stable
//! wherever the plain training is. `inner_lr = 0.1` is the authors' value, named.
//!
//! Batches: the first inner step uses the step's batch, the others independent batches of the
//! same size (`BatchSource::extra_batch`), as the code draws a fresh batch per inner step. The
//! code also evaluates the gradient at w once before the loop, only for the loss it logs; basin
//! reports the loss of the first inner step, which is that same loss at w′ = w, so a step costs
//! L gradients, not L + 1. Dropout masks are fresh for every inner step, and every inner
//! forward pass updates batch-norm running statistics (at w′), as the code's training-mode
//! passes do — unlike SAM's and S-SGD's extra passes, which leave them alone.

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::paramvec::ParamVec;
use crate::task::LossModel;

/// What the gradient handed to the base optimizer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Outer {
    /// w − μ, as the authors' `optim.py`.
    #[default]
    Code,
    /// γ (w − μ), as Algorithm 1 of the paper.
    Paper,
}

/// `[estimator] name = "entropy-sgd"` (the authors' `train.py` defaults, L = 20).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntropySgdConfig {
    /// L, the Langevin steps per step.
    pub inner_steps: usize,
    /// γ₀, the coupling of w′ to w.
    pub gamma: f64,
    /// γ₁ of the scoping γ = γ₀ (1 + γ₁)^t (0, the default: γ stays γ₀, as the authors'
    /// `optim.py` runs; the paper's schedule when > 0).
    pub scoping: f64,
    /// ε, the scale of the Langevin noise.
    pub noise: f64,
    /// η′, the inner (Langevin) learning rate; 0 (the default): the base optimizer's rate of
    /// the phase (`optimizer.lr` or `phases[i].lr`; [`EntropySgdConfig::with_run_lr`]). The
    /// authors' code: 0.1.
    pub inner_lr: f64,
    /// Nesterov momentum of the inner steps (0 = none).
    pub inner_momentum: f64,
    /// L2 weight decay λ inside the inner gradient (the code adds the run's weight decay there).
    pub inner_weight_decay: f64,
    /// β₁ of the running average μ of w′.
    pub beta1: f64,
    /// `code` (w − μ) or `paper` (γ (w − μ)).
    pub outer: Outer,
}

impl Default for EntropySgdConfig {
    fn default() -> Self {
        EntropySgdConfig { inner_steps: 20, gamma: 1e-4, scoping: 0.0, noise: 1e-4, inner_lr: 0.0, inner_momentum: 0.9, inner_weight_decay: 0.0, beta1: 0.75, outer: Outer::Code }
    }
}

super::builders!(EntropySgdConfig {
    with_inner_steps => inner_steps: usize,
    with_gamma => gamma: f64,
    with_scoping => scoping: f64,
    with_noise => noise: f64,
    with_inner_lr => inner_lr: f64,
    with_inner_momentum => inner_momentum: f64,
    with_inner_weight_decay => inner_weight_decay: f64,
    with_beta1 => beta1: f64,
    with_outer => outer: Outer,
});

impl EntropySgdConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        use super::config::check;
        check(self.inner_steps >= 1, "inner_steps", "must be ≥ 1 (0 Langevin steps is plain SGD: name = \"sgd\")")?;
        check(self.gamma.is_finite() && self.gamma >= 0.0, "gamma", "must be ≥ 0")?;
        check(self.scoping.is_finite() && self.scoping >= 0.0, "scoping", "must be ≥ 0")?;
        check(self.noise.is_finite() && self.noise >= 0.0, "noise", "must be ≥ 0")?;
        check(self.inner_lr.is_finite() && self.inner_lr >= 0.0, "inner_lr", "must be ≥ 0 (0: the base optimizer's rate)")?;
        check(self.inner_momentum.is_finite() && (0.0..1.0).contains(&self.inner_momentum), "inner_momentum", "must be in [0, 1)")?;
        check(self.inner_weight_decay.is_finite() && self.inner_weight_decay >= 0.0, "inner_weight_decay", "must be ≥ 0")?;
        check(self.beta1.is_finite() && (0.0..1.0).contains(&self.beta1), "beta1", "must be in [0, 1)")
    }
    /// Checks the coupling over a run of `steps` steps: γ at the last step, γ₀ (1 + γ₁)^(steps − 1),
    /// must keep the inner recursion's factor 1 − η′γ above −1 (γ η′ < 2), else the Langevin
    /// steps diverge before the run ends. The error names `scoping` when the schedule is what
    /// grows γ there, else `gamma`.
    pub fn validate_run(&self, steps: u64) -> Result<(), crate::error::BasinError> {
        assert!(self.inner_lr > 0.0, "EntropySgdConfig::validate_run: resolve inner_lr = 0 with with_run_lr first");
        let last = self.init().gamma_at(steps.saturating_sub(1));
        if last * self.inner_lr < 2.0 {
            return Ok(());
        }
        let limit = 2.0 / self.inner_lr;
        if self.scoping > 0.0 && self.gamma * self.inner_lr < 2.0 {
            let at = ((limit / self.gamma).ln() / (1.0 + self.scoping).ln()).ceil();
            return Err(crate::error::BasinError::config(
                "estimator.scoping",
                format!("γ = {} · (1 + {})^t passes 2/inner_lr = {limit} at step {at} of this run's {steps}: the Langevin steps would diverge (the authors' optim.py keeps γ fixed: scoping = 0)", self.gamma, self.scoping),
            ));
        }
        Err(crate::error::BasinError::config("estimator.gamma", format!("γ = {} is not below 2/inner_lr = {limit}: the Langevin steps would diverge", self.gamma)))
    }
    /// This configuration with `inner_lr = 0` (the default) replaced by `lr`, the base
    /// optimizer's rate; an explicit `inner_lr` is kept.
    pub fn with_run_lr(&self, lr: f64) -> EntropySgdConfig {
        let mut c = self.clone();
        if c.inner_lr == 0.0 {
            c.inner_lr = lr;
        }
        c
    }
    /// The estimator.
    ///
    /// # Panics
    /// If `inner_lr` is 0 (the base rate, unknown here): resolve it with
    /// [`with_run_lr`](Self::with_run_lr) first, as the trainer does.
    pub fn init(&self) -> EntropySgd {
        assert!(self.inner_lr > 0.0, "Entropy-SGD: inner_lr = 0 means the base optimizer's rate; resolve it with EntropySgdConfig::with_run_lr(lr)");
        EntropySgd { cfg: self.clone() }
    }
}

/// Entropy-SGD's gradient estimator.
#[derive(Debug, Clone)]
pub struct EntropySgd {
    cfg: EntropySgdConfig,
}

impl EntropySgd {
    /// The coupling γ = γ₀ (1 + γ₁)^t at step `t`.
    pub fn gamma_at(&self, t: u64) -> f64 {
        self.cfg.gamma * (1.0 + self.cfg.scoping).powf(t as f64)
    }
}

/// The key of the Langevin noise ξ of inner step `i` of `step` in a run seeded `seed`.
pub fn langevin_key(seed: u64, step: u64, i: usize) -> u64 {
    let k = crate::rng::derive_seed(seed, crate::rng::Stream::Estimator, step);
    crate::rng::derive_seed(k, crate::rng::Stream::Estimator, 1 << 41 | i as u64)
}

/// One Langevin step on every tensor: (w′, v, μ) after it, from the gradient `g` at w′. In one
/// fused pass per tensor on the CPU backend ([`crate::fused::langevin_step`]), else as
/// separate vector operations (the same equations).
#[allow(clippy::too_many_arguments)]
fn langevin(c: &EntropySgdConfig, gamma: f64, g: &ParamVec, wp: &ParamVec, w: &ParamVec, v: Option<&ParamVec>, mu: &ParamVec, xi: Option<&ParamVec>) -> (ParamVec, Option<ParamVec>, ParamVec) {
    let noise = c.noise / (0.5 * c.inner_lr).sqrt();
    let k = crate::fused::Langevin { weight_decay: c.inner_weight_decay as f32, momentum: c.inner_momentum as f32, gamma: gamma as f32, noise: noise as f32, lr: c.inner_lr as f32, beta1: c.beta1 as f32 };
    let fused: Option<Vec<_>> = (0..w.parts.len())
        .map(|i| crate::fused::langevin_step(&g.parts[i], &wp.parts[i], &w.parts[i], v.map(|v| &v.parts[i]), &mu.parts[i], xi.map(|x| &x.parts[i]), k))
        .collect();
    if let Some(parts) = fused {
        let of = |j: usize| ParamVec { slots: w.slots.clone(), parts: parts.iter().map(|p| [&p.0, &p.1, &p.2][j].clone()).collect() };
        let velocity = (c.inner_momentum > 0.0).then(|| of(1));
        return (of(0), velocity, of(2));
    }
    let mut d = if c.inner_weight_decay > 0.0 { ParamVec::lincomb(1.0, g, c.inner_weight_decay, wp) } else { g.clone() };
    let mut velocity = None;
    if c.inner_momentum > 0.0 {
        let vel = match v {
            Some(v) => ParamVec::lincomb(c.inner_momentum, v, 1.0, &d),
            None => d.clone(),
        };
        d = ParamVec::lincomb(1.0, &d, c.inner_momentum, &vel);
        velocity = Some(vel);
    }
    // d − γ (w − w′) + ε/√(η′/2) ξ, then w′ ← w′ − η′ d
    let pull = ParamVec::lincomb(1.0, w, -1.0, wp);
    d = ParamVec::lincomb(1.0, &d, -gamma, &pull);
    if let Some(xi) = xi {
        d = ParamVec::lincomb(1.0, &d, noise, xi);
    }
    let wp = ParamVec::lincomb(1.0, wp, -c.inner_lr, &d);
    let mu = ParamVec::lincomb(c.beta1, mu, 1.0 - c.beta1, &wp);
    (wp, velocity, mu)
}

impl<M: LossModel> GradientEstimator<M> for EntropySgd {
    fn name(&self) -> &'static str {
        "entropy-sgd"
    }
    fn estimate(&mut self, model: M, batch: &M::Batch, ctx: &mut StepContext<'_, M::Batch>) -> Estimate<M> {
        let c = &self.cfg;
        let w = ParamVec::from_model(&model);
        let gamma = self.gamma_at(ctx.step);
        let size = M::batch_len(batch);
        let (mut wp, mut mu, mut v) = (w.clone(), w.clone(), None::<ParamVec>);
        let mut loss = 0.0;
        for i in 0..c.inner_steps {
            let extra;
            let b = if i == 0 {
                batch
            } else {
                extra = ctx.source.extra_batch(size, ctx.step * c.inner_steps as u64 + i as u64);
                &extra
            };
            let (l, g) = ctx.grad(&model, &w, b, |_| Some(wp.clone()));
            if i == 0 {
                loss = l;
            }
            let xi = (c.noise > 0.0).then(|| w.normal(langevin_key(ctx.seed, ctx.step, i), 1.0));
            (wp, v, mu) = langevin(c, gamma, &g, &wp, &w, v.as_ref(), &mu, xi.as_ref());
        }
        let scale = match c.outer {
            Outer::Code => 1.0,
            Outer::Paper => gamma,
        };
        let g = ParamVec::lincomb(scale, &w, -scale, &mu);
        Estimate { model, loss, grads: to_optimizer_grads(&g) }
    }
}

#[cfg(test)]
mod tests {
    use super::EntropySgdConfig;

    #[test]
    fn the_default_keeps_gamma_fixed_as_the_code_does_and_a_schedule_that_passes_two_over_the_inner_rate_is_refused() {
        let d = EntropySgdConfig::default().with_run_lr(0.1);
        assert_eq!(EntropySgdConfig::default().with_inner_lr(0.05).with_run_lr(0.1).inner_lr, 0.05, "an explicit inner_lr is kept");
        assert_eq!(d.init().gamma_at(1_000_000), d.gamma, "γ grows under the default scoping");
        d.validate_run(10_000_000).unwrap();
        // the paper's γ₁ = 1e-3 from γ₀ = 1e-4 at η′ = 0.1: γ η′ = 2 at t = ln(2e5)/ln(1.001) ≈ 12,213
        let lua = d.clone().with_scoping(1e-3);
        lua.validate_run(12_000).unwrap();
        let err = lua.validate_run(13_000).unwrap_err().to_string();
        assert!(err.starts_with("estimator.scoping:") && err.contains("12213"), "{err}");
        let err = d.with_gamma(25.0).validate_run(10).unwrap_err().to_string();
        assert!(err.starts_with("estimator.gamma:"), "{err}");
    }
}
