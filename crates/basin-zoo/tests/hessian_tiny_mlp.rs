//! On a tiny real MLP (MNIST slice images average-pooled to 7×7, 49 → 6 tanh → 10, 370
//! parameters), curvature against dense float64 matrices built column by column from an
//! operator's products: the top-5 Lanczos eigenvalues of the finite-difference Hessian against
//! the dense eigensolver (nalgebra); `per_layer`'s rows against the dense blocks; and the
//! Fisher operators against matrices built independently from per-example gradients:
//! - `empirical-fisher` = (1/n) Σᵢ gᵢgᵢᵀ with gᵢ each example's own gradient (autodiff on that
//!   example alone);
//! - `fisher` (Monte Carlo) = the same outer products at the labels it drew from the softmax;
//! - the Fisher's expectation over labels in closed form, (1/n) Σᵢ Σ_y pᵢ(y) g(xᵢ, y) g(xᵢ, y)ᵀ
//!   over all ten labels, equals the GGN (softmax cross-entropy: Fisher = Gauss–Newton).

use basin_core::Classifier;
use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
use basin_core::curvature::fd_hessian::{Differentiable, FdHessianOperator};
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::objective::sampled_labels;
use basin_core::curvature::{LinearOperator, Objective};
use basin_core::paramvec::ParamVec;
use burn::module::Module;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nalgebra::{DMatrix, DVector};

#[derive(Module, Debug)]
struct TinyMlp {
    pool: AvgPool2d,
    l1: Linear,
    l2: Linear,
}

impl Classifier for TinyMlp {
    fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(x).flatten(1, 3);
        self.l2.forward(self.l1.forward(x).tanh())
    }
}

/// The tiny MLP initialized with `seed`, and the first `n` images of the MNIST slice.
fn setup(seed: u64, n: usize) -> (TinyMlp, basin_zoo::data::PreparedSet) {
    let ad = Device::flex().autodiff();
    let model = basin_core::train::init_model(&ad, seed, |d| TinyMlp {
        pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
        l1: LinearConfig::new(49, 6).init(d),
        l2: LinearConfig::new(6, 10).init(d),
    });
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    (model, basin_zoo::data::PreparedSet::new(&tt.train.take(n), &basin_zoo::data::Normalization::fit(&tt.train)))
}

/// The matrix of `op` (vectors in `point`'s layout), column by column from its products.
fn columns(op: &mut impl LinearOperator<V = ParamVec>, point: &ParamVec) -> DMatrix<f64> {
    let n = point.numel();
    let mut m = DMatrix::<f64>::zeros(n, n);
    for j in 0..n {
        let mut e = vec![0.0f32; n];
        e[j] = 1.0;
        let col = op.apply(&point.from_host(&e, &Device::flex())).to_host();
        for i in 0..n {
            m[(i, j)] = col[i] as f64;
        }
    }
    m
}

#[test]
fn top5_lanczos_matches_the_dense_hessian() {
    let dev = Device::flex();
    let (model, set) = setup(3, 256);
    let idx: Vec<usize> = (0..256).collect();
    let obj = Objective::new(&model, &set, &idx, 128, &dev);
    let point = obj.point().clone();
    assert_eq!(point.numel(), 49 * 6 + 6 + 6 * 10 + 10);
    let h = columns(&mut FdHessianOperator::new(obj, 1e-3), &point);
    let asym = (&h - h.transpose()).abs().max() / h.abs().max();
    let h = (&h + h.transpose()) * 0.5;
    let mut dense: Vec<f64> = h.symmetric_eigen().eigenvalues.iter().copied().collect();
    dense.sort_by(|a, b| b.total_cmp(a));
    let mut op2 = FdHessianOperator::new(Objective::new(&model, &set, &idx, 128, &dev), 1e-3);
    let r = lanczos(&mut op2, &LanczosConfig { k: 5, tol: 1e-4, max_iter: 120, seed: 1, smallest: false, bottom: 0 });
    println!("asymmetry of the FD Hessian: {asym:e}");
    println!("dense top-5: {:?}", &dense[..5]);
    println!("lanczos top-5: {:?} after {} HVPs, residuals {:?}", r.eigenvalues, r.iterations, r.residuals);
    for (l, d) in r.eigenvalues.iter().zip(&dense) {
        assert!((l - d).abs() / d.abs() < 1e-3, "lanczos {l} vs dense {d}");
    }
    assert!(op2.f.evaluations == 2 * op2.calls());
}

/// `per_layer` against the blocks of the same dense Hessian: each layer's λ_max (dense
/// eigensolver on the block), trace (the block's diagonal sum; Hutch++ with 3 × the block's
/// dimension in products is exact) and Frobenius norm (within 3 standard errors).
#[test]
fn per_layer_rows_match_the_dense_blocks() {
    use basin_core::curvature::block::{PerLayerConfig, in_group, per_layer};
    let dev = Device::flex();
    let (model, set) = setup(4, 128);
    let idx: Vec<usize> = (0..128).collect();
    let make = || FdHessianOperator::new(Objective::new(&model, &set, &idx, 128, &dev), 1e-3);
    let mut op = make();
    let point = op.f.point().clone();
    let h = columns(&mut op, &point);
    let h = (&h + h.transpose()) * 0.5;
    let rows = per_layer(&point, make, PerLayerConfig { max_iter: 120, tol: 1e-6, trace_matvecs: 3 * 300 + 3, frobenius_samples: 300, seed: 2 }).unwrap();
    assert_eq!(rows.iter().map(|r| r.layer.as_str()).collect::<Vec<_>>(), ["l1", "l2"]);
    for row in &rows {
        // the coordinates of this layer in the flat layout
        let mut at = Vec::new();
        let mut offset = 0;
        for s in point.slots.iter() {
            if in_group(&s.path, &row.layer) {
                at.extend(offset..offset + s.numel());
            }
            offset += s.numel();
        }
        assert_eq!(at.len(), row.parameters);
        let b = DMatrix::<f64>::from_fn(at.len(), at.len(), |i, j| h[(at[i], at[j])]);
        let top = b.clone().symmetric_eigen().eigenvalues.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let trace: f64 = (0..at.len()).map(|i| b[(i, i)]).sum();
        let fro = b.norm();
        println!("{}: λ_max {} vs {top}, trace {} vs {trace}, ‖·‖_F {} ± {} vs {fro}", row.layer, row.lambda_max, row.trace.mean, row.frobenius.mean, row.frobenius.stderr);
        assert!((row.lambda_max - top).abs() / top.abs() < 1e-3, "{}: λ_max", row.layer);
        assert!((row.trace.mean - trace).abs() < 1e-3 * b.abs().max() * at.len() as f64, "{}: trace", row.layer);
        assert!((row.frobenius.mean - fro).abs() <= 3.0 * row.frobenius.stderr + 1e-3 * fro, "{}: Frobenius", row.layer);
    }
}

/// Examples in the Fisher tests.
const N: usize = 24;

/// The matrix of operator `kind` over the first N examples.
fn dense_of(kind: OperatorKind, model: &TinyMlp, set: &basin_zoo::data::PreparedSet) -> DMatrix<f64> {
    let idx: Vec<usize> = (0..N).collect();
    // this model has no tangent pass: the Gauss–Newton and Fisher products take their named
    // finite-difference option (relative step 1e-4), as a user's own model without one would
    let eps = if kind.takes_step() && kind.default_eps() == 0.0 { 1e-4 } else { kind.default_eps() };
    let mut op = CurvatureOperator::new(kind, Objective::new(model, set, &idx, N, &Device::flex()), eps).unwrap();
    let point = op.objective().point().clone();
    columns(&mut op, &point)
}

/// Example `i`'s gradient with label `y`, on a copy of the set holding that label.
fn grad(model: &TinyMlp, set: &basin_zoo::data::PreparedSet, i: usize, y: i64) -> DVector<f64> {
    let mut one = set.clone();
    one.y[i] = y;
    let mut obj = Objective::new(model, &one, &[i], 1, &Device::flex());
    let p = obj.point().clone();
    let (_, g) = obj.loss_grad(&p);
    DVector::from_iterator(p.numel(), g.to_host().into_iter().map(|v| v as f64))
}

fn rel(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    (a - b).abs().max() / b.abs().max()
}

#[test]
fn empirical_fisher_is_the_mean_outer_product_of_per_example_gradients() {
    let (model, set) = setup(5, N);
    let op = dense_of(OperatorKind::EmpiricalFisher, &model, &set);
    let mut f = DMatrix::<f64>::zeros(op.nrows(), op.ncols());
    for i in 0..N {
        let g = grad(&model, &set, i, set.y[i]);
        f += &g * g.transpose() / N as f64;
    }
    let r = rel(&op, &f);
    assert!(r < 1e-3, "relative max difference {r}");
}

#[test]
fn monte_carlo_fisher_uses_its_drawn_labels_and_averages_to_the_ggn() {
    let (model, set) = setup(5, N);
    // the labels the operator draws: one per example from the softmax at w (seed 0, batch 0)
    let dev = Device::flex();
    let batch = basin_core::batch::ExampleSet::batch(&set, &(0..N).collect::<Vec<_>>(), None, &dev);
    let p = burn::tensor::activation::softmax(model.valid().logits(batch.images.clone()), 1);
    let onehot = sampled_labels(&p, 0, 0, 0).to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let drawn: Vec<i64> = (0..N).map(|i| (0..10).find(|&c| onehot[i * 10 + c] == 1.0).unwrap() as i64).collect();
    assert!(drawn.iter().zip(&set.y).any(|(a, b)| a != b), "the draw is not the data's labels");
    let op = dense_of(OperatorKind::Fisher, &model, &set);
    let mut f = DMatrix::<f64>::zeros(op.nrows(), op.ncols());
    for (i, &y) in drawn.iter().enumerate() {
        let g = grad(&model, &set, i, y);
        f += &g * g.transpose() / N as f64;
    }
    let r = rel(&op, &f);
    assert!(r < 1e-3, "Monte-Carlo Fisher vs its labels' outer products: {r}");
    // the expectation over labels in closed form is the GGN
    let probs = p.to_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let mut expected = DMatrix::<f64>::zeros(op.nrows(), op.ncols());
    for i in 0..N {
        for y in 0..10 {
            let g = grad(&model, &set, i, y as i64);
            expected += &g * g.transpose() * (probs[i * 10 + y] as f64 / N as f64);
        }
    }
    let ggn = dense_of(OperatorKind::Ggn, &model, &set);
    let r = rel(&ggn, &expected);
    assert!(r < 1e-3, "E_y[Fisher] vs GGN: {r}");
}
