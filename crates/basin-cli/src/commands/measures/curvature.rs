//! The curvature measures of `basin measures`: λ_max, the trace (Hutch++, 99 products) and
//! ‖H‖_F (30 probes) of the exact Hessian on the seeded 5 % of the training set the
//! sharpest-directions paper uses; (C_ε, A)-sharpness with `basin sharpness`'s defaults on the
//! training set; Petzka et al.'s relative flatness of the last dense layer and the Fisher–Rao
//! norm on the whole training set (`basin_core::measures::{relative_flatness, fisher_rao}` say
//! what and why). All in evaluation mode.

use super::Values;
use crate::network::Network;
use basin_core::Classifier;
use basin_core::batch::ExampleSet;
use basin_core::curvature::frobenius::frobenius;
use basin_core::curvature::hutch_pp::hutch_pp;
use basin_core::curvature::objective::subset_indices;
use basin_core::curvature::{ExactHessianOperator, LanczosConfig, Objective, lanczos};
use basin_core::sharpness::{SharpnessConfig, sharpness};
use basin_core::measures::fisher_rao::fisher_rao;
use basin_core::measures::relative_flatness::RelativeFlatness;
use basin_core::paramkind::ParamKind;
use basin_core::paramvec::ParamVec;
use basin_zoo::data::PreparedSet;
use burn::module::Module;
use burn::tensor::Device;
use serde_json::{Value, json};

/// The measures of this file.
pub const MEASURES: &[&str] = &["lambda-max", "trace", "frobenius", "c-eps-sharpness", "relative-flatness", "fisher-rao"];

/// The Hessian's subset: 5 % of the training set, seed 0.
const SUBSET: f64 = 0.05;

/// The settings of a measure of this file.
pub fn settings(measure: &str) -> Value {
    match measure {
        "lambda-max" => json!({"operator": "exact Hessian", "subset": SUBSET, "tol": 1e-3, "max_iter": 100, "seed": 0}),
        "trace" => json!({"operator": "exact Hessian", "subset": SUBSET, "estimator": "hutch++", "products": 99, "seed": 0}),
        "frobenius" => json!({"operator": "exact Hessian", "subset": SUBSET, "probes": 30, "seed": 0}),
        "c-eps-sharpness" => json!({"config": SharpnessConfig::default(), "set": "train"}),
        "relative-flatness" => json!({"layer": "last dense", "set": "train", "flatness": RelativeFlatness::default(), "weight_decay_term": false, "dead_features": "outgoing weights zeroed"}),
        _ => json!({"operator": "exact GGN (the Fisher of the model's labels)", "set": "train", "batch": 500}),
    }
}

/// κ_Tr of `model` (autodiff) on `set`: `None` when the network does not expose the input
/// of its last dense layer ([`Classifier::features`]).
pub fn relative_flatness(model: &Network, set: &PreparedSet, cfg: &RelativeFlatness, dev: &Device) -> Option<f64> {
    let valid = model.valid();
    let pv = ParamVec::from_model(&valid);
    let last = pv.slots.iter().rposition(|s| s.kind == ParamKind::Dense)?;
    let (d, n) = (pv.slots[last].shape[0], pv.slots[last].shape[1]);
    let w: Vec<f32> = pv.parts[last].clone().into_data().iter::<f32>().collect();
    let (mut phi, mut probs) = (Vec::new(), Vec::new());
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(1000) {
        let b = set.batch(chunk, None, dev);
        let f = valid.features(b.images.clone())?;
        if f.dims()[1] != d {
            return None;
        }
        phi.extend(f.into_data().iter::<f32>());
        probs.extend(burn::tensor::activation::softmax(valid.logits(b.images), 1).into_data().iter::<f32>());
    }
    Some(cfg.kappa(&phi, &probs, &w, d, n))
}

/// The Fisher–Rao norm ⟨w, G w⟩ of `model` on `set`.
pub fn fisher_rao_norm(model: &Network, set: &PreparedSet, dev: &Device) -> f64 {
    let idx: Vec<usize> = (0..set.len()).collect();
    fisher_rao(&mut Objective::new(model, set, &idx, 500, dev))
}

/// The exact Hessian on the subset (`None` for a network without a tangent pass).
fn hessian(model: &Network, set: &PreparedSet, dev: &Device) -> Option<ExactHessianOperator<Network>> {
    let idx = subset_indices(set.len(), Some(SUBSET), None, 0);
    ExactHessianOperator::new(Objective::new(model, set, &idx, 500, dev)).ok()
}

/// λ_max and whether Lanczos met its tolerance (kept in the measure's details, so an
/// unconverged estimate is flagged where it is stored).
pub fn lambda_max(model: &Network, set: &PreparedSet, dev: &Device) -> (f64, bool) {
    let Some(mut op) = hessian(model, set, dev) else { return (f64::NAN, false) };
    let r = lanczos(&mut op, &LanczosConfig { k: 1, tol: 1e-3, max_iter: 100, ..Default::default() });
    (r.eigenvalues.first().copied().unwrap_or(f64::NAN), r.converged)
}

/// Computes a measure of this file.
pub fn compute(measure: &str, model: &Network, set: &PreparedSet, dev: &Device) -> Values {
    let one = |v: f64| vec![(measure.to_string(), v)];
    match measure {
        "lambda-max" => {
            let (v, converged) = lambda_max(model, set, dev);
            (one(v), json!({"converged": converged}))
        }
        "trace" | "frobenius" => match hessian(model, set, dev) {
            Some(mut op) => {
                let e = if measure == "trace" { hutch_pp(&mut op, 99, 0) } else { frobenius(&mut op, 30, 0) };
                (one(e.mean), json!({"stderr": e.stderr, "samples": e.samples}))
            }
            None => (one(f64::NAN), json!({"unavailable": "the network has no tangent pass"})),
        },
        "c-eps-sharpness" => {
            let idx: Vec<usize> = (0..set.len()).collect();
            let mut obj = Objective::new(model, set, &idx, 1000, dev);
            let s = sharpness(&mut obj, &SharpnessConfig::default());
            (one(s.sharpness), json!({"f0": s.f0, "f_max": s.f_max, "per_restart": s.per_restart}))
        }
        "relative-flatness" => match relative_flatness(model, set, &RelativeFlatness::default(), dev) {
            Some(v) => (vec![(measure.to_string(), v)], json!({})),
            None => (vec![(measure.to_string(), f64::NAN)], json!({"unavailable": "the network does not expose the input of its last dense layer (the zoo's mlp does)"})),
        },
        _ => (one(fisher_rao_norm(model, set, dev)), json!({})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basin_core::curvature::Differentiable;
    use basin_core::train::init_model;
    use basin_zoo::{ModelOptions, ZooModel};

    fn setup(seed: u64) -> (Network, PreparedSet, Device) {
        let dev = Device::flex();
        let ad = dev.clone().autodiff();
        let opts = ModelOptions { width: 6, depth: 1, ..Default::default() };
        let net = Network::Zoo(init_model(&ad, seed, |d| ZooModel::build("mlp", [1, 3, 3], 3, &opts, d).unwrap()));
        let x: Vec<f32> = basin_core::fastrand::normal_vec(40 * 9, seed + 1, 1.0);
        let y: Vec<i64> = x.chunks(9).map(|p| if p[0] > 0.5 { 0 } else if p[1] > 0.0 { 1 } else { 2 }).collect();
        (net, PreparedSet::from_arrays(x, y, [1, 3, 3], 3), dev)
    }

    /// Petzka et al.'s loop, literally: the Hessian of the output layer's weights column by
    /// column from exact Hessian-vector products, its n² blocks' traces, weighted by ⟨w_i, w_j⟩.
    #[test]
    fn relative_flatness_is_petzkas_sum_over_the_exact_hessian_blocks() {
        let (net, set, dev) = setup(2);
        let idx: Vec<usize> = (0..set.len()).collect();
        let mut obj = Objective::new(&net, &set, &idx, 40, &dev);
        let pv = obj.point().clone();
        let last = pv.slots.iter().rposition(|s| s.kind == ParamKind::Dense).unwrap();
        let (d, n) = (pv.slots[last].shape[0], pv.slots[last].shape[1]);
        assert_eq!((d, n), (6, 3));
        let offset: usize = pv.slots[..last].iter().map(|s| s.numel()).sum();
        let w = pv.to_host();
        let at = |a: usize, i: usize| offset + a * n + i; // W[i, a] in Burn's [d, n] layout
        // column (i, b) of H restricted to the layer
        let mut col = std::collections::HashMap::new();
        for i in 0..n {
            for b in 0..d {
                let mut e = vec![0.0f32; w.len()];
                e[at(b, i)] = 1.0;
                col.insert((i, b), obj.hvp(&pv.from_host(&e, &pv.device())).to_host());
            }
        }
        let mut want = 0.0f64;
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = (0..d).map(|a| w[at(a, i)] as f64 * w[at(a, j)] as f64).sum();
                let trace: f64 = (0..d).map(|a| col[&(i, a)][at(a, j)] as f64).sum();
                want += dot * trace;
            }
        }
        let raw = RelativeFlatness { normalize_features: false, divide_by_inputs: false };
        let got = relative_flatness(&net, &set, &raw, &dev).unwrap();
        assert!((got - want).abs() < 1e-4 * want.abs(), "{got} vs {want}");
        let by_d = relative_flatness(&net, &set, &RelativeFlatness { divide_by_inputs: true, ..raw }, &dev).unwrap();
        assert!((by_d - want / d as f64).abs() < 1e-4 * want.abs());
    }

    /// Scaling each hidden neuron k by c_k (its row and bias) and the output layer's input k by
    /// 1/c_k keeps the function; κ_Tr with normalized features stays, the raw one moves.
    #[test]
    fn normalized_relative_flatness_is_invariant_to_rescaling_the_penultimate_neurons() {
        let (net, set, dev) = setup(4);
        let c = [0.5f32, 2.0, 3.0, 1.0, 0.25, 4.0];
        let scaled = ParamVec::from_model(&net)
            .map(|s, t| {
                let f: Vec<f32> = t.clone().into_data().iter::<f32>().collect();
                let g: Vec<f32> = match s.path.as_str() {
                    // Burn's dense weight is [in, out]: hidden unit k is column k, output input k is row k
                    "Mlp.hidden.0.weight" => f.iter().enumerate().map(|(i, v)| v * c[i % 6]).collect(),
                    "Mlp.hidden.0.bias" => f.iter().enumerate().map(|(i, v)| v * c[i]).collect(),
                    "Mlp.output.weight" => f.iter().enumerate().map(|(i, v)| v / c[i / 3]).collect(),
                    _ => f,
                };
                burn::tensor::Tensor::<1>::from_floats(g.as_slice(), &t.device())
            })
            .write_into(net.clone());
        let norm = RelativeFlatness::default();
        let raw = RelativeFlatness { normalize_features: false, ..norm };
        let (a, b) = (relative_flatness(&net, &set, &norm, &dev).unwrap(), relative_flatness(&scaled, &set, &norm, &dev).unwrap());
        assert!((a - b).abs() < 1e-4 * a, "{a} vs {b}");
        let (a, b) = (relative_flatness(&net, &set, &raw, &dev).unwrap(), relative_flatness(&scaled, &set, &raw, &dev).unwrap());
        assert!((a - b).abs() > 0.05 * a, "{a} vs {b}");
    }

    /// With the biases at zero the network is 2-homogeneous in its weights, so J w = 2z and
    /// ⟨w, G w⟩ = 4 mean_x zᵀ(diag p − ppᵀ)z (Liang et al., eq. 3.3).
    #[test]
    fn the_fisher_rao_norm_of_a_homogeneous_network_is_the_closed_form() {
        let (net, set, dev) = setup(6);
        let net = ParamVec::from_model(&net).map(|s, t| if s.kind == ParamKind::Bias { t.zeros_like() } else { t }).write_into(net);
        let idx: Vec<usize> = (0..set.len()).collect();
        let b = set.batch(&idx, None, &dev);
        let z: Vec<f32> = net.valid().logits(b.images).into_data().iter::<f32>().collect();
        let want = 4.0
            * z.chunks(3)
                .map(|z| {
                    let mx = z.iter().cloned().fold(f32::MIN, f32::max) as f64;
                    let e: Vec<f64> = z.iter().map(|&v| (v as f64 - mx).exp()).collect();
                    let p: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
                    let pz: f64 = p.iter().zip(z).map(|(p, &z)| p * z as f64).sum();
                    p.iter().zip(z).map(|(p, &z)| p * (z as f64) * (z as f64)).sum::<f64>() - pz * pz
                })
                .sum::<f64>()
            / z.len() as f64
            * 3.0;
        let got = fisher_rao_norm(&net, &set, &dev);
        assert!((got - want).abs() < 1e-4 * want, "{got} vs {want}");
    }
}
