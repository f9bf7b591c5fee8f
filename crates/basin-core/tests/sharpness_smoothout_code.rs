//! The SmoothOut authors' sharpness protocol against scipy's `fmin_l_bfgs_b` driven the same
//! way (`scripts/sharpness_smoothout_code_reference.py`, output in
//! `tests/data/sharpness_smoothout_code.json`), on closed-form functions.

use basin_core::curvature::fd_hessian::Differentiable;
use basin_core::paramvec::ParamVec;
use basin_core::sharpness::{Protocol, SharpnessConfig, sharpness};
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
struct Vector {
    x: Param<Tensor<2>>,
}

/// f(x) = Σ hᵢ/2 (xᵢ − cᵢ)² + q/4 (xᵢ − cᵢ)⁴, evaluated on the host in f64.
struct Valley {
    h: Vec<f64>,
    c: Vec<f64>,
    q: f64,
    point: ParamVec,
}

impl Differentiable for Valley {
    fn loss_grad(&mut self, w: &ParamVec) -> (f64, ParamVec) {
        let x = w.to_host_f64();
        let d: Vec<f64> = x.iter().zip(&self.c).map(|(x, c)| x - c).collect();
        let f = d.iter().zip(&self.h).map(|(d, h)| 0.5 * h * d * d + 0.25 * self.q * d.powi(4)).sum::<f64>();
        let g: Vec<f64> = d.iter().zip(&self.h).map(|(d, h)| h * d + self.q * d.powi(3)).collect();
        (f, w.from_host_f64(&g, &Device::flex()))
    }
    fn point(&self) -> &ParamVec {
        &self.point
    }
}

fn cases() -> Vec<serde_json::Value> {
    let text = include_str!("data/sharpness_smoothout_code.json");
    let v: serde_json::Value = serde_json::from_str(text).expect("reference JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

fn valley(case: &serde_json::Value) -> Valley {
    let h = floats(&case["h"]);
    let n = h.len();
    let m = Vector { x: Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.0f32; n], [n, 1]), &Device::flex())) };
    Valley { h, c: floats(&case["c"]), q: case["q"].as_f64().unwrap(), point: ParamVec::from_model(&m) }
}

#[test]
fn smoothout_code_protocol_matches_scipy_driven_the_same_way() {
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let mut f = valley(&case);
        let eps = case["eps"].as_f64().unwrap();
        let cfg = SharpnessConfig { eps, subspace: None, protocol: Protocol::SmoothOutCode, ..Default::default() };
        let s = sharpness(&mut f, &cfg);
        let want = case["sharpness"].as_f64().unwrap();
        assert_eq!(s.protocol, Protocol::SmoothOutCode);
        assert!((s.f0 - case["f0"].as_f64().unwrap()).abs() <= 1e-6 * s.f0.abs(), "{name}: f0 {} vs {}", s.f0, case["f0"]);
        if want == 0.0 {
            assert_eq!(s.sharpness, 0.0, "{name}: scipy's run ends at the start");
        } else {
            assert!((s.sharpness - want).abs() <= 1e-3 * want, "{name}: sharpness {} vs scipy {want}", s.sharpness);
        }
    }
}

#[test]
fn basin_protocol_finds_the_rise_the_script_misses_on_a_flat_valley() {
    let case = cases().into_iter().find(|c| c["name"] == "flat").expect("flat case");
    let mut f = valley(&case);
    let eps = case["eps"].as_f64().unwrap();
    let basin = sharpness(&mut f, &SharpnessConfig { eps, subspace: None, max_evals: 50, restarts: 3, seed: 1, protocol: Protocol::Basin });
    // L-BFGS-B climbs to a vertex of the box; every vertex of a separable valley lies between
    // the nearest corner (each coordinate ε − |cᵢ| from cᵢ) and the farthest (|cᵢ| + ε)
    let h = floats(&case["h"]);
    let c = floats(&case["c"]);
    let rel = |far: bool| {
        let f: f64 = h.iter().zip(&c).map(|(h, c)| 0.5 * h * (if far { c.abs() + eps } else { eps - c.abs() }).powi(2)).sum();
        100.0 * (f - basin.f0) / (1.0 + basin.f0)
    };
    let (lo, hi) = (rel(false), rel(true));
    assert!(basin.sharpness >= lo * (1.0 - 1e-4) && basin.sharpness <= hi * (1.0 + 1e-4), "basin {} outside the vertices' range [{lo}, {hi}]", basin.sharpness);
    assert!(basin.sharpness > 0.0);
}

#[test]
fn the_smoothout_code_subspace_is_the_pseudo_inverse_of_unit_uniform_rows_as_the_script_draws_it() {
    // measure_sharpness.py: A⁺ = rand(p, n)·2 − 1 with unit rows, A = pinv(A⁺), bounds
    // ε(|A⁺w| + 1). A is checked against nalgebra's SVD pseudo-inverse of the host matrix.
    use basin_core::sharpness::box_problem::{BoxProblem, Frame, pseudo_inverse_frame};
    let (n, p) = (40usize, 6usize);
    let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
    let m = Vector { x: Param::from_tensor(Tensor::from_data(TensorData::new(x, [n, 1]), &Device::flex())) };
    let w = ParamVec::from_model(&m);
    let (rows, cols) = pseudo_inverse_frame(&w, p, 11);
    let a_plus = nalgebra::DMatrix::from_fn(p, n, |i, j| rows[i].to_host_f64()[j]);
    for (i, row) in rows.iter().enumerate().take(p) {
        let r = row.to_host_f64();
        assert!((r.iter().map(|v| v * v).sum::<f64>().sqrt() - 1.0).abs() < 1e-6, "row {i} is not a unit vector");
        assert!(r.iter().any(|&v| v < 0.0) && r.iter().any(|&v| v > 0.0), "row {i}: entries of one sign");
    }
    let cos = (0..p).flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| rows[i].dot(&rows[j]).abs()).fold(0.0, f64::max);
    assert!(cos > 1e-3, "the rows are orthogonal (max |cos| {cos}): not the script's frame");
    let pinv = a_plus.clone().pseudo_inverse(1e-12).unwrap();
    let worst = (0..p).flat_map(|j| (0..n).map(move |i| (i, j))).map(|(i, j)| (cols[j].to_host_f64()[i] - pinv[(i, j)]).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "A differs from pinv(A⁺) by {worst}");
    let eps = 5e-4;
    let b = BoxProblem::new(&w, eps, Some(p), Frame::PseudoInverse, 11 ^ 0xA5A5);
    let wh = nalgebra::DVector::from_vec(w.to_host_f64());
    let want: Vec<f64> = (&a_plus * wh).iter().map(|v| eps * (v.abs() + 1.0)).collect();
    for (g, e) in b.bounds.iter().zip(&want) {
        assert!((g - e).abs() < 1e-9, "bound {g} vs {e}");
    }
}

/// The solver stops where scipy's `fmin_l_bfgs_b(maxiter = 10)` stops: on a bounded
/// Rosenbrock function that runs to the limit, the value after the tenth accepted step
/// (`iteration_limit` in the reference JSON). R's counting, which the solver crate follows,
/// would take an eleventh step at `maxit = 10` (3.42 instead of 3.51).
#[test]
fn the_solver_stops_after_scipys_ten_iterations() {
    use basin_core::sharpness::{box_problem::lbfgsb, smoothout_code::scipy_control};
    let text = include_str!("data/sharpness_smoothout_code.json");
    let r: serde_json::Value = serde_json::from_str(text).expect("reference JSON");
    let r = &r["iteration_limit"];
    assert_eq!(r["iterations"], 10, "the reference ran to its limit");
    let x0: Vec<f64> = r["x0"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let b = r["bound"].as_f64().unwrap();
    let n = x0.len();
    let rosen = |x: &[f64]| -> (f64, Vec<f64>) {
        let mut g = vec![0.0; n];
        let mut f = 0.0;
        for i in 0..n - 1 {
            let (a, c) = (x[i + 1] - x[i] * x[i], 1.0 - x[i]);
            f += 100.0 * a * a + c * c;
            g[i] += -400.0 * x[i] * a - 2.0 * c;
            g[i + 1] += 200.0 * a;
        }
        (f, g)
    };
    let bounds = rcompat_lbfgsb::Bounds::new(vec![-b; n], vec![b; n]).unwrap();
    let got = lbfgsb(x0, bounds, scipy_control(n), rosen).expect("the solver runs").value;
    let want = r["f_end"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-6 * want, "f after the limit {got}, scipy {want}");
}
