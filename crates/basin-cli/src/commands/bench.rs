//! `basin bench`: speed of training steps. `step` reports forward + backward + update steps per
//! second of zoo networks; `estimators` reports each flat-minima estimator's step time as a
//! ratio to plain SGD measured in the same process. Data is random with the right shape (speed
//! does not depend on the values).

use crate::{CliError, device};
use basin_core::estimators::{EstimatorConfig, StepContext};
use basin_core::train::init_model;
use basin_core::{Batch, BatchSource};
use basin_zoo::{ModelOptions, ZooModel};
use burn::module::Module;
use clap::Subcommand;
use std::time::Instant;

/// Subcommands of `basin bench`.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Training steps per second (plain SGD) of zoo networks.
    Step {
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed steps per model (after 3 warm-up steps).
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Models as name:CxHxW, comma separated.
        #[arg(long, default_value = "ne-f1:1x28x28,keskar-c1:3x32x32")]
        models: String,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Curvature engine: HVP time ÷ gradient time, HVPs of Lanczos vs power iteration for the
    /// top 5 eigenvalues at tolerance 1e-3, and the wall time of a top-5 Lanczos run.
    Hessian {
        /// Data set: mnist (if fetched) or mnist-slice.
        #[arg(long, default_value = "mnist")]
        data: String,
        /// Fraction of the training set.
        #[arg(long, default_value_t = 0.05)]
        subset: f64,
        /// Rounds of (gradient, each product), alternating; ratios are per round, reported as
        /// the median and range.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Only the product ÷ gradient ratios (skip the Lanczos and power-iteration runs).
        #[arg(long)]
        products_only: bool,
        /// Zoo network (Glorot init): ne-f1, simple-cnn, keskar-c1, … (built for the data's shape).
        #[arg(long, default_value = "ne-f1")]
        model: String,
        /// Operators timed against the gradient, comma separated (hessian, ggn, fisher,
        /// empirical-fisher, fd).
        #[arg(long, default_value = "hessian,ggn,fisher,empirical-fisher,fd")]
        operators: String,
        /// Examples per batch of the streamed products and gradients.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Landscape evaluation: seconds for a 21×21 filter-normalized surface of ne-f1 on the MNIST
    /// test set, and grid-point throughput relative to a plain test-set evaluation.
    Landscape {
        /// Data set: mnist (if fetched) or mnist-slice.
        #[arg(long, default_value = "mnist")]
        data: String,
        /// Points per axis.
        #[arg(long, default_value_t = 21)]
        points: usize,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// basin's CPU kernels (conv, batch norm, max pool, dense) vs Burn's on keskar-c1's and ne-f1's layers,
    /// forward + backward, same process: the speed-up Burn ÷ basin.
    Ops {
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed repeats per op (median).
        #[arg(long, default_value_t = 5)]
        reps: usize,
    },
    /// The interpretive overhead of an imported graph: an ONNX export of a zoo network against
    /// the zoo's own, same process, same batch, rounds alternating: SGD step time and exact
    /// Hessian-vector product time, the ONNX network's over the zoo's (median and range).
    Onnx {
        /// The ONNX file (e.g. `benches/zoo_onnx.py`'s ne-f1 export).
        #[arg(long)]
        onnx: std::path::PathBuf,
        /// The zoo network it is an export of, as name:CxHxW.
        #[arg(long)]
        like: String,
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed steps (and products) per network and round.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// Rounds, alternating the two networks.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
    },
    /// Step time of every estimator relative to plain SGD (same process, same model, same batch).
    Estimators {
        /// Batch size.
        #[arg(long, default_value_t = 128)]
        batch: usize,
        /// Timed steps per estimator and block (after 3 warm-up steps). The estimators take
        /// single steps in turn, so a slow second of a shared machine falls on all of them.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Blocks of `steps` steps: the ratio's range over blocks shows the machine's noise.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Models as name:CxHxW, comma separated.
        #[arg(long, default_value = "ne-f1:1x28x28,keskar-c1:3x32x32")]
        models: String,
        /// Estimators to time, comma separated, each `NAME` or `NAME:KEY=VALUE[+KEY=VALUE…]`
        /// with its own settings (e.g. `sam:m=32`, m-sharpness SAM on chunks of 32).
        #[arg(long, default_value = "smoothout,ada-smoothout,det-smoothout,s-sgd,noise-enhancement,sam,asam,sam:m=32,entropy-sgd")]
        estimators: String,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

/// Extra batches for noise enhancement: the same random batch (its content does not matter).
struct Same(Batch);
impl BatchSource for Same {
    fn extra_batch(&mut self, _size: usize, _step: u64) -> Batch {
        self.0.clone()
    }
}

fn parse_model(spec: &str) -> Result<(String, [usize; 3]), CliError> {
    let (name, shape) = spec.split_once(':').ok_or_else(|| CliError::input(format!("--models {spec}: expected name:CxHxW")))?;
    let dims: Vec<usize> = shape
        .split('x')
        .map(|d| d.parse().map_err(|_| CliError::input(format!("--models {spec}: bad shape"))))
        .collect::<Result<_, _>>()?;
    if dims.len() != 3 {
        return Err(CliError::input(format!("--models {spec}: shape needs 3 dimensions")));
    }
    Ok((name.to_string(), [dims[0], dims[1], dims[2]]))
}

/// A model and a random batch of its shape.
struct Workload {
    model: crate::network::Network,
    batch: Batch,
}

fn workload(name: &str, shape: [usize; 3], batch: usize, dev: &burn::tensor::Device) -> Result<Workload, CliError> {
    let ad = dev.clone().autodiff();
    ZooModel::build(name, shape, 10, &ModelOptions::default(), &ad).map_err(CliError::input)?;
    let model = init_model(&ad, 0, |d| ZooModel::build(name, shape, 10, &ModelOptions::default(), d).expect("checked"));
    let n: usize = batch * shape.iter().product::<usize>();
    let xs: Vec<f32> = (0..n).map(|i| ((i * 2654435761usize) % 1000) as f32 / 500.0 - 1.0).collect();
    let ys: Vec<i64> = (0..batch).map(|i| (i % 10) as i64).collect();
    Ok(Workload { model: crate::network::Network::Zoo(model), batch: Batch::from_host(xs, ys, shape, &ad) })
}

/// Threads of rayon's pool, the ones basin's kernels run on (`RAYON_NUM_THREADS`, else one per
/// logical CPU).
fn threads() -> usize {
    rayon::current_num_threads()
}

/// CPU seconds (user + system, every thread) this process has used so far: divided by the
/// wall time of a stretch it says how many cores were busy in it, which shows the idle part of
/// a parallel step that a profile of running threads cannot (issue 39: basin's 2-thread step
/// kept 1.58 of 2 busy, PyTorch's 1.95).
#[cfg(unix)]
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given (RUSAGE_SELF cannot fail).
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

#[cfg(not(unix))]
fn cpu_seconds() -> f64 {
    f64::NAN
}

/// Runs `basin bench ...`.
pub fn run(cmd: BenchCommand) -> Result<(), CliError> {
    match cmd {
        BenchCommand::Hessian { data, subset, rounds, products_only, model, operators, batch, device } => bench_hessian(&HessianBench { data, subset, rounds, products_only, model, operators, batch }, &device)?,
        BenchCommand::Landscape { data, points, device } => bench_landscape(&data, points, &device)?,
        BenchCommand::Ops { batch, reps } => super::bench_ops::run(batch, reps),
        BenchCommand::Step { batch, steps, models, device } => {
            let dev = device::select(&device)?;
            println!("| workload | batch | steps/s | ms/step | threads | CPUs busy |");
            println!("|---|---|---|---|---|---|");
            for spec in models.split(',') {
                let (name, shape) = parse_model(spec.trim())?;
                let w = workload(&name, shape, batch, &dev)?;
                let (wall, cpu) = (Instant::now(), cpu_seconds());
                let s = interleaved_step_times(&w, &[EstimatorConfig::default()], steps)[0].iter().sum::<f64>() / steps.max(1) as f64;
                // over the warm-up and timed steps
                let busy = (cpu_seconds() - cpu) / wall.elapsed().as_secs_f64();
                println!("| {name} {}x{}x{} | {batch} | {:.2} | {:.1} | {} | {busy:.2} |", shape[0], shape[1], shape[2], 1.0 / s, 1000.0 * s, threads());
            }
        }
        BenchCommand::Estimators { batch, steps, rounds, models, estimators, device } => bench_estimators(batch, steps, rounds, &models, &estimators, &device)?,
        BenchCommand::Onnx { onnx, like, batch, steps, rounds } => bench_onnx(&onnx, &like, batch, steps, rounds)?,
    }
    Ok(())
}

/// `basin bench onnx`: per round, `steps` SGD steps of the zoo network then of the ONNX one,
/// then `steps` exact Hessian-vector products of each; ratios ONNX ÷ zoo of the round medians.
fn bench_onnx(onnx: &std::path::Path, like: &str, batch: usize, steps: usize, rounds: usize) -> Result<(), CliError> {
    use basin_core::curvature::{Differentiable, Objective};
    let dev = burn::tensor::Device::flex();
    let (name, shape) = parse_model(like)?;
    let zoo = workload(&name, shape, batch, &dev)?;
    let ad = dev.clone().autodiff();
    let net = basin_onnx::OnnxNet::load(onnx, &ad).map_err(|e| CliError::input(e.to_string()))?;
    net.check_input(&shape, &ad).map_err(|e| CliError::input(format!("{}: {e}", onnx.display())))?;
    let imported = Workload { model: crate::network::Network::Onnx(net), batch: zoo.batch.clone() };
    let (pz, po) = (basin_core::paramvec::ParamVec::from_model(&zoo.model).numel(), basin_core::paramvec::ParamVec::from_model(&imported.model).numel());
    if pz != po {
        return Err(CliError::input(format!("{}: {po} parameters, {name} has {pz}: not an export of it", onnx.display())));
    }
    let step_times = |w: &Workload| interleaved_step_times(w, &[EstimatorConfig::default()], steps).remove(0);
    let hvp_times = |w: &Workload| {
        let mut obj = Objective::from_batches(&w.model, vec![w.batch.clone()]);
        let v = obj.point().rademacher(1);
        (0..steps + 1)
            .map(|_| {
                let t = Instant::now();
                let _ = obj.hvp(&v).norm();
                t.elapsed().as_secs_f64()
            })
            .skip(1)
            .collect::<Vec<f64>>()
    };
    let (mut step_ratio, mut hvp_ratio, mut ms) = (vec![], vec![], [vec![], vec![], vec![], vec![]]);
    for _ in 0..rounds.max(1) {
        let (sz, so) = (median(&step_times(&zoo)), median(&step_times(&imported)));
        let (hz, ho) = (median(&hvp_times(&zoo)), median(&hvp_times(&imported)));
        step_ratio.push(so / sz);
        hvp_ratio.push(ho / hz);
        for (v, x) in ms.iter_mut().zip([sz, so, hz, ho]) {
            v.push(x);
        }
    }
    let range = |r: &[f64]| (r.iter().copied().fold(f64::INFINITY, f64::min), r.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    println!("{} ({po} parameters) against the zoo's {name}, batch {batch}, {steps} timed per network and round, {rounds} rounds, {} threads", onnx.display(), threads());
    println!();
    println!("| what | zoo ms (median) | ONNX ms (median) | ONNX ÷ zoo (median) | range over rounds |");
    println!("|---|---|---|---|---|");
    for (what, r, z, o) in [("SGD step", &step_ratio, &ms[0], &ms[1]), ("exact H·v", &hvp_ratio, &ms[2], &ms[3])] {
        let (lo, hi) = range(r);
        println!("| {what} | {:.1} | {:.1} | {:.3} | {lo:.3}–{hi:.3} |", 1000.0 * median(z), 1000.0 * median(o), median(r));
    }
    Ok(())
}

/// Per-step times (seconds) of each estimator in `cfgs`, each on its own copy of the model
/// and optimizer, taking one step in turn (SGD, A, B, …, SGD, A, B, …) after 3 warm-up steps
/// each: a slow second of a shared machine falls on every estimator alike.
fn interleaved_step_times(w: &Workload, cfgs: &[EstimatorConfig], steps: usize) -> Vec<Vec<f64>> {
    let ad = w.batch.images.device();
    let mut src = Same(w.batch.clone());
    let sgd = basin_core::optim::OptimizerConfig { name: "sgd".into(), ..Default::default() };
    let mut runners: Vec<_> = cfgs.iter().map(|c| (c.with_run_lr(sgd.lr).build::<crate::network::Network>(0), sgd.build(), Some(w.model.clone()))).collect();
    let mut secs = vec![Vec::with_capacity(steps); cfgs.len()];
    for s in 0..(steps + 3) as u64 {
        for (i, (e, optim, model)) in runners.iter_mut().enumerate() {
            let t = Instant::now();
            ad.seed(s);
            let mut ctx = StepContext::new(s, 0, &mut src);
            let out = e.estimate(model.take().expect("model"), &w.batch, &mut ctx);
            *model = Some(optim.step(0.001, out.model, out.grads));
            if s >= 3 {
                secs[i].push(t.elapsed().as_secs_f64());
            }
        }
    }
    secs
}

/// `basin bench estimators`: SGD and each estimator stepping in turn on the same model and
/// batch; each estimator's median step time over SGD's, and the range of that ratio over
/// `rounds` blocks of `steps` steps.
fn bench_estimators(batch: usize, steps: usize, rounds: usize, models: &str, estimators: &str, device: &str) -> Result<(), CliError> {
    let dev = device::select(device)?;
    let mut cfgs = vec![("sgd".to_string(), EstimatorConfig::default())];
    for est in estimators.split(',').map(str::trim) {
        cfgs.push((est.to_string(), estimator_spec(est)?));
    }
    println!("{} steps each, taken in turn, batch {batch}, {} threads; ratio = median step time ÷ SGD's; range = that ratio in each of {rounds} blocks of {steps} steps", rounds.max(1) * steps, threads());
    println!();
    println!("| workload | estimator | ms/step (median) | ratio to SGD | range over rounds | goal |");
    println!("|---|---|---|---|---|---|");
    for spec in models.split(',') {
        let (name, shape) = parse_model(spec.trim())?;
        let w = workload(&name, shape, batch, &dev)?;
        let secs = interleaved_step_times(&w, &cfgs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(), rounds * steps);
        let block = |xs: &[f64], r: usize| median(&xs[r * steps..(r + 1) * steps]);
        for (i, (est, _)) in cfgs.iter().enumerate() {
            let ratios: Vec<f64> = (0..rounds.max(1)).map(|r| block(&secs[i], r) / block(&secs[0], r)).collect();
            let (lo, hi) = (ratios.iter().copied().fold(f64::INFINITY, f64::min), ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            let goal = match (est.split(':').next().unwrap_or(est), &cfgs[i].1) {
                ("sgd", _) => String::new(),
                ("smoothout" | "ada-smoothout", _) => "≤ 1.05".into(),
                ("det-smoothout", _) => "≤ 1.02 × N (copies = 4)".into(),
                // L gradients a step (the authors' code takes L + 1)
                (_, EstimatorConfig::EntropySgd(c)) => format!("≤ 1.05 × L (L = {})", c.inner_steps),
                _ => "≤ 2.05".into(),
            };
            println!("| {name} | {est} | {:.1} | {:.2} | {lo:.2}–{hi:.2} | {goal} |", 1000.0 * median(&secs[i]), median(&secs[i]) / median(&secs[0]));
        }
    }
    Ok(())
}

/// `NAME` or `NAME:KEY=VALUE[+KEY=VALUE…]` of `--estimators` as a config: the method's
/// defaults (noise enhancement at α = 2) with the given keys, each a TOML value.
fn estimator_spec(spec: &str) -> Result<EstimatorConfig, CliError> {
    let (name, keys) = spec.split_once(':').unwrap_or((spec, ""));
    let default = match EstimatorConfig::default_of(name) {
        Some(EstimatorConfig::NoiseEnhancement(c)) => EstimatorConfig::NoiseEnhancement(c.with_alpha(2.0)),
        Some(c) => c,
        None => return Err(CliError::input(format!("--estimators: unknown estimator '{name}' (known: {})", basin_core::estimators::ESTIMATOR_NAMES.join(", ")))),
    };
    let Ok(toml::Value::Table(mut t)) = toml::Value::try_from(&default) else { unreachable!("an estimator config is a table") };
    for kv in keys.split('+').filter(|k| !k.is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| CliError::input(format!("--estimators: '{kv}' in '{spec}' is not KEY=VALUE")))?;
        let v: toml::Value = toml::from_str::<toml::Table>(&format!("v = {v}")).map_err(|e| CliError::input(format!("--estimators: {k}: {e}")))?.remove("v").expect("parsed");
        t.insert(k.to_string(), v);
    }
    let cfg: EstimatorConfig = toml::Value::Table(t).try_into().map_err(|e| CliError::input(format!("--estimators: '{spec}': {e}")))?;
    cfg.validate().map_err(|e| CliError::input(format!("--estimators: '{spec}': {e}")))?;
    Ok(cfg)
}

/// The median of `xs` (the upper one of an even count).
fn median(xs: &[f64]) -> f64 {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// The data set `data` prepared (falling back to the bundled slice when `mnist` was not fetched)
/// and a Glorot-initialized zoo network `model` for it: what the curvature and landscape
/// benchmarks run on.
fn zoo_on(model: &str, data: &str, dev: &burn::tensor::Device) -> Result<(String, basin_zoo::data::RunData, ZooModel), CliError> {
    let prep = |name: &str| basin_zoo::data::prepare(&basin_core::train::DataConfig { name: name.to_string(), ..Default::default() }, 0);
    let (name, rd) = match prep(data) {
        Ok(rd) => (data.to_string(), rd),
        Err(_) if data == "mnist" => {
            println!("(full MNIST not fetched: `basin data fetch mnist`; using the bundled slice)");
            ("mnist-slice".to_string(), prep("mnist-slice")?)
        }
        Err(e) => return Err(e.into()),
    };
    let ad = dev.clone().autodiff();
    ZooModel::build(model, rd.shape, rd.classes, &ModelOptions::default(), &ad).map_err(|e| CliError::input(format!("--model: {e}")))?;
    let model = init_model(&ad, 0, |d| ZooModel::build(model, rd.shape, rd.classes, &ModelOptions::default(), d).expect("checked above"));
    Ok((name, rd, model))
}

/// The settings of `basin bench hessian` (see [`BenchCommand::Hessian`]).
struct HessianBench {
    data: String,
    subset: f64,
    rounds: usize,
    products_only: bool,
    model: String,
    operators: String,
    batch: usize,
}

fn bench_hessian(b: &HessianBench, device: &str) -> Result<(), CliError> {
    let HessianBench { ref data, subset, rounds, products_only, model: ref model_name, ref operators, batch } = *b;
    if batch == 0 {
        return Err(CliError::input("--batch: must be at least 1"));
    }
    use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
    use basin_core::curvature::fd_hessian::Differentiable;
    use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
    use basin_core::curvature::objective::subset_indices;
    use basin_core::curvature::power::power_iteration;
    use basin_core::curvature::{LinearOperator, Objective};
    let dev = device::select(device)?;
    let (name, rd, model) = zoo_on(model_name, data, &dev)?;
    let idx = subset_indices(basin_core::batch::ExampleSet::len(&rd.train), Some(subset), None, 0);
    let params = basin_core::paramvec::ParamVec::from_model(&model).numel();
    println!("{model_name} ({params} parameters, Glorot init), {} = {} examples of {name}, batches of {batch}, {} threads, {rounds} rounds", subset, idx.len(), threads());
    let mut obj = Objective::new(&model, &rd.train, &idx, batch, &dev);
    let w = obj.point().clone();
    let kinds = operators
        .split(',')
        .map(|s| OperatorKind::parse(s.trim()).ok_or_else(|| CliError::input(format!("--operators: unknown operator '{s}'"))))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ops = Vec::new();
    for &kind in &kinds {
        ops.push(CurvatureOperator::new(kind, Objective::new(&model, &rd.train, &idx, batch, &dev), kind.default_eps())?);
    }
    let v = ops.first().ok_or_else(|| CliError::input("--operators: none given"))?.rademacher(1);
    let secs = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64()
    };
    // warm-up, then rounds alternating the gradient and each product
    let _ = obj.loss_grad(&w);
    ops.iter_mut().for_each(|op| drop(op.apply(&v)));
    let mut grad_times = Vec::new();
    let (mut ratios, mut product_times) = (vec![Vec::new(); kinds.len()], vec![Vec::new(); kinds.len()]);
    for _ in 0..rounds.max(1) {
        let tg = secs(&mut || drop(obj.loss_grad(&w)));
        grad_times.push(tg);
        for ((op, r), t) in ops.iter_mut().zip(&mut ratios).zip(&mut product_times) {
            t.push(secs(&mut || drop(op.apply(&v))));
            r.push(t[t.len() - 1] / tg);
        }
    }
    let range = |xs: &[f64]| (xs.iter().copied().fold(f64::INFINITY, f64::min), xs.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    println!("| quantity | median | range |");
    println!("|---|---|---|");
    let (lo, hi) = range(&grad_times);
    println!("| gradient over the subset | {:.3} s | {lo:.3}–{hi:.3} s |", median(&grad_times));
    for (kind, t) in kinds.iter().zip(&product_times) {
        let (lo, hi) = range(t);
        println!("| {} product | {:.3} s | {lo:.3}–{hi:.3} s |", kind.label(), median(t));
    }
    for (kind, r) in kinds.iter().zip(&ratios) {
        let goal = match kind {
            OperatorKind::Hessian => " (goal ≤ 2.7)",
            OperatorKind::Ggn | OperatorKind::Fisher | OperatorKind::EmpiricalFisher => " (goal ≤ 1.8)",
            _ => "",
        };
        let (lo, hi) = range(r);
        println!("| {} product ÷ gradient | {:.2}{goal} | {lo:.2}–{hi:.2} |", kind.label(), median(r));
    }
    if products_only {
        return Ok(());
    }
    let kind = OperatorKind::Hessian;
    let mut op = CurvatureOperator::new(kind, Objective::new(&model, &rd.train, &idx, batch, &dev), kind.default_eps())?;
    let t = Instant::now();
    let l = lanczos(&mut op, &LanczosConfig { k: 5, tol: 1e-3, max_iter: 200, seed: 0, smallest: false, bottom: 0 });
    let tl = t.elapsed().as_secs_f64();
    let mut op2 = CurvatureOperator::new(kind, Objective::new(&model, &rd.train, &idx, batch, &dev), kind.default_eps())?;
    let t = Instant::now();
    let p = power_iteration(&mut op2, 5, 1e-3, 300, 0);
    let tp = t.elapsed().as_secs_f64();
    println!("| Hessian: Lanczos top-5, tol 1e-3: HVPs / seconds | {} / {:.1} s | |", l.iterations, tl);
    println!("| Hessian: power iteration top-5, tol 1e-3: HVPs / seconds | {} / {:.1} s | |", p.iterations, tp);
    println!("| Lanczos eigenvalues | {:?} | |", l.eigenvalues.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>());
    println!("| power eigenvalues | {:?} | |", p.eigenvalues.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>());
    Ok(())
}

fn bench_landscape(data: &str, points: usize, device: &str) -> Result<(), CliError> {
    use basin_core::landscape::{DirectionNorm, filter_normalized_direction};
    use basin_core::paramvec::ParamVec;
    use basin_core::train::evaluate::evaluate;
    let dev = device::select(device)?;
    let (name, rd, model) = zoo_on("ne-f1", data, &dev)?;
    let n = basin_core::batch::ExampleSet::len(&rd.test);
    let t = Instant::now();
    let base = evaluate(&model, &rd.test, 1000, &dev);
    let _ = evaluate(&model, &rd.test, 1000, &dev);
    let plain = t.elapsed().as_secs_f64() / 2.0;
    let w = ParamVec::from_model(&model);
    let (d1, d2) = (filter_normalized_direction(&w, DirectionNorm::Filter, true, 0), filter_normalized_direction(&w, DirectionNorm::Filter, true, 1));
    let axis: Vec<f64> = (0..points).map(|i| -1.0 + 2.0 * i as f64 / (points - 1).max(1) as f64).collect();
    let valid = model.valid();
    let t = Instant::now();
    let mut worst: f64 = base.loss;
    for &y in &axis {
        for &x in &axis {
            let m = w.axpy(x, &d1).axpy(y, &d2).write_into(valid.clone());
            worst = worst.max(evaluate(&m, &rd.test, 1000, &dev).loss);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let per = secs / (points * points) as f64;
    println!("ne-f1 on the {name} test set ({n} images), {} threads", threads());
    println!("| quantity | value |");
    println!("|---|---|");
    println!("| plain test-set evaluation | {:.3} s ({:.0} images/s) |", plain, n as f64 / plain);
    println!("| {points}×{points} surface | {:.1} s |", secs);
    println!("| grid points per second | {:.2} |", 1.0 / per);
    println!("| throughput relative to plain evaluation | {:.2} |", plain / per);
    println!("| loss range on the grid | {:.3} … {:.3} |", base.loss, worst);
    Ok(())
}
