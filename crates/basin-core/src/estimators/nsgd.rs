//! Nudged SGD and the projected-gradient variants of the sharpest-directions paper
//! (Jastrzębski et al., shared/seeds/sharpest-directions.txt): every K steps the top-k
//! eigenvectors V of the loss curvature are recomputed by Lanczos on a fixed subset of the
//! training set (default 5 %); in between, the gradient handed to the base optimizer is
//!
//! * `nudge`:   g + (γ − 1) V Vᵀ g — learning rate γη along the k sharpest directions;
//! * `project`: e₁ e₁ᵀ g — only the component along the top eigenvector;
//! * `remove`:  g − e₁ e₁ᵀ g — everything but that component.
//!
//! γ < 1 steers toward sharper regions, γ > 1 toward flatter ones. `random_subspace` replaces V
//! by a random orthonormal k-frame (the control). The eigenvectors are part of the checkpoint.

use super::{Estimate, GradientEstimator, StepContext, to_optimizer_grads};
use crate::batch::Batch;
use crate::curvature::choice::{CurvatureOperator, OperatorKind};
use crate::curvature::lanczos::{LanczosConfig, lanczos};
use crate::curvature::objective::{Objective, subset_indices};
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// Which gradient Nudged SGD hands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NsgdMode {
    /// g + (γ − 1) V Vᵀ g.
    #[default]
    Nudge,
    /// e₁ e₁ᵀ g.
    Project,
    /// g − e₁ e₁ᵀ g.
    Remove,
}

/// `[estimator] name = "nsgd"`: Nudged SGD (sharpest-directions paper), learning rate γη along
/// the top-k eigenvectors of the curvature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NsgdConfig {
    /// γ: learning-rate factor along the sharpest directions (1 = SGD).
    pub gamma: f64,
    /// Number of directions k.
    #[serde(rename = "directions")]
    pub k: usize,
    /// Recompute every this many steps (0 = once per epoch).
    pub every: u64,
    /// Fraction of the training set for the curvature (paper: 5 %).
    pub subset: f64,
    /// Lanczos steps at most.
    #[serde(rename = "lanczos_iter")]
    pub max_iter: usize,
    /// nudge | project | remove.
    pub mode: NsgdMode,
    /// Control: a random orthonormal subspace instead of eigenvectors.
    pub random_subspace: bool,
    /// Curvature operator: hessian (exact, default) | ggn | fd.
    pub operator: OperatorKind,
}

impl Default for NsgdConfig {
    fn default() -> Self {
        NsgdConfig { gamma: 1.0, k: 5, every: 0, subset: 0.05, max_iter: 30, mode: NsgdMode::Nudge, random_subspace: false, operator: OperatorKind::Hessian }
    }
}

super::builders!(NsgdConfig {
    with_gamma => gamma: f64,
    with_directions => k: usize,
    with_every => every: u64,
    with_subset => subset: f64,
    with_lanczos_iter => max_iter: usize,
    with_mode => mode: NsgdMode,
    with_random_subspace => random_subspace: bool,
    with_operator => operator: OperatorKind,
});

impl NsgdConfig {
    /// Checks the parameters; errors name the key.
    pub fn validate(&self) -> Result<(), crate::error::BasinError> {
        use super::config::check;
        check(self.gamma.is_finite() && self.gamma >= 0.0, "gamma", "must be a number ≥ 0")?;
        check(self.k >= 1, "directions", "must be ≥ 1")?;
        check(self.subset > 0.0 && self.subset <= 1.0, "subset", "must be in (0, 1]")?;
        check(self.max_iter >= self.k, "lanczos_iter", "must be ≥ directions")?;
        // settings this configuration would not read are errors, not silently ignored
        let d = NsgdConfig::default();
        if self.mode != NsgdMode::Nudge {
            check(self.gamma == d.gamma, "gamma", "is not used by mode project / remove (they keep or remove the top direction)")?;
            check(self.k == d.k, "directions", "is not used by mode project / remove (they use the top direction only)")?;
        }
        if self.random_subspace {
            check(self.subset == d.subset, "subset", "is not used with random_subspace = true")?;
            check(self.max_iter == d.max_iter, "lanczos_iter", "is not used with random_subspace = true")?;
            check(self.operator == d.operator, "operator", "is not used with random_subspace = true")?;
        }
        Ok(())
    }
    /// The estimator.
    pub fn init(&self) -> Nsgd {
        Nsgd::new(self.clone())
    }
}

/// Nudged SGD.
pub struct Nsgd {
    cfg: NsgdConfig,
    /// The current directions (orthonormal).
    pub directions: Vec<ParamVec>,
    /// Step at which they were computed.
    pub computed_at: Option<u64>,
}

impl Nsgd {
    /// Nudged SGD with `cfg`.
    pub fn new(cfg: NsgdConfig) -> Self {
        Nsgd { cfg, directions: Vec::new(), computed_at: None }
    }
}

/// The nudged gradient g + (γ − 1) Σᵢ vᵢ vᵢᵀ g for orthonormal `v`.
pub fn nudge(g: &ParamVec, v: &[ParamVec], gamma: f64) -> ParamVec {
    if gamma == 1.0 {
        return g.clone();
    }
    v.iter().fold(g.clone(), |acc, vi| acc.axpy((gamma - 1.0) * vi.dot(g), vi))
}

/// e eᵀ g (keep only the component along unit `e`).
pub fn project(g: &ParamVec, e: &ParamVec) -> ParamVec {
    e.scale(e.dot(g))
}

/// g − e eᵀ g (remove the component along unit `e`).
pub fn remove(g: &ParamVec, e: &ParamVec) -> ParamVec {
    g.axpy(-e.dot(g), e)
}

/// A random orthonormal k-frame in `w`'s layout (Gram–Schmidt of Gaussian vectors).
pub fn random_frame(w: &ParamVec, k: usize, key: u64) -> Vec<ParamVec> {
    let mut out: Vec<ParamVec> = Vec::new();
    for i in 0..k {
        let mut v = w.normal(key.wrapping_add(i as u64), 1.0);
        for _ in 0..2 {
            for u in &out {
                v = v.axpy(-u.dot(&v), u);
            }
        }
        let n = v.norm();
        out.push(v.scale(1.0 / n));
    }
    out
}

impl<M: Classifier> GradientEstimator<M> for Nsgd {
    fn name(&self) -> &'static str {
        "nsgd"
    }
    fn estimate(&mut self, model: M, batch: &Batch, ctx: &mut StepContext<'_>) -> Estimate<M> {
        let every = if self.cfg.every > 0 { self.cfg.every } else { ctx.source.steps_per_epoch().max(1) };
        if self.directions.is_empty() || ctx.step.is_multiple_of(every) {
            let w = ParamVec::from_model(&model);
            let key = super::smoothout::noise_key(ctx.seed, ctx.step);
            self.directions = if self.cfg.random_subspace {
                random_frame(&w, self.cfg.k, key)
            } else {
                let set = ctx.source.examples().expect("Nudged SGD needs the training set");
                let idx = subset_indices(set.len(), Some(self.cfg.subset), None, ctx.seed);
                let device = batch.images.device().inner();
                let obj = Objective::new(&model, set, &idx, 500, &device);
                let mut op = CurvatureOperator::new(self.cfg.operator, obj, self.cfg.operator.default_eps()).unwrap_or_else(|e| panic!("Nudged SGD: {e}"));
                let r = lanczos(&mut op, &LanczosConfig { k: self.cfg.k, tol: 1e-3, max_iter: self.cfg.max_iter, seed: key, smallest: false, bottom: 0 });
                r.eigenvectors
            };
            self.computed_at = Some(ctx.step);
        }
        let w = ParamVec::from_model(&model);
        let (loss, g) = ctx.grad(&model, &w, batch, |_| None);
        let g = match self.cfg.mode {
            NsgdMode::Nudge => nudge(&g, &self.directions, self.cfg.gamma),
            NsgdMode::Project => project(&g, &self.directions[0]),
            NsgdMode::Remove => remove(&g, &self.directions[0]),
        };
        Estimate { model, loss, grads: to_optimizer_grads(&g) }
    }
    fn state(&self) -> Vec<ParamVec> {
        self.directions.clone()
    }
    fn load_state(&mut self, state: Vec<ParamVec>) {
        self.directions = state;
    }
}
