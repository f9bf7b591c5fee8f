//! [`OnnxNet`]: an ONNX graph as a Burn module. Its parameters are Burn `Param`s in the zoo's
//! layer types (so every estimator and per-layer rule treats them as a zoo network's), its graph
//! a [`Program`] run on [`Dual`] values, so the plain and the tangent pass come from one
//! definition.

use crate::error::{OnnxError, bail};
use crate::file::{HostData, HostTensor, OnnxFile};
use crate::layers::LayerNormParams;
use crate::program::{LayerSpec, ParamRef, Program, compile};
use crate::value::FloatVal;
use basin_zoo::jvp::{Dual, DualNet};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};
use std::path::Path;
use std::sync::Arc;

/// A network read from an ONNX file.
#[derive(Module, Debug)]
pub struct OnnxNet {
    /// Convolutions (Conv).
    pub convs: Vec<Conv2d>,
    /// Dense layers (Gemm, MatMul with a parameter weight), weight `[in, out]`.
    pub denses: Vec<Linear>,
    /// Batch norms.
    pub norms: Vec<BatchNorm>,
    /// Layer norms.
    pub layer_norms: Vec<LayerNormParams>,
    /// Dropouts.
    pub drops: Vec<Dropout>,
    #[module(skip)]
    program: Arc<Program>,
}

/// A host tensor's floats.
fn floats(t: &HostTensor) -> Vec<f32> {
    match &t.data {
        HostData::Float(v) => v.clone(),
        HostData::Int(v) => v.iter().map(|&x| x as f32).collect(),
    }
}

fn tensor<const D: usize>(t: &HostTensor, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(floats(t), t.dims.clone()), device)
}

impl OnnxNet {
    /// Reads `path` (and its external data) and builds the network on `device`.
    ///
    /// Errors (one line, naming the file and the node or initializer): not an ONNX model, an
    /// external data file missing, an op basin does not run, a graph with other than one input
    /// and one output, shared parameter initializers.
    pub fn load(path: &Path, device: &Device) -> Result<OnnxNet, OnnxError> {
        let mut file = OnnxFile::open(path)?;
        let program = compile(&mut file)?;
        Ok(Self::build(program, device))
    }

    fn build(program: Program, device: &Device) -> OnnxNet {
        let mut net = OnnxNet { convs: vec![], denses: vec![], norms: vec![], layer_norms: vec![], drops: vec![], program: Arc::new(program.clone()) };
        for spec in &program.layers {
            match spec {
                LayerSpec::Conv { weight, bias, strides, pads, dilations, groups } => {
                    let [o, i, kh, kw] = weight.1.dims[..] else { unreachable!("checked: rank 4") };
                    let mut c = Conv2dConfig::new([i * groups, o], [kh, kw])
                        .with_stride(*strides)
                        .with_dilation(*dilations)
                        .with_groups(*groups)
                        .with_padding(PaddingConfig2d::Explicit(pads[0], pads[1], pads[2], pads[3]))
                        .with_bias(bias.is_some())
                        .init(device);
                    c.weight = Param::from_tensor(tensor(&weight.1, device));
                    c.bias = bias.as_ref().map(|b| Param::from_tensor(tensor(&b.1, device)));
                    net.convs.push(c);
                }
                LayerSpec::Dense { weight, bias } => {
                    let [i, o] = weight.1.dims[..] else { unreachable!("checked: rank 2") };
                    let mut l = LinearConfig::new(i, o).with_bias(bias.is_some()).init(device);
                    l.weight = Param::from_tensor(tensor(&weight.1, device));
                    l.bias = bias.as_ref().map(|b| Param::from_tensor(tensor(&b.1, device)));
                    net.denses.push(l);
                }
                LayerSpec::BatchNorm { scale, bias, mean, var, epsilon, momentum } => {
                    let mut b = BatchNormConfig::new(scale.1.dims[0]).with_epsilon(*epsilon).with_momentum(*momentum).init(device);
                    b.gamma = Param::from_tensor(tensor(&scale.1, device));
                    b.beta = Param::from_tensor(tensor(&bias.1, device));
                    b.running_mean = burn::module::RunningState::new(tensor(&mean.1, device));
                    b.running_var = burn::module::RunningState::new(tensor(&var.1, device));
                    net.norms.push(b);
                }
                LayerSpec::LayerNorm { scale, bias, .. } => net.layer_norms.push(LayerNormParams {
                    gamma: Param::from_tensor(tensor(&scale.1, device)),
                    beta: bias.as_ref().map(|b| Param::from_tensor(tensor(&b.1, device))),
                }),
                LayerSpec::Dropout(p) => net.drops.push(DropoutConfig::new(*p).init()),
            }
        }
        net
    }

    /// The compiled graph.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Layer `k` of the program's position in its kind's list.
    pub fn index(&self, k: usize) -> usize {
        self.program.positions[k]
    }

    /// ε of layer norm `k`.
    pub fn layer_norm_eps(&self, k: usize) -> f64 {
        match &self.program().layers[k] {
            LayerSpec::LayerNorm { epsilon, .. } => *epsilon,
            _ => unreachable!("a layer-norm step names a layer norm"),
        }
    }

    /// The number of trainable parameters (what PyTorch's `sum(p.numel() for p in
    /// model.parameters())` counts for the exported model).
    pub fn num_trainable(&self) -> usize {
        basin_core::paramvec::ParamVec::from_model(self).numel()
    }

    /// The trainable parameters under their ONNX initializer names, with their ids.
    pub fn param_ids(&self) -> Vec<(String, burn::module::ParamId)> {
        let mut out = vec![];
        for (k, spec) in self.program().layers.iter().enumerate() {
            let i = self.index(k);
            let mut push = |name: &ParamRef, id| out.push((name.name.clone(), id));
            match spec {
                LayerSpec::Conv { weight, bias, .. } => {
                    push(&weight.0, self.convs[i].weight.id);
                    if let (Some(b), Some(p)) = (bias, &self.convs[i].bias) {
                        push(&b.0, p.id);
                    }
                }
                LayerSpec::Dense { weight, bias } => {
                    push(&weight.0, self.denses[i].weight.id);
                    if let (Some(b), Some(p)) = (bias, &self.denses[i].bias) {
                        push(&b.0, p.id);
                    }
                }
                LayerSpec::BatchNorm { scale, bias, .. } => {
                    push(&scale.0, self.norms[i].gamma.id);
                    push(&bias.0, self.norms[i].beta.id);
                }
                LayerSpec::LayerNorm { scale, bias, .. } => {
                    push(&scale.0, self.layer_norms[i].gamma.id);
                    if let (Some(b), Some(p)) = (bias, &self.layer_norms[i].beta) {
                        push(&b.0, p.id);
                    }
                }
                LayerSpec::Dropout(_) => {}
            }
        }
        out
    }

    /// Initializer names of biases PyTorch's dynamo exporter folded from batch norms
    /// (non-empty: the graph's parameters are not the PyTorch model's; export with
    /// `optimize=False`, see the guide).
    pub fn folded_batch_norms(&self) -> &[String] {
        &self.program().folded
    }

    /// The input shape the graph declares (`None` = a dynamic axis).
    pub fn input_shape(&self) -> &[Option<usize>] {
        &self.program().input.2
    }

    /// Checks that the graph runs on a batch of two inputs of shape `item` (without the batch
    /// axis) and gives logits `[2, K]`; returns K. Every shape rule of every node is met here,
    /// once, so that later passes cannot fail.
    pub fn check_input(&self, item: &[usize], device: &Device) -> Result<usize, OnnxError> {
        let want = self.input_shape();
        let dims: Vec<usize> = std::iter::once(2).chain(item.iter().copied()).collect();
        // the graph's rank and sizes, or features [N, F] of the items flattened
        let fits = want.len() == dims.len() && want.iter().zip(&dims).skip(1).all(|(w, d)| w.is_none_or(|w| w == *d));
        let flat = want.len() == 2 && want[1].is_none_or(|w| w == item.iter().product::<usize>());
        if !(fits || flat) {
            bail!("input '{}': the graph takes {:?}, the data has items of shape {item:?}", self.program().input.1, want.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect::<Vec<_>>());
        }
        // in evaluation mode, off the autodiff device: a probe must not update batch-norm
        // running statistics
        let eval = self.valid();
        let x: Tensor<4> = Tensor::zeros(self.image_shape(2, item), &device.clone().inner());
        let y = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| eval.run(None, Dual::plain(x))))
            .map_err(|p| OnnxError(format!("the graph does not run on inputs of shape {dims:?}: {}", panic_text(&p))))??;
        match y.value.dims() {
            [2, k] if k > 0 => Ok(k),
            d => bail!("the output has shape {d:?} on a batch of 2; basin reads logits [batch, classes]"),
        }
    }

    /// Images `[B, C, H, W]` as the graph's input shape: kept when it takes rank 4, else
    /// flattened to `[B, features]`.
    fn image_shape(&self, batch: usize, item: &[usize]) -> [usize; 4] {
        let mut s = [batch, 1, 1, 1];
        let k = item.len().min(3);
        s[4 - k..].copy_from_slice(&item[item.len() - k..]);
        if item.len() > 3 {
            s[1] = item[..item.len() - 2].iter().product();
        }
        s
    }

    fn run(&self, dir: Option<&OnnxNet>, x: Dual<4>) -> Result<Dual<2>, OnnxError> {
        let [b, c, h, w] = x.value.dims();
        let want = self.input_shape();
        let dims: Vec<usize> = if want.len() == 4 { vec![b, c, h, w] } else if want.len() == 3 { vec![b, c, h * w] } else { vec![b, c * h * w] };
        let y = crate::exec::run(self, dir, FloatVal::of(x, &dims)?)?;
        if y.rank != 2 {
            bail!("the output has rank {}; basin reads logits [batch, classes]", y.rank);
        }
        Ok(y.to::<2>())
    }

    /// This network with the tensors of `named` (initializer names, the file's layout: a
    /// PyTorch `state_dict`) in place of its own; parameter ids are kept, names `named` does
    /// not hold keep their values. A tensor of the wrong size is an error naming it.
    pub fn with_named(mut self, named: &std::collections::HashMap<String, Vec<f32>>) -> Result<OnnxNet, OnnxError> {
        let program = self.program.clone();
        let get = |p: &ParamRef| -> Result<Option<HostTensor>, OnnxError> {
            let Some(v) = named.get(&p.name) else { return Ok(None) };
            if v.len() != p.dims.iter().product::<usize>() {
                bail!("'{}': {} values, the graph's initializer has shape {:?}", p.name, v.len(), p.dims);
            }
            let t = HostTensor { dims: p.dims.clone(), data: HostData::Float(v.clone()) };
            Ok(Some(if p.transposed { crate::program::transpose2(&t) } else { t }))
        };
        fn set<const D: usize>(p: &mut Param<Tensor<D>>, t: Option<HostTensor>) {
            if let Some(t) = t {
                let device = p.val().device();
                let (id, grad) = (p.id, p.val().is_require_grad());
                *p = Param::initialized(id, tensor::<D>(&t, &device).set_require_grad(grad));
            }
        }
        for (k, spec) in program.layers.iter().enumerate() {
            let i = self.index(k);
            match spec {
                LayerSpec::Conv { weight, bias, .. } => {
                    set(&mut self.convs[i].weight, get(&weight.0)?);
                    if let (Some(b), Some(p)) = (bias, self.convs[i].bias.as_mut()) {
                        set(p, get(&b.0)?);
                    }
                }
                LayerSpec::Dense { weight, bias } => {
                    set(&mut self.denses[i].weight, get(&weight.0)?);
                    if let (Some(b), Some(p)) = (bias, self.denses[i].bias.as_mut()) {
                        set(p, get(&b.0)?);
                    }
                }
                LayerSpec::BatchNorm { scale, bias, mean, var, .. } => {
                    let n = &mut self.norms[i];
                    set(&mut n.gamma, get(&scale.0)?);
                    set(&mut n.beta, get(&bias.0)?);
                    let device = n.gamma.val().device();
                    if let Some(t) = get(&mean.0)? {
                        n.running_mean = burn::module::RunningState::new(tensor(&t, &device));
                    }
                    if let Some(t) = get(&var.0)? {
                        n.running_var = burn::module::RunningState::new(tensor(&t, &device));
                    }
                }
                LayerSpec::LayerNorm { scale, bias, .. } => {
                    let n = &mut self.layer_norms[i];
                    set(&mut n.gamma, get(&scale.0)?);
                    if let (Some(b), Some(p)) = (bias, n.beta.as_mut()) {
                        set(p, get(&b.0)?);
                    }
                }
                LayerSpec::Dropout(_) => {}
            }
        }
        Ok(self)
    }

    /// The parameters and state under their ONNX initializer names, in the file's layout (a
    /// dense weight transposed back to `[out, in]`), as host floats.
    pub fn named_tensors(&self) -> Vec<(ParamRef, Vec<f32>)> {
        let host = |t: Tensor<1>| t.into_data().iter::<f32>().collect::<Vec<f32>>();
        let flat2 = |t: Tensor<2>, transposed: bool| host(if transposed { t.transpose() } else { t }.flatten(0, 1));
        let mut out = vec![];
        for (k, spec) in self.program().layers.iter().enumerate() {
            let i = self.index(k);
            match spec {
                LayerSpec::Conv { weight, bias, .. } => {
                    out.push((weight.0.clone(), host(self.convs[i].weight.val().flatten(0, 3))));
                    if let (Some(b), Some(p)) = (bias, &self.convs[i].bias) {
                        out.push((b.0.clone(), host(p.val())));
                    }
                }
                LayerSpec::Dense { weight, bias } => {
                    out.push((weight.0.clone(), flat2(self.denses[i].weight.val(), weight.0.transposed)));
                    if let (Some(b), Some(p)) = (bias, &self.denses[i].bias) {
                        out.push((b.0.clone(), host(p.val())));
                    }
                }
                LayerSpec::BatchNorm { scale, bias, mean, var, .. } => {
                    let n = &self.norms[i];
                    out.push((scale.0.clone(), host(n.gamma.val())));
                    out.push((bias.0.clone(), host(n.beta.val())));
                    out.push((mean.0.clone(), host(n.running_mean.value_sync())));
                    out.push((var.0.clone(), host(n.running_var.value_sync())));
                }
                LayerSpec::LayerNorm { scale, bias, .. } => {
                    let n = &self.layer_norms[i];
                    out.push((scale.0.clone(), host(n.gamma.val())));
                    if let (Some(b), Some(p)) = (bias, &n.beta) {
                        out.push((b.0.clone(), host(p.val())));
                    }
                }
                LayerSpec::Dropout(_) => {}
            }
        }
        out
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "a panic".into()).lines().next().unwrap_or("").to_string()
}

/// The graph, written once for both passes: each node's rule on [`Dual`] values.
impl DualNet for OnnxNet {
    fn forward_dual(&self, dir: Option<&OnnxNet>, x: Dual<4>) -> Dual<2> {
        self.run(dir, x).expect("the graph was checked on this input shape (OnnxNet::check_input)")
    }
}

impl basin_core::Classifier for OnnxNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        basin_zoo::jvp::logits(self, images)
    }
    fn logits_jvp(&self, dir: &Self, images: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(basin_zoo::jvp::logits_jvp(self, dir, images))
    }
}
