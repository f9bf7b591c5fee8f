//! The LSTM language model (S-SGD §5.3) against an independent f64 host implementation of the
//! LSTM equations, and the task-generic estimators on it (a model that is not a classifier).

use basin_core::BatchSource;
use basin_core::estimators::ssgd::SymmetricSgd;
use basin_core::estimators::{Clipped, GradientEstimator, Plain, StepContext, grad_at, loss_and_grads};
use basin_core::paramkind::ParamFilter;
use basin_core::paramvec::ParamVec;
use basin_zoo::models::lstm_lm::{LmBatch, LstmLm, LstmLmConfig, streams};
use burn::module::Module;
use burn::tensor::Device;
use std::collections::HashMap;

fn ad() -> Device {
    Device::flex().autodiff()
}

fn model(layers: usize, dropout: f64) -> LstmLm {
    let cfg = LstmLmConfig { vocab: 6, hidden: 4, layers, dropout };
    // weights larger than Zaremba's ±0.1, so that the gates are far from linear
    let m = basin_core::train::init_model(&ad(), 7, |d| cfg.init(d));
    let w = ParamVec::from_model(&m);
    w.from_host(&w.to_host().iter().map(|x| x * 8.0).collect::<Vec<_>>(), &ad()).write_into(m)
}

fn words() -> Vec<u32> {
    (0..41u32).map(|i| (i * 7 + i * i / 3) % 6).collect()
}

fn batch(dropout_key: Option<u64>) -> LmBatch {
    LmBatch::chunk(&streams(&words(), 2), 1, 5, dropout_key, &ad())
}

/// The mean next-word cross-entropy of an LSTM LM, written from the equations in f64:
/// [i f g o] = x W_x + b + h W_h, c ← σ(f) c + σ(i) tanh(g), h ← σ(o) tanh(c), logits = h W_d + b_d.
fn host_loss(p: &HostParams, layers: usize, inputs: &[Vec<u32>], targets: &[Vec<u32>]) -> f64 {
    let get = |k: &str| &p[k];
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    // x [n] times W [n, m] (Burn's Linear stores [in, out])
    let matvec = |x: &[f64], w: &(Vec<usize>, Vec<f64>)| -> Vec<f64> {
        let (n, m) = (w.0[0], w.0[1]);
        (0..m).map(|j| (0..n).map(|i| x[i] * w.1[i * m + j]).sum()).collect()
    };
    let (emb_shape, emb) = get("embedding.weight");
    let hid = emb_shape[1];
    let (mut total, mut count) = (0.0, 0);
    for (xs, ys) in inputs.iter().zip(targets) {
        let mut state = vec![(vec![0.0; hid], vec![0.0; hid]); layers];
        for (&x, &y) in xs.iter().zip(ys) {
            let mut v: Vec<f64> = emb[x as usize * hid..(x as usize + 1) * hid].to_vec();
            for (l, (h, c)) in state.iter_mut().enumerate() {
                let a = matvec(&v, get(&format!("layers.{l}.input.weight")));
                let r = matvec(h, get(&format!("layers.{l}.recurrent.weight")));
                let b = &get(&format!("layers.{l}.input.bias")).1;
                let z: Vec<f64> = (0..4 * hid).map(|j| a[j] + r[j] + b[j]).collect();
                for k in 0..hid {
                    c[k] = sig(z[hid + k]) * c[k] + sig(z[k]) * z[2 * hid + k].tanh();
                    h[k] = sig(z[3 * hid + k]) * c[k].tanh();
                }
                v = h.clone();
            }
            let logits: Vec<f64> = matvec(&v, get("decoder.weight")).iter().zip(&get("decoder.bias").1).map(|(a, b)| a + b).collect();
            let mx = logits.iter().cloned().fold(f64::MIN, f64::max);
            let lse = mx + logits.iter().map(|z| (z - mx).exp()).sum::<f64>().ln();
            total += lse - logits[y as usize];
            count += 1;
        }
    }
    total / count as f64
}

/// Parameters on the host by module path: (shape, values).
type HostParams = HashMap<String, (Vec<usize>, Vec<f64>)>;

fn host_params(m: &LstmLm) -> (ParamVec, HostParams) {
    let w = ParamVec::from_model(m);
    let parts = w.to_host_parts();
    let map = w.slots.iter().zip(parts).map(|(s, v)| (s.path.clone(), (s.shape.clone(), v.into_iter().map(f64::from).collect()))).collect();
    (w, map)
}

fn ids(t: &burn::tensor::Tensor<2, burn::tensor::Int>) -> Vec<Vec<u32>> {
    let [b, n] = t.dims();
    let v: Vec<i64> = t.to_data().convert::<i64>().as_slice::<i64>().unwrap().to_vec();
    (0..b).map(|i| v[i * n..(i + 1) * n].iter().map(|&x| x as u32).collect()).collect()
}

#[test]
fn loss_and_gradient_match_an_f64_host_lstm_and_its_finite_differences() {
    for layers in [1, 2] {
        let m = model(layers, 0.0);
        let b = batch(None);
        let (xs, ys) = (ids(&b.inputs), ids(&b.targets));
        let (w, p) = host_params(&m);
        let (loss, grads) = loss_and_grads(&m, &b);
        let reference = host_loss(&p, layers, &xs, &ys);
        assert!((loss - reference).abs() < 1e-5 * reference, "{layers} layers: loss {loss} vs host {reference}");
        // every gradient component against central differences of the host loss
        let g = ParamVec::from_grads(&w, &grads).to_host_parts();
        let mut worst: f64 = 0.0;
        let gmax = g.iter().flatten().fold(0.0f32, |a, x| a.max(x.abs())) as f64;
        for (s, gs) in w.slots.iter().zip(&g) {
            for (k, &gk) in gs.iter().enumerate() {
                let h = 1e-6;
                let mut q = p.clone();
                q.get_mut(&s.path).unwrap().1[k] += h;
                let up = host_loss(&q, layers, &xs, &ys);
                q.get_mut(&s.path).unwrap().1[k] -= 2.0 * h;
                let down = host_loss(&q, layers, &xs, &ys);
                worst = worst.max(((up - down) / (2.0 * h) - gk as f64).abs());
            }
        }
        assert!(worst < 1e-4 * gmax, "{layers} layers: worst gradient error {worst} (largest component {gmax})");
    }
}

#[test]
fn carried_state_evaluation_equals_one_pass_over_the_whole_stream() {
    let m = model(2, 0.5).valid();
    let s = streams(&words(), 2);
    let (one, n1) = m.eval_nats(&s, s[0].len() - 1, &Device::flex());
    let (chunked, n2) = m.eval_nats(&s, 4, &Device::flex());
    assert_eq!(n1, 2 * 19);
    assert_eq!(n2, 2 * 16); // 4 chunks of 4 from each stream of 20 words
    // chunked: the first 16 predictions of each stream, with the state carried over chunks
    let first17: Vec<Vec<u32>> = s.iter().map(|v| v[..17].to_vec()).collect();
    let (first16, _) = m.eval_nats(&first17, 16, &Device::flex());
    assert!((chunked - first16).abs() < 1e-4, "carried state {chunked} vs one chunk {first16}");
    assert!(one > chunked, "more words, more nats");
}

#[test]
fn dropout_masks_come_from_the_batch_key() {
    let m = model(1, 0.5);
    let (a, _) = loss_and_grads(&m, &batch(Some(1)));
    let (b, _) = loss_and_grads(&m, &batch(Some(1)));
    let (c, _) = loss_and_grads(&m, &batch(Some(2)));
    let (off, _) = loss_and_grads(&m, &batch(None));
    assert_eq!(a, b, "the same key must give the same masks");
    assert_ne!(a, c);
    assert_ne!(a, off);
}

struct NoExtra;
impl BatchSource<LmBatch> for NoExtra {
    fn extra_batch(&mut self, _: usize, _: u64) -> LmBatch {
        unreachable!()
    }
}

#[test]
fn s_sgd_on_the_language_model_averages_the_gradients_at_w_plus_and_minus_n() {
    let m = model(1, 0.5);
    let b = batch(Some(3));
    let mut est = SymmetricSgd::new(0.7, ParamFilter::Weights);
    let e = est.estimate(m.clone(), &b, &mut StepContext::new(4, 9, &mut NoExtra));
    let w = ParamVec::from_model(&m);
    let n = est.last_noise().unwrap();
    // ‖n_layer‖ = 0.7 ‖w_layer‖ on weights, zero on biases
    for ((np, s), wp) in n.to_host_parts().iter().zip(w.slots.iter()).zip(w.to_host_parts()) {
        let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let want = if s.kind.is_weight() { 0.7 * norm(&wp) } else { 0.0 };
        assert!((norm(np) - want).abs() < 1e-4 * want.max(1.0), "{}: ‖n‖ {} vs {want}", s.path, norm(np));
    }
    let (_, gp) = grad_at(&m, &w.add(&n), &b);
    let (_, gm) = grad_at(&m, &w.sub(&n), &b);
    let want = ParamVec::lincomb(0.5, &gp, 0.5, &gm).to_host();
    let got = ParamVec::from_grads(&w, &e.grads).to_host();
    let err = want.iter().zip(&got).fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(err < 1e-5, "S-SGD gradient differs from the independent average by {err}");
}

#[test]
fn clipping_scales_the_whole_gradient_to_the_bound_and_leaves_small_ones() {
    let m = model(1, 0.0);
    let b = batch(None);
    let w = ParamVec::from_model(&m);
    let (_, g) = loss_and_grads(&m, &b);
    let g = ParamVec::from_grads(&w, &g);
    let norm = g.norm();
    for bound in [0.25 * norm, 4.0 * norm] {
        let mut est = Clipped::new(Box::new(Plain), bound);
        let e = est.estimate(m.clone(), &b, &mut StepContext::new(0, 0, &mut NoExtra));
        let got = ParamVec::from_grads(&w, &e.grads).to_host();
        let f = (bound / norm).min(1.0) as f32;
        let err = g.to_host().iter().zip(&got).fold(0.0f32, |a, (x, y)| a.max((x * f - y).abs()));
        assert!(err < 1e-6, "bound {bound}: clipped gradient is not g·min(1, c/‖g‖) (error {err})");
    }
}

/// The dense Hessian of the f64 host loss at `m`'s weights on `b`, by second differences of
/// every entry (h = 1e-4 in f64: errors near 1e-8), and its eigenvalues, decreasing.
fn host_dense_hessian(m: &LstmLm, b: &LmBatch) -> (nalgebra::DMatrix<f64>, Vec<f64>) {
    let (xs, ys) = (ids(&b.inputs), ids(&b.targets));
    let (w, p) = host_params(m);
    let coords: Vec<(String, usize)> = w.slots.iter().flat_map(|s| (0..s.numel()).map(move |k| (s.path.clone(), k))).collect();
    let n = coords.len();
    let h = 1e-4;
    let at = |moves: &[(usize, f64)]| {
        let mut q = p.clone();
        for &(i, d) in moves {
            let (path, k) = &coords[i];
            q.get_mut(path).unwrap().1[*k] += d;
        }
        host_loss(&q, 1, &xs, &ys)
    };
    let mut dense = nalgebra::DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let v = if i == j {
                (at(&[(i, h)]) - 2.0 * at(&[]) + at(&[(i, -h)])) / (h * h)
            } else {
                (at(&[(i, h), (j, h)]) - at(&[(i, h), (j, -h)]) - at(&[(i, -h), (j, h)]) + at(&[(i, -h), (j, -h)])) / (4.0 * h * h)
            };
            dense[(i, j)] = v;
            dense[(j, i)] = v;
        }
    }
    let mut eig: Vec<f64> = dense.clone().symmetric_eigen().eigenvalues.iter().copied().collect();
    eig.sort_by(|a, b| b.partial_cmp(a).unwrap());
    (dense, eig)
}

#[test]
fn fd_hessian_top_eigenvalues_of_the_language_model_match_a_dense_f64_host_hessian() {
    use basin_core::curvature::fd_hessian::FdHessianOperator;
    use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
    use basin_core::curvature::objective::Objective;
    // A smooth model (sigmoid, tanh, softmax): central differences of gradients converge to
    // the Hessian here, unlike on ReLU networks.
    let m = model(1, 0.0);
    let b = batch(None);
    let (dense, want) = host_dense_hessian(&m, &b);
    let n = dense.nrows();
    let mut op = FdHessianOperator::new(Objective::from_batches(&m, vec![b]), 1e-3);
    let got = lanczos(&mut op, &LanczosConfig { k: 3, tol: 1e-6, max_iter: n, seed: 1, ..Default::default() }).eigenvalues;
    for (g, e) in got.iter().zip(&want) {
        assert!((g - e).abs() < 0.02 * want[0], "top eigenvalues {got:?} vs dense {:?}", &want[..3]);
    }
}

/// The exact Hessian of the language model (issue 28): `LossModel::loss_jvp` (the LSTM's
/// tangent) gives H v by one reverse pass; every column H eᵢ against the dense f64 host
/// Hessian, entry by entry, and the top-3 eigenvalues of the exact operator within 1e-4.
#[test]
fn exact_hessian_of_the_language_model_matches_the_dense_f64_host_hessian() {
    use basin_core::curvature::exact_hessian::ExactHessianOperator;
    use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
    use basin_core::curvature::objective::Objective;
    use basin_core::curvature::LinearOperator;
    for layers in [1, 2] {
        let m = model(layers, 0.0);
        let b = batch(None);
        let (dense, want) = if layers == 1 { host_dense_hessian(&m, &b) } else { (nalgebra::DMatrix::zeros(0, 0), Vec::new()) };
        let mut op = ExactHessianOperator::new(Objective::from_batches(&m, vec![b.clone()])).expect("the LM has a tangent pass");
        let w = ParamVec::from_model(&m);
        let n = w.numel();
        // columns H eᵢ, and symmetry (2 layers: no host reference; H must still be symmetric)
        let mut exact = nalgebra::DMatrix::<f64>::zeros(n, n);
        for i in 0..n {
            let mut e = vec![0.0f32; n];
            e[i] = 1.0;
            let col = op.apply(&w.from_host(&e, &ad())).to_host_f64();
            for (r, v) in col.iter().enumerate() {
                exact[(r, i)] = *v;
            }
        }
        let scale = exact.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let asym = (&exact - exact.transpose()).iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(asym <= 1e-5 * scale, "{layers} layer(s): the exact Hessian is not symmetric ({asym:e} of {scale:e})");
        if layers == 2 {
            continue;
        }
        let err = (&exact - &dense).iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(err <= 1e-4 * scale, "entry by entry: max |H − H_dense| = {err:e} of max |H| = {scale:e}");
        let mut op = ExactHessianOperator::new(Objective::from_batches(&m, vec![b])).unwrap();
        let got = lanczos(&mut op, &LanczosConfig { k: 3, tol: 1e-8, max_iter: n, seed: 1, ..Default::default() }).eigenvalues;
        println!("exact top-3 {got:?}, dense {:?}", &want[..3]);
        for (g, e) in got.iter().zip(&want) {
            assert!((g - e).abs() <= 1e-4 * e.abs(), "top eigenvalues {got:?} vs dense {:?}", &want[..3]);
        }
    }
    // a batch with dropout masks: its loss is one fixed function of w (the masks come from the
    // batch's key), whose exact H v must match central differences of its gradient
    let m = model(1, 0.5);
    let mut exact = ExactHessianOperator::new(Objective::from_batches(&m, vec![batch(Some(3))])).expect("masked batches have a tangent");
    let mut fd = basin_core::curvature::fd_hessian::FdHessianOperator::new(Objective::from_batches(&m, vec![batch(Some(3))]), 1e-2);
    let v = ParamVec::from_model(&m).normal(5, 1.0);
    let (hv, fv) = (exact.apply(&v), fd.apply(&v));
    let rel = hv.sub(&fv).norm() / fv.norm();
    println!("dropout batch: |Hv − Hv_fd| / |Hv_fd| = {rel:.2e}");
    assert!(rel < 1e-2, "dropout batch: exact H v differs from the finite differences by {rel:e}");
}
