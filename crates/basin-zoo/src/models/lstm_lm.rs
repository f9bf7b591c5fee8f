//! The word-level LSTM language model of the S-SGD paper (shared/seeds/s-sgd.txt §5.3, Table 5),
//! trained with Zaremba et al.'s pipeline (2014): embedding → LSTM layers → linear decoder over
//! the vocabulary, dropout on the forward (non-recurrent) paths, every weight initialized
//! uniformly in [−0.1, 0.1]. Its loss is the mean per-word cross-entropy, so it is a
//! [`LossModel`] and every estimator trains it; perplexity is exp(loss).
//!
//! The LSTM cell is written here rather than taken from `burn::nn::Lstm` for speed: the input
//! projection of all time steps is one matrix product, and the recurrent step is one product
//! with the four gates side by side (Burn's cell does eight products per time step).

use basin_core::fastrand;
use basin_core::task::LossModel;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig};
use crate::jvp::{self, Dual, Pass};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The model's shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LstmLmConfig {
    /// Vocabulary size (10,000 on the Penn Treebank).
    pub vocab: usize,
    /// Hidden units per layer, also the embedding width (the paper's small model: 300).
    pub hidden: usize,
    /// LSTM layers (small model: 1; large: 2).
    pub layers: usize,
    /// Dropout probability on the forward paths in training (0 = none).
    pub dropout: f64,
}

impl LstmLmConfig {
    /// The S-SGD paper's small model (Hubara et al. 2017): one layer of 300 units, no dropout
    /// (Zaremba et al.'s small configuration has none; the paper does not say).
    pub fn small(vocab: usize) -> Self {
        LstmLmConfig { vocab, hidden: 300, layers: 1, dropout: 0.0 }
    }
    /// The model, with Zaremba et al.'s uniform [−0.1, 0.1] initialization.
    pub fn init(&self, device: &Device) -> LstmLm {
        let init = Initializer::Uniform { min: -0.1, max: 0.1 };
        let h = self.hidden;
        LstmLm {
            embedding: EmbeddingConfig::new(self.vocab, h).with_initializer(init.clone()).init(device),
            layers: (0..self.layers)
                .map(|_| LstmLayer {
                    input: LinearConfig::new(h, 4 * h).with_initializer(init.clone()).init(device),
                    recurrent: LinearConfig::new(h, 4 * h).with_bias(false).with_initializer(init.clone()).init(device),
                })
                .collect(),
            decoder: LinearConfig::new(h, self.vocab).with_initializer(init).init(device),
            hidden: h,
            dropout: self.dropout,
        }
    }
}

/// One LSTM layer: gates [i, f, g, o] = W_x x_t + b + W_h h_{t−1};
/// c_t = σ(f) c_{t−1} + σ(i) tanh(g), h_t = σ(o) tanh(c_t).
#[derive(Module, Debug)]
pub struct LstmLayer {
    input: Linear,
    recurrent: Linear,
}

/// Hidden and cell state of every layer, `[B, hidden]` each.
#[derive(Debug, Clone)]
pub struct LmState {
    /// (h, c) per layer.
    pub layers: Vec<(Tensor<2>, Tensor<2>)>,
}

impl LstmLayer {
    /// Runs the layer over `x` `[B, T, H]` from `state` (zeros when `None`), in the pass `x`
    /// carries; returns the outputs `[B, T, H]` and the final (h, c). In a tangent pass every
    /// step is differentiated by the rules of [`Dual`]: ȧ = ẋ W_x + x V_x + v_b + ḣ W_h + h V_h,
    /// i̇ = σ′ ȧ_i (f, o alike), ġ = (1 − g²) ȧ_g, ċ = ḟ c₋ + f ċ₋ + i̇ g + i ġ,
    /// ḣ = ȯ tanh c + o (1 − tanh² c) ċ.
    fn forward_dual(&self, dir: Option<&LstmLayer>, x: Dual<3>, state: Option<(Dual<2>, Dual<2>)>) -> (Dual<3>, (Dual<2>, Dual<2>)) {
        let [b, t, h] = x.value.dims();
        let (device, pass) = (x.value.device(), x.pass);
        // [B, T, 4H]: every time step in one product
        let xw = jvp::linear(&self.input, dir.map(|d| &d.input), x.map(|v| v.reshape([b * t, h]))).map(|v| v.reshape([b, t, 4 * h]));
        let zeros = || Dual { value: Tensor::<2>::zeros([b, h], &device), tangent: None, pass };
        let (mut hs, mut cs) = state.unwrap_or_else(|| (zeros(), zeros()));
        let mut outs = Vec::with_capacity(t);
        for s in 0..t {
            let gates = xw.clone().map(|v| v.narrow(1, s, 1).reshape([b, 4 * h])) + jvp::linear(&self.recurrent, dir.map(|d| &d.recurrent), hs);
            let part = |k: usize| gates.clone().map(|v| v.narrow(1, k * h, h));
            let (i, f, g, o) = (part(0).sigmoid(), part(1).sigmoid(), part(2).tanh(), part(3).sigmoid());
            cs = f * cs + i * g;
            hs = o * cs.clone().tanh();
            outs.push(hs.clone());
        }
        (Dual::stack(outs, 1), (hs, cs))
    }
}

/// Embedding → LSTM layers → decoder.
#[derive(Module, Debug)]
pub struct LstmLm {
    embedding: Embedding,
    layers: Vec<LstmLayer>,
    decoder: Linear,
    hidden: usize,
    dropout: f64,
}

/// A training or evaluation chunk: `inputs[b, t]` predicts `targets[b, t]` (the next word).
#[derive(Debug, Clone)]
pub struct LmBatch {
    /// Word ids `[B, T]`.
    pub inputs: Tensor<2, Int>,
    /// Next-word ids `[B, T]`.
    pub targets: Tensor<2, Int>,
    /// Key of this batch's dropout masks (`None`: no dropout). The masks are drawn from the
    /// key, not from the backend RNG, so every point an estimator evaluates for this batch
    /// (S-SGD's w + n and w − n) sees the same masks, and a resumed run draws the same ones.
    pub dropout_key: Option<u64>,
}

impl LmBatch {
    /// Chunk `i` of `T` words from each of the `B` streams of `streams` (see [`streams`]).
    pub fn chunk(streams: &[Vec<u32>], i: usize, t: usize, dropout_key: Option<u64>, device: &Device) -> LmBatch {
        let b = streams.len();
        let take = |off: usize| -> Tensor<2, Int> {
            let ids: Vec<i64> = streams.iter().flat_map(|s| s[i * t + off..i * t + off + t].iter().map(|&w| w as i64)).collect();
            Tensor::from_data(TensorData::new(ids, [b, t]), device)
        };
        LmBatch { inputs: take(0), targets: take(1), dropout_key }
    }
}

/// The settings a run of the `lstm_lm` example was trained with, kept in its folder as
/// `setup.txt` (one line, `batch 20 bptt 35 hidden 300 dropout 0 decay-after 4 max-chunks 0
/// data data/full/ptb`): the example refuses to continue a run with other settings, and
/// `basin hessian --run DIR` rebuilds the model and its training chunks from it.
#[derive(Debug, Clone, PartialEq)]
pub struct LmRunSetup {
    /// Streams per batch.
    pub batch: usize,
    /// Words per chunk (the unroll).
    pub bptt: usize,
    /// Hidden units (one LSTM layer).
    pub hidden: usize,
    /// Dropout on the forward paths in training.
    pub dropout: f64,
    /// Epochs at the initial learning rate.
    pub decay_after: usize,
    /// Training chunks per epoch (0 = all).
    pub max_chunks: usize,
    /// The corpus folder.
    pub data: std::path::PathBuf,
}

impl LmRunSetup {
    /// The `setup.txt` line.
    pub fn line(&self) -> String {
        format!("batch {} bptt {} hidden {} dropout {} decay-after {} max-chunks {} data {}", self.batch, self.bptt, self.hidden, self.dropout, self.decay_after, self.max_chunks, self.data.display())
    }

    /// Parses a `setup.txt` line; the error names the key.
    pub fn parse(text: &str) -> Result<LmRunSetup, String> {
        let (head, data) = text.trim().split_once(" data ").ok_or("no 'data' key")?;
        let words: Vec<&str> = head.split_whitespace().collect();
        let get = |key: &str| -> Result<&str, String> {
            words.chunks(2).find(|kv| kv[0] == key).and_then(|kv| kv.get(1).copied()).ok_or(format!("no '{key}' key"))
        };
        let num = |key: &str| -> Result<usize, String> { get(key)?.parse().map_err(|_| format!("'{key}' is not a count")) };
        Ok(LmRunSetup {
            batch: num("batch")?,
            bptt: num("bptt")?,
            hidden: num("hidden")?,
            dropout: get("dropout")?.parse().map_err(|_| "'dropout' is not a number".to_string())?,
            decay_after: num("decay-after")?,
            max_chunks: num("max-chunks")?,
            data: data.into(),
        })
    }

    /// The model of this run for a vocabulary of `vocab` words (Zaremba's small layout: one
    /// layer).
    pub fn model_config(&self, vocab: usize) -> LstmLmConfig {
        LstmLmConfig { vocab, hidden: self.hidden, layers: 1, dropout: self.dropout }
    }
}

/// The first `n` training chunks of `streams` (each from a zero state, no dropout, as the
/// curvature of a run is taken: the example's λ_max and `basin hessian` on its folder).
pub fn first_chunks(streams: &[Vec<u32>], n: usize, t: usize, device: &Device) -> Vec<LmBatch> {
    (0..n.min(chunks(streams, t))).map(|i| LmBatch::chunk(streams, i, t, None, device)).collect()
}

/// Zaremba et al.'s batching: the word sequence cut into `b` contiguous streams of equal
/// length; chunk i of every stream is one batch.
pub fn streams(words: &[u32], b: usize) -> Vec<Vec<u32>> {
    let len = words.len() / b;
    (0..b).map(|k| words[k * len..(k + 1) * len].to_vec()).collect()
}

/// Number of chunks of `t` words (plus the next-word target) in `streams`.
pub fn chunks(streams: &[Vec<u32>], t: usize) -> usize {
    streams.first().map_or(0, |s| s.len().saturating_sub(1) / t)
}

impl LstmLm {
    /// Logits `[B·T, vocab]` for `inputs` `[B, T]` from `state`, and the final state.
    /// Dropout (inverted, on the embedding and on each layer's output) when `dropout_key` is set.
    pub fn forward(&self, inputs: Tensor<2, Int>, state: Option<LmState>, dropout_key: Option<u64>) -> (Tensor<2>, LmState) {
        let (z, state) = self.forward_dual(None, inputs, state, dropout_key, Pass::Plain);
        (z.value, state)
    }

    /// The model written once, on [`Dual`]: [`forward`](Self::forward) in a plain pass, and
    /// logits with their tangent along `dir` in a tangent pass (the state enters with zero
    /// tangent). A dropout mask is a constant of the batch (drawn from its key), a linear map
    /// on both parts.
    fn forward_dual(&self, dir: Option<&LstmLm>, inputs: Tensor<2, Int>, state: Option<LmState>, dropout_key: Option<u64>, pass: Pass) -> (Dual<2>, LmState) {
        let [b, t] = inputs.dims();
        let mut x = jvp::embedding(&self.embedding, dir.map(|d| &d.embedding), inputs, pass);
        let mut mask_no = 0;
        let mut drop = |x: Dual<3>| match dropout_key {
            Some(key) if self.dropout > 0.0 => {
                mask_no += 1;
                let mask = dropout_mask(x.value.dims(), self.dropout, basin_core::paramvec::ParamVec::part_key(key, mask_no), &x.value.device());
                x.map(|v| v * mask.clone())
            }
            _ => x,
        };
        x = drop(x);
        let mut finals = Vec::with_capacity(self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let start = state.as_ref().map(|s| {
                let (h, c) = s.layers[k].clone();
                (Dual { value: h, tangent: None, pass }, Dual { value: c, tangent: None, pass })
            });
            let (y, (h, c)) = layer.forward_dual(dir.map(|d| &d.layers[k]), x, start);
            x = drop(y);
            finals.push((h.value, c.value));
        }
        (jvp::linear(&self.decoder, dir.map(|d| &d.decoder), x.map(|v| v.reshape([b * t, self.hidden]))), LmState { layers: finals })
    }

    /// Summed cross-entropy (nats) over every word of `streams` and the word count, the state
    /// carried across chunks of `t` words as in Zaremba et al.'s evaluation; perplexity is
    /// exp(sum / count). Call it on the model's inference copy (`model.valid()`).
    pub fn eval_nats(&self, streams: &[Vec<u32>], t: usize, device: &Device) -> (f64, usize) {
        let mut state = None;
        let (mut sum, mut count) = (0.0, 0);
        for i in 0..chunks(streams, t) {
            let batch = LmBatch::chunk(streams, i, t, None, device);
            let n = batch.targets.dims()[0] * t;
            let (logits, next) = self.forward(batch.inputs, state, None);
            let loss = basin_core::loss::cross_entropy(logits, batch.targets.reshape([n]));
            sum += loss.into_scalar::<f64>() * n as f64;
            count += n;
            state = Some(next);
        }
        (sum, count)
    }
}

/// An inverted-dropout mask: 1/(1 − p) with probability 1 − p, else 0; drawn from `key`.
fn dropout_mask(dims: [usize; 3], p: f64, key: u64, device: &Device) -> Tensor<3> {
    let keep = 1.0 - p as f32;
    let u = fastrand::uniform_vec(dims.iter().product(), key, 0.0, 1.0);
    let m: Vec<f32> = u.into_iter().map(|u| if u < keep { 1.0 / keep } else { 0.0 }).collect();
    let m: Tensor<3> = Tensor::from_data(TensorData::new(m, dims), &device.clone().inner());
    if device.is_autodiff() { Tensor::from_inner(m) } else { m }
}

/// The training loss: mean cross-entropy per word, each chunk from a zero state.
impl LossModel for LstmLm {
    type Batch = LmBatch;
    fn loss(&self, batch: &LmBatch) -> Tensor<1> {
        let [b, t] = batch.targets.dims();
        let (logits, _) = self.forward(batch.inputs.clone(), None, batch.dropout_key);
        basin_core::loss::cross_entropy(logits, batch.targets.clone().reshape([b * t]))
    }
    fn batch_len(batch: &LmBatch) -> usize {
        batch.targets.dims()[0]
    }
    /// The loss's tangent for the exact Hessian (S-SGD §5.3's model, issue 28): the tangent
    /// pass of `LstmLm::forward_dual` (embedding rows ė = V_E\[ids\], each LSTM step by the
    /// rules of [`Dual`], the decoder's ż = ḣ W_d + h V_d + v_d), then the mean
    /// cross-entropy's (softmax(z) − e_y)·ż over every word. A batch with dropout masks keeps
    /// them: its loss is one fixed function of the weights.
    fn loss_jvp(&self, dir: &Self, batch: &LmBatch) -> Option<Tensor<1>> {
        let [b, t] = batch.targets.dims();
        let n = b * t;
        let (z, _) = self.forward_dual(Some(dir), batch.inputs.clone(), None, batch.dropout_key, Pass::Tangent);
        let dz = z.tangent_or_zeros();
        let z = z.value;
        let p = burn::tensor::activation::softmax(z, 1);
        let picked = dz.clone().gather(1, batch.targets.clone().reshape([n, 1]));
        Some(((p * dz).sum() - picked.sum()).div_scalar(n as f64))
    }
}
