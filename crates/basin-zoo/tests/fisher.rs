//! The Fisher operators (issue 26) against dense float64 matrices built independently, on a
//! real tiny tanh MLP (MNIST slice pooled to 7×7, 49 → 6 → 10, 370 parameters), 24 examples:
//! - `empirical-fisher` = (1/n) Σᵢ gᵢgᵢᵀ with gᵢ each example's own gradient (autodiff on that
//!   example alone);
//! - `fisher` (Monte Carlo) = the same outer products at the labels it drew from the softmax;
//! - the Fisher's expectation over labels in closed form, (1/n) Σᵢ Σ_y pᵢ(y) g(xᵢ, y) g(xᵢ, y)ᵀ
//!   over all ten labels, equals the GGN (softmax cross-entropy: Fisher = Gauss–Newton).
//!
//! Each operator's matrix is built column by column from its products.

use basin_core::Classifier;
use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
use basin_core::curvature::fd_hessian::Differentiable;
use basin_core::curvature::objective::sampled_labels;
use basin_core::curvature::{LinearOperator, Objective};
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

const N: usize = 24;

fn setup() -> (TinyMlp, basin_zoo::data::PreparedSet) {
    let ad = Device::flex().autodiff();
    let model = basin_core::train::init_model(&ad, 5, |d| TinyMlp {
        pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
        l1: LinearConfig::new(49, 6).init(d),
        l2: LinearConfig::new(6, 10).init(d),
    });
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    (model, basin_zoo::data::PreparedSet::new(&tt.train.take(N), &basin_zoo::data::Normalization::fit(&tt.train)))
}

/// The operator's matrix, column by column.
fn dense_of(kind: OperatorKind, model: &TinyMlp, set: &basin_zoo::data::PreparedSet) -> DMatrix<f64> {
    let dev = Device::flex();
    let idx: Vec<usize> = (0..N).collect();
    let mut op = CurvatureOperator::new(kind, Objective::new(model, set, &idx, N, &dev), kind.default_eps()).unwrap();
    let point = op.objective().point().clone();
    let n = point.numel();
    let mut m = DMatrix::<f64>::zeros(n, n);
    for j in 0..n {
        let mut e = vec![0.0f32; n];
        e[j] = 1.0;
        let col = op.apply(&point.from_host(&e, &dev)).to_host();
        for i in 0..n {
            m[(i, j)] = col[i] as f64;
        }
    }
    m
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
    let (model, set) = setup();
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
    let (model, set) = setup();
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
