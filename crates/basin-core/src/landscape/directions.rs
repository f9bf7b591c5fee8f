//! Random directions normalized to the weights (Li, Xu, Taylor, Studer & Goldstein,
//! "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018): a Gaussian direction d,
//! rescaled filter by filter (or layer by layer) to the norm of the weights it perturbs, so that
//! landscapes of networks with different weight scales are comparable. Regenerated from a seed
//! (no direction file to go stale).

use crate::paramkind::ParamKind;
use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// How a direction is scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DirectionNorm {
    /// ‖d_filter‖ = ‖w_filter‖ (Li et al.'s choice).
    #[default]
    Filter,
    /// ‖d_layer‖ = ‖w_layer‖.
    Layer,
    /// Raw Gaussian.
    None,
}

/// A filter/layer-normalized Gaussian direction at `w`, from `seed`. With `ignore_bias_bn`,
/// 1-D parameters (biases, batch-norm scale and shift) get no direction (Li et al.'s default);
/// without it, their direction is the parameter itself, as loss-landscape's
/// `normalize_directions_for_weights` sets `d = w` for them (`DirectionNorm::None` keeps the
/// raw Gaussian there too).
pub fn filter_normalized_direction(w: &ParamVec, norm: DirectionNorm, ignore_bias_bn: bool, seed: u64) -> ParamVec {
    let d = w.normal(seed, 1.0);
    let d = match norm {
        DirectionNorm::None => d,
        DirectionNorm::Filter => {
            let f: Vec<_> = w.filter_norms().into_iter().zip(d.filter_norms()).map(|(wn, dn)| wn / dn.clamp_min(1e-30)).collect();
            d.scale_filters(&f)
        }
        DirectionNorm::Layer => {
            let (wn, dn) = (w.part_norms(), d.part_norms());
            let mut i = 0;
            d.map(|_, p| {
                let k = if dn[i] > 0.0 { wn[i] / dn[i] } else { 0.0 };
                i += 1;
                p.mul_scalar(k)
            })
        }
    };
    let one_d = |s: &crate::paramvec::Slot| s.kind == ParamKind::Bias || s.kind == ParamKind::Norm;
    if ignore_bias_bn {
        d.masked(|s| !one_d(s))
    } else if norm == DirectionNorm::None {
        d
    } else {
        let mut parts = w.parts.iter();
        d.map(|s, p| {
            let wp = parts.next().expect("same layout").clone();
            if one_d(s) { wp } else { p }
        })
    }
}
