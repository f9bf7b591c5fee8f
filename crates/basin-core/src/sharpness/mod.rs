//! (C_ε, A)-sharpness (Keskar et al., ICLR 2017; SmoothOut workshop Table 1): the largest
//! relative rise of the loss in a small box around w,
//!
//!   φ = 100 · (max_{y ∈ C_ε} f(w + A y) − f(w)) / (1 + f(w)),
//!
//! with C_ε = { |y_i| ≤ ε (|(A⁺w)_i| + 1) }. A = I is the full space; otherwise A is a random
//! n×p matrix with orthonormal columns (so A⁺ = Aᵀ). The maximum is searched by a real
//! L-BFGS-B (the pure-Rust `rcompat-lbfgsb`, R's `optim(method = "L-BFGS-B")`, i.e. Becker's
//! port of Byrd–Lu–Nocedal–Zhu; compared with the C binding it replaced and `lbfgsb-rs-pure`
//! in BENCHMARKS.md).
//!
//! Published numbers depend on how the solver was driven, which the papers' text does not
//! say, so the driving is a named [`Protocol`]:
//! - [`Protocol::Basin`] (default, [`basin_protocol`]): maximize f from R random starts in
//!   the box, with consistent signs, and report the **maximum** over restarts (SmoothOut's
//!   choice; Keskar averaged).
//! - [`Protocol::SmoothOutCode`] ([`smoothout_code`]): what the SmoothOut authors'
//!   `measure_sharpness.py` does, for comparison with their tables.

pub mod basin_protocol;
pub mod box_problem;
pub mod smoothout_code;

use crate::curvature::fd_hessian::Differentiable;
use serde::{Deserialize, Serialize};

/// How the box maximum is searched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// basin's: random starts, consistent signs, the maximum over restarts.
    #[default]
    Basin,
    /// The SmoothOut authors' script: one solver run from y = 0, 10 iterations, the value −f
    /// handed to the solver with the gradient of +f.
    #[serde(rename = "smoothout-code")]
    SmoothOutCode,
}

impl Protocol {
    /// The names the CLI accepts.
    pub const NAMES: &[&str] = &["basin", "smoothout-code"];

    /// Parses a CLI name.
    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "basin" => Some(Protocol::Basin),
            "smoothout-code" => Some(Protocol::SmoothOutCode),
            _ => None,
        }
    }
}

/// Settings of a sharpness measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharpnessConfig {
    /// Box size ε (SmoothOut: 5e-4; also 1e-3).
    pub eps: f64,
    /// Subspace dimension p (None = full space, A = I).
    pub subspace: Option<usize>,
    /// Function evaluations per restart ([`Protocol::Basin`] only).
    pub max_evals: usize,
    /// Restarts R, the maximum over them is reported ([`Protocol::Basin`] only).
    pub restarts: usize,
    /// Seed of the starts and of A.
    pub seed: u64,
    /// How the solver is driven.
    #[serde(default)]
    pub protocol: Protocol,
}

impl Default for SharpnessConfig {
    fn default() -> Self {
        SharpnessConfig { eps: 5e-4, subspace: None, max_evals: 20, restarts: 5, seed: 0, protocol: Protocol::Basin }
    }
}

/// The result: the sharpness and what it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sharpness {
    /// 100 · (f_max − f₀)/(1 + f₀), the maximum over restarts.
    pub sharpness: f64,
    /// f₀ = f(w).
    pub f0: f64,
    /// Largest f found (under [`Protocol::SmoothOutCode`]: f at the point the solver returned).
    pub f_max: f64,
    /// Each restart's sharpness.
    pub per_restart: Vec<f64>,
    /// Function evaluations in total.
    pub evaluations: usize,
    /// The protocol that produced it.
    #[serde(default)]
    pub protocol: Protocol,
}

/// Measures the sharpness of `f` at its point under `cfg.protocol`.
///
/// ```
/// use basin_core::curvature::fd_hessian::Differentiable;
/// use basin_core::paramvec::ParamVec;
/// use basin_core::sharpness::{SharpnessConfig, sharpness};
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor, TensorData};
///
/// #[derive(Module, Debug)]
/// struct Point { x: Param<Tensor<1>> }
///
/// /// f(x) = ½‖x‖², at its minimum x = 0.
/// struct Bowl(ParamVec);
/// impl Differentiable for Bowl {
///     fn loss_grad(&mut self, w: &ParamVec) -> (f64, ParamVec) {
///         let x = w.to_host_f64();
///         (0.5 * x.iter().map(|v| v * v).sum::<f64>(), w.clone())
///     }
///     fn point(&self) -> &ParamVec { &self.0 }
/// }
///
/// let p = Point { x: Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.0f32; 4], [4]), &Device::flex())) };
/// let s = sharpness(&mut Bowl(ParamVec::from_model(&p)), &SharpnessConfig::default());
/// // the box maximum is a vertex, |xᵢ| = ε: 100 · ½ · 4ε² with ε = 5e-4
/// assert!((s.sharpness - 100.0 * 2.0 * 25e-8).abs() < 1e-9);
/// ```
pub fn sharpness(f: &mut dyn Differentiable, cfg: &SharpnessConfig) -> Sharpness {
    match cfg.protocol {
        Protocol::Basin => basin_protocol::sharpness(f, cfg),
        Protocol::SmoothOutCode => smoothout_code::sharpness(f, cfg),
    }
}
