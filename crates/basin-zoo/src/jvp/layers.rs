//! The layer rules networks are written with: dense, convolution, batch norm, max pooling,
//! embedding and dropout on [`Dual`] (ReLU, sigmoid, tanh and the parameter-free linear maps
//! are methods of `Dual`; ReluSmoothOut is [`NoisyRelu::forward_dual`](crate::models::noisy_relu::NoisyRelu::forward_dual)).
//!
//! Each takes the layer (its parameters W, tracked) and `dir`, the same layer of the
//! *direction* model (its parameters are the components of v, constants), or `None`.
//! In a [`Pass::Plain`] pass `dir` must be `None` and the rule is the
//! layer's plain kernel ([`crate::ops`]), nothing more. In a tangent pass a layer
//! y = W x + b has ẏ = V x + v_b + W ẋ: the product rule, with both x and ẋ functions of w;
//! `dir = None` there holds the layer's parameters fixed (a zero direction on them).

use super::dual::{Dual, Pass, add_opt};
use crate::ops::batch_norm_eval::{batch_norm_eval, batch_norm_eval_tangent};
use crate::ops::conv2d::conv2d_with;
use crate::ops::linear::linear_with;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Dropout, Embedding, Linear};
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Int, Tensor};

/// The direction of a layer in a pass: `None` in a plain pass (checked: a direction handed
/// to a plain pass would be ignored, which is a bug in the network's definition).
fn direction<L>(pass: Pass, dir: Option<&L>) -> Option<&L> {
    assert!(pass == Pass::Tangent || dir.is_none(), "jvp: a direction was given to a layer of a plain pass (start the pass with Dual::constant)");
    dir
}

// The rules take their input apart instead of cloning it: in a plain pass the value reaches
// the kernel as the only handle to its buffer, so element-wise ops may work in place, as in
// a network written on `Tensor`.

/// A dense layer (`Linear`, weight `[in, out]`): y = x W + b, ẏ = x V + v_b + ẋ W
/// (basin's CPU kernels where they apply).
pub fn linear(layer: &Linear, dir: Option<&Linear>, x: Dual<2>) -> Dual<2> {
    let Dual { value, tangent, pass } = x;
    let dv = direction(pass, dir).map(|d| linear_with(value.clone(), d.weight.val(), d.bias.as_ref().map(|b| b.val())));
    let dx = tangent.map(|t| linear_with(t, layer.weight.val(), None));
    Dual { value: crate::ops::linear(layer, value), tangent: add_opt(dv, dx), pass }
}

/// A convolution: y = W ⋆ x + b, ẏ = V ⋆ x + v_b + W ⋆ ẋ (basin's CPU kernels where they apply).
pub fn conv2d(layer: &Conv2d, dir: Option<&Conv2d>, x: Dual<4>) -> Dual<4> {
    let Dual { value, tangent, pass } = x;
    let dv = direction(pass, dir).map(|d| conv2d_with(layer, value.clone(), d.weight.val(), d.bias.as_ref().map(|b| b.val())));
    let dx = tangent.map(|t| conv2d_with(layer, t, layer.weight.val(), None));
    Dual { value: crate::ops::conv2d(layer, value), tangent: add_opt(dv, dx), pass }
}

/// Batch norm. Plain pass: the layer's own forward (batch statistics in training, on an
/// autodiff device). Tangent pass: evaluation mode, y = γ (x − μ)/√(σ² + ε) + β with the
/// running μ, σ² (constants): ẏ = γ̇ x̂ + β̇ + γ ẋ/√(σ² + ε), x̂ = (x − μ)/√(σ² + ε)
/// ([`crate::ops::batch_norm_eval`]).
pub fn batch_norm<const D: usize>(layer: &BatchNorm, dir: Option<&BatchNorm>, x: Dual<D>) -> Dual<D> {
    let Dual { value, tangent, pass } = x;
    let dir = direction(pass, dir);
    if pass == Pass::Plain {
        return Dual { value: crate::ops::batch_norm(layer, value), tangent, pass };
    }
    let tangent = batch_norm_eval_tangent(layer, dir, value.clone(), tangent);
    Dual { value: batch_norm_eval(layer, value), tangent, pass }
}

/// Max pooling: the tangent is read at each window's arg-max (held fixed, as autodiff does),
/// by basin's kernel in one pass with the value where it applies
/// ([`crate::ops::max_pool2d::max_pool2d_dual`]), by Burn's pooling with indices and a gather
/// elsewhere. A plain pass (or a tangent pass that has no tangent yet) is the plain kernel.
pub fn max_pool2d(pool: &MaxPool2d, x: Dual<4>) -> Dual<4> {
    let Dual { value, tangent, pass } = x;
    let Some(t) = tangent else {
        return Dual { value: crate::ops::max_pool2d(pool, value), tangent: None, pass };
    };
    let (value, t) = match crate::ops::max_pool2d::max_pool2d_dual(pool, value, t) {
        Ok((value, tangent)) => return Dual { value, tangent: Some(tangent), pass },
        Err(inputs) => *inputs,
    };
    let [pt, pl, pb, pr] = crate::ops::flex_io::fixed_padding(&pool.padding).expect("max_pool2d tangent: explicit or valid padding");
    let options = MaxPoolOptions::new(pool.kernel_size)
        .with_stride(pool.stride)
        .with_padding_pairs([(pt, pb), (pl, pr)])
        .with_dilation(pool.dilation)
        .with_ceil_mode(pool.ceil_mode);
    let [b, c, h, w] = value.dims();
    let (value, idx) = max_pool2d_with_indices(value, options);
    let [_, _, ho, wo] = value.dims();
    let tangent = t.reshape([b, c, h * w]).gather(2, idx.reshape([b, c, ho * wo])).reshape([b, c, ho, wo]);
    Dual { value, tangent: Some(tangent), pass }
}

/// Dropout: the layer's own (active in training on an autodiff device) in a plain pass;
/// none in a tangent pass (evaluation mode).
pub fn dropout<const D: usize>(layer: &Dropout, x: Dual<D>) -> Dual<D> {
    match x.pass {
        Pass::Tangent => x,
        Pass::Plain => Dual { value: layer.forward(x.value), ..x },
    }
}

/// An embedding lookup, e = E\[ids\], ė = V_E\[ids\]. `pass` is the pass the lookup starts.
pub fn embedding(layer: &Embedding, dir: Option<&Embedding>, ids: Tensor<2, Int>, pass: Pass) -> Dual<3> {
    let tangent = direction(pass, dir).map(|d| d.forward(ids.clone()));
    Dual { value: layer.forward(ids), tangent, pass }
}

/// `[B, C, H, W]` → `[B, C·H·W]` on both parts.
pub fn flatten(x: Dual<4>) -> Dual<2> {
    x.map(|t: Tensor<4>| t.flatten(1, 3))
}
