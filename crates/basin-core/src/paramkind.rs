//! What a parameter is, from its module path and shape, and which parameters a method touches.

use serde::{Deserialize, Serialize};

/// The role of a float parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A convolution kernel (rank ≥ 3).
    Conv,
    /// A dense (linear) weight matrix (rank 2).
    Dense,
    /// A bias vector (path ends in `bias`).
    Bias,
    /// A normalization scale or shift (`gamma`, `beta`, or other rank-1 parameters).
    Norm,
    /// Non-trainable state (batch-norm `running_mean` / `running_var`): never in a ParamVec.
    State,
}

impl ParamKind {
    /// Classifies by path and shape.
    pub fn classify(path: &str, shape: &[usize]) -> ParamKind {
        let last = path.rsplit('.').next().unwrap_or(path);
        if last.starts_with("running_") {
            ParamKind::State
        } else if last == "bias" {
            ParamKind::Bias
        } else if shape.len() >= 3 {
            ParamKind::Conv
        } else if shape.len() == 2 {
            ParamKind::Dense
        } else {
            ParamKind::Norm
        }
    }
    /// True for weight matrices and kernels.
    pub fn is_weight(self) -> bool {
        matches!(self, ParamKind::Conv | ParamKind::Dense)
    }
}

/// Which parameters a perturbation touches (`params = ...` in estimator configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ParamFilter {
    /// Every trainable parameter.
    #[default]
    All,
    /// Weights only: convolution kernels and dense matrices (no biases, no norm parameters).
    Weights,
    /// Convolution kernels only.
    Conv,
    /// Dense matrices only.
    Dense,
}

impl ParamFilter {
    /// Whether a parameter of `kind` is selected.
    pub fn accepts(self, kind: ParamKind) -> bool {
        match self {
            ParamFilter::All => kind != ParamKind::State,
            ParamFilter::Weights => kind.is_weight(),
            ParamFilter::Conv => kind == ParamKind::Conv,
            ParamFilter::Dense => kind == ParamKind::Dense,
        }
    }
}
