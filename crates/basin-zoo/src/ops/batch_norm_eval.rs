//! Batch norm in evaluation mode and its tangent: [`batch_norm_eval`] and
//! [`batch_norm_eval_tangent`], each one pass over the activation forward and one or two
//! backward on the flex CPU backend (f32), with hand-written backward passes; the same formulas
//! as Burn tensor ops everywhere else.
//!
//! With the running statistics μ, σ² held constant and x̂ = (x − μ)/√(σ² + ε), the layer is an
//! affine map per channel, y = γ x̂ + β, and its tangent along a direction (γ̇, β̇) of the
//! layer's parameters is ẏ = γ/√(σ² + ε) · ẋ + γ̇ x̂ + β̇ (the product rule; μ and σ² do not
//! depend on the weights in evaluation mode).
//!
//! Why: every curvature product and every gradient of an `Objective` runs in evaluation mode,
//! and Burn 0.22.1 composes it of broadcast element-wise steps that each allocate and walk the
//! whole activation — four for y, four more for ẏ, and their backward steps — where the
//! convolutional layers of keskar-c1 hold 50,000 values per image.

use super::batch_norm_cpu::{affine, channel_sums};
use super::flex_io::{contiguous, flex, on_flex_f32, values};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;

/// Evaluation-mode batch norm of `x` `[batch, c, l]` and its tangent; the statistics `mean`,
/// `var` `[c]` are constants.
#[backend_extension(Flex, Autodiff)]
pub trait EvalBatchNorm: Backend {
    /// `γ (x − μ)/√(σ² + ε) + β`.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_eval(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, mean: FloatTensor<Self>, var: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self>;
    /// `γ/√(σ² + ε) · ẋ + γ̇ (x − μ)/√(σ² + ε) + β̇`; an `xdot` of length 0 stands for ẋ = 0, and
    /// the direction `dgamma`, `dbeta` is a constant.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_eval_tangent(x: FloatTensor<Self>, xdot: FloatTensor<Self>, gamma: FloatTensor<Self>, dgamma: FloatTensor<Self>, dbeta: FloatTensor<Self>, mean: FloatTensor<Self>, var: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self>;
}

/// The per-channel constants of one call: `[c, l]` of `x` and 1/√(σ² + ε) (in f64, as the
/// training kernel computes it).
struct Channels {
    c: usize,
    l: usize,
    inv: Vec<f64>,
}

impl Channels {
    fn new(x: &FlexTensor, var: &FlexTensor, epsilon: f64) -> Channels {
        let s = x.shape();
        Channels { c: s[1], l: s[2], inv: values(var).iter().map(|v| 1.0 / (*v as f64 + epsilon).sqrt()).collect() }
    }

    /// `p[ch] · inv[ch]`, per channel.
    fn scaled(&self, p: &[f32]) -> Vec<f32> {
        p.iter().zip(&self.inv).map(|(p, i)| (*p as f64 * i) as f32).collect()
    }

    /// `out[b, ch, :] = x[b, ch, :] · a[ch] (+ y[b, ch, :] · e[ch]) + d[ch]`.
    fn affine(&self, x: &[f32], y: Option<(&[f32], &[f32])>, a: &[f32], d: &[f32]) -> Vec<f32> {
        affine(x, y.map(|y| y.0), self.c, self.l, a, y.map_or(&[][..], |y| y.1), d)
    }

    /// `dy · scale` per channel (the input gradient of an affine map).
    fn times(&self, dy: &[f32], scale: &[f32]) -> Vec<f32> {
        self.affine(dy, None, scale, &vec![0.0; self.c])
    }
}

/// `mean[ch] · a[ch]` subtracted from `d[ch]`: the offset of `x · a` written as `(x − μ) · a`.
fn offset(d: &[f32], mean: &[f32], a: &[f32]) -> Vec<f32> {
    d.iter().zip(mean).zip(a).map(|((d, m), a)| d - m * a).collect()
}

fn value_flex(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, mean: &FlexTensor, var: &FlexTensor, epsilon: f64) -> FlexTensor {
    let ch = Channels::new(x, var, epsilon);
    let a = ch.scaled(values(gamma));
    flex(ch.affine(values(x), None, &a, &offset(values(beta), values(mean), &a)), x.shape().to_vec())
}

#[allow(clippy::too_many_arguments)]
fn tangent_flex(x: &FlexTensor, xdot: &FlexTensor, gamma: &FlexTensor, dgamma: &FlexTensor, dbeta: &FlexTensor, mean: &FlexTensor, var: &FlexTensor, epsilon: f64) -> FlexTensor {
    let ch = Channels::new(x, var, epsilon);
    let a = ch.scaled(values(dgamma)); // x's coefficient: γ̇/√(σ² + ε)
    let d = offset(values(dbeta), values(mean), &a);
    let scale = ch.scaled(values(gamma)); // ẋ's: γ/√(σ² + ε)
    let xdot = (xdot.shape().num_elements() > 0).then(|| (values(xdot), &scale[..]));
    flex(ch.affine(values(x), xdot, &a, &d), x.shape().to_vec())
}

impl EvalBatchNorm for Flex {
    fn batch_norm_eval(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, mean: FlexTensor, var: FlexTensor, epsilon: f64) -> FlexTensor {
        value_flex(&contiguous(x), &contiguous(gamma), &contiguous(beta), &contiguous(mean), &contiguous(var), epsilon)
    }

    fn batch_norm_eval_tangent(x: FlexTensor, xdot: FlexTensor, gamma: FlexTensor, dgamma: FlexTensor, dbeta: FlexTensor, mean: FlexTensor, var: FlexTensor, epsilon: f64) -> FlexTensor {
        tangent_flex(&contiguous(x), &contiguous(xdot), &contiguous(gamma), &contiguous(dgamma), &contiguous(dbeta), &contiguous(mean), &contiguous(var), epsilon)
    }
}

/// Backward of [`EvalBatchNorm::batch_norm_eval`]: dx = dy γ/√(σ² + ε), dγ = Σ dy x̂, dβ = Σ dy.
#[derive(Debug)]
struct ValueBackward;

impl Backward<Flex, 3> for ValueBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, gamma, mean, var, epsilon) = ops.state;
        let ch = Channels::new(&x, &var, epsilon);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(ch.times(values(&dy), &ch.scaled(values(&gamma))), x.shape().to_vec()));
        }
        if node_gamma.is_some() || node_beta.is_some() {
            // (Σ dy, Σ dy (x − μ)) per channel
            let sums = channel_sums(values(&x), Some(values(&dy)), ch.c, ch.l, values(&mean));
            if let Some(node) = node_gamma {
                let dg: Vec<f32> = sums.iter().zip(&ch.inv).map(|(s, i)| (s.1 * i) as f32).collect();
                grads.register::<Flex>(node.id, flex(dg, vec![ch.c]));
            }
            if let Some(node) = node_beta {
                grads.register::<Flex>(node.id, flex(sums.iter().map(|s| s.0 as f32).collect(), vec![ch.c]));
            }
        }
    }
}

/// Backward of [`EvalBatchNorm::batch_norm_eval_tangent`] for the incoming gradient ḡ:
/// dẋ = ḡ γ/√(σ² + ε), dx = ḡ γ̇/√(σ² + ε), dγ = Σ ḡ ẋ/√(σ² + ε) (the direction, the statistics
/// and β get none).
#[derive(Debug)]
struct TangentBackward;

impl Backward<Flex, 3> for TangentBackward {
    type State = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_xdot, node_gamma] = ops.parents;
        let g = contiguous(grads.consume::<Flex>(&ops.node));
        let (xdot, gamma, dgamma, var, epsilon) = ops.state;
        let ch = Channels::new(&g, &var, epsilon);
        let shape = g.shape().to_vec();
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex(ch.times(values(&g), &ch.scaled(values(&dgamma))), shape.clone()));
        }
        if xdot.shape().num_elements() == 0 {
            return; // ẋ = 0: nothing reaches ẋ or γ
        }
        if let Some(node) = node_xdot {
            grads.register::<Flex>(node.id, flex(ch.times(values(&g), &ch.scaled(values(&gamma))), shape));
        }
        if let Some(node) = node_gamma {
            let sums = channel_sums(values(&xdot), Some(values(&g)), ch.c, ch.l, &vec![0.0; ch.c]);
            let dg: Vec<f32> = sums.iter().zip(&ch.inv).map(|(s, i)| (s.1 * i) as f32).collect();
            grads.register::<Flex>(node.id, flex(dg, vec![ch.c]));
        }
    }
}

impl<C: CheckpointStrategy> EvalBatchNorm for Autodiff<Flex, C> {
    fn batch_norm_eval(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, mean: FloatTensor<Self>, var: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        let prepared = ValueBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful();
        let (xp, gp, bp) = (contiguous(x.into_primitive()), contiguous(gamma.into_primitive()), contiguous(beta.into_primitive()));
        let (mp, vp) = (contiguous(mean.into_primitive()), contiguous(var.into_primitive()));
        let y = value_flex(&xp, &gp, &bp, &mp, &vp, epsilon);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish((xp, gp, mp, vp, epsilon), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn batch_norm_eval_tangent(x: FloatTensor<Self>, xdot: FloatTensor<Self>, gamma: FloatTensor<Self>, dgamma: FloatTensor<Self>, dbeta: FloatTensor<Self>, mean: FloatTensor<Self>, var: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        let prepared = TangentBackward.prepare::<C>([x.node(), xdot.node(), gamma.node()]).compute_bound().stateful();
        let (xp, tp, gp) = (contiguous(x.into_primitive()), contiguous(xdot.into_primitive()), contiguous(gamma.into_primitive()));
        let (dgp, dbp) = (contiguous(dgamma.into_primitive()), contiguous(dbeta.into_primitive()));
        let (mp, vp) = (contiguous(mean.into_primitive()), contiguous(var.into_primitive()));
        let y = tangent_flex(&xp, &tp, &gp, &dgp, &dbp, &mp, &vp, epsilon);
        match prepared {
            OpsKind::Tracked(prep) => prep.finish((tp, gp, dgp, vp, epsilon), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}

/// The running statistics μ, σ² of `layer`, on `x`'s device.
fn statistics<const D: usize>(layer: &BatchNorm, x: &Tensor<D>) -> (Tensor<1>, Tensor<1>) {
    let device = x.device();
    (layer.running_mean.value().to_device(&device), layer.running_var.value().to_device(&device))
}

/// `x` `[batch, c, …]` as `[batch, c, l]` (`l` = the spatial size, 1 after a dense layer): the
/// layout of basin's batch-norm kernels.
pub(crate) fn flat<const D: usize>(x: Tensor<D>) -> Tensor<3> {
    let dims = x.dims();
    let l: usize = dims[2..].iter().product();
    x.reshape([dims[0], dims[1], l])
}

/// `[c]` reshaped to broadcast along channel axis 1 of a rank-`D` tensor.
fn per_channel<const D: usize>(p: Tensor<1>) -> Tensor<D> {
    let c = p.dims()[0];
    p.reshape::<D, [usize; D]>(std::array::from_fn(|i| if i == 1 { c } else { 1 }))
}

/// `layer` in evaluation mode on `x` `[batch, c, …]`: γ (x − μ)/√(σ² + ε) + β with the running
/// statistics, also on an autodiff device whose module is in training mode (the tangent pass
/// holds one fixed function). basin's kernel on the flex backend (f32), Burn's
/// `module::batch_norm` (what `BatchNorm::forward` calls in evaluation) elsewhere.
pub fn batch_norm_eval<const D: usize>(layer: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let (mean, var) = statistics(layer, &x);
    if !on_flex_f32(&x) {
        return burn::tensor::module::batch_norm(x, layer.gamma.val(), layer.beta.val(), mean, var, layer.epsilon);
    }
    let dims = x.dims();
    let y = <burn::backend::Dispatch as EvalBatchNorm>::batch_norm_eval(
        flat(x).into_dispatch(),
        layer.gamma.val().into_dispatch(),
        layer.beta.val().into_dispatch(),
        mean.into_dispatch(),
        var.into_dispatch(),
        layer.epsilon,
    );
    Tensor::<3>::from_dispatch(y).reshape(dims)
}

/// The tangent of [`batch_norm_eval`] at `x` along ẋ = `xdot` (`None` = 0) and the layer
/// direction `dir` (`None` = 0): γ/√(σ² + ε) · ẋ + γ̇ x̂ + β̇. `None` when both are zero.
pub fn batch_norm_eval_tangent<const D: usize>(layer: &BatchNorm, dir: Option<&BatchNorm>, x: Tensor<D>, xdot: Option<Tensor<D>>) -> Option<Tensor<D>> {
    if xdot.is_none() && dir.is_none() {
        return None;
    }
    let (mean, var) = statistics(layer, &x);
    let c = x.dims()[1];
    let device = x.device();
    // without a direction ẏ does not depend on x: detached, it gets no (zero) gradient pass
    let (dgamma, dbeta, x) = match dir {
        Some(d) => (d.gamma.val(), d.beta.val(), x),
        None => (Tensor::zeros([c], &device), Tensor::zeros([c], &device), x.detach()),
    };
    if !on_flex_f32(&x) {
        let inv = var.add_scalar(layer.epsilon).sqrt().recip();
        let xhat = (x - per_channel(mean)) * per_channel(inv.clone());
        let dv = xhat * per_channel(dgamma) + per_channel(dbeta);
        return Some(match xdot {
            Some(t) => dv + t * per_channel(layer.gamma.val() * inv),
            None => dv,
        });
    }
    let dims = x.dims();
    let xdot = xdot.map_or_else(|| Tensor::<3>::zeros([0, 0, 0], &device), flat);
    let y = <burn::backend::Dispatch as EvalBatchNorm>::batch_norm_eval_tangent(
        flat(x).into_dispatch(),
        xdot.into_dispatch(),
        layer.gamma.val().into_dispatch(),
        dgamma.into_dispatch(),
        dbeta.into_dispatch(),
        mean.into_dispatch(),
        var.into_dispatch(),
        layer.epsilon,
    );
    Some(Tensor::<3>::from_dispatch(y).reshape(dims))
}
