//! The S-SGD paper's LSTM language model (shared/seeds/s-sgd.txt §5.3, Table 5): SGD against
//! S-SGD on the Penn Treebank, word level, test perplexity over seeds. It shows basin on a
//! model that is not an image classifier: `LstmLm` implements `LossModel`, and the same
//! estimators and `train_step` train it.
//!
//! ```sh
//! basin data fetch ptb
//! cargo run --release --example lstm_lm -- --seeds 3 --epochs 13   # Table 5, small model
//! cargo run --release --example lstm_lm -- --quick                 # bundled Hamlet slice, CI
//! ```
//!
//! Protocol (Zaremba et al. 2014, the pipeline the paper reproduced, with the settings of its
//! "small" configuration where the paper is silent): plain SGD, learning rate 1 kept for
//! `--decay-after` (4) epochs and then halved every epoch, 13 epochs, gradients clipped to
//! global norm 5, batch 20, chunks of 35 words (the paper's unroll) from contiguous streams,
//! weights uniform in [−0.1, 0.1], no dropout (`--dropout P` puts it on the forward paths);
//! the model is the paper's small one, one LSTM layer of 300 units. Zaremba et al.'s loss is
//! the cross-entropy *summed* over the 35 steps and averaged over the batch; basin's model
//! reports the per-word mean (its exp is the perplexity), so the step uses rate 35·lr and
//! clips at 5/35, which is the same update exactly. S-SGD puts its noise on every weight, not
//! on biases (the paper's §5.3). Each training chunk starts from a zero state (an estimator evaluates
//! the loss at several weight points, and a carried state would belong to one of them);
//! validation and test carry the state through the whole split, as Zaremba et al.'s do.
//!
//! Every (method, seed) run lives in `--out/METHOD/seed-N/`: it checkpoints every 100 steps and
//! at Ctrl-C or SIGTERM, resumes from there when started again, and writes `result.json` when
//! done (with λ_max of the exact Hessian at the final weights, on the first 8 training chunks); a
//! finished run is skipped. `--out/results.md` holds the table.

mod common;

const USAGE: &str = "cargo run --release --example lstm_lm -- [--quick] [--data DIR] [--out DIR] [--seeds N] [--epochs N] [--decay-after N] [--batch N] [--bptt N] [--hidden N] [--dropout P] [--max-chunks N] [--methods sgd,s-sgd:LEVEL]";

use basin_core::estimators::{Clipped, GradientEstimator, Plain, StepContext, SymmetricSgdConfig};
use basin_core::paramkind::ParamFilter;
use basin_core::rng::{Stream, derive_seed};
use basin_core::train::checkpoint::write_atomic;
use basin_core::train::init_model;
use basin_core::{BatchSource, train_step};
use basin_zoo::data::corpus::Corpus;
use basin_zoo::models::lstm_lm::{LmBatch, LmRunSetup, LstmLm, chunks, first_chunks, streams};
use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Command-line settings.
#[derive(Debug, Clone)]
struct Args {
    /// `--quick`: the bundled slice, a small model, and a check that it learned.
    quick: bool,
    data: PathBuf,
    out: PathBuf,
    methods: Vec<(String, f64)>,
    seeds: u64,
    epochs: usize,
    decay_after: usize,
    batch: usize,
    bptt: usize,
    hidden: usize,
    dropout: f64,
    max_chunks: usize,
}

fn parse() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let quick = argv.iter().any(|a| a == "--quick");
    let mut a = if quick {
        Args { quick, data: "data/hamlet-slice".into(), out: std::env::temp_dir().join(format!("basin-lstm-{}", std::process::id())), methods: vec![("sgd".into(), 0.0), ("s-sgd".into(), 0.7)], seeds: 1, epochs: 2, decay_after: 1, batch: 10, bptt: 35, hidden: 64, dropout: 0.0, max_chunks: 0 }
    } else {
        Args { quick, data: "data/full/ptb".into(), out: "runs/lstm-lm".into(), methods: vec![("sgd".into(), 0.0), ("s-sgd".into(), 0.7)], seeds: 3, epochs: 13, decay_after: 4, batch: 20, bptt: 35, hidden: 300, dropout: 0.0, max_chunks: 0 }
    };
    let mut it = argv.iter().filter(|x| *x != "--quick");
    while let Some(key) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{key} needs a value"));
        let num = |v: String| v.parse::<f64>().map_err(|_| format!("{key}: '{v}' is not a number"));
        match key.as_str() {
            "--data" => a.data = value()?.into(),
            "--out" => a.out = value()?.into(),
            "--seeds" => a.seeds = num(value()?)? as u64,
            "--epochs" => a.epochs = num(value()?)? as usize,
            "--decay-after" => a.decay_after = num(value()?)? as usize,
            "--batch" => a.batch = num(value()?)? as usize,
            "--bptt" => a.bptt = num(value()?)? as usize,
            "--hidden" => a.hidden = num(value()?)? as usize,
            "--dropout" => a.dropout = num(value()?)?,
            "--max-chunks" => a.max_chunks = num(value()?)? as usize,
            // e.g. "sgd,s-sgd:0.6,s-sgd:0.7": the method and S-SGD's noise level
            "--methods" => {
                a.methods = value()?
                    .split(',')
                    .map(|m| match m.split_once(':') {
                        Some(("s-sgd", l)) => l.parse().map(|l| ("s-sgd".to_string(), l)).map_err(|_| format!("--methods: bad level in '{m}'")),
                        None if m == "sgd" => Ok(("sgd".to_string(), 0.0)),
                        _ => Err(format!("--methods: '{m}' is not sgd or s-sgd:LEVEL")),
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    if a.seeds == 0 || a.epochs == 0 || a.batch == 0 || a.bptt == 0 || a.hidden == 0 || !(0.0..1.0).contains(&a.dropout) {
        return Err("--seeds, --epochs, --batch, --bptt and --hidden must be positive and --dropout in [0, 1)".into());
    }
    Ok(a)
}

/// What a run has done so far (saved next to its weights).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    epoch: usize,
    chunk: usize,
    step: u64,
    seconds: f64,
    /// Validation perplexity after each finished epoch.
    valid_ppl: Vec<f64>,
    /// Mean training loss of each finished epoch (nats per word).
    train_loss: Vec<f64>,
    loss_sum: f64,
}

/// A finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunResult {
    method: String,
    seed: u64,
    valid_ppl: f64,
    test_ppl: f64,
    epochs: usize,
    steps: u64,
    seconds: f64,
    valid_history: Vec<f64>,
    /// λ_max of the exact Hessian of the training loss at the final weights, on the first
    /// [`CURVATURE_CHUNKS`] training chunks (S-SGD's claim is flatter minima).
    #[serde(default)]
    lambda_max: Option<f64>,
}

/// Training chunks the final λ_max is taken over (each `--batch` streams × `--bptt` words).
const CURVATURE_CHUNKS: usize = 8;

/// λ_max of the exact Hessian (Lanczos over `LossModel::loss_jvp`, the LSTM's tangent) of the
/// mean loss over the first `CURVATURE_CHUNKS` chunks of `train`, each from a zero state as in
/// training, without dropout.
fn lambda_max(model: &LstmLm, train: &[Vec<u32>], bptt: usize) -> Result<f64, Box<dyn std::error::Error>> {
    use basin_core::curvature::exact_hessian::ExactHessianOperator;
    use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
    use basin_core::curvature::objective::Objective;
    let ad = Device::flex().autodiff();
    let batches = first_chunks(train, CURVATURE_CHUNKS, bptt, &ad);
    let mut op = ExactHessianOperator::new(Objective::from_batches(model, batches))?;
    Ok(lanczos(&mut op, &LanczosConfig { k: 1, tol: 1e-3, max_iter: 60, seed: 0, ..Default::default() }).eigenvalues[0])
}

/// The example's runs never ask for an extra batch (noise enhancement is not offered here).
struct NoExtra;
impl BatchSource<LmBatch> for NoExtra {
    fn extra_batch(&mut self, _size: usize, _step: u64) -> LmBatch {
        unreachable!("lstm_lm offers no estimator that draws extra batches")
    }
}

fn label((m, level): &(String, f64)) -> String {
    if m == "sgd" { "sgd".into() } else { format!("s-sgd-{level}") }
}

fn perplexity(model: &LstmLm, s: &[Vec<u32>], bptt: usize) -> f64 {
    let (nats, n) = model.valid().eval_nats(s, bptt, &Device::flex());
    (nats / n as f64).exp()
}

fn save(dir: &Path, model: &LstmLm, p: &Progress) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = dir.join("model.bpk.tmp");
    model.clone().save_file(&tmp).map_err(|e| format!("{}: {e:?}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join("model.bpk"))?;
    write_atomic(&dir.join("progress.json"), &serde_json::to_vec_pretty(p)?)?;
    Ok(())
}

fn run(a: &Args, corpus: &Corpus, method: &(String, f64), seed: u64, stop: &AtomicBool) -> Result<Option<RunResult>, Box<dyn std::error::Error>> {
    let dir = a.out.join(label(method)).join(format!("seed-{seed}"));
    if let Ok(text) = std::fs::read_to_string(dir.join("result.json")) {
        let r: RunResult = serde_json::from_str(&text)?;
        if r.epochs >= a.epochs {
            return Ok(Some(r)); // done (a longer run is reported at its own length)
        }
    }
    std::fs::create_dir_all(&dir)?;
    // everything but the number of epochs must match the run being continued
    let run_setup = LmRunSetup { batch: a.batch, bptt: a.bptt, hidden: a.hidden, dropout: a.dropout, decay_after: a.decay_after, max_chunks: a.max_chunks, data: a.data.clone() };
    let setup = run_setup.line();
    match std::fs::read_to_string(dir.join("setup.txt")) {
        Ok(old) if old != setup => return Err(format!("{}: was run with '{old}', not '{setup}' (choose another --out)", dir.display()).into()),
        Ok(_) => {}
        Err(_) => write_atomic(&dir.join("setup.txt"), setup.as_bytes())?,
    }
    let ad = Device::flex().autodiff();
    let cfg = run_setup.model_config(corpus.vocab.len());
    let mut model = init_model(&ad, seed, |d| cfg.init(d));
    let mut p = Progress::default();
    if let Ok(text) = std::fs::read_to_string(dir.join("progress.json")) {
        p = serde_json::from_str(&text)?;
        let path = dir.join("model.bpk");
        model = model.try_load_file(&path).map_err(|e| format!("{}: {e:?}", path.display()))?;
        println!("{}: resuming at epoch {}, chunk {} (step {})", dir.display(), p.epoch + 1, p.chunk, p.step);
    }
    let inner: Box<dyn GradientEstimator<LstmLm>> = match method.0.as_str() {
        "sgd" => Box::new(Plain),
        _ => Box::new(SymmetricSgdConfig::default().with_level(method.1).with_layers(ParamFilter::Weights).init()),
    };
    // Zaremba et al. clip the gradient of the loss summed over the chunk's T steps at 5; ours
    // is the per-word mean, 1/T of it: clip at 5/T and step at T·lr (the same update).
    let mut estimator = Clipped::new(inner, 5.0 / a.bptt as f64);
    let mut optim = basin_core::optim::OptimizerConfig { name: "sgd".into(), ..Default::default() }.build();
    let train = streams(&corpus.train, a.batch);
    let (valid, test) = (streams(&corpus.valid, 10), streams(&corpus.test, 10));
    let n = match a.max_chunks {
        0 => chunks(&train, a.bptt),
        m => m.min(chunks(&train, a.bptt)),
    };
    let started = Instant::now();
    let (seconds_before, step_before) = (p.seconds, p.step);
    let total = (a.epochs * n) as u64;
    while p.epoch < a.epochs {
        // Zaremba et al.: lr₀ = 1 for the first `decay_after` epochs, then halved every epoch
        let lr = 0.5f64.powi((p.epoch + 1).saturating_sub(a.decay_after) as i32);
        while p.chunk < n {
            let batch = LmBatch::chunk(&train, p.chunk, a.bptt, Some(derive_seed(seed, Stream::Backend, p.step)), &ad);
            let mut src = NoExtra;
            let mut ctx = StepContext::new(p.step, seed, &mut src);
            let (next, loss) = train_step(model, &batch, &mut estimator, &mut optim, lr * a.bptt as f64, &mut ctx)?;
            model = next;
            p.loss_sum += loss;
            p.chunk += 1;
            p.step += 1;
            p.seconds = seconds_before + started.elapsed().as_secs_f64();
            if p.step % 20 == 0 || p.chunk == n {
                let rate = (p.step - step_before) as f64 / started.elapsed().as_secs_f64();
                let eta = (total - p.step) as f64 / rate;
                println!("{} seed {seed}: epoch {}/{} chunk {}/{n}  loss {loss:.3} (ppl {:.1})  lr {lr}  {:.2} steps/s  ETA {:.0} min", label(method), p.epoch + 1, a.epochs, p.chunk, loss.exp(), rate, eta / 60.0);
            }
            let stopping = stop.load(Ordering::SeqCst);
            if stopping || p.step % 100 == 0 {
                save(&dir, &model, &p)?;
            }
            if stopping {
                println!("interrupted: checkpoint at step {} in {} (run again to resume)", p.step, dir.display());
                std::process::exit(130);
            }
        }
        let ppl = perplexity(&model, &valid, a.bptt);
        p.train_loss.push(p.loss_sum / n as f64);
        p.valid_ppl.push(ppl);
        println!("{} seed {seed}: epoch {} done  train ppl {:.2}  valid ppl {ppl:.2}", label(method), p.epoch + 1, (p.loss_sum / n as f64).exp());
        p = Progress { epoch: p.epoch + 1, chunk: 0, loss_sum: 0.0, ..p };
        save(&dir, &model, &p)?;
    }
    let lambda = lambda_max(&model, &train, a.bptt)?;
    let r = RunResult { method: label(method), seed, valid_ppl: *p.valid_ppl.last().unwrap_or(&f64::NAN), test_ppl: perplexity(&model, &test, a.bptt), epochs: p.epoch, steps: p.step, seconds: p.seconds, valid_history: p.valid_ppl, lambda_max: Some(lambda) };
    write_atomic(&dir.join("result.json"), &serde_json::to_vec_pretty(&r)?)?;
    Ok(Some(r))
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let v = if xs.len() > 1 { xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64 } else { f64::NAN };
    (m, v.sqrt())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse().unwrap_or_else(|e| common::usage_error(USAGE, &e));
    let corpus = Corpus::load_ptb(&a.data).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2)
    });
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(signal, stop.clone());
    }
    println!("{}: {} / {} / {} words, vocabulary {}", a.data.display(), corpus.train.len(), corpus.valid.len(), corpus.test.len(), corpus.vocab.len());
    let mut results: Vec<RunResult> = Vec::new();
    // seed-major, so an interrupted sweep compares like with like
    for seed in 0..a.seeds {
        for m in &a.methods {
            results.extend(run(&a, &corpus, m, seed, &stop)?);
        }
    }
    let mut table = String::from("| method | valid perplexity | test perplexity | λ_max(H) | n | epochs | minutes per run |\n|---|---|---|---|---|---|---|\n");
    for m in &a.methods {
        let rs: Vec<&RunResult> = results.iter().filter(|r| r.method == label(m)).collect();
        let (v, vs) = mean_std(&rs.iter().map(|r| r.valid_ppl).collect::<Vec<_>>());
        let (t, ts) = mean_std(&rs.iter().map(|r| r.test_ppl).collect::<Vec<_>>());
        let mins = rs.iter().map(|r| r.seconds).sum::<f64>() / rs.len() as f64 / 60.0;
        // one seed has no spread to show
        let pm = |m: f64, s: f64| if rs.len() > 1 { format!("{m:.2} ± {s:.2}") } else { format!("{m:.2}") };
        // runs finished before λ_max was measured have none
        let lambdas: Vec<f64> = rs.iter().filter_map(|r| r.lambda_max).collect();
        let (l, ls) = mean_std(&lambdas);
        let lam = if lambdas.is_empty() { "—".to_string() } else if lambdas.len() > 1 { format!("{l:.3} ± {ls:.3} (n = {})", lambdas.len()) } else { format!("{l:.3}") };
        table += &format!("| {} | {} | {} | {lam} | {} | {} | {mins:.1} |\n", label(m), pm(v, vs), pm(t, ts), rs.len(), a.epochs);
    }
    print!("{table}");
    write_atomic(&a.out.join("results.md"), table.as_bytes())?;
    write_atomic(&a.out.join("results.json"), &serde_json::to_vec_pretty(&results)?)?;
    if a.quick {
        // uniform guessing has perplexity = vocabulary size; two epochs must beat it clearly
        assert!(results.iter().all(|r| r.test_ppl < 0.5 * corpus.vocab.len() as f64), "quick run did not learn: {results:?}");
        assert!(results.iter().all(|r| r.lambda_max.is_some_and(|l| l.is_finite() && l > 0.0)), "no λ_max: {results:?}");
        std::fs::remove_dir_all(&a.out)?;
    }
    Ok(())
}
