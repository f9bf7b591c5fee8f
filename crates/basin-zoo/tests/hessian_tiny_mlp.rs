//! On a tiny real MLP (MNIST slice images average-pooled to 7×7, 49 → 6 tanh → 10, 370
//! parameters), the top-5 Lanczos eigenvalues of the finite-difference Hessian match the
//! eigenvalues of the full Hessian built column by column from the same HVPs (symmetrized,
//! nalgebra's dense eigensolver) to 1e-3 relative.

use basin_core::Classifier;
use basin_core::curvature::fd_hessian::{Differentiable, FdHessianOperator};
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::{LinearOperator, Objective};
use burn::module::Module;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use nalgebra::DMatrix;

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

#[test]
fn top5_lanczos_matches_the_dense_hessian() {
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let model = basin_core::train::init_model(&ad, 3, |d| TinyMlp {
        pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
        l1: LinearConfig::new(49, 6).init(d),
        l2: LinearConfig::new(6, 10).init(d),
    });
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(256), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..256).collect();
    let obj = Objective::new(&model, &set, &idx, 128, &dev);
    let point = obj.point().clone();
    let n = point.numel();
    assert_eq!(n, 49 * 6 + 6 + 6 * 10 + 10);
    let mut op = FdHessianOperator::new(obj, 1e-3);
    // dense Hessian, column by column
    let mut h = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        let mut e = vec![0.0f32; n];
        e[i] = 1.0;
        let col = op.apply(&point.from_host(&e, &dev)).to_host();
        for r in 0..n {
            h[(r, i)] = col[r] as f64;
        }
    }
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
    let ad = dev.clone().autodiff();
    let model = basin_core::train::init_model(&ad, 4, |d| TinyMlp {
        pool: AvgPool2dConfig::new([4, 4]).with_strides([4, 4]).init(),
        l1: LinearConfig::new(49, 6).init(d),
        l2: LinearConfig::new(6, 10).init(d),
    });
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(128), &basin_zoo::data::Normalization::fit(&tt.train));
    let idx: Vec<usize> = (0..128).collect();
    let make = || FdHessianOperator::new(Objective::new(&model, &set, &idx, 128, &dev), 1e-3);
    let mut op = make();
    let point = op.f.point().clone();
    let n = point.numel();
    let mut h = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        let mut e = vec![0.0f32; n];
        e[i] = 1.0;
        let col = op.apply(&point.from_host(&e, &dev)).to_host();
        for r in 0..n {
            h[(r, i)] = col[r] as f64;
        }
    }
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
