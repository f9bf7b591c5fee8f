//! (C_ε, A)-sharpness against the closed form of the box maximum of a quadratic.

use basin_core::curvature::fd_hessian::Differentiable;
use basin_core::paramvec::ParamVec;
use basin_core::sharpness::{SharpnessConfig, sharpness};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
struct Vector {
    x: Param<Tensor<2>>,
}

/// f(x) = ½ Σ hᵢ xᵢ², evaluated on the host from the ParamVec.
struct Quadratic {
    h: Vec<f64>,
    point: ParamVec,
}

impl Differentiable for Quadratic {
    fn loss_grad(&mut self, w: &ParamVec) -> (f64, ParamVec) {
        let x = w.to_host_f64();
        let f = 0.5 * x.iter().zip(&self.h).map(|(x, h)| h * x * x).sum::<f64>();
        let g: Vec<f64> = x.iter().zip(&self.h).map(|(x, h)| h * x).collect();
        (f, w.from_host_f64(&g, &Device::flex()))
    }
    fn point(&self) -> &ParamVec {
        &self.point
    }
}

#[test]
fn sharpness_of_a_quadratic_at_its_minimum_is_the_box_maximum() {
    let n = 50;
    let h: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 / n as f64).collect();
    let m = Vector { x: Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.0f32; n], [n, 1]), &Device::flex())) };
    let mut q = Quadratic { h: h.clone(), point: ParamVec::from_model(&m) };
    let eps = 5e-4;
    let full = sharpness(&mut q, &SharpnessConfig { eps, subspace: None, max_evals: 50, restarts: 3, seed: 1, ..Default::default() });
    // every vertex of |xᵢ| ≤ ε(|0| + 1) gives ½ ε² Σ hᵢ; f₀ = 0
    let closed = 100.0 * 0.5 * eps * eps * h.iter().sum::<f64>();
    assert!((full.sharpness - closed).abs() / closed < 1e-4, "{} vs closed form {closed}", full.sharpness);
    assert_eq!(full.per_restart.len(), 3);
    assert!(full.per_restart.iter().all(|s| *s <= full.sharpness + 1e-15));
    let sub = sharpness(&mut q, &SharpnessConfig { eps, subspace: Some(5), max_evals: 50, restarts: 3, seed: 1, ..Default::default() });
    assert!(sub.sharpness <= full.sharpness, "subspace {} > full {}", sub.sharpness, full.sharpness);
    assert!(sub.sharpness > 0.0);
}
