//! Compiling an ONNX graph into a [`Program`]: its nodes as steps over numbered value slots, and
//! the layers whose float initializers are the network's parameters.
//!
//! An ONNX graph does not say which initializers PyTorch trained. basin decides it by the slot
//! an initializer feeds: the weight and bias of Conv, Gemm and MatMul (directly or through the
//! `Transpose` PyTorch's exporters put before a MatMul, with the bias an `Add` after it), the
//! scale and bias of BatchNormalization and LayerNormalization. Those become Burn layers (the
//! zoo's `Conv2d`, `Linear`, `BatchNorm`, [`LayerNormParams`](crate::layers::LayerNormParams)),
//! so that every estimator and per-filter rule sees them as it sees a zoo network's, and basin's
//! kernels run them. Batch-norm running statistics are state. Every other initializer (integer
//! tensors, shape constants, a bias the exporter computes) is a constant.

use crate::error::{OnnxError, bail};
use crate::file::{HostData, HostTensor, OnnxFile};
use onnx_ir::{AttributeProto, NodeProto};
use std::collections::{HashMap, HashSet};

/// The op types basin runs (the list an unsupported op's error names).
pub const SUPPORTED: &[&str] = &[
    "Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Dropout", "Erf", "Exp",
    "Expand", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "Identity", "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "MatMul",
    "MaxPool", "Mul", "Neg", "Pad", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Sqrt", "Squeeze", "Sub",
    "Tanh", "Transpose", "Unsqueeze",
];

/// A value slot.
pub type Slot = usize;

/// What a step computes (each variant's doc line says what its fields are).
#[allow(missing_docs)]
#[derive(Debug, Clone)]
pub enum Op {
    /// Convolution with layer `layer` of the net (bias: the layer's, or `extra_bias`, a computed one).
    Conv { layer: usize },
    /// A dense layer `layer` on the last axis (Gemm or MatMul with a parameter weight).
    Dense { layer: usize },
    /// Batch norm `layer`.
    BatchNorm { layer: usize },
    /// Layer norm `layer` over the last axis.
    LayerNorm { layer: usize },
    /// Dropout `layer` (training only).
    Dropout { layer: usize },
    /// Max pooling.
    MaxPool(burn::nn::pool::MaxPool2d),
    /// Average pooling: kernel, strides, padding [t, l, b, r], count_include_pad, ceil_mode.
    AvgPool { kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4], count_pad: bool, ceil: bool },
    /// Mean over the spatial axes.
    GlobalAvgPool,
    /// An element-wise function of one input.
    Unary(Unary),
    /// An element-wise function of two inputs, broadcasting.
    Binary(Binary),
    /// Matrix product of two activations (batched, broadcasting).
    MatMul,
    /// A general Gemm whose B is an activation: α op(A) op(B) + β C.
    Gemm { alpha: f32, beta: f32, trans_a: bool, trans_b: bool },
    /// Softmax (`log`: LogSoftmax) over an axis. `coerced`: opset < 13, where the input is
    /// flattened to 2-D at `axis` and the softmax taken over all the trailing axes together;
    /// basin runs it when that is the last axis alone and refuses it otherwise.
    Softmax { axis: i64, log: bool, coerced: bool },
    /// Mean (`sum`: sum) over axes (attribute, or the second input).
    Reduce { axes: Option<Vec<i64>>, keepdims: bool, sum: bool, noop_empty: bool },
    /// Flatten to 2-D at an axis.
    Flatten(i64),
    /// Reshape to the shape in the second input.
    Reshape { allowzero: bool },
    /// Permute axes.
    Transpose(Option<Vec<usize>>),
    /// Remove length-1 axes (attribute or second input; none = all).
    Squeeze(Option<Vec<i64>>),
    /// Insert length-1 axes (attribute or second input).
    Unsqueeze(Option<Vec<i64>>),
    /// Concatenate along an axis.
    Concat(i64),
    /// Its input, unchanged (Identity, and Dropout outside training).
    Identity,
    /// A constant.
    Constant(HostTensor),
    /// The shape of the input, `[start, end)`.
    Shape { start: i64, end: Option<i64> },
    /// Gather along an axis with integer indices.
    Gather(i64),
    /// Slice with starts, ends, axes, steps inputs.
    Slice,
    /// Broadcast to a shape.
    Expand,
    /// To float (`true`) or to an integer type.
    Cast { to_float: bool },
    /// To the type of the second input.
    CastLike,
    /// Constant padding of the last two axes (pads input, value).
    Pad,
    /// A tensor of the given shape filled with a value.
    ConstantOfShape(HostTensor),
}

/// Element-wise functions of one input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// max(0, x).
    Relu,
    /// x or αx.
    LeakyRelu(f32),
    /// The logistic function.
    Sigmoid,
    /// tanh.
    Tanh,
    /// x Φ(x) (`tanh`: its tanh approximation).
    Gelu {
        /// The tanh approximation.
        tanh: bool,
    },
    /// The error function.
    Erf,
    /// −x.
    Neg,
    /// √x.
    Sqrt,
    /// eˣ.
    Exp,
    /// ln x.
    Log,
}

/// Element-wise functions of two inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// a + b.
    Add,
    /// a − b.
    Sub,
    /// a b.
    Mul,
    /// a / b.
    Div,
}

/// One node: its op, input slots (`None` = an omitted optional input), output slot, name.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it computes.
    pub op: Op,
    /// Its inputs.
    pub inputs: Vec<Option<Slot>>,
    /// Its output.
    pub output: Slot,
    /// Slots whose last use this step is (freed after it, so that buffers can be reused).
    pub free: Vec<Slot>,
    /// The node's name (or op type and index) for messages.
    pub node: String,
    /// The node's index in the graph.
    pub index: usize,
}

/// A float initializer that became a parameter: where it lives and how it is laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRef {
    /// The initializer's name (a PyTorch state_dict name under both exporters).
    pub name: String,
    /// Its shape in the file.
    pub dims: Vec<usize>,
    /// Stored transposed (a dense weight: ONNX `[out, in]` as Burn's `[in, out]`).
    pub transposed: bool,
}

/// A layer to build: its kind and its initializers (each variant's doc line says what its
/// fields are).
#[allow(missing_docs)]
#[derive(Debug, Clone)]
pub enum LayerSpec {
    /// Conv: weight, bias, strides, pads [t, l, b, r], dilations, groups.
    Conv { weight: (ParamRef, HostTensor), bias: Option<(ParamRef, HostTensor)>, strides: [usize; 2], pads: [usize; 4], dilations: [usize; 2], groups: usize },
    /// Dense: weight (as `[in, out]`), bias.
    Dense { weight: (ParamRef, HostTensor), bias: Option<(ParamRef, HostTensor)> },
    /// BatchNormalization: scale, bias, mean, var, epsilon, Burn momentum (1 − ONNX's).
    BatchNorm { scale: (ParamRef, HostTensor), bias: (ParamRef, HostTensor), mean: (ParamRef, HostTensor), var: (ParamRef, HostTensor), epsilon: f64, momentum: f64 },
    /// LayerNormalization over the last axis: scale, bias, epsilon.
    LayerNorm { scale: (ParamRef, HostTensor), bias: Option<(ParamRef, HostTensor)>, epsilon: f64 },
    /// Dropout with its ratio.
    Dropout(f64),
}

/// A compiled graph.
#[derive(Debug, Clone)]
pub struct Program {
    /// The steps, in the graph's (topological) order.
    pub steps: Vec<Step>,
    /// Constants put in their slots before the first step.
    pub constants: Vec<(Slot, HostTensor)>,
    /// The input's slot, its name and its shape (`None` = dynamic axis).
    pub input: (Slot, String, Vec<Option<usize>>),
    /// The output's slot.
    pub output: Slot,
    /// The number of slots.
    pub slots: usize,
    /// The layers, in the order of the net's layer lists.
    pub layers: Vec<LayerSpec>,
    /// Initializer names whose bias PyTorch's dynamo exporter folded from a batch norm
    /// (`…weight_bias`): the graph's parameters are not the model's.
    pub folded: Vec<String>,
    /// Each layer's position in its kind's list (the net's `convs`, `denses`, …).
    pub positions: Vec<usize>,
}

/// Attribute lookups on a node.
struct Attrs<'a>(&'a [AttributeProto]);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&AttributeProto> {
        self.0.iter().find(|a| a.name == name)
    }
    fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }
    fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }
    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }
}

/// Builds the program of `file`'s graph.
pub fn compile(file: &mut OnnxFile) -> Result<Program, OnnxError> {
    let graph = file.model.graph.as_ref().expect("checked by OnnxFile::open").clone();
    let path = file.path.display().to_string();
    // the default domain's opset (`ai.onnx`, written as ""); a file without one is read as current
    let opset = file.model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx").map_or(i64::MAX, |o| o.version);
    let mut inits: HashMap<String, HostTensor> = HashMap::new();
    for t in &graph.initializer {
        inits.insert(t.name.clone(), file.tensor(t)?);
    }
    let mut absorbed: HashSet<usize> = HashSet::new(); // nodes folded into a layer (Transpose before, Add after)
    // PyTorch's TorchScript exporter stores equal initializers once and names the others by an
    // Identity of it (a fresh model's batch norms: every scale 1, every shift 0). Each such name
    // is an initializer of its own here, with its own parameter.
    for (i, n) in graph.node.iter().enumerate() {
        if n.op_type == "Identity"
            && let (Some(src), Some(out)) = (n.input.first(), n.output.first())
            && !out.is_empty()
            && let Some(t) = inits.get(src).cloned()
            && !inits.contains_key(out)
        {
            inits.insert(out.clone(), t);
            absorbed.insert(i);
        }
    }
    let real_inputs: Vec<_> = graph.input.iter().filter(|i| !inits.contains_key(&i.name)).collect();
    if real_inputs.len() != 1 {
        bail!("{path}: the graph has {} inputs ({}); basin feeds one (the images or features)", real_inputs.len(), real_inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "));
    }
    if graph.output.len() != 1 {
        bail!("{path}: the graph has {} outputs; basin reads one (the logits)", graph.output.len());
    }
    let input = real_inputs[0];
    let input_shape: Vec<Option<usize>> = input
        .type_
        .as_ref()
        .and_then(|t| t.tensor_type().shape.as_ref())
        .map(|s| s.dim.iter().map(|d| if d.has_dim_value() && d.dim_value() > 0 { Some(d.dim_value() as usize) } else { None }).collect())
        .unwrap_or_default();

    // who reads each value
    let mut readers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for x in n.input.iter().filter(|x| !x.is_empty()) {
            readers.entry(x.as_str()).or_default().push(i);
        }
    }
    let node_name = |i: usize, n: &NodeProto| if n.name.is_empty() { format!("{}#{i}", n.op_type) } else { n.name.clone() };
    let float_init = |name: &str| inits.get(name).filter(|t| matches!(t.data, HostData::Float(_)));
    let producer: HashMap<&str, usize> = graph.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i))).collect();

    let mut slots: HashMap<String, Slot> = HashMap::new();
    let slot_of = |name: &str, slots: &mut HashMap<String, Slot>| -> Slot {
        let n = slots.len();
        *slots.entry(name.to_string()).or_insert(n)
    };
    let input_slot = slot_of(&input.name, &mut slots);
    let mut program = Program { steps: vec![], constants: vec![], input: (input_slot, input.name.clone(), input_shape), output: 0, slots: 0, layers: vec![], folded: vec![], positions: vec![] };
    let mut alias: HashMap<String, String> = HashMap::new(); // an absorbed Add's output → the dense layer's
    let mut params: HashMap<String, String> = HashMap::new(); // initializer → node that owns it
    let param = |name: &str, transposed: bool| -> Result<(ParamRef, HostTensor), OnnxError> {
        let t = float_init(name).ok_or_else(|| OnnxError(format!("{path}: '{name}' is not a float initializer")))?.clone();
        Ok((ParamRef { name: name.to_string(), dims: t.dims.clone(), transposed }, t))
    };

    for (i, n) in graph.node.iter().enumerate() {
        if absorbed.contains(&i) {
            continue;
        }
        let name = node_name(i, n);
        let at = |what: String| OnnxError(format!("{path}: node '{name}' ({}): {what}", n.op_type));
        if !n.domain.is_empty() && n.domain != "ai.onnx" {
            return Err(at(format!("domain '{}' is not supported (basin runs the standard ONNX ops: {})", n.domain, SUPPORTED.join(", "))));
        }
        if n.output.first().is_none_or(|o| o.is_empty()) {
            return Err(at("no output".into()));
        }
        let a = Attrs(&n.attribute);
        let input = |k: usize| n.input.get(k).filter(|s| !s.is_empty()).map(|s| s.as_str());
        let own = |p: &str, params: &mut HashMap<String, String>| params.insert(p.to_string(), name.clone());
        let mut op_inputs: Vec<Option<&str>> = (0..n.input.len()).map(input).collect();
        let op = match n.op_type.as_str() {
            "Conv" => {
                let w = input(1).filter(|w| float_init(w).is_some()).ok_or_else(|| at("the weight must be an initializer".into()))?;
                let dims = &inits[w].dims;
                if dims.len() != 4 {
                    return Err(at(format!("a {}-D convolution (basin runs 2-D ones)", dims.len().saturating_sub(2))));
                }
                let strides = pair(a.ints("strides"), 1).map_err(&at)?;
                let dilations = pair(a.ints("dilations"), 1).map_err(&at)?;
                let pads = match a.string("auto_pad").as_deref() {
                    None | Some("NOTSET") => match a.ints("pads") {
                        None => [0; 4],
                        Some(p) if p.len() == 4 && p.iter().all(|&x| (0..=MAX_GEOMETRY).contains(&x)) => [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize],
                        Some(p) => return Err(at(format!("pads {p:?}"))),
                    },
                    Some("VALID") => [0; 4],
                    Some(other) => return Err(at(format!("auto_pad {other} (export with explicit padding)"))),
                };
                let groups = a.int("group", 1).clamp(1, MAX_GEOMETRY) as usize;
                if !dims[0].is_multiple_of(groups) {
                    return Err(at(format!("{} output channels in {groups} groups", dims[0])));
                }
                let bias = input(2).filter(|b| float_init(b).is_some());
                own(w, &mut params);
                if let Some(b) = bias {
                    own(b, &mut params);
                    op_inputs[2] = None;
                }
                let layer = program.layers.len();
                push(&mut program.layers, LayerSpec::Conv { weight: param(w, false)?, bias: bias.map(|b| param(b, false)).transpose()?, strides, pads, dilations, groups }).map_err(&at)?;
                op_inputs[1] = None;
                Op::Conv { layer }
            }
            "Gemm" | "MatMul" => {
                let gemm = n.op_type == "Gemm";
                let (alpha, beta, ta, tb) = (a.float("alpha", 1.0), a.float("beta", 1.0), a.int("transA", 0) != 0, a.int("transB", 0) != 0);
                // B: an initializer, or a Transpose [1, 0] of one read only here
                let b = input(1).unwrap_or("");
                let through = producer.get(b).filter(|&&p| {
                    let t = &graph.node[p];
                    t.op_type == "Transpose" && t.input.first().is_some_and(|x| float_init(x).is_some_and(|x| x.dims.len() == 2)) && Attrs(&t.attribute).ints("perm").is_none_or(|p| p == [1, 0]) && readers.get(b).is_some_and(|r| r.len() == 1)
                });
                let weight = match (float_init(b), through) {
                    // y = x M with M = op(B) [in, out]; `transposed`: M is the initializer's transpose
                    (Some(w), _) if w.dims.len() == 2 => Some((b.to_string(), gemm && tb)),
                    (None, Some(&p)) => Some((graph.node[p].input[0].clone(), !(gemm && tb))),
                    _ => None,
                };
                match weight {
                    Some((w, transposed)) if !ta && alpha == 1.0 => {
                        if let Some(&p) = through {
                            absorbed.insert(p);
                        }
                        own(&w, &mut params);
                        let (pw, tw) = param(&w, transposed)?;
                        let tw = if transposed { transpose2(&tw) } else { tw };
                        let out = tw.dims[1];
                        // the bias: Gemm's C, or an Add of a 1-D initializer right after a MatMul
                        let mut bias = None;
                        if gemm {
                            if let Some(c) = input(2).filter(|c| float_init(c).is_some_and(|t| t.dims == [out]) && beta == 1.0) {
                                bias = Some(c.to_string());
                                op_inputs[2] = None;
                            } else if input(2).is_some() {
                                return Err(at("a bias C that is not a 1-D initializer of the output width (with β = 1)".into()));
                            }
                        } else if let Some(rs) = readers.get(n.output[0].as_str()).filter(|r| r.len() == 1) {
                            let add = &graph.node[rs[0]];
                            let other = add.input.iter().find(|x| **x != n.output[0]);
                            if add.op_type == "Add" && add.input.len() == 2 && !add.output.is_empty() && other.is_some_and(|c| float_init(c).is_some_and(|t| t.dims == [out])) {
                                bias = other.cloned();
                                absorbed.insert(rs[0]);
                                alias.insert(add.output[0].clone(), n.output[0].clone());
                            }
                        }
                        if let Some(b) = &bias {
                            own(b, &mut params);
                        }
                        let layer = program.layers.len();
                        push(&mut program.layers, LayerSpec::Dense { weight: (pw, tw), bias: bias.map(|b| param(&b, false)).transpose()? }).map_err(&at)?;
                        op_inputs.truncate(1);
                        Op::Dense { layer }
                    }
                    // B is an initializer, a weight: trained only as y = x·op(B) (+ C)
                    Some(_) => return Err(at(format!("Gemm of an initializer B with {}: basin trains B as x·op(B) + C only", if ta { "transA = 1" } else { "α ≠ 1" }))),
                    _ if gemm => Op::Gemm { alpha, beta, trans_a: ta, trans_b: tb },
                    _ => Op::MatMul,
                }
            }
            "BatchNormalization" => {
                if a.int("training_mode", 0) != 0 {
                    return Err(at("training_mode = 1 (export the model in evaluation mode)".into()));
                }
                let names: Vec<&str> = (1..5).map(|k| input(k).filter(|x| float_init(x).is_some()).ok_or_else(|| at(format!("input {k} must be a float initializer")))).collect::<Result<_, _>>()?;
                for x in &names {
                    own(x, &mut params);
                }
                let layer = program.layers.len();
                push(&mut program.layers, LayerSpec::BatchNorm {
                    scale: param(names[0], false)?,
                    bias: param(names[1], false)?,
                    mean: param(names[2], false)?,
                    var: param(names[3], false)?,
                    epsilon: a.float("epsilon", 1e-5) as f64,
                    momentum: 1.0 - a.float("momentum", 0.9) as f64,
                }).map_err(&at)?;
                op_inputs.truncate(1);
                Op::BatchNorm { layer }
            }
            "LayerNormalization" => {
                let scale = input(1).filter(|x| float_init(x).is_some_and(|t| t.dims.len() == 1)).ok_or_else(|| at("the scale must be a 1-D float initializer".into()))?;
                if a.int("axis", -1) != -1 {
                    return Err(at(format!("axis {} (basin normalizes over the last axis)", a.int("axis", -1))));
                }
                let bias = input(2).filter(|x| float_init(x).is_some());
                own(scale, &mut params);
                if let Some(b) = bias {
                    own(b, &mut params);
                }
                let layer = program.layers.len();
                push(&mut program.layers, LayerSpec::LayerNorm { scale: param(scale, false)?, bias: bias.map(|b| param(b, false)).transpose()?, epsilon: a.float("epsilon", 1e-5) as f64 }).map_err(&at)?;
                op_inputs.truncate(1);
                Op::LayerNorm { layer }
            }
            "Dropout" => {
                let ratio = match input(1) {
                    Some(r) => match inits.get(r).map(|t| &t.data) {
                        Some(HostData::Float(v)) if v.len() == 1 => v[0] as f64,
                        _ => return Err(at("a ratio that is not a constant".into())),
                    },
                    None => a.float("ratio", 0.5) as f64,
                };
                let layer = program.layers.len();
                push(&mut program.layers, LayerSpec::Dropout(ratio)).map_err(&at)?;
                op_inputs.truncate(1);
                Op::Dropout { layer }
            }
            "MaxPool" => {
                let kernel = pair(a.ints("kernel_shape"), 0).map_err(&at)?;
                let pads = pads4(a.ints("pads"), a.string("auto_pad")).map_err(&at)?;
                let pool = burn::nn::pool::MaxPool2dConfig::new(kernel)
                    .with_strides(pair(a.ints("strides"), 1).map_err(&at)?)
                    .with_dilation(pair(a.ints("dilations"), 1).map_err(&at)?)
                    .with_padding(burn::nn::PaddingConfig2d::Explicit(pads[0], pads[1], pads[2], pads[3]))
                    .with_ceil_mode(a.int("ceil_mode", 0) != 0)
                    .init();
                if n.output.len() > 1 && !n.output[1].is_empty() {
                    return Err(at("the indices output".into()));
                }
                Op::MaxPool(pool)
            }
            "AveragePool" if a.ints("dilations").is_some_and(|d| d.iter().any(|&x| x != 1)) => return Err(at("AveragePool with dilations (opset 19): not supported".into())),
            "AveragePool" => Op::AvgPool {
                kernel: pair(a.ints("kernel_shape"), 0).map_err(&at)?,
                strides: pair(a.ints("strides"), 1).map_err(&at)?,
                pads: pads4(a.ints("pads"), a.string("auto_pad")).map_err(&at)?,
                count_pad: a.int("count_include_pad", 0) != 0,
                ceil: a.int("ceil_mode", 0) != 0,
            },
            "GlobalAveragePool" => Op::GlobalAvgPool,
            "Relu" => Op::Unary(Unary::Relu),
            "LeakyRelu" => Op::Unary(Unary::LeakyRelu(a.float("alpha", 0.01))),
            "Sigmoid" => Op::Unary(Unary::Sigmoid),
            "Tanh" => Op::Unary(Unary::Tanh),
            "Gelu" => Op::Unary(Unary::Gelu { tanh: a.string("approximate").as_deref() == Some("tanh") }),
            "Erf" => Op::Unary(Unary::Erf),
            "Neg" => Op::Unary(Unary::Neg),
            "Sqrt" => Op::Unary(Unary::Sqrt),
            "Exp" => Op::Unary(Unary::Exp),
            "Log" => Op::Unary(Unary::Log),
            "Add" => Op::Binary(Binary::Add),
            "Sub" => Op::Binary(Binary::Sub),
            "Mul" => Op::Binary(Binary::Mul),
            "Div" => Op::Binary(Binary::Div),
            "Softmax" | "LogSoftmax" if opset < 13 => Op::Softmax { axis: a.int("axis", 1), log: n.op_type == "LogSoftmax", coerced: true },
            "Softmax" | "LogSoftmax" => Op::Softmax { axis: a.int("axis", -1), log: n.op_type == "LogSoftmax", coerced: false },
            "ReduceMean" | "ReduceSum" => Op::Reduce { axes: a.ints("axes"), keepdims: a.int("keepdims", 1) != 0, sum: n.op_type == "ReduceSum", noop_empty: a.int("noop_with_empty_axes", 0) != 0 },
            "Flatten" => Op::Flatten(a.int("axis", 1)),
            "Reshape" => Op::Reshape { allowzero: a.int("allowzero", 0) != 0 },
            "Transpose" => Op::Transpose(a.ints("perm").map(|p| p.iter().map(|&x| x.max(0) as usize).collect())),
            "Squeeze" => Op::Squeeze(a.ints("axes")),
            "Unsqueeze" => Op::Unsqueeze(a.ints("axes")),
            "Concat" => Op::Concat(a.int("axis", 0)),
            "Identity" => Op::Identity,
            "Constant" => Op::Constant(constant_attr(file, &n.attribute).map_err(&at)?),
            "Shape" => Op::Shape { start: a.int("start", 0), end: a.get("end").map(|x| x.i) },
            "Gather" => Op::Gather(a.int("axis", 0)),
            "Slice" => {
                if a.ints("starts").is_some() {
                    return Err(at("Slice with attributes (opset < 10; re-export with a recent opset)".into()));
                }
                Op::Slice
            }
            "Expand" => Op::Expand,
            "Cast" => Op::Cast { to_float: matches!(a.int("to", 1) as i32, crate::file::FLOAT | crate::file::DOUBLE | 10 | 16) },
            "CastLike" => Op::CastLike,
            "Pad" => {
                if a.string("mode").is_some_and(|m| m != "constant") {
                    return Err(at(format!("mode {} (basin pads with a constant)", a.string("mode").unwrap_or_default())));
                }
                if a.ints("pads").is_some() {
                    return Err(at("Pad with attributes (opset < 11; re-export with a recent opset)".into()));
                }
                Op::Pad
            }
            "ConstantOfShape" => Op::ConstantOfShape(match a.get("value") {
                Some(v) if v.t.is_some() => file.tensor(v.t.as_ref().unwrap()).map_err(|e| at(e.0))?,
                _ => HostTensor { dims: vec![1], data: HostData::Float(vec![0.0]) },
            }),
            other => return Err(at(format!("op '{other}' is not supported (supported: {})", SUPPORTED.join(", ")))),
        };
        let inputs = op_inputs.iter().map(|x| x.map(|x| {
            let x = alias.get(x).map_or(x, |s| s.as_str());
            slot_of(x, &mut slots)
        })).collect();
        let output = slot_of(&n.output[0], &mut slots);
        program.steps.push(Step { op, inputs, output, free: vec![], node: name, index: i });
    }
    // a Transpose before a dense layer is part of it (it came before the layer that took it)
    program.steps.retain(|s| !absorbed.contains(&s.index));
    // initializers read as values (not only as parameters) are constants
    let read: HashSet<Slot> = program.steps.iter().flat_map(|s| s.inputs.iter().flatten().copied()).collect();
    for (name, &slot) in &slots {
        if let Some(t) = inits.get(name).filter(|_| read.contains(&slot)) {
            program.constants.push((slot, t.clone()));
        }
    }
    program.constants.sort_by_key(|c| c.0);
    // an initializer that is a parameter must not also be read as a value (weight sharing),
    // except by Shape, which sees only its (fixed) shape
    for step in &program.steps {
        for (&slot, name) in step.inputs.iter().flatten().filter_map(|s| slots.iter().find(|(_, v)| **v == *s).map(|(k, _)| (s, k))) {
            let _ = slot;
            if let Some(owner) = params.get(name)
                && !matches!(step.op, Op::Shape { .. })
            {
                bail!("{path}: initializer '{name}' is a parameter of node '{owner}' and is also read by node '{}' (shared weights are not supported)", step.node);
            }
        }
    }
    let out_name = alias.get(&graph.output[0].name).cloned().unwrap_or_else(|| graph.output[0].name.clone());
    program.output = *slots.get(&out_name).ok_or_else(|| OnnxError(format!("{path}: the output '{out_name}' is computed by no node")))?;
    program.slots = slots.len();
    // last uses
    let mut last: HashMap<Slot, usize> = HashMap::new();
    for (i, s) in program.steps.iter().enumerate() {
        for &x in s.inputs.iter().flatten() {
            last.insert(x, i);
        }
    }
    for (slot, i) in last {
        if slot != program.output {
            program.steps[i].free.push(slot);
        }
    }
    program.folded = inits.keys().filter(|k| k.ends_with("weight_bias")).cloned().collect();
    program.folded.sort();
    program.positions = (0..program.layers.len())
        .map(|k| {
            let kind = std::mem::discriminant(&program.layers[k]);
            program.layers[..k].iter().filter(|l| std::mem::discriminant(*l) == kind).count()
        })
        .collect();
    Ok(program)
}

/// The largest kernel, stride, dilation or padding basin accepts (a guard against corrupt
/// files asking for absurd buffers).
const MAX_GEOMETRY: i64 = 1 << 12;

/// A 2-vector attribute (kernel, strides, dilations), `default` in both when absent.
fn pair(v: Option<Vec<i64>>, default: usize) -> Result<[usize; 2], String> {
    match v {
        None if default > 0 => Ok([default; 2]),
        Some(v) if v.len() == 2 && v.iter().all(|&x| x > 0 && x <= MAX_GEOMETRY) => Ok([v[0] as usize, v[1] as usize]),
        v => Err(format!("{v:?} is not two positive numbers (basin runs 2-D ops)")),
    }
}

/// Pooling pads `[t, l, b, r]` from `pads` (ONNX order: begins then ends).
fn pads4(p: Option<Vec<i64>>, auto: Option<String>) -> Result<[usize; 4], String> {
    if auto.as_deref().is_some_and(|a| a != "NOTSET" && a != "VALID") {
        return Err(format!("auto_pad {} (export with explicit padding)", auto.unwrap_or_default()));
    }
    match p {
        None => Ok([0; 4]),
        Some(p) if p.len() == 4 && p.iter().all(|&x| (0..=MAX_GEOMETRY).contains(&x)) => Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]),
        Some(p) => Err(format!("pads {p:?}")),
    }
}

/// Adds a layer whose initializers have consistent shapes (a kernel of rank 4 and a bias of its
/// output channels; normalization vectors of one length), or says which is off.
fn push(layers: &mut Vec<LayerSpec>, spec: LayerSpec) -> Result<(), String> {
    let vec_of = |t: &(ParamRef, HostTensor), n: usize| -> Result<(), String> {
        if t.1.dims != [n] {
            return Err(format!("initializer '{}' has shape {:?}, expected [{n}]", t.0.name, t.1.dims));
        }
        Ok(())
    };
    match &spec {
        LayerSpec::Conv { weight, bias, .. } => {
            if weight.1.dims.len() != 4 || weight.1.dims.contains(&0) {
                return Err(format!("initializer '{}' has shape {:?}, not a 2-D convolution kernel", weight.0.name, weight.1.dims));
            }
            bias.iter().try_for_each(|b| vec_of(b, weight.1.dims[0]))?;
        }
        LayerSpec::Dense { weight, bias } => {
            if weight.1.dims.len() != 2 || weight.1.dims.contains(&0) {
                return Err(format!("initializer '{}' has shape {:?}, not a matrix", weight.0.name, weight.1.dims));
            }
            bias.iter().try_for_each(|b| vec_of(b, weight.1.dims[1]))?;
        }
        LayerSpec::BatchNorm { scale, bias, mean, var, epsilon, momentum } => {
            if !(epsilon.is_finite() && *epsilon > 0.0 && (0.0..=1.0).contains(momentum)) {
                return Err(format!("epsilon {epsilon} or momentum {} is out of range", 1.0 - momentum));
            }
            let n = scale.1.dims.first().copied().unwrap_or(0).max(1);
            [scale, bias, mean, var].iter().try_for_each(|t| vec_of(t, n))?;
        }
        LayerSpec::LayerNorm { scale, bias, epsilon } => {
            if !(epsilon.is_finite() && *epsilon > 0.0) {
                return Err(format!("epsilon {epsilon} is out of range"));
            }
            let n = scale.1.dims.first().copied().unwrap_or(0).max(1);
            vec_of(scale, n)?;
            bias.iter().try_for_each(|b| vec_of(b, n))?;
        }
        LayerSpec::Dropout(p) if !(0.0..1.0).contains(p) => return Err(format!("dropout ratio {p} is not in [0, 1)")),
        LayerSpec::Dropout(_) => {}
    }
    layers.push(spec);
    Ok(())
}

/// A 2-D host tensor transposed.
pub(crate) fn transpose2(t: &HostTensor) -> HostTensor {
    let (r, c) = (t.dims[0], t.dims[1]);
    let HostData::Float(v) = &t.data else { unreachable!("a float initializer") };
    let mut out = vec![0.0; v.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = v[i * c + j];
        }
    }
    HostTensor { dims: vec![c, r], data: HostData::Float(out) }
}

/// The tensor of a Constant node (`value`, `value_float(s)`, `value_int(s)`).
fn constant_attr(file: &mut OnnxFile, attrs: &[AttributeProto]) -> Result<HostTensor, String> {
    let a = attrs.first().ok_or("no value")?;
    Ok(match a.name.as_str() {
        "value" => file.tensor(a.t.as_ref().ok_or("value without a tensor")?).map_err(|e| e.0)?,
        "value_float" => HostTensor { dims: vec![], data: HostData::Float(vec![a.f]) },
        "value_floats" => HostTensor { dims: vec![a.floats.len()], data: HostData::Float(a.floats.clone()) },
        "value_int" => HostTensor { dims: vec![], data: HostData::Int(vec![a.i]) },
        "value_ints" => HostTensor { dims: vec![a.ints.len()], data: HostData::Int(a.ints.clone()) },
        other => return Err(format!("attribute '{other}' (basin reads value, value_float(s), value_int(s))")),
    })
}
