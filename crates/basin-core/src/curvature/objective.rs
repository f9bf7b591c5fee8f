//! The loss of a model on a fixed data subset — the function whose curvature is measured.
//!
//! The subset is fixed once (e.g. the first 5 % of a seeded permutation of the training set, as
//! in the sharpest-directions paper) and evaluated batch by batch, each batch weighted by its
//! size, so the loss and gradient are exact averages over the subset whatever the batch size.
//! The model is in evaluation mode (batch norm on running statistics, dropout off): the same
//! function at every call, which a Hessian needs. Deciding here, once, whether the loss runs
//! over one batch or a loader keeps every algorithm out of that question.

use super::fd_hessian::Differentiable;
use crate::batch::{ExampleSet, Targets};
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use crate::task::LossModel;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rand::seq::SliceRandom;

/// The loss of a model over a fixed list of batches: for a classifier, the cross-entropy of its
/// logits (or their mean squared error on float targets), the model's own [`LossModel::loss`]
/// for any other task.
///
/// ```
/// use basin_core::curvature::{Differentiable, Objective};
/// use basin_core::doc_support::{Blobs, LinearNet};
/// use burn::tensor::Device;
///
/// let device = Device::flex();
/// let model = basin_core::train::init_model(&device.clone().autodiff(), 0, LinearNet::new);
/// let idx: Vec<usize> = (0..50).collect();
/// let mut obj = Objective::new(&model, &Blobs(50), &idx, 16, &device); // 4 batches, weighted by size
/// assert_eq!(obj.len(), 50);
/// // the exact Hessian-vector product is symmetric: ⟨u, Hv⟩ = ⟨v, Hu⟩
/// let (u, v) = (obj.point().rademacher(1), obj.point().rademacher(2));
/// let (hu, hv) = (obj.hvp(&u), obj.hvp(&v));
/// assert!((u.dot(&hv) - v.dot(&hu)).abs() <= 1e-5 * u.dot(&hv).abs().max(1e-3));
/// // and its loss is the mean cross-entropy, near ln 2 for a fresh two-class model
/// assert!(obj.loss(&obj.point().clone()) > 0.0);
/// ```
pub struct Objective<M: LossModel> {
    model: M,
    batches: Vec<M::Batch>,
    total: usize,
    point: ParamVec,
    /// Gradient evaluations so far (each a full pass over the subset).
    pub evaluations: usize,
}

/// The first ⌈fraction·n⌉ (or `samples`) indices of a permutation of 0..n seeded by `seed`.
pub fn subset_indices(n: usize, fraction: Option<f64>, samples: Option<usize>, seed: u64) -> Vec<usize> {
    let k = match (samples, fraction) {
        (Some(s), _) => s.min(n),
        (None, Some(f)) => ((f * n as f64).ceil() as usize).clamp(1, n),
        (None, None) => n,
    };
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut crate::rng::stream_rng(seed, crate::rng::Stream::EpochOrder, u64::MAX));
    p.truncate(k);
    p.sort_unstable();
    p
}

impl<M: Classifier> Objective<M> {
    /// The loss of `model` on `indices` of `set`, in batches of `batch_size`, on the autodiff
    /// twin of the plain `device`.
    pub fn new(model: &M, set: &dyn ExampleSet, indices: &[usize], batch_size: usize, device: &Device) -> Self {
        let ad = device.clone().autodiff();
        let batches = indices.chunks(batch_size.max(1)).map(|c| set.batch(c, None, &ad)).collect();
        Objective::from_batches(model, batches)
    }
}

impl<M: LossModel> Objective<M> {
    /// The mean loss of `model` over `batches` (on the model's autodiff device), each batch
    /// weighted by its size. The model is taken in evaluation mode (`valid()`); batches must
    /// not ask for training-time randomness (dropout) of their own, since a Hessian needs the
    /// same function at every call.
    pub fn from_batches(model: &M, batches: Vec<M::Batch>) -> Self {
        model.sync_state();
        let model = model.valid();
        let total = batches.iter().map(M::batch_len).sum();
        let point = ParamVec::from_model(&model);
        Objective { model, batches, total, point, evaluations: 0 }
    }
    /// Examples in the subset.
    pub fn len(&self) -> usize {
        self.total
    }
    /// True when the subset is empty.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
    /// The determinism guard (as curvlinops' `check_deterministic`): the loss at the point,
    /// evaluated twice, must agree to round-off (1e-6 relative), since every product of a
    /// Hessian, a trace or a sharpness search assumes one function. A model that is random
    /// in evaluation mode — dropout or ReluSmoothOut noise it does not gate on the training
    /// flag, batch norm that `valid()` leaves in training mode — fails here with both values,
    /// instead of giving eigenvalues of noise.
    pub fn check_deterministic(&self) -> Result<(), String> {
        let (a, b) = (self.loss(&self.point), self.loss(&self.point));
        if (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-12) || (a.is_nan() && b.is_nan()) {
            return Ok(());
        }
        Err(format!(
            "the loss over the subset is not deterministic ({a} then {b} at the same weights): the model is random in evaluation mode (dropout, ReluSmoothOut noise, or batch norm in training mode that Module::valid() does not turn off)"
        ))
    }
    /// Loss (no gradient) at `w`: the parameters are written as constants, so no graph is kept.
    pub fn loss(&self, w: &ParamVec) -> f64 {
        let m = w.write_into_constant(self.model.clone());
        self.batches.iter().map(|b| m.loss(b).into_scalar::<f64>() * M::batch_len(b) as f64).sum::<f64>() / self.total as f64
    }
}

impl<M: LossModel> Differentiable for Objective<M> {
    fn loss_grad(&mut self, w: &ParamVec) -> (f64, ParamVec) {
        self.evaluations += 1;
        let m = w.write_into_with_grad(self.model.clone());
        let mut loss = 0.0;
        let mut grad: Option<ParamVec> = None;
        for b in &self.batches {
            let weight = M::batch_len(b) as f64 / self.total as f64;
            let l = m.loss(b).mul_scalar(weight);
            loss += l.clone().into_scalar::<f64>();
            let g = ParamVec::from_grads(&self.point, &GradientsParams::from_grads(l.backward(), &m));
            grad = Some(match grad {
                None => g,
                Some(acc) => acc.add(&g),
            });
        }
        (loss, grad.unwrap_or_else(|| self.point.zeros_like()))
    }
    fn point(&self) -> &ParamVec {
        &self.point
    }
}

impl<M: LossModel> Objective<M> {
    /// Whether the model has a tangent pass ([`LossModel::loss_jvp`], for a classifier
    /// [`Classifier::logits_jvp`]), which the exact Hessian needs.
    pub fn has_jvp(&self) -> bool {
        let Some(b) = self.batches.first() else { return true };
        let m = self.point.write_into_with_grad(self.model.clone());
        let dir = self.point.write_into_constant(self.model.clone());
        m.has_loss_jvp(&dir, b)
    }

    /// The exact Hessian-vector product H v of the mean loss (Pearlmutter 1994).
    ///
    /// The directional derivative of the loss along v, D(w) = ⟨∇L(w), v⟩, comes from the
    /// model's tangent pass ([`LossModel::loss_jvp`]); for a classifier with logits z,
    /// p = softmax(z) and targets y it is (1/n) Σ_i (p_i − e_{y_i})·ż_i with ż = (∂z/∂w) v
    /// ([`Classifier::logits_jvp`]; for float targets (2/(nT)) Σ_i (z_i − y_i)·ż_i). D is an ordinary differentiable function of w, and
    /// ∇_w D = H v: one reverse pass, no step size, exact up to float rounding. Both parts of
    /// H appear: the Gauss–Newton part through p and ż, and Σ_k (∂ℓ/∂z_k) ∇²z_k through ż's
    /// dependence on w. Batches are weighted by their size, as in the loss.
    ///
    /// # Panics
    /// If the model has no tangent pass (check [`has_jvp`](Self::has_jvp) first).
    pub fn hvp(&mut self, v: &ParamVec) -> ParamVec {
        self.evaluations += 1;
        let m = self.point.write_into_with_grad(self.model.clone());
        let dir = v.write_into_constant(self.model.clone());
        let mut out: Option<ParamVec> = None;
        for b in &self.batches {
            let weight = M::batch_len(b) as f64 / self.total as f64;
            let d = m.loss_jvp(&dir, b).expect("Objective::hvp: the model has no tangent pass").mul_scalar(weight);
            let g = ParamVec::from_grads(&self.point, &GradientsParams::from_grads(d.backward(), &m));
            out = Some(match out {
                None => g,
                Some(acc) => acc.add(&g),
            });
        }
        out.unwrap_or_else(|| self.point.zeros_like())
    }
}

impl<M: Classifier> Objective<M> {
    /// Generalized Gauss–Newton product G v = Jᵀ H_ℓ J v (Schraudolph 2002) of the mean loss,
    /// with J the Jacobian of the outputs and H_ℓ per example diag(p) − ppᵀ for the
    /// cross-entropy, (2/T)·I for the squared error of T float targets.
    ///
    /// J v is the model's tangent pass ż = (∂z/∂w) v ([`Classifier::logits_jvp`], exact, no
    /// step) when `h` is 0; with `h` > 0 it is central differences of the logits,
    /// (z(w + hv) − z(w − hv)) / 2h, the only way for a model without a tangent pass: for a
    /// piecewise-linear network z is linear between kinks, so the error is at most the slope
    /// jump times the part of the step past a kink, O(h), plus float rounding O(u/h) (on ne-f1
    /// in f32 the top eigenvalue of the empirical Fisher is off by 0.8 % at a relative step of
    /// 1e-4). Jᵀu is exact reverse mode (the gradient of ⟨z(w), u⟩).
    ///
    /// G is *not* the Hessian, even for ReLU networks: H = G + Σ_k (∂ℓ/∂z_k) ∇²z_k, and the
    /// logits are multilinear in the weights of different layers, so ∇²z_k has non-zero
    /// cross-layer blocks. G is positive semi-definite and misses H's negative eigenvalues;
    /// early in training its top eigenvalues are a few per cent below H's. The exact Hessian is
    /// [`Objective::hvp`].
    pub fn ggn_product(&mut self, v: &ParamVec, h: f64) -> ParamVec {
        self.output_product(v, h, OutputCurvature::Ggn)
    }

    /// Jᵀ C J v for the output curvature `c` (see [`OutputCurvature`]): the GGN, the
    /// Monte-Carlo Fisher or the empirical Fisher, with J v exact (`h` = 0) or by central
    /// differences of step `h`, and Jᵀu exact, as [`ggn_product`](Self::ggn_product).
    ///
    /// # Panics
    /// With `h` = 0, if the model has no tangent pass (check [`has_jvp`](Self::has_jvp)).
    pub fn output_product(&mut self, v: &ParamVec, h: f64, c: OutputCurvature) -> ParamVec {
        self.evaluations += 1;
        let w = self.point.clone();
        let m0 = w.write_into_with_grad(self.model.clone());
        // J v: one tangent pass at w (its value part is z for the reverse pass), or the logits
        // at w ± h v
        let differences = (h > 0.0).then(|| {
            let plain = self.model.valid();
            (w.axpy(h, v).write_into(plain.clone()), w.axpy(-h, v).write_into(plain))
        });
        let dir = differences.is_none().then(|| v.write_into_constant(self.model.clone()));
        let mut out: Option<ParamVec> = None;
        for (bi, b) in self.batches.iter().enumerate() {
            let (z, jv) = match (&differences, &dir) {
                (Some((mp, mm)), _) => {
                    let x = b.images.clone().inner();
                    ((m0.logits(b.images.clone())), (mp.logits(x.clone()) - mm.logits(x)).div_scalar(2.0 * h))
                }
                (None, Some(dir)) => {
                    let (z, zt) = m0.logits_jvp(dir, b.images.clone()).expect("Objective::output_product: the model has no tangent pass (give a finite-difference step)");
                    (z, zt.inner())
                }
                (None, None) => unreachable!("one of the two ways to J v is set up"),
            };
            let u = output_curvature(z.clone().inner(), jv, &b.targets, c, bi);
            let u = burn::tensor::Tensor::from_inner(u.div_scalar(self.total as f64)); // constant on the autodiff side
            let s = (z * u.detach()).sum();
            let g = ParamVec::from_grads(&self.point, &GradientsParams::from_grads(s.backward(), &m0));
            out = Some(match out {
                None => g,
                Some(acc) => acc.add(&g),
            });
        }
        out.unwrap_or_else(|| self.point.zeros_like())
    }
}

/// The output curvature C of [`Objective::output_product`] per example, with p = softmax(z) for
/// class labels (for real-valued targets, the same three matrices of the squared error: see
/// `output_curvature` in this file):
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputCurvature {
    /// H_ℓ = diag(p) − ppᵀ, the Hessian of the cross-entropy in the logits: the GGN, which for
    /// softmax cross-entropy is also the true Fisher, E_{y~p}[(p − e_y)(p − e_y)ᵀ].
    Ggn,
    /// (p − e_y)(p − e_y)ᵀ at the data's labels y: the empirical Fisher, the mean of the
    /// per-example gradients' outer products (1/n) Σ gᵢgᵢᵀ.
    EmpiricalFisher,
    /// (1/S) Σ_s (p − e_{ŷ_s})(p − e_{ŷ_s})ᵀ with labels ŷ_s drawn from p: the Monte-Carlo
    /// Fisher (curvlinops' and BackPACK's), the same labels at every product (keyed by `seed`,
    /// the batch and the sample), so it is one fixed matrix.
    MonteCarloFisher {
        /// S, labels drawn per example.
        samples: usize,
        /// Key of the draws.
        seed: u64,
    },
}

/// C·Jv per example (rows of `z` and `jv`, `[B, K]`): the output curvature `c` of the loss on
/// these `targets`. For class labels, with p = softmax(z), see [`OutputCurvature`]. For real
/// targets (per-example loss ℓ = (1/T) Σ (z − y)²): the GGN is ∇²_z ℓ = (2/T) I; the empirical
/// Fisher rrᵀ with r = ∇_z ℓ = (2/T)(z − y); the Monte-Carlo Fisher draws ŷ from the Gaussian
/// whose negative log-likelihood ℓ is, N(z, (T/2) I), so r = −√(2/T) ε with ε ~ N(0, I), and
/// E[rrᵀ] is the GGN.
fn output_curvature(z: Tensor<2>, jv: Tensor<2>, targets: &Targets, c: OutputCurvature, batch: usize) -> Tensor<2> {
    let (scale, residual) = match targets {
        Targets::Values(y) => (2.0 / z.dims()[1] as f64, z.clone() - y.clone().inner()),
        Targets::Classes(y) => {
            let p = burn::tensor::activation::softmax(z, 1);
            return match c {
                OutputCurvature::Ggn => {
                    let pjv = (p.clone() * jv.clone()).sum_dim(1); // [B, 1]
                    p.clone() * jv - p * pjv
                }
                OutputCurvature::EmpiricalFisher => {
                    let [n, k] = p.dims();
                    let onehot = Tensor::<2>::zeros([n, k], &p.device()).scatter(1, y.clone().inner().reshape([n, 1]), Tensor::ones([n, 1], &p.device()), burn::tensor::IndexingUpdateOp::Add);
                    rank_one(p - onehot, jv)
                }
                OutputCurvature::MonteCarloFisher { samples, seed } => {
                    mean_of(samples, |s| rank_one(p.clone() - sampled_labels(&p, seed, batch, s), jv.clone()))
                }
            };
        }
    };
    match c {
        OutputCurvature::Ggn => jv.mul_scalar(scale),
        OutputCurvature::EmpiricalFisher => rank_one(residual.mul_scalar(scale), jv),
        OutputCurvature::MonteCarloFisher { samples, seed } => mean_of(samples, |s| {
            let [n, k] = jv.dims();
            rank_one(sampled_noise([n, k], seed, batch, s, &jv.device()).mul_scalar(-scale.sqrt()), jv.clone())
        }),
    }
}

/// The mean of `term(s)` over `samples` draws (at least one).
fn mean_of(samples: usize, term: impl Fn(usize) -> Tensor<2>) -> Tensor<2> {
    let s = samples.max(1);
    (1..s).fold(term(0), |acc, i| acc + term(i)).div_scalar(s as f64)
}

/// r (rᵀ t) per row: the product of the rank-one matrix r rᵀ with t, example by example.
fn rank_one(r: burn::tensor::Tensor<2>, t: burn::tensor::Tensor<2>) -> burn::tensor::Tensor<2> {
    let rt = (r.clone() * t).sum_dim(1);
    r * rt
}

/// Standard normal draws `[B, T]` for the Monte-Carlo Fisher of a regression batch (sample `s` of
/// batch `batch`, keyed by `seed`): the targets drawn are z + √(T/2)·ε.
pub fn sampled_noise(dims: [usize; 2], seed: u64, batch: usize, s: usize, device: &Device) -> Tensor<2> {
    let key = crate::rng::derive_seed(seed, crate::rng::Stream::FisherLabels, ((batch as u64) << 20) | s as u64);
    Tensor::from_data(burn::tensor::TensorData::new(crate::fastrand::normal_vec(dims[0] * dims[1], key, 1.0), dims), device)
}

/// One-hot labels drawn from the rows of `p` (sample `s` of batch `batch`, keyed by `seed`).
pub fn sampled_labels(p: &burn::tensor::Tensor<2>, seed: u64, batch: usize, s: usize) -> burn::tensor::Tensor<2> {
    let [n, k] = p.dims();
    let probs: Vec<f32> = p.to_data().convert::<f32>().try_into_vec::<f32>().expect("f32 probabilities");
    let mut rng = crate::rng::stream_rng(seed, crate::rng::Stream::FisherLabels, ((batch as u64) << 20) | s as u64);
    let mut onehot = vec![0f32; n * k];
    for i in 0..n {
        let u: f32 = rand::RngExt::random(&mut rng);
        let row = &probs[i * k..(i + 1) * k];
        let mut cum = 0.0;
        let mut y = k - 1;
        for (c, &q) in row.iter().enumerate() {
            cum += q;
            if u < cum {
                y = c;
                break;
            }
        }
        onehot[i * k + y] = 1.0;
    }
    burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(onehot, [n, k]), &p.device())
}
