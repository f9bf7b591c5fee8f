//! On a ReLU network the loss is piecewise smooth: finite differences of gradients see every
//! ReLU kink crossed inside the step (an O(1) contribution whatever the step), so their top
//! eigenvalue moves with ε; the GGN product (exact reverse mode, differences of the logits
//! only) converges in the step: the Gauss–Newton matrix, which is not the Hessian (see hessian_oracle.rs).

use basin_core::curvature::ggn::GgnOperator;
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::Objective;
use basin_zoo::ZooModel;
use burn::tensor::Device;

#[test]
fn ggn_top_eigenvalue_is_stable_in_the_step_on_a_relu_network() {
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let tt = basin_zoo::data::load("mnist-slice", Some(&basin_zoo::data::sources::bundled_slice_dir())).unwrap();
    let set = basin_zoo::data::PreparedSet::new(&tt.train.take(300), &basin_zoo::data::Normalization::fit(&tt.train));
    let model = basin_core::train::init_model(&ad, 1, |d| ZooModel::build("ne-f1", [1, 28, 28], 10, &Default::default(), d).unwrap());
    let idx: Vec<usize> = (0..300).collect();
    let top = |eps: f64| {
        let mut op = GgnOperator::new(Objective::new(&model, &set, &idx, 300, &dev), eps);
        let r = lanczos(&mut op, &LanczosConfig { k: 2, tol: 1e-5, max_iter: 60, seed: 2, smallest: false, bottom: 0 });
        r.eigenvalues
    };
    let (a, b, c, d) = (top(1e-2), top(1e-3), top(1e-4), top(1e-5));
    println!("GGN top-2 at ε = 1e-2, 1e-3, 1e-4, 1e-5: {a:?} {b:?} {c:?} {d:?}");
    // O(h) convergence: each decade of ε shrinks the change by several times, and the default
    // ε = 1e-4 agrees with 1e-5 to 1 %.
    let diff = |x: &[f64], y: &[f64]| (x[0] - y[0]).abs() / y[0];
    assert!(diff(&b, &c) < 0.5 * diff(&a, &b), "no convergence: {a:?} {b:?} {c:?}");
    for (u, v) in c.iter().zip(d.iter()) {
        assert!((u - v).abs() / v.abs() < 1e-2, "{u} vs {v}");
    }
    assert!(a[0] > 0.0);
}
