//! The one layer basin-zoo has no rule for: layer normalization over the last axis
//! (Ba et al. 2016), written on [`Dual`] like the zoo's layers.

use basin_zoo::jvp::{Dual, Pass, dual::add_opt};
use burn::module::{Module, Param};
use burn::tensor::Tensor;

/// The scale γ and shift β of a layer norm (paths `gamma`, `beta`: normalization parameters
/// for basin's per-kind rules, as a batch norm's).
#[derive(Module, Debug)]
pub struct LayerNormParams {
    /// γ.
    pub gamma: Param<Tensor<1>>,
    /// β (None: no shift).
    pub beta: Option<Param<Tensor<1>>>,
}

/// y = γ x̂ + β with x̂ = (x − μ)/√(σ² + ε), μ and σ² (biased) over the last axis; the same in
/// both passes (no running statistics). Tangent: ẏ = γ̇ x̂ + β̇ + γ ẋ̂ with
/// ẋ̂ = (ẋ − mean ẋ − x̂ · mean(x̂ ẋ)) / √(σ² + ε).
pub fn layer_norm<const D: usize>(p: &LayerNormParams, dir: Option<&LayerNormParams>, eps: f64, x: Dual<D>) -> Dual<D> {
    let Dual { value, tangent, pass } = x;
    assert!(pass == Pass::Tangent || dir.is_none(), "layer_norm: a direction in a plain pass");
    let last = D - 1;
    let shape: [usize; D] = std::array::from_fn(|i| if i == last { p.gamma.dims()[0] } else { 1 });
    let mean = value.clone().mean_dim(last);
    let centered = value - mean;
    let var = centered.clone().square().mean_dim(last);
    let inv = var.add_scalar(eps).sqrt().recip();
    let xhat = centered * inv.clone();
    let gamma = p.gamma.val().reshape(shape);
    let dxhat = tangent.map(|t| {
        let tc = t.clone() - t.clone().mean_dim(last);
        (tc - xhat.clone() * (xhat.clone() * t).mean_dim(last)) * inv
    });
    let dv = dir.map(|d| {
        let g = xhat.clone() * d.gamma.val().reshape(shape);
        match &d.beta {
            Some(b) => g + b.val().reshape(shape),
            None => g,
        }
    });
    let dx = dxhat.map(|t| t * gamma.clone());
    let mut value = xhat * gamma;
    if let Some(b) = &p.beta {
        value = value + b.val().reshape(shape);
    }
    Dual { value, tangent: add_opt(dv, dx), pass }
}
