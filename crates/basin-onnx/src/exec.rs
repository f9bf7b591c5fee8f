//! Running a [`Program`] on [`Dual`] values: each op's value and, in a tangent pass, its
//! tangent, by the op's derivative. The parametrized layers run basin-zoo's rules (the zoo's
//! kernels and tangent rules, one definition for both); the rest are written here, each with
//! its derivative in its doc line.

use crate::error::{OnnxError, bail};
use crate::file::{HostData, HostTensor};
use crate::net::OnnxNet;
use crate::program::{Binary, Op, Step, Unary};
use crate::value::{FloatVal, Ints, RANK, Value, constant, norm_axis, padded};
use basin_zoo::jvp::{self, Dual, Pass, dual::add_opt};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};

/// Where constants go and which pass runs.
pub struct Ctx {
    /// The input's device.
    pub device: Device,
    /// The input's pass.
    pub pass: Pass,
}

/// Runs `net`'s program on `x` (its pass decides which), along `dir` in a tangent pass.
pub fn run(net: &OnnxNet, dir: Option<&OnnxNet>, x: FloatVal) -> Result<FloatVal, OnnxError> {
    let program = net.program();
    let ctx = Ctx { device: x.x.value.device(), pass: x.x.pass };
    let mut env: Vec<Option<Value>> = vec![None; program.slots];
    for (slot, t) in &program.constants {
        env[*slot] = Some(constant(t, &ctx.device, ctx.pass)?);
    }
    env[program.input.0] = Some(Value::Float(x));
    for step in &program.steps {
        let inputs = fetch(&mut env, step);
        let out = exec(net, dir, &ctx, step, inputs).map_err(|e| OnnxError(format!("node '{}': {}", step.node, e.0)))?;
        env[step.output] = Some(out);
    }
    env[program.output].take().ok_or_else(|| OnnxError("the output was not computed".into()))?.float(&ctx.device, ctx.pass)
}

/// The step's inputs, moved out of `env` at their last use (so buffers can be reused in
/// place) and cloned otherwise.
fn fetch(env: &mut [Option<Value>], step: &Step) -> Vec<Option<Value>> {
    let n = step.inputs.len();
    (0..n)
        .map(|k| {
            step.inputs[k].and_then(|s| {
                let later = step.inputs[k + 1..].contains(&Some(s));
                if step.free.contains(&s) && !later { env[s].take() } else { env[s].clone() }
            })
        })
        .collect()
}

fn exec(net: &OnnxNet, dir: Option<&OnnxNet>, ctx: &Ctx, step: &Step, mut v: Vec<Option<Value>>) -> Result<Value, OnnxError> {
    let mut arg = |k: usize| v.get_mut(k).and_then(Option::take).ok_or_else(|| OnnxError(format!("input {k} is missing")));
    let float = |v: Value| v.float(&ctx.device, ctx.pass);
    let f = |d: FloatVal| Value::Float(d);
    Ok(match &step.op {
        Op::Conv { layer } => {
            let x = float(arg(0)?)?;
            let i = net.index(*layer);
            let y = jvp::conv2d(&net.convs[i], dir.map(|d| &d.convs[i]), rank4(x)?);
            let y = FloatVal::of(y.clone(), &y.value.dims())?;
            match v.get_mut(2).and_then(Option::take) {
                Some(b) => {
                    let b = float(b)?;
                    let c = b.dims().iter().product::<usize>();
                    binary(Binary::Add, y, FloatVal::of(b.x, &[c, 1, 1])?)
                }
                None => y,
            }
            .pipe(f)
        }
        Op::Dense { layer } => {
            let x = float(arg(0)?)?;
            let i = net.index(*layer);
            let dims = x.dims();
            if dims.len() < 2 {
                bail!("a dense layer on a rank-{} input", dims.len());
            }
            let (rows, cols) = (dims[..dims.len() - 1].iter().product::<usize>(), dims[dims.len() - 1]);
            let y = jvp::linear(&net.denses[i], dir.map(|d| &d.denses[i]), x.x.map(|t| t.reshape([rows, cols])));
            let mut out = dims.clone();
            *out.last_mut().unwrap() = y.value.dims()[1];
            f(FloatVal::of(y, &out)?)
        }
        Op::BatchNorm { layer } => {
            let x = float(arg(0)?)?;
            let i = net.index(*layer);
            let (bn, d) = (&net.norms[i], dir.map(|d| &d.norms[i]));
            let dims = x.dims();
            let y = match x.rank {
                2 => FloatVal::of(jvp::batch_norm(bn, d, x.to::<2>()), &dims)?,
                3 => FloatVal::of(jvp::batch_norm(bn, d, x.to::<3>()), &dims)?,
                4 => FloatVal::of(jvp::batch_norm(bn, d, x.to::<4>()), &dims)?,
                r => bail!("batch norm of a rank-{r} input"),
            };
            f(y)
        }
        Op::LayerNorm { layer } => {
            let x = float(arg(0)?)?;
            let i = net.index(*layer);
            let dims = x.dims();
            let eps = net.layer_norm_eps(*layer);
            f(FloatVal { x: crate::layers::layer_norm(&net.layer_norms[i], dir.map(|d| &d.layer_norms[i]), eps, x.x), rank: dims.len() })
        }
        Op::Dropout { layer } => {
            let x = float(arg(0)?)?;
            let i = net.index(*layer);
            f(FloatVal { x: jvp::dropout(&net.drops[i], x.x), rank: x.rank })
        }
        Op::MaxPool(pool) => {
            let y = jvp::max_pool2d(pool, rank4(float(arg(0)?)?)?);
            f(FloatVal::of(y.clone(), &y.value.dims())?)
        }
        Op::AvgPool { kernel, strides, pads, count_pad, ceil } => {
            let mut o = burn::tensor::ops::AvgPoolOptions::new(*kernel);
            o.stride = *strides;
            o.padding = [(pads[0], pads[2]), (pads[1], pads[3])];
            o.count_include_pad = *count_pad;
            o.ceil_mode = *ceil;
            let y = rank4(float(arg(0)?)?)?.map(|t| burn::tensor::module::avg_pool2d(t, o.clone()));
            f(FloatVal::of(y.clone(), &y.value.dims())?)
        }
        Op::GlobalAvgPool => {
            let x = float(arg(0)?)?;
            if x.rank < 3 {
                bail!("global pooling of a rank-{} input", x.rank);
            }
            let off = RANK - x.rank;
            let axes: Vec<usize> = (off + 2..RANK).collect();
            f(FloatVal { x: x.x.map(|t| axes.iter().fold(t, |t, &a| t.mean_dim(a))), rank: x.rank })
        }
        Op::Unary(u) => match arg(0)? {
            Value::Int(i) if *u == Unary::Neg => Value::Int(Ints { dims: i.dims, data: i.data.iter().map(|x| -x).collect() }),
            x => f(unary(*u, float(x)?)),
        },
        Op::Binary(b) => match (arg(0)?, arg(1)?) {
            (Value::Int(a), Value::Int(c)) => Value::Int(int_binary(*b, a, c)?),
            (a, c) => f(binary(*b, float(a)?, float(c)?)),
        },
        Op::MatMul => f(matmul(float(arg(0)?)?, float(arg(1)?)?)?),
        Op::Gemm { alpha, beta, trans_a, trans_b } => {
            let t = |x: FloatVal, tr: bool| -> Result<FloatVal, OnnxError> { if tr { transpose(x, Some(vec![1, 0])) } else { Ok(x) } };
            let a = t(float(arg(0)?)?, *trans_a)?;
            let b = t(float(arg(1)?)?, *trans_b)?;
            let mut y = scale(matmul(a, b)?, *alpha);
            if let Some(c) = v.get_mut(2).and_then(Option::take) {
                y = binary(Binary::Add, y, scale(float(c)?, *beta));
            }
            f(y)
        }
        Op::Softmax { axis, log, coerced } => {
            let x = float(arg(0)?)?;
            let d = x.axis(*axis)?;
            if *coerced && d != RANK - 1 {
                bail!("{} of opset < 13 over axis {axis} of a rank-{} input: that opset flattens the axes from {axis} on into one; re-export with opset 13 or later", if *log { "LogSoftmax" } else { "Softmax" }, x.rank);
            }
            let s = activation::softmax(x.x.value.clone(), d);
            let dot = |t: Tensor<RANK>| t.clone() - (s.clone() * t).sum_dim(d);
            let (value, tangent) = if *log {
                (activation::log_softmax(x.x.value, d), x.x.tangent.map(dot))
            } else {
                (s.clone(), x.x.tangent.map(|t| s.clone() * dot(t)))
            };
            f(FloatVal { x: Dual { value, tangent, pass: x.x.pass }, rank: x.rank })
        }
        Op::Reduce { axes, keepdims, sum, noop_empty } => {
            let x = float(arg(0)?)?;
            let axes = match (axes, v.get_mut(1).and_then(Option::take)) {
                (Some(a), _) => a.clone(),
                (None, Some(a)) => a.ints()?.data,
                (None, None) => vec![],
            };
            if axes.is_empty() && *noop_empty {
                return Ok(f(x));
            }
            let mut axes: Vec<usize> = if axes.is_empty() { (0..x.rank).collect() } else { axes.iter().map(|&a| norm_axis(a, x.rank)).collect::<Result<_, _>>()? };
            axes.sort();
            axes.dedup();
            let dims = x.dims();
            let off = RANK - x.rank;
            let y = x.x.map(|t| axes.iter().fold(t, |t, &a| if *sum { t.sum_dim(off + a) } else { t.mean_dim(off + a) }));
            let out: Vec<usize> = if *keepdims { dims.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect() } else { dims.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect() };
            f(FloatVal::of(y, &out)?)
        }
        Op::Flatten(axis) => {
            let x = arg(0)?;
            let dims = x.dims();
            let a = if *axis < 0 { (*axis + dims.len() as i64).max(0) as usize } else { (*axis as usize).min(dims.len()) };
            reshape(x, &[dims[..a].iter().product(), dims[a..].iter().product()])?
        }
        Op::Reshape { allowzero } => {
            let x = arg(0)?;
            let shape = arg(1)?.ints()?.data;
            let dims = x.dims();
            let total: usize = dims.iter().product();
            let mut out: Vec<Option<usize>> = shape
                .iter()
                .enumerate()
                .map(|(i, &s)| match s {
                    0 if !allowzero => dims.get(i).copied().map(Some).ok_or_else(|| OnnxError(format!("shape {shape:?} copies axis {i} of a rank-{} input", dims.len()))),
                    -1 => Ok(None),
                    s if s >= 0 => Ok(Some(s as usize)),
                    s => bail!("shape {shape:?} has the entry {s}"),
                })
                .collect::<Result<_, _>>()?;
            let known: usize = out.iter().flatten().product();
            match out.iter().filter(|d| d.is_none()).count() {
                0 => {}
                1 if known > 0 && total.is_multiple_of(known) => *out.iter_mut().find(|d| d.is_none()).unwrap() = Some(total / known),
                _ => bail!("cannot reshape {dims:?} to {shape:?}"),
            }
            let out: Vec<usize> = out.into_iter().flatten().collect();
            reshape(x, &out)?
        }
        Op::Transpose(perm) => match arg(0)? {
            Value::Float(x) => f(transpose(x, perm.clone())?),
            Value::Int(i) if i.dims.len() <= 1 => Value::Int(i),
            Value::Int(_) => bail!("a transpose of an integer tensor"),
        },
        Op::Squeeze(axes) | Op::Unsqueeze(axes) => {
            let squeeze = matches!(step.op, Op::Squeeze(_));
            let x = arg(0)?;
            let axes = match (axes, v.get_mut(1).and_then(Option::take)) {
                (Some(a), _) => Some(a.clone()),
                (None, Some(a)) => Some(a.ints()?.data),
                (None, None) => None,
            };
            let dims = x.dims();
            let out = if squeeze {
                let drop: Vec<usize> = match axes {
                    Some(a) => a.iter().map(|&a| norm_axis(a, dims.len())).collect::<Result<_, _>>()?,
                    None => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
                };
                if let Some(&a) = drop.iter().find(|&&a| dims[a] != 1) {
                    bail!("squeezes axis {a} of length {}", dims[a]);
                }
                dims.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect::<Vec<_>>()
            } else {
                let axes = axes.ok_or_else(|| OnnxError("Unsqueeze without axes".into()))?;
                let r = dims.len() + axes.len();
                let mut add: Vec<usize> = axes.iter().map(|&a| norm_axis(a, r)).collect::<Result<_, _>>()?;
                add.sort();
                let mut it = dims.iter();
                (0..r).map(|i| if add.contains(&i) { 1 } else { *it.next().unwrap_or(&1) }).collect()
            };
            reshape(x, &out)?
        }
        Op::Concat(axis) => {
            let parts: Vec<Value> = v.into_iter().flatten().collect();
            if parts.iter().all(|p| matches!(p, Value::Int(_))) {
                let ints: Vec<Ints> = parts.into_iter().map(|p| p.ints()).collect::<Result<_, _>>()?;
                if ints.iter().any(|i| i.dims.len() > 1) {
                    bail!("a concatenation of integer tensors of rank > 1");
                }
                let data: Vec<i64> = ints.into_iter().flat_map(|i| i.data).collect();
                Value::Int(Ints { dims: vec![data.len()], data })
            } else {
                let parts: Vec<FloatVal> = parts.into_iter().map(float).collect::<Result<_, _>>()?;
                let rank = parts[0].rank;
                if parts.iter().any(|p| p.rank != rank) {
                    bail!("concatenates tensors of different ranks");
                }
                let d = parts[0].axis(*axis)?;
                let any_tangent = parts.iter().any(|p| p.x.tangent.is_some());
                let tangent = any_tangent.then(|| Tensor::cat(parts.iter().map(|p| p.x.tangent_or_zeros()).collect(), d));
                let pass = parts[0].x.pass;
                let value = Tensor::cat(parts.into_iter().map(|p| p.x.value).collect(), d);
                f(FloatVal { x: Dual { value, tangent, pass }, rank })
            }
        }
        Op::Identity => arg(0)?,
        Op::Constant(t) => constant(t, &ctx.device, ctx.pass)?,
        Op::ConstantOfShape(t) => {
            let dims = bounded(arg(0)?.ints()?.data.iter().map(|&d| d.max(0) as usize).collect())?;
            let n: usize = dims.iter().product();
            let data = match &t.data {
                HostData::Float(v) => HostData::Float(vec![v.first().copied().unwrap_or(0.0); n]),
                HostData::Int(v) => HostData::Int(vec![v.first().copied().unwrap_or(0); n]),
            };
            constant(&HostTensor { dims, data }, &ctx.device, ctx.pass)?
        }
        Op::Shape { start, end } => {
            let dims = arg(0)?.dims();
            let r = dims.len() as i64;
            let clamp = |i: i64| (if i < 0 { i + r } else { i }).clamp(0, r) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(r)));
            let data: Vec<i64> = dims[s..e.max(s)].iter().map(|&d| d as i64).collect();
            Value::Int(Ints { dims: vec![data.len()], data })
        }
        Op::Gather(axis) => {
            let x = arg(0)?;
            let idx = arg(1)?.ints()?;
            let dims = x.dims();
            let a = norm_axis(*axis, dims.len())?;
            let n = dims[a] as i64;
            let idx_data: Vec<i64> = idx.data.iter().map(|&i| if i < 0 { i + n } else { i }).collect();
            if let Some(i) = idx_data.iter().find(|&&i| i < 0 || i >= n) {
                bail!("index {i} is out of range for an axis of length {n}");
            }
            match x {
                Value::Int(i) if i.dims.len() == 1 => Value::Int(Ints { dims: idx.dims.clone(), data: idx_data.iter().map(|&k| i.data[k as usize]).collect() }),
                Value::Int(_) => bail!("a gather from an integer tensor of rank > 1"),
                Value::Float(x) if idx.dims.len() <= 1 => {
                    let d = x.axis(*axis)?;
                    let ids = Tensor::<1, Int>::from_data(TensorData::new(idx_data.clone(), [idx_data.len()]), &ctx.device);
                    let y = x.x.map(|t| t.select(d, ids.clone()));
                    let mut out = dims.clone();
                    if idx.dims.is_empty() {
                        out.remove(a);
                    } else {
                        out[a] = idx_data.len();
                    }
                    f(FloatVal::of(y, &out)?)
                }
                Value::Float(_) => bail!("a gather with indices of rank > 1"),
            }
        }
        Op::Slice => {
            let x = arg(0)?;
            let starts = arg(1)?.ints()?.data;
            let ends = arg(2)?.ints()?.data;
            let dims = x.dims();
            let axes = match v.get_mut(3).and_then(Option::take) {
                Some(a) => a.ints()?.data.iter().map(|&a| norm_axis(a, dims.len())).collect::<Result<Vec<_>, _>>()?,
                None => (0..starts.len()).collect(),
            };
            let steps = match v.get_mut(4).and_then(Option::take) {
                Some(s) => s.ints()?.data,
                None => vec![1; starts.len()],
            };
            if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
                bail!("starts, ends, axes and steps differ in length");
            }
            let mut ranges: Vec<(usize, usize, usize)> = dims.iter().map(|&d| (0, d, 1)).collect();
            for k in 0..starts.len() {
                let (a, n) = (axes[k], dims[axes[k]] as i64);
                if steps[k] != 1 {
                    bail!("a step of {} (basin slices with step 1)", steps[k]);
                }
                let c = |i: i64| (if i < 0 { i + n } else { i }).clamp(0, n) as usize;
                let (s, e) = (c(starts[k]), c(ends[k]));
                ranges[a] = (s, e.max(s), 1);
            }
            match x {
                Value::Int(i) if i.dims.len() == 1 => {
                    let (s, e, _) = ranges[0];
                    Value::Int(Ints { dims: vec![e - s], data: i.data[s..e].to_vec() })
                }
                Value::Int(_) => bail!("a slice of an integer tensor of rank > 1"),
                Value::Float(x) => {
                    let off = RANK - x.rank;
                    let y = x.x.map(|t| ranges.iter().enumerate().fold(t, |t, (a, &(s, e, _))| t.narrow(off + a, s, e - s)));
                    let out: Vec<usize> = ranges.iter().map(|&(s, e, _)| e - s).collect();
                    f(FloatVal::of(y, &out)?)
                }
            }
        }
        Op::Expand => {
            let x = arg(0)?;
            let shape: Vec<usize> = arg(1)?.ints()?.data.iter().map(|&d| d.max(0) as usize).collect();
            let dims = x.dims();
            let r = dims.len().max(shape.len());
            let pad = |d: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, r - d.len()).chain(d.iter().copied()).collect() };
            let (a, b) = (pad(&dims), pad(&shape));
            let out = bounded(a.iter().zip(&b).map(|(&p, &q)| if p == 1 { q } else { p }).collect())?;
            if a.iter().zip(&b).any(|(&p, &q)| p != 1 && q != 1 && p != q) {
                bail!("cannot expand {dims:?} to {shape:?}");
            }
            match x {
                Value::Int(i) => {
                    if i.data.len() != 1 && out.iter().product::<usize>() != i.data.len() {
                        bail!("an expansion of an integer tensor");
                    }
                    let n = out.iter().product();
                    Value::Int(Ints { dims: out, data: if i.data.len() == 1 { vec![i.data[0]; n] } else { i.data } })
                }
                Value::Float(x) => {
                    let x = reshape(Value::Float(x), &a)?.float(&ctx.device, ctx.pass)?;
                    let target = padded(&out);
                    let y = x.x.map(|t| t.expand(target));
                    f(FloatVal { x: y, rank: out.len() })
                }
            }
        }
        Op::Cast { to_float } => cast(arg(0)?, *to_float, ctx)?,
        Op::CastLike => {
            let x = arg(0)?;
            let like = arg(1)?;
            cast(x, matches!(like, Value::Float(_)), ctx)?
        }
        Op::Pad => {
            let x = float(arg(0)?)?;
            let pads = arg(1)?.ints()?.data;
            let fill = match v.get_mut(2).and_then(Option::take) {
                Some(Value::Int(i)) => i.data.first().copied().unwrap_or(0) as f32,
                Some(Value::Float(c)) => c.x.value.into_data().iter::<f32>().next().unwrap_or(0.0),
                None => 0.0,
            };
            if v.get(3).is_some_and(Option::is_some) {
                bail!("Pad with an axes input");
            }
            let r = x.rank;
            if pads.len() != 2 * r || pads.iter().any(|&p| p < 0) {
                bail!("pads {pads:?} for a rank-{r} input (basin pads by non-negative amounts)");
            }
            let off = RANK - r;
            let mut pairs = [(0usize, 0usize); RANK];
            for a in 0..r {
                pairs[off + a] = (pads[a] as usize, pads[a + r] as usize);
            }
            if pads.iter().any(|&p| p > 1 << 12) {
                bail!("pads {pads:?} are too large");
            }
            let dims = bounded(x.dims().iter().enumerate().map(|(a, &d)| d + pairs[off + a].0 + pairs[off + a].1).collect())?;
            let Dual { value, tangent, pass } = x.x;
            let value = value.pad(&pairs[..], burn::tensor::ops::PadMode::Constant(fill));
            let tangent = tangent.map(|t| t.pad(&pairs[..], burn::tensor::ops::PadMode::Constant(0.0)));
            f(FloatVal::of(Dual { value, tangent, pass }, &dims)?)
        }
    })
}

/// The most elements a value may have (a guard against corrupt files asking for absurd
/// buffers: an error, not an allocation failure).
const MAX_ELEMENTS: usize = 1 << 28;

/// `dims` if their product is at most [`MAX_ELEMENTS`].
fn bounded(dims: Vec<usize>) -> Result<Vec<usize>, OnnxError> {
    match dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(n) if n <= MAX_ELEMENTS => Ok(dims),
        _ => bail!("a tensor of shape {dims:?} is too large"),
    }
}

/// `x` as a rank-4 (NCHW) activation.
fn rank4(x: FloatVal) -> Result<Dual<4>, OnnxError> {
    if x.rank != 4 {
        bail!("expects a rank-4 (N, C, H, W) input, gets rank {}", x.rank);
    }
    Ok(x.to::<4>())
}

/// A value with another shape of the same size (both parts).
fn reshape(x: Value, dims: &[usize]) -> Result<Value, OnnxError> {
    let have: usize = x.dims().iter().product();
    if have != dims.iter().product::<usize>() {
        bail!("cannot reshape {:?} to {dims:?}", x.dims());
    }
    Ok(match x {
        Value::Int(i) => Value::Int(Ints { dims: dims.to_vec(), data: i.data }),
        Value::Float(f) => Value::Float(FloatVal::of(f.x, dims)?),
    })
}

/// Permutes the logical axes (default: reversed).
fn transpose(x: FloatVal, perm: Option<Vec<usize>>) -> Result<FloatVal, OnnxError> {
    let r = x.rank;
    let perm = perm.unwrap_or_else(|| (0..r).rev().collect());
    let mut sorted = perm.clone();
    sorted.sort();
    if sorted != (0..r).collect::<Vec<_>>() {
        bail!("perm {perm:?} is not a permutation of {r} axes");
    }
    let off = RANK - r;
    let axes: [usize; RANK] = std::array::from_fn(|i| if i < off { i } else { off + perm[i - off] });
    Ok(FloatVal { x: x.x.map(|t| t.permute(axes)), rank: r })
}

/// α x (both parts).
fn scale(x: FloatVal, alpha: f32) -> FloatVal {
    if alpha == 1.0 {
        return x;
    }
    FloatVal { x: x.x.map(|t| t.mul_scalar(alpha)), rank: x.rank }
}

/// The matrix product of two activations, batched over the leading axes (both of rank ≥ 2):
/// (A B)˙ = Ȧ B + A Ḃ.
fn matmul(a: FloatVal, b: FloatVal) -> Result<FloatVal, OnnxError> {
    if a.rank < 2 || b.rank < 2 {
        bail!("a matrix product with a rank-{} operand (basin multiplies rank ≥ 2)", a.rank.min(b.rank));
    }
    let rank = a.rank.max(b.rank);
    let (da, db) = (a.x, b.x);
    let left = da.tangent.map(|t| t.matmul(db.value.clone()));
    let right = db.tangent.map(|t| da.value.clone().matmul(t));
    Ok(FloatVal { x: Dual { value: da.value.matmul(db.value), tangent: add_opt(left, right), pass: da.pass }, rank }.full_tangent())
}

/// Element-wise a ∘ b with broadcasting, by the sum, difference, product and quotient rules.
fn binary(op: Binary, a: FloatVal, b: FloatVal) -> FloatVal {
    let rank = a.rank.max(b.rank);
    let (a, b) = (a.x, b.x);
    let pass = a.pass;
    let x = match op {
        Binary::Add => a + b,
        Binary::Mul => a * b,
        Binary::Sub => Dual { value: a.value - b.value, tangent: add_opt(a.tangent, b.tangent.map(|t| t.neg())), pass },
        Binary::Div => {
            let y = a.value / b.value.clone();
            let left = a.tangent.map(|t| t / b.value.clone());
            let right = b.tangent.map(|t| (y.clone() * t / b.value.clone()).neg());
            Dual { value: y, tangent: add_opt(left, right), pass }
        }
    };
    FloatVal { x, rank }.full_tangent()
}

/// Integer arithmetic of the exporters' shape computations (broadcasting a single element).
fn int_binary(op: Binary, a: Ints, b: Ints) -> Result<Ints, OnnxError> {
    let (n, m) = (a.data.len(), b.data.len());
    if n != m && n != 1 && m != 1 {
        bail!("integer operands of {n} and {m} elements");
    }
    let dims = if n >= m { a.dims.clone() } else { b.dims.clone() };
    let data = (0..n.max(m))
        .map(|i| {
            let (x, y) = (a.data[i.min(n - 1)], b.data[i.min(m - 1)]);
            match op {
                Binary::Add => Ok(x.wrapping_add(y)),
                Binary::Sub => Ok(x.wrapping_sub(y)),
                Binary::Mul => Ok(x.wrapping_mul(y)),
                Binary::Div if y == 0 => bail!("an integer division by zero"),
                Binary::Div => Ok(x.wrapping_div(y)),
            }
        })
        .collect::<Result<_, OnnxError>>()?;
    Ok(Ints { dims, data })
}

/// A float ↔ integer conversion. Integers become float constants; a float becomes integers only
/// when it is a constant (no tangent), read back to the host.
fn cast(x: Value, to_float: bool, ctx: &Ctx) -> Result<Value, OnnxError> {
    Ok(match (x, to_float) {
        (Value::Float(f), true) => Value::Float(f),
        (Value::Int(i), false) => Value::Int(i),
        (x @ Value::Int(_), true) => Value::Float(x.float(&ctx.device, ctx.pass)?),
        (Value::Float(f), false) => {
            if f.x.tangent.is_some() {
                bail!("casts an activation that depends on the parameters to integers");
            }
            let dims = f.dims();
            let data: Vec<i64> = f.x.value.into_data().iter::<f32>().map(|x| x as i64).collect();
            Value::Int(Ints { dims, data })
        }
    })
}

/// An element-wise function and its derivative.
fn unary(u: Unary, x: FloatVal) -> FloatVal {
    let rank = x.rank;
    let Dual { value, tangent, pass } = x.x;
    let with = |value: Tensor<RANK>, deriv: &dyn Fn() -> Tensor<RANK>| FloatVal { x: Dual { tangent: tangent.clone().map(|t| t * deriv()), value, pass }, rank };
    match u {
        // ReLU: the mask of value > 0, as the zoo's networks hold it
        Unary::Relu => FloatVal { x: Dual { value, tangent, pass }.relu(), rank },
        Unary::Sigmoid => FloatVal { x: Dual { value, tangent, pass }.sigmoid(), rank },
        Unary::Tanh => FloatVal { x: Dual { value, tangent, pass }.tanh(), rank },
        // y = x (x > 0) or αx: ẏ = ẋ or αẋ
        Unary::LeakyRelu(alpha) => {
            let neg = value.clone().lower_equal_elem(0.0);
            let y = value.clone().mask_where(neg.clone(), value.mul_scalar(alpha));
            FloatVal { x: Dual { value: y, tangent: tangent.map(|t| t.clone().mask_where(neg, t.mul_scalar(alpha))), pass }, rank }
        }
        // y = x Φ(x): ẏ = (Φ(x) + x φ(x)) ẋ
        Unary::Gelu { tanh: false } => {
            let cdf = value.clone().mul_scalar(std::f64::consts::FRAC_1_SQRT_2).erf().add_scalar(1.0).mul_scalar(0.5);
            let pdf = value.clone().square().mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            let d = cdf.clone() + value.clone() * pdf;
            with(value * cdf, &|| d.clone())
        }
        // y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³):
        // ẏ = [½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)] ẋ
        Unary::Gelu { tanh: true } => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let x2 = value.clone().square();
            let th = (value.clone() + value.clone() * x2.clone().mul_scalar(0.044715)).mul_scalar(k).tanh();
            let d = th.clone().add_scalar(1.0).mul_scalar(0.5) + value.clone().mul_scalar(0.5) * th.clone().square().neg().add_scalar(1.0) * x2.mul_scalar(3.0 * 0.044715).add_scalar(1.0).mul_scalar(k);
            with(value.clone() * th.add_scalar(1.0).mul_scalar(0.5), &|| d.clone())
        }
        // (erf x)˙ = 2/√π e^{−x²} ẋ
        Unary::Erf => {
            let d = value.clone().square().neg().exp().mul_scalar(2.0 / std::f64::consts::PI.sqrt());
            with(value.erf(), &|| d.clone())
        }
        Unary::Neg => FloatVal { x: Dual { value, tangent, pass }.map(|t| t.neg()), rank },
        // (√x)˙ = ẋ / (2√x)
        Unary::Sqrt => {
            let y = value.sqrt();
            let d = y.clone().mul_scalar(2.0).recip();
            with(y, &|| d.clone())
        }
        Unary::Exp => {
            let y = value.exp();
            with(y.clone(), &|| y.clone())
        }
        // (ln x)˙ = ẋ / x
        Unary::Log => {
            let d = value.clone().recip();
            with(value.log(), &|| d.clone())
        }
    }
}

/// `x.pipe(f)` = `f(x)`.
trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}
