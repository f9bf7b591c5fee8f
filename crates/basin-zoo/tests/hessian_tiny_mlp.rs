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
