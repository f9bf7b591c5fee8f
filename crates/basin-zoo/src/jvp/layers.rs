//! Tangent passes of the layers the zoo uses: dense, convolution, evaluation-mode batch norm
//! and max pooling (ReLU and the parameter-free linear maps are on [`Dual`]).
//!
//! Each returns the layer's output at w and its tangent along v. With `layer` holding the
//! weights W (tracked) and `dir` the direction V (constants), a layer y = W x + b has
//! ẏ = V x + v_b + W ẋ: the product rule, with both x and ẋ functions of w.

use super::dual::{Dual, add_opt};
use crate::ops::conv2d::conv2d_with;
use crate::ops::linear::linear_with;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;

/// A dense layer (`Linear`, weight `[in, out]`): y = x W + b, ẏ = x V + v_b + ẋ W.
/// (basin's CPU kernels where they apply).
pub fn linear(layer: &Linear, dir: &Linear, x: Dual<2>) -> Dual<2> {
    let dv = linear_with(x.value.clone(), dir.weight.val(), dir.bias.as_ref().map(|b| b.val()));
    let dx = x.tangent.map(|t| linear_with(t, layer.weight.val(), None));
    Dual { value: crate::ops::linear(layer, x.value), tangent: add_opt(Some(dv), dx) }
}

/// A convolution: y = W ⋆ x + b, ẏ = V ⋆ x + v_b + W ⋆ ẋ (basin's CPU kernels where they apply).
pub fn conv2d(layer: &Conv2d, dir: &Conv2d, x: Dual<4>) -> Dual<4> {
    let dv = conv2d_with(layer, x.value.clone(), dir.weight.val(), dir.bias.as_ref().map(|b| b.val()));
    let dx = x.tangent.map(|t| conv2d_with(layer, t, layer.weight.val(), None));
    Dual { value: crate::ops::conv2d(layer, x.value), tangent: add_opt(Some(dv), dx) }
}

/// Batch norm in evaluation mode, y = γ (x − μ)/√(σ² + ε) + β with the running μ, σ²
/// (constants): ẏ = γ̇ x̂ + β̇ + γ ẋ/√(σ² + ε), x̂ = (x − μ)/√(σ² + ε).
pub fn batch_norm<const D: usize>(layer: &BatchNorm, dir: &BatchNorm, x: Dual<D>) -> Dual<D> {
    let device = x.value.device();
    let c = x.value.dims()[1];
    let shape: [usize; D] = std::array::from_fn(|i| if i == 1 { c } else { 1 });
    let mean = layer.running_mean.value().to_device(&device).reshape(shape);
    let inv = layer.running_var.value().to_device(&device).add_scalar(layer.epsilon).sqrt().recip().reshape(shape);
    let gamma = layer.gamma.val().reshape(shape);
    let xhat = (x.value - mean) * inv.clone();
    let dv = xhat.clone() * dir.gamma.val().reshape(shape) + dir.beta.val().reshape(shape);
    let dx = x.tangent.map(|t| t * (gamma.clone() * inv));
    Dual { value: xhat * gamma + layer.beta.val().reshape(shape), tangent: add_opt(Some(dv), dx) }
}

/// Max pooling: the tangent is read at each window's arg-max (held fixed, as autodiff does).
pub fn max_pool2d(pool: &MaxPool2d, x: Dual<4>) -> Dual<4> {
    let [pt, pl, pb, pr] = crate::ops::flex_io::fixed_padding(&pool.padding).expect("max_pool2d tangent: explicit or valid padding");
    let options = MaxPoolOptions::new(pool.kernel_size)
        .with_stride(pool.stride)
        .with_padding_pairs([(pt, pb), (pl, pr)])
        .with_dilation(pool.dilation)
        .with_ceil_mode(pool.ceil_mode);
    let [b, c, h, w] = x.value.dims();
    let (value, idx) = max_pool2d_with_indices(x.value, options);
    let [_, _, ho, wo] = value.dims();
    let tangent = x.tangent.map(|t| t.reshape([b, c, h * w]).gather(2, idx.reshape([b, c, ho * wo])).reshape([b, c, ho, wo]));
    Dual { value, tangent }
}

/// `[B, C, H, W]` → `[B, C·H·W]` on both parts.
pub fn flatten(x: Dual<4>) -> Dual<2> {
    x.map(|t: Tensor<4>| t.flatten(1, 3))
}
