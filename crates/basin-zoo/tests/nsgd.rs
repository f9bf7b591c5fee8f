//! Nudged SGD (sharpest-directions paper): the step formula with the estimator's own
//! eigenvectors, γ = 1 is SGD, the projected variants, and the direction of the effect.

use basin_core::batch::{BatchSource, ExampleSet};
use basin_core::curvature::choice::OperatorKind;
use basin_core::curvature::ggn::GgnOperator;
use basin_core::curvature::{LinearOperator, Objective};
use basin_core::estimators::nsgd::{Nsgd, NsgdConfig, NsgdMode, nudge, project, remove};
use basin_core::estimators::{GradientEstimator, StepContext, loss_and_grads};
use basin_core::paramvec::ParamVec;
use basin_core::Classifier;
use burn::module::Module;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nalgebra::DMatrix;

/// Multinomial logistic regression on 7×7-pooled MNIST: its GGN is its Hessian.
#[derive(Module, Debug)]
struct Logistic {
    pool: AvgPool2d,
    lin: Linear,
}

impl Classifier for Logistic {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.lin.forward(self.pool.forward(x).flatten(1, 3))
    }
    fn logits_jvp(&self, dir: &Self, x: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        let z = basin_zoo::jvp::linear(&self.lin, Some(&dir.lin), basin_zoo::jvp::Dual::constant(self.pool.forward(x).flatten(1, 3)));
        let t = z.tangent_or_zeros();
        Some((z.value, t))
    }
}

struct Source<'a>(&'a dyn ExampleSet);
impl BatchSource for Source<'_> {
    fn extra_batch(&mut self, _: usize, _: u64) -> basin_core::Batch {
        unreachable!()
    }
    fn examples(&self) -> Option<&dyn ExampleSet> {
        Some(self.0)
    }
    fn steps_per_epoch(&self) -> u64 {
        10
    }
}

fn setup() -> (Logistic, basin_zoo::data::PreparedSet) {
    let ad = Device::flex().autodiff();
    let model = basin_core::train::init_model(&ad, 5, |d| Logistic {
        pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
        lin: LinearConfig::new(49, 10).init(d),
    });
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    (model, basin_zoo::data::PreparedSet::new(&tt.train.take(400), &basin_zoo::data::Normalization::fit(&tt.train)))
}

fn host(v: &ParamVec) -> Vec<f64> {
    v.to_host().iter().map(|&x| x as f64).collect()
}

#[test]
fn nsgd_step_is_g_plus_gamma_minus_one_vvt_g_with_the_top_eigenvectors() {
    let (model, set) = setup();
    let ad = Device::flex().autodiff();
    let batch = set.batch(&(0..64).collect::<Vec<_>>(), None, &ad);
    let cfg = NsgdConfig { gamma: 0.1, k: 3, every: 10, subset: 1.0, max_iter: 60, mode: NsgdMode::Nudge, random_subspace: false, operator: OperatorKind::Ggn };
    let mut est = Nsgd::new(cfg);
    let mut src = Source(&set);
    let out = est.estimate(model.clone(), &batch, &mut StepContext::new(0, 0, &mut src));
    let w = ParamVec::from_model(&model);
    let got = host(&ParamVec::from_grads(&w, &out.grads));
    // the directions are the top-3 eigenvectors of the dense Hessian (built from its columns)
    let idx: Vec<usize> = (0..set.len()).collect();
    let mut op = GgnOperator::new(Objective::new(&model, &set, &idx, 500, &Device::flex()), 1e-4);
    let n = w.numel();
    let mut h = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        let mut e = vec![0.0f32; n];
        e[i] = 1.0;
        let c = op.apply(&w.from_host(&e, &Device::flex())).to_host();
        for r in 0..n {
            h[(r, i)] = c[r] as f64;
        }
    }
    let eig = ((&h + h.transpose()) * 0.5).symmetric_eigen();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    for v in &est.directions {
        let hv = host(v);
        // ‖P_top3 v‖ ≈ 1: v lies in the dense top-3 eigenspace
        let proj: f64 = order[..3].iter().map(|&j| (0..n).map(|r| eig.eigenvectors[(r, j)] * hv[r]).sum::<f64>().powi(2)).sum();
        assert!(proj > 0.999, "direction outside the top-3 eigenspace: {proj}");
    }
    // the step formula, computed independently on the host with the estimator's V
    let (_, g) = loss_and_grads(&model, &batch);
    let g = host(&ParamVec::from_grads(&w, &g));
    let mut want = g.clone();
    for v in &est.directions {
        let v = host(v);
        let d: f64 = v.iter().zip(&g).map(|(a, b)| a * b).sum();
        for (x, vi) in want.iter_mut().zip(&v) {
            *x += (0.1 - 1.0) * d * vi;
        }
    }
    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let scale = want.iter().map(|a| a.abs()).fold(0.0, f64::max);
    assert!(err < 1e-5 * scale, "max error {err} (scale {scale})");
}

#[test]
fn gamma_one_is_sgd_and_projections_keep_or_remove_the_top_component() {
    let (model, set) = setup();
    let ad = Device::flex().autodiff();
    let batch = set.batch(&(0..64).collect::<Vec<_>>(), None, &ad);
    let w = ParamVec::from_model(&model);
    let (_, g) = loss_and_grads(&model, &batch);
    let g = ParamVec::from_grads(&w, &g);
    let e = basin_core::estimators::nsgd::random_frame(&w, 2, 9);
    assert!((e[0].norm() - 1.0).abs() < 1e-5 && e[0].dot(&e[1]).abs() < 1e-5);
    let same = nudge(&g, &e, 1.0);
    assert_eq!(same.to_host(), g.to_host());
    let p = project(&g, &e[0]);
    let r = remove(&g, &e[0]);
    // p ∥ e1, r ⟂ e1, p + r = g
    assert!((p.dot(&e[0]).abs() - p.norm()).abs() < 1e-5 * p.norm());
    assert!(r.dot(&e[0]).abs() < 1e-5 * g.norm());
    let sum = p.add(&r).sub(&g).norm();
    assert!(sum < 1e-5 * g.norm(), "{sum}");
}

#[test]
fn loss_slice_starts_at_the_loss_and_delta_matches_a_hand_computation() {
    let (model, set) = setup();
    let idx: Vec<usize> = (0..256).collect();
    let ks = [-1.0, 0.0, 0.5, 1.0];
    let (s, e1) = basin_core::curvature::slice::eigen_slice(&model, &set, &idx, 64, 0.1, &ks, 7, basin_core::curvature::choice::OperatorKind::Hessian, &Device::flex()).unwrap();
    // k = 0 is the loss at θ, which is the plain evaluation of the model on the subset
    let sub = set.clone();
    let direct = {
        let ad = Device::flex();
        let b = sub.batch(&idx, None, &ad);
        basin_core::loss::loss(model.valid().logits(b.images), &b.targets).into_scalar::<f64>()
    };
    assert_eq!(s.losses[1], s.loss);
    assert!((s.loss - direct).abs() < 1e-5, "{} vs {direct}", s.loss);
    // Δθ₁ = η · mean_B |g_Bᵀ e₁| over the 4 minibatches of 64, by hand
    let ad = Device::flex().autodiff();
    let w = ParamVec::from_model(&model);
    let e = host(&e1);
    let mut acc = 0.0;
    for c in idx.chunks(64) {
        let b = set.batch(c, None, &ad);
        let (_, g) = loss_and_grads(&model, &b);
        let g = host(&ParamVec::from_grads(&w, &g));
        acc += g.iter().zip(&e).map(|(a, b)| a * b).sum::<f64>().abs();
    }
    let want = 0.1 * acc / 4.0;
    assert!((s.delta - want).abs() < 1e-5 * want, "{} vs {want}", s.delta);
    assert!((e1.norm() - 1.0).abs() < 1e-5);
    assert!(s.lambda1 > 0.0 && s.alpha_changes.len() == 3);
}
