//! `[average]` (SWA and EMA, Izmailov et al. 2018) on real training: the averaged weights
//! against the mean (or the exponential recursion) of the weights the test records itself,
//! the recalibrated batch-norm statistics against a direct computation over the data, the SWA
//! learning rate, and a bit-identical averaged model after an interruption and resume.

mod stop_at;
use stop_at::StopAt;
use basin_core::BasinError;
use basin_core::batch::ExampleSet;
use basin_core::paramvec::ParamVec;
use basin_core::train::metrics::{MetricRecord, MetricsLog};
use basin_core::train::{Callback, Observer, Silent, StepInfo, Summary, TrainConfig, TrainOptions, TrainSets, init_model, train_with};
use basin_zoo::data::{RunData, prepare};
use basin_zoo::{ModelOptions, ZooModel};
use burn::tensor::Device;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// keskar-f1 (batch norm after every hidden layer) on 600 slice images, 3 steps per epoch.
fn cfg(method: &str) -> TrainConfig {
    let mut cfg = TrainConfig::default();
    cfg.data.dir = basin_zoo::data::sources::bundled_slice_dir().to_string_lossy().into_owned();
    cfg.data.train_subset = 600;
    cfg.data.test_subset = 200;
    cfg.model.name = "keskar-f1".into();
    cfg.train.batch_size = 200;
    cfg.train.epochs = 4;
    cfg.optimizer.name = "sgd".into();
    cfg.optimizer.lr = 0.05;
    cfg.average.method = method.into();
    cfg.seed = 3;
    cfg
}

fn model_for(cfg: &TrainConfig, data: &RunData, device: &Device) -> ZooModel {
    init_model(device, cfg.seed, |d| ZooModel::build(&cfg.model.name, data.shape, data.classes, &ModelOptions::default(), d).unwrap())
}

/// Records the trainable weights at every step (`per_step`) or at every epoch end from epoch
/// `from` on.
struct Recorder {
    per_step: bool,
    from: usize,
    seen: Arc<Mutex<Vec<Vec<f64>>>>,
}

impl Callback<ZooModel> for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn on_step(&mut self, model: &ZooModel, _: &StepInfo<'_>, _: &mut MetricsLog) -> Result<(), BasinError> {
        if self.per_step {
            self.seen.lock().unwrap().push(ParamVec::from_model(model).to_host_f64());
        }
        Ok(())
    }
    fn on_epoch_end(&mut self, model: &ZooModel, r: &MetricRecord, _: &mut MetricsLog) -> Result<(), BasinError> {
        if !self.per_step && r.epoch >= self.from {
            self.seen.lock().unwrap().push(ParamVec::from_model(model).to_host_f64());
        }
        Ok(())
    }
}

fn run(cfg: &TrainConfig, data: &RunData, out: &Path, resume: bool, obs: &mut dyn Observer, stop: Arc<AtomicBool>, callbacks: Vec<Box<dyn Callback<ZooModel>>>) -> Result<(ZooModel, Summary), BasinError> {
    let device = Device::flex();
    let model = model_for(cfg, data, &device.clone().autodiff());
    let sets = TrainSets { train: &data.train, test: &data.test, val: None };
    train_with(model, cfg, &sets, &TrainOptions { out: out.to_path_buf(), resume, stop, device }, obs, callbacks)
}

fn averaged_model(cfg: &TrainConfig, data: &RunData, dir: &Path) -> ZooModel {
    let file = dir.join(format!("{}.bpk", cfg.average.file_stem()));
    use burn::module::Module;
    model_for(cfg, data, &Device::flex().autodiff()).try_load_file(&file).unwrap()
}

fn entry(model: &ZooModel, path: &str) -> Vec<f64> {
    let e = basin_core::params::collect(model).into_iter().find(|e| e.path.ends_with(path)).unwrap_or_else(|| panic!("no parameter {path}"));
    e.values.iter().map(|&v| v as f64).collect()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs() / (1.0 + w.abs())).fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: worst relative difference {worst:e} > {tol:e}");
}

#[test]
fn swa_is_the_mean_of_the_weights_it_averages_with_its_own_rate_and_recalibrated_batch_norm() {
    let mut cfg = cfg("swa");
    cfg.average.start = 1;
    cfg.average.lr = 0.02;
    let data = prepare(&cfg.data, cfg.seed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (_, s) = run(&cfg, &data, dir.path(), false, &mut Silent, Arc::new(AtomicBool::new(false)), vec![Box::new(Recorder { per_step: false, from: 2, seen: seen.clone() })]).unwrap();

    // averaged after epochs 2, 3 and 4: the mean of exactly those weights
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    let mean: Vec<f64> = (0..seen[0].len()).map(|i| seen.iter().map(|w| w[i]).sum::<f64>() / 3.0).collect();
    let avg = averaged_model(&cfg, &data, dir.path());
    assert_close(&ParamVec::from_model(&avg).to_host_f64(), &mean, 1e-6, "SWA weights");
    let a = s.averaged.as_ref().expect("summary.averaged");
    assert_eq!((a.method.as_str(), a.averaged, a.file.as_str()), ("swa", 3, "model-swa.bpk"));
    assert!(a.test_acc.is_some_and(|t| t > 0.5 && t.is_finite()), "averaged test accuracy {:?}", a.test_acc);

    // the SWA phase runs at average.lr; epoch 1 at the run's own rate
    let rates: Vec<f64> = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap().lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter(|r| r["kind"] == "epoch").map(|r| r["lr"].as_f64().unwrap()).collect();
    assert_eq!(rates, vec![0.05, 0.02, 0.02, 0.02]);

    // batch norm: the first layer's running statistics are the mean over the three training
    // batches (in order, no augmentation) of the batch mean and biased variance of x·W + b at
    // the averaged weights, computed here on the host in f64
    let (w, b) = (entry(&avg, "hidden.0.weight"), entry(&avg, "hidden.0.bias"));
    let (inp, out) = (784, 512);
    let (mut mean_sum, mut var_sum) = (vec![0.0; out], vec![0.0; out]);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for k in 0..3 {
        data.train.gather(&(k * 200..(k + 1) * 200).collect::<Vec<_>>(), None, &mut xs, &mut ys);
        let z: Vec<Vec<f64>> = xs.chunks(inp).map(|x| (0..out).map(|j| b[j] + x.iter().enumerate().map(|(i, &xi)| xi as f64 * w[i * out + j]).sum::<f64>()).collect()).collect();
        for j in 0..out {
            let m = z.iter().map(|r| r[j]).sum::<f64>() / 200.0;
            mean_sum[j] += m;
            var_sum[j] += z.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / 200.0;
        }
    }
    let expected_mean: Vec<f64> = mean_sum.iter().map(|s| s / 3.0).collect();
    let expected_var: Vec<f64> = var_sum.iter().map(|s| s / 3.0).collect();
    assert_close(&entry(&avg, "norms.0.running_mean"), &expected_mean, 1e-4, "recalibrated running mean");
    assert_close(&entry(&avg, "norms.0.running_var"), &expected_var, 1e-4, "recalibrated running variance");
    // not the trained model's statistics (which the run folder's model.bpk keeps)
    let trained = {
        use burn::module::Module;
        model_for(&cfg, &data, &Device::flex().autodiff()).try_load_file(dir.path().join("checkpoints").join(std::fs::read_to_string(dir.path().join("checkpoints/latest")).unwrap().trim()).join("model.bpk")).unwrap()
    };
    let moved = entry(&trained, "norms.0.running_mean").iter().zip(&expected_mean).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(moved > 1e-3, "the trained running mean already equals the recalibrated one ({moved:e}): the test would not see a missing recalibration");
}

#[test]
fn ema_follows_its_recursion_step_by_step() {
    let mut cfg = cfg("ema");
    cfg.average.unit = "step".into();
    cfg.average.beta = 0.8;
    cfg.train.epochs = 2;
    let data = prepare(&cfg.data, cfg.seed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (_, s) = run(&cfg, &data, dir.path(), false, &mut Silent, Arc::new(AtomicBool::new(false)), vec![Box::new(Recorder { per_step: true, from: 0, seen: seen.clone() })]).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 6);
    let mut ema = seen[0].clone();
    for w in &seen[1..] {
        for (e, x) in ema.iter_mut().zip(w) {
            *e = 0.8 * *e + 0.2 * x;
        }
    }
    assert_close(&ParamVec::from_model(&averaged_model(&cfg, &data, dir.path())).to_host_f64(), &ema, 1e-6, "EMA weights");
    assert_eq!(s.averaged.as_ref().map(|a| (a.method.as_str(), a.averaged)), Some(("ema", 6)));
}


#[test]
fn an_interrupted_and_resumed_run_ends_with_the_same_averaged_model() {
    let mut cfg = cfg("swa");
    cfg.average.unit = "step".into();
    cfg.average.start = 2;
    cfg.average.every = 2;
    cfg.average.lr = 0.03;
    cfg.average.schedule = "cyclic".into();
    cfg.average.lr_max = 0.08;
    cfg.train.epochs = 3;
    let data = prepare(&cfg.data, cfg.seed).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let no_stop = || Arc::new(AtomicBool::new(false));
    let (_, full) = run(&cfg, &data, a.path(), false, &mut Silent, no_stop(), Vec::new()).unwrap();
    let flag = no_stop();
    // step 5: mid-epoch, one weight averaged (after step 4) and two to come
    let err = run(&cfg, &data, b.path(), false, &mut StopAt { at: 5, flag: flag.clone() }, flag, Vec::new()).expect_err("interrupted");
    assert!(matches!(err, BasinError::Interrupted { step: 5 }), "{err}");
    let (_, resumed) = run(&cfg, &data, b.path(), true, &mut Silent, no_stop(), Vec::new()).unwrap();
    let (wa, wb) = (basin_core::params::flatten(&averaged_model(&cfg, &data, a.path())), basin_core::params::flatten(&averaged_model(&cfg, &data, b.path())));
    assert!(wa.len() > 1_000_000);
    assert!(wa == wb, "the resumed run's averaged model differs");
    // after steps 4, 6, 8 (steps 2..9 run the cycles 0.08 → 0.03)
    assert_eq!(full.averaged.as_ref().unwrap().averaged, 3);
    assert_eq!(full.averaged, resumed.averaged);
}

#[test]
fn swa_on_keskar_c1_recalibrates_the_batch_norm_after_dropout_from_the_batches_it_saw() {
    // keskar-c1: dense → BN → ReLU → dropout → dense → BN. The second dense batch norm (bn4)
    // sees dropout masks; its recalibrated statistics must be the mean over the training
    // batches (the last partial one included) of each batch's statistic at the inputs that
    // batch's pass gave it. Here each batch's statistic comes from one training-mode pass of
    // the averaged model under the same masks (running_stats::recalibration_seed), read off
    // Burn's update r ← 0.9·r + 0.1·s with its known momentum 0.1, instead of recalibrate's
    // differencing of two passes with unknown momentum.
    let mut cfg = TrainConfig::default();
    cfg.data.dir = basin_zoo::data::sources::bundled_slice_dir().to_string_lossy().into_owned();
    cfg.data.train_subset = 1000; // 15 batches of 64 and one of 40
    cfg.data.test_subset = 256;
    cfg.model.name = "keskar-c1".into();
    cfg.train.epochs = 3;
    cfg.average.method = "swa".into();
    cfg.average.start = 1;
    cfg.seed = 5;
    let data = prepare(&cfg.data, cfg.seed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, s) = run(&cfg, &data, dir.path(), false, &mut Silent, Arc::new(AtomicBool::new(false)), Vec::new()).unwrap();
    let a = s.averaged.as_ref().expect("summary.averaged");
    assert!(a.train_loss.is_finite() && a.test_loss.is_finite(), "averaged losses {} / {}", a.train_loss, a.test_loss);
    assert!(a.test_acc > Some(0.5), "averaged test accuracy {:?}", a.test_acc);

    let avg = averaged_model(&cfg, &data, dir.path());
    let recalibrated = basin_core::running_stats::snapshot(&avg);
    let (mean_got, var_got) = (entry(&avg, "bn4.running_mean"), entry(&avg, "bn4.running_var"));
    assert!(var_got.iter().all(|&v| v > 0.0), "a recalibrated variance is not positive");
    let device = Device::flex().autodiff();
    let (n, size) = (1000usize, 64usize);
    let batches = n.div_ceil(size);
    let (mut mean_want, mut var_want) = (vec![0.0; 192], vec![0.0; 192]);
    for i in 0..batches {
        basin_core::running_stats::restore(&avg, &recalibrated);
        let (m0, v0) = (entry(&avg, "bn4.running_mean"), entry(&avg, "bn4.running_var"));
        let batch = data.train.batch(&(i * size..((i + 1) * size).min(n)).collect::<Vec<_>>(), None, &device);
        {
            let _rng = basin_core::rng::backend_lock();
            device.seed(basin_core::running_stats::recalibration_seed(cfg.seed, i));
            let _ = basin_core::task::LossModel::loss(&avg, &batch);
        }
        basin_core::running_stats::sync(&avg); // Burn keeps the pass's update aside until synced
        let (m1, v1) = (entry(&avg, "bn4.running_mean"), entry(&avg, "bn4.running_var"));
        for j in 0..192 {
            mean_want[j] += (m1[j] - 0.9 * m0[j]) / 0.1 / batches as f64;
            var_want[j] += (v1[j] - 0.9 * v0[j]) / 0.1 / batches as f64;
        }
    }
    // the masks matter: the first batch under another seed gives other statistics
    basin_core::running_stats::restore(&avg, &recalibrated);
    {
        let _rng = basin_core::rng::backend_lock();
        device.seed(basin_core::running_stats::recalibration_seed(cfg.seed + 1, 0));
        let _ = basin_core::task::LossModel::loss(&avg, &data.train.batch(&(0..size).collect::<Vec<_>>(), None, &device));
    }
    basin_core::running_stats::sync(&avg);
    let other = entry(&avg, "bn4.running_mean");
    basin_core::running_stats::restore(&avg, &recalibrated);
    let moved = other.iter().zip(&mean_got).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(moved > 1e-3, "the dropout masks do not change bn4's statistics ({moved:e}): the test would not see unseeded passes");
    assert_close(&mean_got, &mean_want, 1e-4, "bn4 recalibrated running mean");
    assert_close(&var_got, &var_want, 1e-4, "bn4 recalibrated running variance");
}
