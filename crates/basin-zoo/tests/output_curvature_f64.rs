//! The Gauss–Newton matrix and the two Fishers (`--operator ggn`, `fisher`, `empirical-fisher`)
//! against dense float64 matrices built here another way: (1/n) Σᵢ Jᵢᵀ Cᵢ Jᵢ with each
//! example's Jacobian of the logits Jᵢ taken by central differences of the plain forward pass
//! in f64 (step 1e-6; the network is smooth, tanh, so the error is O(h²) ≈ 1e-12), and Cᵢ
//! written out: diag(p) − ppᵀ, (p − e_y)(p − e_y)ᵀ, and the mean of (p − e_ŷ)(p − e_ŷ)ᵀ over the
//! labels ŷ the Monte-Carlo Fisher drew. The operators take J v from the model's tangent pass
//! (no step), so they must agree to float64 round-off; the finite-difference products they
//! used before (relative step 1e-4) are off by about 1e-7 here and fail the 1e-9 tolerance.

use basin_core::curvature::ggn::GgnOperator;
use basin_core::curvature::objective::{OutputCurvature, sampled_labels, sampled_noise};
use basin_core::curvature::{LinearOperator, Objective};
use basin_core::paramvec::ParamVec;
use basin_core::batch::Targets;
use basin_core::{Batch, Classifier};
use basin_zoo::jvp::{self, Dual, DualNet};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{DType, Device, FloatDType, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn f64_device() -> Device {
    let mut d = Device::flex();
    let _ = d.configure(FloatDType::F64);
    assert_eq!(Tensor::<1>::zeros([1], &d).dtype(), DType::F64, "flex must run in f64 for this test");
    d
}

/// features → dense 4 → tanh → dense 3, written once on dual numbers.
#[derive(Module, Debug)]
struct TanhNet {
    l1: Linear,
    l2: Linear,
}

impl DualNet for TanhNet {
    fn forward_dual(&self, dir: Option<&Self>, x: Dual<4>) -> Dual<2> {
        let h = jvp::linear(&self.l1, dir.map(|d| &d.l1), jvp::flatten(x)).tanh();
        jvp::linear(&self.l2, dir.map(|d| &d.l2), h)
    }
}

impl Classifier for TanhNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        jvp::logits(self, x)
    }
    fn logits_jvp(&self, dir: &Self, x: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(jvp::logits_jvp(self, dir, x))
    }
}

fn host(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_into_vec::<f64>().expect("f64 data")
}

/// Each example's Jacobian of the outputs by central differences of the plain forward pass in
/// f64: `jac[i][c][q]`.
fn jacobian(model: &TanhNet, batch: &Batch, dev: &Device) -> Vec<Vec<Vec<f64>>> {
    let w = ParamVec::from_model(model);
    let w_host = w.to_host_f64();
    let (n, k) = (batch.len(), model.logits(batch.images.clone()).dims()[1]);
    let outputs_at = |v: &[f64]| host(w.from_host_f64(v, dev).write_into(model.clone()).logits(batch.images.clone()));
    let h = 1e-6;
    let mut jac = vec![vec![vec![0.0; w_host.len()]; k]; n];
    for q in 0..w_host.len() {
        let (mut up, mut down) = (w_host.clone(), w_host.clone());
        up[q] += h;
        down[q] -= h;
        let (zu, zd) = (outputs_at(&up), outputs_at(&down));
        for i in 0..n {
            for c in 0..k {
                jac[i][c][q] = (zu[i * k + c] - zd[i * k + c]) / (2.0 * h);
            }
        }
    }
    jac
}

/// (1/n) Σᵢ Jᵢᵀ Cᵢ Jᵢ for the output curvature `c_of(i)` (a k × k matrix, row-major).
fn dense(jac: &[Vec<Vec<f64>>], c_of: &dyn Fn(usize) -> Vec<f64>) -> Vec<f64> {
    let (n, k, p_dim) = (jac.len(), jac[0].len(), jac[0][0].len());
    let mut m = vec![0.0; p_dim * p_dim];
    for (i, j) in jac.iter().enumerate() {
        let c = c_of(i);
        for a in 0..p_dim {
            for b in 0..p_dim {
                let mut s = 0.0;
                for r in 0..k {
                    for t in 0..k {
                        s += j[r][a] * c[r * k + t] * j[t][b];
                    }
                }
                m[a * p_dim + b] += s / n as f64;
            }
        }
    }
    m
}

/// rrᵀ as a row-major matrix.
fn outer(r: &[f64]) -> Vec<f64> {
    let k = r.len();
    (0..k * k).map(|x| r[x / k] * r[x % k]).collect()
}

/// The operator with each output curvature, column by column, against its dense matrix.
fn check(model: &TanhNet, batch: &Batch, dev: &Device, cases: &[(&str, OutputCurvature, &Vec<f64>)]) {
    let w = ParamVec::from_model(model);
    let p_dim = w.numel();
    for &(name, output, want) in cases {
        let mut op = GgnOperator::with_output(Objective::from_batches(model, vec![batch.clone()]), 0.0, output);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut worst = 0.0f64;
        for q in 0..p_dim {
            let mut e = vec![0.0; p_dim];
            e[q] = 1.0;
            let col = op.apply(&w.from_host_f64(&e, dev)).to_host_f64();
            for a in 0..p_dim {
                worst = worst.max((col[a] - want[a * p_dim + q]).abs());
            }
        }
        println!("{name}: max error / max entry {:e}", worst / scale);
        assert!(worst / scale < 1e-9, "{name}: max error / max entry {:e}", worst / scale);
    }
}

/// features `[n, d]` drawn in ±1.5 and a TanhNet d → 4 → k.
fn setup(n: usize, d: usize, k: usize, ad: &Device) -> (Vec<f64>, TanhNet) {
    let mut rng = StdRng::seed_from_u64(9);
    let xs: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.5..1.5)).collect();
    ad.seed(4);
    (xs, TanhNet { l1: LinearConfig::new(d, 4).init(ad), l2: LinearConfig::new(4, k).init(ad) })
}

#[test]
fn gauss_newton_and_fisher_products_equal_dense_float64_matrices() {
    let dev = f64_device();
    let ad = dev.clone().autodiff();
    let (n, d, k) = (30usize, 5usize, 3usize);
    let (xs, model) = setup(n, d, k, &ad);
    let ys: Vec<i64> = (0..n as i64).map(|i| (i * 5 + 2) % k as i64).collect();
    let batch = Batch { images: Tensor::from_data(TensorData::new(xs, [n, d, 1, 1]), &ad), targets: Targets::Classes(Tensor::<1, Int>::from_data(TensorData::new(ys.clone(), [n]), &ad)) };
    let jac = jacobian(&model, &batch, &dev);
    let z = model.logits(batch.images.clone());
    let p_tensor = burn::tensor::activation::softmax(z.clone().inner(), 1);
    let p = host(burn::tensor::activation::softmax(z, 1));
    let (samples, seed) = (3usize, 5u64);
    let drawn: Vec<Vec<f64>> = (0..samples).map(|s| host(sampled_labels(&p_tensor, seed, 0, s))).collect();

    let residual = |i: usize, e: &[f64]| -> Vec<f64> { (0..k).map(|c| p[i * k + c] - e[c]).collect() };
    let onehot = |y: usize| -> Vec<f64> { (0..k).map(|c| if c == y { 1.0 } else { 0.0 }).collect() };
    let ggn = dense(&jac, &|i| (0..k * k).map(|x| if x / k == x % k { p[i * k + x / k] } else { 0.0 } - p[i * k + x / k] * p[i * k + x % k]).collect());
    let empirical = dense(&jac, &|i| outer(&residual(i, &onehot(ys[i] as usize))));
    let monte_carlo = dense(&jac, &|i| {
        let terms: Vec<Vec<f64>> = drawn.iter().map(|l| outer(&residual(i, &l[i * k..(i + 1) * k]))).collect();
        (0..k * k).map(|x| terms.iter().map(|t| t[x]).sum::<f64>() / samples as f64).collect()
    });
    check(&model, &batch, &dev, &[
        ("Gauss–Newton", OutputCurvature::Ggn, &ggn),
        ("empirical Fisher", OutputCurvature::EmpiricalFisher, &empirical),
        ("Monte-Carlo Fisher (3 labels per example)", OutputCurvature::MonteCarloFisher { samples, seed }, &monte_carlo),
    ]);
}

/// Float targets (mean squared error, per-example loss (1/T) Σ (z − y)²): the GGN is
/// (1/n) Σ Jᵀ (2/T) I J, the empirical Fisher has r = (2/T)(z − y), and the Monte-Carlo Fisher
/// r = −√(2/T) ε for the ε the operator drew (targets from N(z, T/2), whose negative
/// log-likelihood is the loss).
#[test]
fn gauss_newton_and_fisher_products_of_a_squared_error_equal_dense_float64_matrices() {
    let dev = f64_device();
    let ad = dev.clone().autodiff();
    let (n, d, t) = (24usize, 5usize, 2usize);
    let (xs, model) = setup(n, d, t, &ad);
    let mut rng = StdRng::seed_from_u64(11);
    let ys: Vec<f64> = (0..n * t).map(|_| rng.random_range(-1.0..1.0)).collect();
    let batch = Batch { images: Tensor::from_data(TensorData::new(xs, [n, d, 1, 1]), &ad), targets: Targets::Values(Tensor::from_data(TensorData::new(ys.clone(), [n, t]), &ad)) };
    let jac = jacobian(&model, &batch, &dev);
    let z = host(model.logits(batch.images.clone()));
    let (samples, seed) = (3usize, 5u64);
    let drawn: Vec<Vec<f64>> = (0..samples).map(|s| host(sampled_noise([n, t], seed, 0, s, &dev))).collect();
    let c = 2.0 / t as f64;
    let ggn = dense(&jac, &|_| (0..t * t).map(|x| if x / t == x % t { c } else { 0.0 }).collect());
    let empirical = dense(&jac, &|i| outer(&(0..t).map(|j| c * (z[i * t + j] - ys[i * t + j])).collect::<Vec<_>>()));
    let monte_carlo = dense(&jac, &|i| {
        let terms: Vec<Vec<f64>> = drawn.iter().map(|e| outer(&(0..t).map(|j| -c.sqrt() * e[i * t + j]).collect::<Vec<_>>())).collect();
        (0..t * t).map(|x| terms.iter().map(|m| m[x]).sum::<f64>() / samples as f64).collect()
    });
    check(&model, &batch, &dev, &[
        ("Gauss–Newton (squared error)", OutputCurvature::Ggn, &ggn),
        ("empirical Fisher (squared error)", OutputCurvature::EmpiricalFisher, &empirical),
        ("Monte-Carlo Fisher (squared error, 3 draws per example)", OutputCurvature::MonteCarloFisher { samples, seed }, &monte_carlo),
    ]);
}

/// features → dense k: linear in its parameters, so its squared error's Hessian is the GGN.
#[derive(Module, Debug)]
struct LinearNet {
    l: Linear,
}

impl DualNet for LinearNet {
    fn forward_dual(&self, dir: Option<&Self>, x: Dual<4>) -> Dual<2> {
        jvp::linear(&self.l, dir.map(|d| &d.l), jvp::flatten(x))
    }
}

impl Classifier for LinearNet {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        jvp::logits(self, x)
    }
    fn logits_jvp(&self, dir: &Self, x: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(jvp::logits_jvp(self, dir, x))
    }
}

/// The squared error's Gauss–Newton scale tied to the loss itself: for a network linear in its
/// parameters the Hessian of the mean squared error is exactly the GGN, so the GGN operator's
/// products equal the exact Hessian's (the loss's own second derivative, through its tangent),
/// whatever scale the output curvature uses.
#[test]
fn the_gauss_newton_matrix_of_a_linear_least_squares_fit_is_its_hessian() {
    let dev = f64_device();
    let ad = dev.clone().autodiff();
    let (n, d, t) = (20usize, 4usize, 3usize);
    let mut rng = StdRng::seed_from_u64(13);
    let xs: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let ys: Vec<f64> = (0..n * t).map(|_| rng.random_range(-1.0..1.0)).collect();
    let batch = Batch { images: Tensor::from_data(TensorData::new(xs, [n, d, 1, 1]), &ad), targets: Targets::Values(Tensor::from_data(TensorData::new(ys, [n, t]), &ad)) };
    ad.seed(6);
    let model = LinearNet { l: LinearConfig::new(d, t).init(&ad) };
    let mut hessian = Objective::from_batches(&model, vec![batch.clone()]);
    let mut ggn = GgnOperator::with_output(Objective::from_batches(&model, vec![batch]), 0.0, OutputCurvature::Ggn);
    let w = ParamVec::from_model(&model);
    for q in 0..w.numel() {
        let mut e = vec![0.0; w.numel()];
        e[q] = 1.0;
        let v = w.from_host_f64(&e, &dev);
        let (a, b) = (hessian.hvp(&v).to_host_f64(), ggn.apply(&v).to_host_f64());
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(worst <= 1e-12 * scale.max(1.0), "column {q}: GGN {b:?} vs Hessian {a:?}");
    }
}
