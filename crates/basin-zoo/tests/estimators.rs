//! The flat-minima estimators against independent computations of their defining formulas.

use basin_core::batch::{Batch, BatchSource, ExampleSet};
use basin_core::estimators::ada_smoothout::AdaSmoothOut;
use basin_core::estimators::config::NoiseKind;
use basin_core::estimators::noise_enhancement::NoiseEnhancement;
use basin_core::estimators::smoothout::SmoothOut;
use basin_core::estimators::ssgd::SymmetricSgd;
use basin_core::estimators::{GradientEstimator, Plain, StepContext, loss_and_grads};
use basin_core::optim::OptimizerConfig;
use basin_core::paramkind::{ParamFilter, ParamKind};
use basin_core::paramvec::ParamVec;
use basin_core::{Classifier, loss};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A user's own Burn model: nothing of the zoo.
#[derive(Module, Debug)]
struct Tiny {
    l1: Linear,
    l2: Linear,
}

impl Classifier for Tiny {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.l2.forward(relu(self.l1.forward(x.flatten(1, 3))))
    }
}

fn ad() -> Device {
    Device::flex().autodiff()
}

fn tiny(seed: u64) -> Tiny {
    basin_core::train::init_model(&ad(), seed, |d| Tiny { l1: LinearConfig::new(784, 32).init(d), l2: LinearConfig::new(32, 10).init(d) })
}

fn batches() -> (Batch, Batch) {
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let p = basin_zoo::data::PreparedSet::new(&tt.train.take(128), &basin_zoo::data::Normalization::fit(&tt.train));
    let a: Vec<usize> = (0..64).collect();
    let b: Vec<usize> = (64..128).collect();
    (p.batch(&a, None, &ad()), p.batch(&b, None, &ad()))
}

struct Fixed(Batch);
impl BatchSource for Fixed {
    fn extra_batch(&mut self, _size: usize, _step: u64) -> Batch {
        self.0.clone()
    }
}

/// Host gradient of `model` at weights `w_host` (slot order), computed on a freshly built copy.
fn host_grad_at(model: &Tiny, w_host: &[f32], batch: &Batch) -> (f64, Vec<f32>) {
    let template = ParamVec::from_model(model);
    let fresh = template.from_host(w_host, &Device::flex()).write_into(model.clone());
    let logits = fresh.logits(batch.images.clone());
    let l = loss::loss(logits, &batch.targets);
    let value = l.clone().into_scalar::<f32>() as f64;
    let grads = burn::optim::GradientsParams::from_grads(l.backward(), &fresh);
    (value, ParamVec::from_grads(&template, &grads).to_host())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn step_with(est: &mut dyn GradientEstimator<Tiny>, model: Tiny, batch: &Batch, optim: &str, lr: f64, extra: &mut dyn BatchSource) -> (Tiny, f64) {
    let cfg = OptimizerConfig { name: optim.into(), ..Default::default() };
    let mut o = cfg.build();
    // seeding the process's generator: a test drawing dropout masks from it meanwhile (under
    // the lock) would see them moved
    let _rng = basin_core::rng::backend_lock();
    ad().seed(1234);
    let mut ctx = StepContext::new(0, 0, extra);
    let e = est.estimate(model, batch, &mut ctx);
    (o.step(lr, e.model, e.grads), e.loss)
}

#[test]
fn smoothout_step_is_the_base_step_at_w_with_the_gradient_at_w_plus_theta() {
    let (b, _) = batches();
    for optim in ["sgd", "momentum", "adam"] {
        for denoise in [true, false] {
            let model = tiny(1);
            let w0 = ParamVec::from_model(&model).to_host();
            let mut est = SmoothOut::new(0.05, NoiseKind::Uniform, denoise, ParamFilter::All);
            let (after, _) = step_with(&mut est, model.clone(), &b, optim, 0.1, &mut Fixed(b.clone()));
            let theta = est.last_noise().unwrap().to_host();
            assert!(theta.iter().all(|t| t.abs() <= 0.05) && theta.iter().any(|t| t.abs() > 0.04));
            // independent: gradient at w+θ on a fresh copy, then the same base optimizer from w
            // (or from w+θ without de-noising)
            let pert: Vec<f32> = w0.iter().zip(&theta).map(|(w, t)| w + t).collect();
            let (_, g) = host_grad_at(&model, &pert, &b);
            let start = if denoise { &w0 } else { &pert };
            let template = ParamVec::from_model(&model);
            let start_model = template.from_host(start, &Device::flex()).write_into(model.clone());
            let grads = template.from_host(&g, &Device::flex()).to_grads(&Device::flex());
            let mut o = OptimizerConfig { name: optim.into(), ..Default::default() }.build();
            let expected = ParamVec::from_model(&o.step(0.1, start_model, grads)).to_host();
            let got = ParamVec::from_model(&after).to_host();
            let d = max_abs_diff(&got, &expected);
            assert!(d < 1e-6, "{optim} denoise={denoise}: max |Δ| = {d}");
            if optim == "sgd" {
                // closed form of plain SGD: w_end = start − η g
                let closed: Vec<f32> = start.iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
                assert!(max_abs_diff(&got, &closed) < 1e-6);
            }
        }
    }
}

#[test]
fn ada_smoothout_noise_has_each_filters_norm_times_a() {
    let (b, _) = batches();
    let model = tiny(2);
    let mut est = AdaSmoothOut::new(0.15, NoiseKind::Uniform, true, ParamFilter::All);
    let (after, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let theta = est.last_noise().unwrap();
    let w = ParamVec::from_model(&model);
    // the step is SGD from w with the gradient at w + θ̂, θ̂ the reported noise
    let (w0, th) = (w.to_host(), theta.to_host());
    let pert: Vec<f32> = w0.iter().zip(&th).map(|(w, t)| w + t).collect();
    let (_, g) = host_grad_at(&model, &pert, &b);
    let closed: Vec<f32> = w0.iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &closed);
    assert!(d < 1e-6, "AdaSmoothOut step: max |Δ| = {d}");
    // independent per-filter norms on the host: Linear weights are [in, out], a filter is a
    // column; a 1-D parameter (the biases) is cut along dimension 0 as the authors' code does,
    // every element its own filter, so |θᵢ| = a·|bᵢ|
    for ((slot, wp), tp) in w.slots.iter().zip(w.to_host_parts()).zip(theta.to_host_parts()) {
        let (filters, per, columns) = if slot.shape.len() == 1 { (slot.numel(), 1, false) } else { slot.filter_layout() };
        for f in 0..filters {
            let idx: Vec<usize> = (0..per).map(|k| if columns { k * filters + f } else { f * per + k }).collect();
            let wn: f64 = idx.iter().map(|&i| (wp[i] as f64).powi(2)).sum::<f64>().sqrt();
            let tn: f64 = idx.iter().map(|&i| (tp[i] as f64).powi(2)).sum::<f64>().sqrt();
            let rel = (tn - 0.15 * wn).abs() / (0.15 * wn);
            assert!(rel < 1e-5, "{} filter {f}: ‖θ‖ = {tn}, a‖w‖ = {}", slot.path, 0.15 * wn);
        }
    }
}

#[test]
fn ssgd_uses_w_plus_and_minus_n_with_layer_norms_and_averages() {
    let (b, _) = batches();
    let model = tiny(3);
    let w = ParamVec::from_model(&model);
    let mut est = SymmetricSgd::new(0.4, ParamFilter::Weights);
    let (after, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let n = est.last_noise().unwrap();
    for ((slot, wp), np) in w.slots.iter().zip(w.to_host_parts()).zip(n.to_host_parts()) {
        let wn = wp.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let nn = np.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        if slot.kind == ParamKind::Bias {
            assert_eq!(nn, 0.0, "{} must get no noise", slot.path);
        } else {
            assert!((nn - 0.4 * wn).abs() / (0.4 * wn) < 1e-5, "{}: ‖n‖ {nn} vs {}", slot.path, 0.4 * wn);
        }
    }
    let (w0, nh) = (w.to_host(), n.to_host());
    let plus: Vec<f32> = w0.iter().zip(&nh).map(|(a, b)| a + b).collect();
    let minus: Vec<f32> = w0.iter().zip(&nh).map(|(a, b)| a - b).collect();
    let (_, gp) = host_grad_at(&model, &plus, &b);
    let (_, gm) = host_grad_at(&model, &minus, &b);
    let expected: Vec<f32> = w0.iter().zip(gp.iter().zip(&gm)).map(|(w, (p, m))| w - 0.1 * 0.5 * (p + m)).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
}

#[test]
fn noise_enhancement_is_sgd_at_alpha_one_and_the_mixture_otherwise() {
    let (b, b2) = batches();
    let model = tiny(4);
    let (plain, lp) = step_with(&mut Plain, model.clone(), &b, "momentum", 0.05, &mut Fixed(b2.clone()));
    let (ne1, l1) = step_with(&mut NoiseEnhancement::new(1.0), model.clone(), &b, "momentum", 0.05, &mut Fixed(b2.clone()));
    assert_eq!(lp, l1);
    let (a, c) = (ParamVec::from_model(&plain).to_host(), ParamVec::from_model(&ne1).to_host());
    assert!(a.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()), "α = 1 must reproduce SGD bit for bit");

    let alpha = 2.5;
    let (ne, _) = step_with(&mut NoiseEnhancement::new(alpha), model.clone(), &b, "sgd", 0.05, &mut Fixed(b2.clone()));
    let w0 = ParamVec::from_model(&model).to_host();
    let (_, g1) = host_grad_at(&model, &w0, &b);
    let (_, g2) = host_grad_at(&model, &w0, &b2);
    let expected: Vec<f32> = w0
        .iter()
        .zip(g1.iter().zip(&g2))
        .map(|(w, (x, y))| w - 0.05 * (alpha as f32 * x + (1.0 - alpha as f32) * y))
        .collect();
    let d = max_abs_diff(&ParamVec::from_model(&ne).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
    assert!((NoiseEnhancement::new(alpha).effective_batch(100) - 100.0 / (6.25 + 2.25)).abs() < 1e-12);
}

#[test]
fn sam_takes_the_gradient_at_the_normalized_ascent_point() {
    let (b, _) = batches();
    let model = tiny(5);
    let mut est = basin_core::estimators::sam::Sam::new(0.05);
    let (after, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let w0 = ParamVec::from_model(&model).to_host();
    let (_, g0) = host_grad_at(&model, &w0, &b);
    let gn = g0.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
    let point: Vec<f32> = w0.iter().zip(&g0).map(|(w, g)| w + (0.05 / gn) as f32 * g).collect();
    let (_, g) = host_grad_at(&model, &point, &b);
    let expected: Vec<f32> = w0.iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
    let eps = est.last_epsilon(&ParamVec::from_model(&model)).unwrap().norm();
    assert!((eps - 0.05).abs() < 1e-6, "‖ε‖ = {eps}");
}

#[test]
fn m_sharpness_sam_takes_each_chunk_s_gradient_at_its_own_ascent_point() {
    // Foret et al. §4: chunks of m examples, ε_j = ρ g_j/‖g_j‖ from chunk j's own gradient,
    // the step's gradient the mean of the chunks' gradients at w + ε_j
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let p = basin_zoo::data::PreparedSet::new(&tt.train.take(64), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..64).collect();
    let (b, chunks) = (p.batch(&idx, None, &ad()), [p.batch(&idx[..24], None, &ad()), p.batch(&idx[24..48], None, &ad()), p.batch(&idx[48..], None, &ad())]);
    let model = tiny(11);
    let rho = 0.05;
    let mut est = basin_core::estimators::sam::Sam::new(rho).with_m(24);
    let (after, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let w0 = ParamVec::from_model(&model).to_host();
    let mut mean = vec![0.0f64; w0.len()];
    // chunks of 24, 24 and 16 examples, weighted by their sizes
    for (chunk, n) in chunks.iter().zip([24.0, 24.0, 16.0]) {
        let (_, gj) = host_grad_at(&model, &w0, chunk);
        let gn = gj.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let point: Vec<f32> = w0.iter().zip(&gj).map(|(w, g)| w + (rho / gn) as f32 * g).collect();
        let (_, dj) = host_grad_at(&model, &point, chunk);
        for (m, d) in mean.iter_mut().zip(&dj) {
            *m += n / 64.0 * *d as f64;
        }
    }
    let expected: Vec<f32> = w0.iter().zip(&mean).map(|(w, g)| w - 0.1 * *g as f32).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
    // m ≥ B is plain SAM, bit for bit
    let (plain, _) = step_with(&mut basin_core::estimators::sam::Sam::new(rho), model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let (whole, _) = step_with(&mut basin_core::estimators::sam::Sam::new(rho).with_m(64), model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    assert_eq!(ParamVec::from_model(&plain).to_host(), ParamVec::from_model(&whole).to_host());
}

#[test]
fn entropy_sgd_with_one_langevin_step_is_the_hand_computed_update() {
    // L = 1 without noise: w′ = w − η′(1 + m) g(w), μ = β₁ w + (1 − β₁) w′, so the outer
    // gradient w − μ = (1 − β₁) η′ (1 + m) g(w) (the authors' optim.py, Nesterov momentum m)
    use basin_core::estimators::EntropySgdConfig;
    let (b, _) = batches();
    let model = tiny(13);
    let cfg = EntropySgdConfig::default().with_inner_steps(1).with_noise(0.0).with_inner_lr(0.1);
    let (after, loss) = step_with(&mut cfg.init(), model.clone(), &b, "sgd", 0.5, &mut Fixed(b.clone()));
    let w0 = ParamVec::from_model(&model).to_host();
    let (l0, g) = host_grad_at(&model, &w0, &b);
    assert!((loss - l0).abs() < 1e-6, "the reported loss is the loss at w");
    let f = (1.0 - 0.75) * 0.1 * (1.0 + 0.9);
    let expected: Vec<f32> = w0.iter().zip(&g).map(|(w, g)| (*w as f64 - 0.5 * f * *g as f64) as f32).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-7, "max |Δ| = {d}");
    // the paper's outer gradient is γ times the code's
    let (paper, _) = step_with(&mut cfg.clone().with_outer(basin_core::estimators::entropy_sgd::Outer::Paper).init(), model.clone(), &b, "sgd", 0.5, &mut Fixed(b.clone()));
    let gamma = 1e-4;
    let expected: Vec<f32> = w0.iter().zip(&g).map(|(w, g)| (*w as f64 - 0.5 * gamma * f * *g as f64) as f32).collect();
    assert!(max_abs_diff(&ParamVec::from_model(&paper).to_host(), &expected) < 1e-7);
}

#[test]
fn entropy_sgd_s_inner_loop_matches_an_independent_langevin_loop() {
    // L = 3 with every term on (coupling, noise, momentum, weight decay), at step 5 of the
    // scoping, against the loop written out on host vectors
    use basin_core::estimators::EntropySgdConfig;
    use basin_core::estimators::entropy_sgd::langevin_key;
    let (b, extra) = batches();
    let model = tiny(17);
    let (l, gamma0, scoping, eps, lr_in, m, wd, beta1) = (3usize, 0.03, 0.1, 1e-3, 0.1f64, 0.9, 1e-3, 0.75);
    let cfg = EntropySgdConfig::default().with_inner_lr(lr_in).with_inner_steps(l).with_gamma(gamma0).with_scoping(scoping).with_noise(eps).with_inner_weight_decay(wd);
    let mut o = OptimizerConfig { name: "sgd".into(), ..Default::default() }.build();
    let mut src = Fixed(extra.clone());
    let mut ctx = StepContext::new(5, 3, &mut src);
    let e = cfg.init().estimate(model.clone(), &b, &mut ctx);
    let after = o.step(0.2, e.model, e.grads);

    let template = ParamVec::from_model(&model);
    let w: Vec<f64> = template.to_host().iter().map(|v| *v as f64).collect();
    let gamma = gamma0 * (1.0f64 + scoping).powi(5);
    let (mut wp, mut mu, mut v) = (w.clone(), w.clone(), vec![0.0f64; w.len()]);
    for i in 0..l {
        let wp32: Vec<f32> = wp.iter().map(|x| *x as f32).collect();
        let (_, g) = host_grad_at(&model, &wp32, if i == 0 { &b } else { &extra });
        let xi = template.normal(langevin_key(3, 5, i), 1.0).to_host();
        for k in 0..w.len() {
            let mut d = g[k] as f64 + wd * wp[k];
            v[k] = m * v[k] + d;
            d += m * v[k];
            d += -gamma * (w[k] - wp[k]) + eps / (0.5 * lr_in).sqrt() * xi[k] as f64;
            wp[k] -= lr_in * d;
            mu[k] = beta1 * mu[k] + (1.0 - beta1) * wp[k];
        }
    }
    let expected: Vec<f32> = w.iter().zip(&mu).map(|(w, mu)| (w - 0.2 * (w - mu)) as f32).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
}

#[test]
fn asam_takes_the_gradient_at_the_adaptive_ascent_point() {
    // ε = ρ T² g / ‖T g‖, T = |w| + η on weight matrices and 1 on biases (Kwon et al., eq. 9)
    let (b, _) = batches();
    let model = tiny(7);
    let (rho, eta) = (0.5, 0.01);
    let mut est = basin_core::estimators::sam::Sam::asam(rho, eta);
    let (after, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let template = ParamVec::from_model(&model);
    let w0 = template.to_host();
    let (_, g0) = host_grad_at(&model, &w0, &b);
    let mut t = Vec::new();
    for (slot, part) in template.slots.iter().zip(template.to_host_parts()) {
        t.extend(part.iter().map(|w| if slot.kind == ParamKind::Dense { w.abs() as f64 + eta } else { 1.0 }));
    }
    let tg_norm = t.iter().zip(&g0).map(|(t, g)| (t * *g as f64).powi(2)).sum::<f64>().sqrt();
    let eps: Vec<f64> = t.iter().zip(&g0).map(|(t, g)| rho * t * t * *g as f64 / tg_norm).collect();
    let point: Vec<f32> = w0.iter().zip(&eps).map(|(w, e)| (*w as f64 + e) as f32).collect();
    let (_, g) = host_grad_at(&model, &point, &b);
    let expected: Vec<f32> = w0.iter().zip(&g).map(|(w, g)| w - 0.1 * g).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-5, "max |Δ| = {d}");
    let reported = est.last_epsilon(&template).unwrap().to_host();
    let de = reported.iter().zip(&eps).map(|(r, e)| (*r as f64 - e).abs()).fold(0.0, f64::max);
    assert!(de < 1e-6, "ε differs by {de}");
}

#[test]
fn det_smoothout_is_the_mean_gradient_over_the_same_fixed_copies_at_every_step() {
    // workshop eq. 1: g = (1/N) Σ_k ∇C(w + θ_k), the θ_k fixed for the whole run
    let (b, _) = batches();
    let model = tiny(8);
    let mut est = basin_core::estimators::det_smoothout::DetSmoothOut::new(0.05, NoiseKind::Uniform, 3, ParamFilter::All, 11);
    let layout = ParamVec::from_model(&model);
    let thetas: Vec<Vec<f32>> = (0..3).map(|k| est.noise(&layout, k).to_host()).collect();
    assert!(thetas.iter().all(|t| t.iter().all(|v| v.abs() <= 0.05)) && thetas[0] != thetas[1]);
    let expected_step = |m: &Tiny| -> Vec<f32> {
        let w = ParamVec::from_model(m).to_host();
        let mut mean = vec![0f64; w.len()];
        for t in &thetas {
            let pert: Vec<f32> = w.iter().zip(t).map(|(w, t)| w + t).collect();
            let (_, g) = host_grad_at(m, &pert, &b);
            mean.iter_mut().zip(&g).for_each(|(s, g)| *s += *g as f64 / 3.0);
        }
        w.iter().zip(&mean).map(|(w, g)| w - 0.1 * *g as f32).collect()
    };
    let (after1, _) = step_with(&mut est, model.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let d = max_abs_diff(&ParamVec::from_model(&after1).to_host(), &expected_step(&model));
    assert!(d < 1e-6, "first step: max |Δ| = {d}");
    // the second step perturbs with the same θ_k
    let (after2, _) = step_with(&mut est, after1.clone(), &b, "sgd", 0.1, &mut Fixed(b.clone()));
    let d = max_abs_diff(&ParamVec::from_model(&after2).to_host(), &expected_step(&after1));
    assert!(d < 1e-6, "second step: max |Δ| = {d}");
}

#[test]
fn plain_estimator_matches_loss_and_grads() {
    let (b, _) = batches();
    let model = tiny(6);
    let (l, _) = loss_and_grads(&model, &b);
    let (l2, _) = host_grad_at(&model, &ParamVec::from_model(&model).to_host(), &b);
    assert!((l - l2).abs() < 1e-6);
}

/// A user's model with batch norm and dropout between its layers.
#[derive(Module, Debug)]
struct Dropped {
    l1: Linear,
    bn: burn::nn::BatchNorm,
    drop: burn::nn::Dropout,
    l2: Linear,
}

impl Classifier for Dropped {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.l2.forward(self.drop.forward(relu(self.bn.forward(self.l1.forward(x.flatten(1, 3))))))
    }
}

#[test]
fn m_sharpness_sam_gives_each_chunk_its_own_masks_and_moves_batch_norm_once_a_step() {
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let p = basin_zoo::data::PreparedSet::new(&tt.train.take(64), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..64).collect();
    let (b, chunks) = (p.batch(&idx, None, &ad()), [p.batch(&idx[..24], None, &ad()), p.batch(&idx[24..48], None, &ad()), p.batch(&idx[48..], None, &ad())]);
    let model = basin_core::train::init_model(&ad(), 13, |d| Dropped {
        l1: LinearConfig::new(784, 32).init(d),
        bn: burn::nn::BatchNormConfig::new(32).init(d),
        drop: burn::nn::DropoutConfig::new(0.5).init(),
        l2: LinearConfig::new(32, 10).init(d),
    });
    // the masks come from the process's generator: no other test may draw from it meanwhile
    let _rng = basin_core::rng::backend_lock();
    let stats = |m: &Dropped| {
        basin_core::running_stats::sync(m); // fold Burn's pending update in
        basin_core::params::collect(m).into_iter().filter(|e| e.path.contains("running")).flat_map(|e| e.values).collect::<Vec<f32>>()
    };
    let before = basin_core::running_stats::snapshot(&model);
    let rho = 0.05;
    let mut est = basin_core::estimators::sam::Sam::new(rho).with_m(24);
    let mut o = OptimizerConfig { name: "sgd".into(), ..Default::default() }.build();
    let mut extra = Fixed(b.clone());
    let mut ctx = StepContext::new(0, 0, &mut extra);
    let e = est.estimate(model.clone(), &b, &mut ctx);
    let after = o.step(0.1, e.model, e.grads);
    let moved = stats(&after);

    // one update: one pass of the first chunk at w under its masks, from the statistics before
    basin_core::running_stats::restore(&model, &before);
    let w0 = ParamVec::from_model(&model).to_host();
    let grad_at = |w: &[f32], chunk: &Batch, c: usize| -> Vec<f32> {
        let template = ParamVec::from_model(&model);
        let fresh = template.from_host(w, &Device::flex()).write_into(model.clone());
        ad().seed(basin_core::estimators::chunk_mask_seed(0, 0, c));
        let l = loss::loss(fresh.logits(chunk.images.clone()), &chunk.targets);
        ParamVec::from_grads(&template, &burn::optim::GradientsParams::from_grads(l.backward(), &fresh)).to_host()
    };
    let _ = grad_at(&w0, &chunks[0], 0);
    let once = stats(&model);
    let d = max_abs_diff(&moved, &once);
    assert!(d < 1e-6, "running statistics after the step differ from one pass of the first chunk by {d}");

    // each chunk's two passes under its own masks (chunk_mask_seed(seed, step, c))
    let mut mean = vec![0.0f64; w0.len()];
    for (c, (chunk, n)) in chunks.iter().zip([24.0, 24.0, 16.0]).enumerate() {
        let gj = grad_at(&w0, chunk, c);
        let gn = gj.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        let point: Vec<f32> = w0.iter().zip(&gj).map(|(w, g)| w + (rho / gn) as f32 * g).collect();
        for (m, d) in mean.iter_mut().zip(&grad_at(&point, chunk, c)) {
            *m += n / 64.0 * *d as f64;
        }
    }
    let expected: Vec<f32> = w0.iter().zip(&mean).map(|(w, g)| w - 0.1 * *g as f32).collect();
    let d = max_abs_diff(&ParamVec::from_model(&after).to_host(), &expected);
    assert!(d < 1e-6, "max |Δ| = {d}");
}
