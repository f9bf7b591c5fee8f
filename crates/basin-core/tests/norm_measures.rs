//! Jiang et al.'s norm-based measures against an independent computation: nalgebra's SVD and
//! sums over the same tensors read back from the model, for a network with a dense layer and a
//! convolution (biases present, and left out, as the reference code leaves them out).

use basin_core::measures::norms::{NormMeasures, weight_matrices};
use basin_core::paramvec::ParamVec;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Device;

#[derive(Module, Debug)]
struct Net {
    fc: Linear,
    conv: Conv2d,
}

fn net(seed: u64) -> Net {
    let dev = Device::flex();
    dev.seed(seed);
    Net { fc: LinearConfig::new(5, 3).init(&dev), conv: Conv2dConfig::new([2, 4], [2, 3]).init(&dev) }
}

/// The weights as nalgebra matrices (f64), read from the module's own tensors.
fn matrices(n: &Net) -> Vec<nalgebra::DMatrix<f64>> {
    let host = |t: Vec<f32>| t.into_iter().map(f64::from).collect::<Vec<f64>>();
    let fc = host(n.fc.weight.val().into_data().iter::<f32>().collect());
    let conv = host(n.conv.weight.val().into_data().iter::<f32>().collect());
    vec![nalgebra::DMatrix::from_row_slice(5, 3, &fc), nalgebra::DMatrix::from_row_slice(4, 2 * 2 * 3, &conv)]
}

/// (spectral², Frobenius²) of each matrix by nalgebra's SVD.
fn norms(ms: &[nalgebra::DMatrix<f64>]) -> Vec<(f64, f64)> {
    ms.iter().map(|m| (m.singular_values().max().powi(2), m.norm_squared())).collect()
}

fn reference(n: &Net) -> Vec<(f64, f64)> {
    norms(&matrices(n))
}

#[test]
fn norm_measures_match_an_svd_of_the_same_weights() {
    let (a, a0) = (net(1), net(2));
    let (w, w0) = (ParamVec::from_model(&a), ParamVec::from_model(&a0));
    // the weights only: two matrices, biases left out
    let mats = weight_matrices(&w);
    assert_eq!(mats.len(), 2);
    assert_eq!((mats[0].rows, mats[0].cols, mats[1].rows, mats[1].cols), (5, 3, 4, 12));
    let r = reference(&a);
    let m = NormMeasures::of(&w, &w0);
    let close = |x: f64, y: f64, what: &str| assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{what}: {x} vs {y}");
    close(m.params, (5 * 3 + 4 * 2 * 2 * 3) as f64, "params");
    close(m.log_prod_of_spec, r.iter().map(|(s, _)| s.ln()).sum(), "log prod of spec");
    close(m.log_sum_of_spec, 2f64.ln() + r.iter().map(|(s, _)| s.ln()).sum::<f64>() / 2.0, "log sum of spec");
    close(m.log_prod_of_fro, r.iter().map(|(_, f)| f.ln()).sum(), "log prod of fro");
    close(m.fro_over_spec, r.iter().map(|(s, f)| f / s).sum(), "fro over spec");
    close(m.param_norm, r.iter().map(|(_, f)| f).sum(), "param norm");
    close(m.l2, m.param_norm.sqrt(), "l2");
    // distances to initialization: the same norms of the difference
    let dist: Vec<nalgebra::DMatrix<f64>> = matrices(&a).iter().zip(matrices(&a0)).map(|(x, y)| x - y).collect();
    let rd = norms(&dist);
    close(m.fro_dist, rd.iter().map(|(_, f)| f).sum(), "fro dist");
    close(m.dist_spec_init, rd.iter().map(|(s, _)| s).sum(), "dist spec init");
    close(m.l2_dist, m.fro_dist.sqrt(), "l2 dist");
    // no distance from itself; the adjustment for m examples
    let same = NormMeasures::of(&w, &w);
    assert_eq!((same.fro_dist, same.l2_dist, same.dist_spec_init), (0.0, 0.0, 0.0));
    let adj = m.adjusted(100);
    close(adj.param_norm, (m.param_norm / 100.0).sqrt(), "√(v/m)");
    close(adj.log_prod_of_spec, 0.5 * (m.log_prod_of_spec - 100f64.ln()), "½(v − log m)");
}
