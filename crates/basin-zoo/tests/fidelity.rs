//! Issue 25: where a method departed from its paper or its authors' code, checked against an
//! independent computation of what the paper or the code does. Every model here is defined in
//! the test (a user's own Burn module, with no basin-specific code such as a running-statistics
//! sync), so the rules hold for any model, not only the zoo's.

use basin_core::batch::{Batch, BatchSource, ExampleSet};
use basin_core::estimators::ada_smoothout::AdaSmoothOut;
use basin_core::estimators::config::{NoiseKind, NoisePer};
use basin_core::estimators::det_smoothout::DetSmoothOut;
use basin_core::estimators::noise_enhancement::NoiseEnhancement;
use basin_core::estimators::sam::Sam;
use basin_core::estimators::smoothout::{SmoothOut, chunk_key, draw_noise, noise_key};
use basin_core::estimators::ssgd::SymmetricSgd;
use basin_core::estimators::{EstimatorConfig, GradientEstimator, Plain, StepContext, loss_and_grads};
use basin_core::optim::OptimizerConfig;
use basin_core::paramkind::{ParamFilter, ParamKind};
use basin_core::paramvec::ParamVec;
use basin_core::rng::{Stream, derive_seed};
use basin_core::train::TrainConfig;
use basin_core::Classifier;
use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// dense → batch norm → ReLU → dropout → dense; no `sync_running_stats` of its own.
#[derive(Module, Debug)]
struct Net {
    l1: Linear,
    bn: BatchNorm,
    drop: Dropout,
    l2: Linear,
}

impl Classifier for Net {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let h = relu(self.bn.forward(self.l1.forward(x.flatten(1, 3))));
        self.l2.forward(self.drop.forward(h))
    }
}

fn ad() -> Device {
    Device::flex().autodiff()
}

/// The net with dropout probability `p`, weights from `seed` (each call: its own running state).
fn net(seed: u64, p: f64) -> Net {
    basin_core::train::init_model(&ad(), seed, |d| Net {
        l1: LinearConfig::new(784, 24).init(d),
        bn: BatchNormConfig::new(24).init(d),
        drop: DropoutConfig::new(p).init(),
        l2: LinearConfig::new(24, 10).init(d),
    })
}

/// 64 real MNIST images as one batch, and `ranges` of them as batches of their own.
fn data(ranges: &[std::ops::Range<usize>]) -> (Batch, Vec<Batch>) {
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let p = basin_zoo::data::PreparedSet::new(&tt.train.take(128), &basin_zoo::data::Normalization::fit(&tt.train));
    let all: Vec<usize> = (0..64).collect();
    let parts = ranges.iter().map(|r| p.batch(&r.clone().collect::<Vec<_>>(), None, &ad())).collect();
    (p.batch(&all, None, &ad()), parts)
}

struct NoExtra;
impl BatchSource for NoExtra {
    fn extra_batch(&mut self, _size: usize, _step: u64) -> Batch {
        unreachable!("no extra batches here")
    }
}

/// The gradient (host, slot order) of `model` with its parameters at `w` on `batch`, on a
/// fresh copy: one plain forward and backward pass.
fn grad(model: &Net, w: &ParamVec, batch: &Batch) -> (f64, Vec<f32>) {
    let m = w.write_into(model.clone());
    let (l, g) = loss_and_grads(&m, batch);
    (l, ParamVec::from_grads(w, &g).to_host())
}

fn est_grad(est: &mut dyn GradientEstimator<Net>, model: Net, batch: &Batch, ghost: usize) -> (f64, Vec<f32>) {
    let w = ParamVec::from_model(&model);
    let mut src = NoExtra;
    let mut ctx = StepContext::new(3, 11, &mut src).with_ghost_batch(ghost);
    let e = est.estimate(model, batch, &mut ctx);
    (e.loss, ParamVec::from_grads(&w, &e.grads).to_host())
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Σ_c weight_c · g_c on the host.
fn weighted(parts: &[(f64, Vec<f32>)]) -> Vec<f32> {
    let mut out = vec![0f32; parts[0].1.len()];
    for (w, g) in parts {
        for (o, x) in out.iter_mut().zip(g) {
            *o += *w as f32 * x;
        }
    }
    out
}

fn running(model: &Net) -> Vec<f32> {
    basin_core::running_stats::sync(model);
    let mut v = Vec::new();
    basin_core::params::for_each_float(model, |path, _, t, shape| {
        if ParamKind::classify(path, &shape) == ParamKind::State {
            v.extend(t.to_data().convert::<f32>().try_to_vec::<f32>().unwrap());
        }
    });
    v
}

#[test]
fn ghost_batches_average_the_chunks_gradients_by_their_sizes() {
    let (b, chunks) = data(&[0..24, 24..48, 48..64]);
    let model = net(1, 0.0);
    let w = ParamVec::from_model(&model);
    let (loss, g) = est_grad(&mut Plain, model.clone(), &b, 24);
    let per: Vec<(f64, Vec<f32>)> = chunks.iter().map(|c| grad(&model, &w, c)).collect();
    let sizes = [24.0 / 64.0, 24.0 / 64.0, 16.0 / 64.0];
    let expected = weighted(&sizes.iter().zip(&per).map(|(s, (_, g))| (*s, g.clone())).collect::<Vec<_>>());
    let d = max_diff(&g, &expected);
    assert!(d < 1e-6, "ghost gradient differs from Σ (n_c/n) ∇L_c by {d}");
    let l: f64 = sizes.iter().zip(&per).map(|(s, (l, _))| s * l).sum();
    assert!((loss - l).abs() < 1e-6, "loss {loss} against {l}");
    // batch norm on chunks is not batch norm on the whole batch: the chunking is real
    let (_, whole) = grad(&model, &w, &b);
    assert!(max_diff(&g, &whole) > 1e-4, "ghost batches changed nothing");
}

#[test]
fn smoothout_per_chunk_noise_draws_a_fresh_theta_for_every_chunk() {
    let (b, chunks) = data(&[0..32, 32..64]);
    let model = net(2, 0.0);
    let w = ParamVec::from_model(&model);
    let a = 0.02;
    let mut est = SmoothOut::new(a, NoiseKind::Uniform, true, ParamFilter::All).with_noise_per(NoisePer::Chunk);
    let (_, g) = est_grad(&mut est, model.clone(), &b, 32);
    // the authors' loop: chunk c at w + θ_c, θ_c its own draw, the gradients averaged
    let key = noise_key(11, 3);
    let per: Vec<(f64, Vec<f32>)> = chunks.iter().enumerate().map(|(c, ch)| (0.5, grad(&model, &w.add(&draw_noise(&w, a, NoiseKind::Uniform, ParamFilter::All, chunk_key(key, c))), ch).1)).collect();
    let d = max_diff(&g, &weighted(&per));
    assert!(d < 1e-6, "per-chunk SmoothOut differs by {d}");
    // and it is not one θ for the whole batch
    let mut batch_est = SmoothOut::new(a, NoiseKind::Uniform, true, ParamFilter::All);
    let (_, g1) = est_grad(&mut batch_est, model.clone(), &b, 32);
    assert!(max_diff(&g, &g1) > 1e-5, "per-chunk noise equals per-batch noise");
    // per-chunk noise without ghost batches is refused, naming the key
    let cfg = TrainConfig { estimator: EstimatorConfig::SmoothOut(basin_core::estimators::SmoothOutConfig::default().with_noise_per(NoisePer::Chunk)), ..Default::default() };
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("estimator.noise_per"), "{err}");
}

#[test]
fn ada_smoothout_perturbs_each_element_of_a_1d_parameter_by_a_times_its_size() {
    // the authors' `--adapt-type filter`: noise[idx] / ‖noise[idx]‖ · ‖p[idx]‖ along
    // dimension 0, so a bias or batch-norm element gets ±a·|bᵢ|
    let (b, _) = data(&[]);
    let model = net(3, 0.0);
    let mut est = AdaSmoothOut::new(0.15, NoiseKind::Uniform, true, ParamFilter::All);
    let _ = est_grad(&mut est, model.clone(), &b, 0);
    let theta = est.last_noise().unwrap();
    let w = ParamVec::from_model(&model);
    let mut checked = 0;
    for ((slot, wp), tp) in w.slots.iter().zip(w.to_host_parts()).zip(theta.to_host_parts()) {
        if slot.shape.len() != 1 {
            continue;
        }
        for (x, t) in wp.iter().zip(&tp) {
            assert!((t.abs() - 0.15 * x.abs()).abs() <= 1e-6 * x.abs().max(1.0), "{}: |θ| = {t}, a|b| = {}", slot.path, 0.15 * x.abs());
            checked += 1;
        }
    }
    assert!(checked >= 24 * 3, "1-D parameters checked: {checked}");
}

#[test]
fn asam_defaults_and_scales_follow_the_authors_code() {
    // asam.py: rho = 0.5, eta = 0.01; T_w = |w| + η on every parameter named `weight`
    // (batch-norm scales, Burn's gamma, included), 1 on biases and shifts
    assert_eq!(EstimatorConfig::default_of("asam"), Some(EstimatorConfig::Asam(basin_core::estimators::AsamConfig { rho: 0.5, eta: 0.01, m: 0 })));
    let (b, _) = data(&[]);
    let model = net(4, 0.0);
    let w = ParamVec::from_model(&model);
    let (_, g0) = grad(&model, &w, &b);
    let mut est = Sam::asam(0.5, 0.01);
    let _ = est_grad(&mut est, model.clone(), &b, 0);
    let mut t = Vec::new();
    for (slot, part) in w.slots.iter().zip(w.to_host_parts()) {
        let scaled = slot.kind.is_weight() || slot.path.ends_with("gamma");
        t.extend(part.iter().map(|x| if scaled { x.abs() as f64 + 0.01 } else { 1.0 }));
    }
    assert!(w.slots.iter().any(|s| s.path.ends_with("gamma")), "the net has a batch-norm scale");
    let norm = t.iter().zip(&g0).map(|(t, g)| (t * *g as f64).powi(2)).sum::<f64>().sqrt();
    let eps: Vec<f32> = t.iter().zip(&g0).map(|(t, g)| (0.5 * t * t * *g as f64 / norm) as f32).collect();
    let d = max_diff(&est.last_epsilon(&w).unwrap().to_host(), &eps);
    assert!(d < 1e-6, "ε differs from the authors' by {d}");
}

#[test]
fn only_the_first_pass_moves_running_statistics_of_a_model_without_sync_code() {
    let (b, _) = data(&[]);
    // one training forward pass at w on a copy with its own running state
    let once = net(5, 0.0);
    let _ = once.logits(b.images.clone());
    let expected = running(&once);
    // SAM's two passes on another copy
    let model = net(5, 0.0);
    let _ = est_grad(&mut Sam::new(0.05), model.clone(), &b, 0);
    let d = max_diff(&running(&model), &expected);
    assert!(d < 1e-7, "running statistics moved by the second pass: {d}");
    assert!(max_diff(&expected, &running(&net(5, 0.0))) > 1e-4, "the first pass moved nothing");
}

#[test]
fn ssgd_moves_running_statistics_by_the_mean_of_its_two_passes() {
    let (b, _) = data(&[]);
    let model = net(6, 0.0);
    let w = ParamVec::from_model(&model);
    let mut est = SymmetricSgd::new(0.4, ParamFilter::Weights);
    let _ = est_grad(&mut est, model.clone(), &b, 0);
    let n = est.last_noise().unwrap();
    // a copy with its own running state (a clone would share it) and the weights at `point`
    let after = |point: &ParamVec| {
        let fresh = net(6, 0.0);
        let m = ParamVec::from_model(&fresh).from_host(&point.to_host(), &Device::flex()).write_into(fresh);
        let _ = m.logits(b.images.clone());
        running(&m)
    };
    let (plus, minus) = (after(&w.add(&n)), after(&w.sub(&n)));
    let mean: Vec<f32> = plus.iter().zip(&minus).map(|(p, m)| 0.5 * (p + m)).collect();
    let got = running(&model);
    let d = max_diff(&got, &mean);
    assert!(d < 1e-6, "S-SGD's running statistics differ from the mean of its passes by {d}");
    assert!(max_diff(&plus, &minus) > 1e-4, "the two passes' statistics should differ");
}

#[test]
fn every_pass_of_a_multi_pass_method_sees_the_same_dropout_masks() {
    // at zero perturbation every pass is at w: with shared masks each method's gradient is
    // the plain gradient under the step's masks; with masks drawn afresh it is not
    let (b, _) = data(&[]);
    let model = net(7, 0.5);
    let _rng = basin_core::rng::backend_lock(); // one test at a time on the global generator
    let plain = {
        ad().seed(derive_seed(11, Stream::Backend, 3));
        est_grad(&mut Plain, model.clone(), &b, 0).1
    };
    let methods: Vec<(&str, Box<dyn GradientEstimator<Net>>)> = vec![
        ("s-sgd", Box::new(SymmetricSgd::new(0.0, ParamFilter::Weights))),
        ("det-smoothout", Box::new(DetSmoothOut::new(0.0, NoiseKind::Uniform, 3, ParamFilter::All, 11))),
        ("sam", Box::new(Sam::new(1e-30))),
    ];
    for (name, mut est) in methods {
        ad().seed(99); // whatever the generator's state before the step
        let (_, g) = est_grad(est.as_mut(), model.clone(), &b, 0);
        let d = max_diff(&g, &plain);
        assert!(d < 1e-6, "{name}: passes saw different dropout masks (max |Δg| = {d})");
    }
}

#[test]
fn frozen_parameters_stay_untouched_under_every_estimator() {
    // weight decay and momentum must not move a parameter that gets no gradient
    let (b, _) = data(&[]);
    let ests: Vec<(&str, Box<dyn GradientEstimator<Net>>)> = vec![
        ("sgd", Box::new(Plain)),
        ("smoothout", Box::new(SmoothOut::new(0.01, NoiseKind::Uniform, true, ParamFilter::All))),
        ("ada-smoothout", Box::new(AdaSmoothOut::new(0.1, NoiseKind::Uniform, true, ParamFilter::All))),
        ("s-sgd", Box::new(SymmetricSgd::new(0.1, ParamFilter::Weights))),
        ("sam", Box::new(Sam::new(0.05))),
        ("asam", Box::new(Sam::asam(0.5, 0.01))),
        ("det-smoothout", Box::new(DetSmoothOut::new(0.01, NoiseKind::Uniform, 2, ParamFilter::All, 0))),
        ("noise-enhancement", Box::new(NoiseEnhancement::new(1.5))),
    ];
    struct Same(Batch);
    impl BatchSource for Same {
        fn extra_batch(&mut self, _size: usize, _step: u64) -> Batch {
            self.0.clone()
        }
    }
    for (name, mut est) in ests {
        let mut model = net(8, 0.0);
        model.l1 = model.l1.no_grad();
        let before = ParamVec::from_model(&model.l1).to_host();
        let mut optim = OptimizerConfig { name: "momentum".into(), weight_decay: 0.1, ..Default::default() }.build();
        let mut src = Same(b.clone());
        {
            let _rng = basin_core::rng::backend_lock(); // SAM, S-SGD reseed the global generator
            for step in 0..2 {
                let mut ctx = StepContext::new(step, 0, &mut src);
                model = basin_core::task::train_step(model, &b, est.as_mut(), &mut optim, 0.1, &mut ctx).unwrap().0;
            }
        }
        let after = ParamVec::from_model(&model.l1).to_host();
        assert_eq!(before, after, "{name}: the frozen layer moved");
        assert_ne!(ParamVec::from_model(&model.l2).to_host(), ParamVec::from_model(&net(8, 0.0).l2).to_host(), "{name}: the trained layer did not move");
    }
}

#[test]
fn the_reported_loss_is_the_estimate_of_the_methods_objective() {
    let (b, _) = data(&[]);
    let model = net(9, 0.0);
    let w = ParamVec::from_model(&model);
    // SmoothOut: L(w + θ), an unbiased estimate of the smoothed loss
    let mut so = SmoothOut::new(0.05, NoiseKind::Uniform, true, ParamFilter::All);
    let (l, _) = est_grad(&mut so, model.clone(), &b, 0);
    let (at, _) = grad(&model, &w.add(&so.last_noise().unwrap()), &b);
    assert!((l - at).abs() < 1e-6, "SmoothOut reports {l}, L(w + θ) = {at}");
    // S-SGD: ½[L(w + n) + L(w − n)]
    let mut ss = SymmetricSgd::new(0.4, ParamFilter::Weights);
    let (l, _) = est_grad(&mut ss, model.clone(), &b, 0);
    let n = ss.last_noise().unwrap();
    let mean = 0.5 * (grad(&model, &w.add(&n), &b).0 + grad(&model, &w.sub(&n), &b).0);
    assert!((l - mean).abs() < 1e-6, "S-SGD reports {l}, the mean is {mean}");
    // Deterministic SmoothOut: (1/N) Σ_k L(w + θ_k)
    let mut det = DetSmoothOut::new(0.05, NoiseKind::Uniform, 3, ParamFilter::All, 11);
    let (l, _) = est_grad(&mut det, model.clone(), &b, 0);
    let mean = (0..3).map(|k| grad(&model, &w.add(&det.noise(&w, k)), &b).0).sum::<f64>() / 3.0;
    assert!((l - mean).abs() < 1e-6, "det-SmoothOut reports {l}, the mean is {mean}");
    // SAM: L(w)
    let (l, _) = est_grad(&mut Sam::new(0.05), model.clone(), &b, 0);
    assert!((l - grad(&model, &w, &b).0).abs() < 1e-6);
}

#[test]
fn nudged_sgd_is_refused_where_gamma_eta_would_not_hold() {
    let mut cfg = TrainConfig { estimator: EstimatorConfig::Nsgd(Default::default()), ..Default::default() };
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("optimizer.name"), "momentum: {err}");
    cfg.optimizer = OptimizerConfig { name: "sgd".into(), weight_decay: 1e-4, ..Default::default() };
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("optimizer.weight_decay"), "{err}");
    cfg.optimizer.weight_decay = 0.0;
    cfg.validate().unwrap();
}

#[test]
fn model_ghost_batch_of_old_configs_moves_to_train_ghost_batch() {
    let mut cfg = TrainConfig::default();
    cfg.model.ghost_batch = 100;
    assert!(cfg.validate().unwrap_err().to_string().contains("model.ghost_batch"));
    let cfg = cfg.migrate().unwrap();
    assert_eq!((cfg.model.ghost_batch, cfg.train.ghost_batch), (0, 100));
    let mut both = TrainConfig::default();
    both.model.ghost_batch = 100;
    both.train.ghost_batch = 50;
    assert!(both.migrate().unwrap_err().to_string().contains("model.ghost_batch"));
}

#[test]
fn train_clip_norm_bounds_the_global_gradient_norm() {
    // one plain-SGD step from w₀: ‖w₁ − w₀‖ = lr · c when the gradient's norm is above c
    use basin_core::train::{Silent, TrainOptions, TrainSets, init_model, train};
    let mut cfg = TrainConfig::default();
    cfg.data.dir = basin_zoo::data::sources::bundled_slice_dir().to_string_lossy().into_owned();
    cfg.data.train_subset = 64;
    cfg.data.test_subset = 100;
    cfg.train.epochs = 1;
    cfg.train.log_every = 0;
    cfg.optimizer = OptimizerConfig { name: "sgd".into(), lr: 0.1, ..Default::default() };
    cfg.train.clip_norm = 1e-3;
    let data = basin_zoo::data::prepare(&cfg.data, cfg.seed).unwrap();
    let build = |d: &Device| basin_zoo::ZooModel::build("ne-f1", data.shape, data.classes, &Default::default(), d).unwrap();
    // w₀ from the very model trained (two inits could differ if another test thread drew from
    // the global generator in between)
    let m0 = init_model(&ad(), cfg.seed, build);
    let w0 = ParamVec::from_model(&m0).to_host_f64();
    let dir = tempfile::tempdir().unwrap();
    let sets = TrainSets { train: &data.train, test: &data.test, val: None };
    let opts = TrainOptions { out: dir.path().to_path_buf(), resume: false, stop: Default::default(), device: Device::flex() };
    let (m, s) = train(m0, &cfg, &sets, &opts, &mut Silent).unwrap();
    assert_eq!(s.steps, 1);
    let w1 = ParamVec::from_model(&m).to_host_f64();
    let step = w0.iter().zip(&w1).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    assert!((step - 0.1 * 1e-3).abs() < 1e-3 * 0.1 * 1e-3, "‖Δw‖ = {step}, lr·c = {}", 0.1 * 1e-3);
}
