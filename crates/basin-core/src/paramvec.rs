//! ParamVec: a model's trainable float parameters as one vector (one flat device tensor per
//! parameter), keyed by Burn's `ParamId`. Perturbations, gradients, Hessian-vector products
//! and landscape directions all speak ParamVec; it is read with a `ModuleVisitor` and written
//! back with a `ModuleMapper` (ids survive a map).
//!
//! Layout conventions: a *filter* is one output unit: for a convolution weight
//! `[out, in, kh, kw]` it is a slice along dimension 0; for Burn's `Linear` weight, stored
//! `[in, out]` (the transpose of PyTorch), it is a column, i.e. all input connections of one
//! neuron (SmoothOut journal §III-D); a 1-D parameter (bias, norm scale/shift) is one filter.

use crate::paramkind::ParamKind;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use std::collections::HashMap;
use std::sync::Arc;

/// Where one parameter sits in a [`ParamVec`].
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Burn's parameter id.
    pub id: ParamId,
    /// Dotted module path (`hidden.0.weight`).
    pub path: String,
    /// Tensor shape.
    pub shape: Vec<usize>,
    /// What kind of parameter it is.
    pub kind: ParamKind,
}

impl Slot {
    /// Number of values.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
    /// (filters, values per filter, filters along the last axis?) — see the module docs.
    pub fn filter_layout(&self) -> (usize, usize, bool) {
        match self.shape.len() {
            2 => (self.shape[1], self.shape[0], true),
            r if r >= 3 => (self.shape[0], self.numel() / self.shape[0], false),
            _ => (1, self.numel(), false),
        }
    }
}

/// A vector in parameter space: one flat tensor per trainable parameter.
#[derive(Debug, Clone)]
pub struct ParamVec {
    /// Shared description of the parameters.
    pub slots: Arc<Vec<Slot>>,
    /// Values, one flat (non-autodiff) tensor per slot.
    pub parts: Vec<Tensor<1>>,
}

impl ParamVec {
    /// The trainable parameters of `model` (batch-norm running statistics excluded).
    pub fn from_model<M: Module>(model: &M) -> ParamVec {
        let (mut slots, mut parts) = (Vec::new(), Vec::new());
        crate::params::for_each_float(model, |path, id, t, shape| {
            let kind = ParamKind::classify(path, &shape);
            if kind != ParamKind::State {
                slots.push(Slot { id, path: path.to_string(), shape, kind });
                parts.push(t);
            }
        });
        ParamVec { slots: Arc::new(slots), parts }
    }

    /// The device of the parameters (the default device for an empty vector).
    pub fn device(&self) -> Device {
        self.parts.first().map(|p| p.device()).unwrap_or_default()
    }

    /// The zero vector of layout `slots` on `device`.
    pub fn zeros(slots: Arc<Vec<Slot>>, device: &Device) -> ParamVec {
        let parts = slots.iter().map(|s| Tensor::zeros([s.numel()], device)).collect();
        ParamVec { slots, parts }
    }

    /// The gradient of `model`'s parameters in `grads`, in this vector's layout (zeros where a
    /// parameter received no gradient).
    pub fn from_grads(template: &ParamVec, grads: &GradientsParams) -> ParamVec {
        let parts = template.slots.iter().zip(&template.parts).map(|(s, p)| Self::slot_grad(s, grads).unwrap_or_else(|| p.zeros_like())).collect();
        ParamVec { slots: template.slots.clone(), parts }
    }

    /// The gradient of slot `s` in `grads`, flat and off the autodiff graph; `None` when the
    /// parameter received none.
    pub fn slot_grad(s: &Slot, grads: &GradientsParams) -> Option<Tensor<1>> {
        let n = s.numel();
        let g: Option<Tensor<1>> = match s.shape.len() {
            1 => grads.get::<1>(s.id),
            2 => grads.get::<2>(s.id).map(|g| g.reshape([n])),
            3 => grads.get::<3>(s.id).map(|g| g.reshape([n])),
            4 => grads.get::<4>(s.id).map(|g| g.reshape([n])),
            r => panic!("parameters of rank {r} are not supported"),
        };
        g.map(|g| if g.is_autodiff() { g.inner() } else { g })
    }

    /// This vector as gradients for Burn's optimizer, on `device` (the model's device).
    pub fn to_grads(&self, device: &Device) -> GradientsParams {
        let mut g = GradientsParams::new();
        for (s, p) in self.slots.iter().zip(&self.parts) {
            let p = p.clone().to_device(device);
            match s.shape.len() {
                1 => g.register::<1>(s.id, p),
                2 => g.register::<2>(s.id, p.reshape([s.shape[0], s.shape[1]])),
                3 => g.register::<3>(s.id, p.reshape([s.shape[0], s.shape[1], s.shape[2]])),
                4 => g.register::<4>(s.id, p.reshape([s.shape[0], s.shape[1], s.shape[2], s.shape[3]])),
                r => panic!("parameters of rank {r} are not supported"),
            }
        }
        g
    }

    fn zip_map(&self, other: &ParamVec, f: impl Fn(Tensor<1>, Tensor<1>) -> Tensor<1>) -> ParamVec {
        debug_assert_eq!(self.parts.len(), other.parts.len());
        ParamVec { slots: self.slots.clone(), parts: self.parts.iter().zip(&other.parts).map(|(a, b)| f(a.clone(), b.clone())).collect() }
    }
    /// Applies `f` to every part.
    pub fn map(&self, mut f: impl FnMut(&Slot, Tensor<1>) -> Tensor<1>) -> ParamVec {
        ParamVec { slots: self.slots.clone(), parts: self.slots.iter().zip(&self.parts).map(|(s, p)| f(s, p.clone())).collect() }
    }
    /// The zero vector of the same layout.
    pub fn zeros_like(&self) -> ParamVec {
        self.map(|_, p| p.zeros_like())
    }
    /// `self + other`.
    pub fn add(&self, other: &ParamVec) -> ParamVec {
        self.zip_map(other, |a, b| a + b)
    }
    /// `self − other`.
    pub fn sub(&self, other: &ParamVec) -> ParamVec {
        self.zip_map(other, |a, b| a - b)
    }
    /// `self + alpha · x` (axpy), one fused pass per part.
    pub fn axpy(&self, alpha: f64, x: &ParamVec) -> ParamVec {
        ParamVec::lincomb(1.0, self, alpha, x)
    }
    /// `a · x + b · y`, one fused pass per part ([`crate::fused::axpby`]).
    ///
    /// ```
    /// use basin_core::paramvec::ParamVec;
    /// use burn::nn::LinearConfig;
    /// use burn::tensor::Device;
    /// let d = Device::flex();
    /// let w = ParamVec::from_model(&LinearConfig::new(4, 3).init(&d)); // weight and bias
    /// let g = w.uniform(1, -1.0, 1.0);
    /// let p = ParamVec::lincomb(1.0, &w, -0.1, &g); // a gradient step
    /// let expected: Vec<f32> = w.to_host().iter().zip(g.to_host()).map(|(w, g)| w + -0.1 * g).collect();
    /// assert_eq!(p.to_host(), expected);
    /// ```
    pub fn lincomb(a: f64, x: &ParamVec, b: f64, y: &ParamVec) -> ParamVec {
        x.zip_map(y, |u, v| crate::fused::axpby(a, &u, b, &v))
    }
    /// `alpha · self`.
    pub fn scale(&self, alpha: f64) -> ParamVec {
        self.map(|_, p| p.mul_scalar(alpha))
    }
    /// Element-wise product.
    pub fn mul(&self, other: &ParamVec) -> ParamVec {
        self.zip_map(other, |a, b| a * b)
    }
    /// Inner product ⟨self, other⟩, accumulated in f64, with one host read.
    pub fn dot(&self, other: &ParamVec) -> f64 {
        let pairs: Vec<_> = self.parts.iter().zip(&other.parts).collect();
        crate::fused::dots(&pairs).into_iter().sum()
    }
    /// Euclidean norm.
    pub fn norm(&self) -> f64 {
        self.dot(self).sqrt()
    }
    /// Total number of values.
    pub fn numel(&self) -> usize {
        self.slots.iter().map(Slot::numel).sum()
    }
    /// All values on the host, concatenated in slot order.
    pub fn to_host(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.numel());
        for p in &self.parts {
            v.extend(p.to_data().convert::<f32>().try_to_vec::<f32>().expect("float data"));
        }
        v
    }
    /// A vector of this layout from host values (slot order), on `device`.
    pub fn from_host(&self, values: &[f32], device: &Device) -> ParamVec {
        assert_eq!(values.len(), self.numel(), "host vector length");
        let mut off = 0;
        self.map(|s, _| {
            let n = s.numel();
            let t = Tensor::<1>::from_floats(&values[off..off + n], device);
            off += n;
            t
        })
    }
    /// I.i.d. U(lo, hi) vector of this layout from the fast host generator, determined by `key`.
    pub fn uniform(&self, key: u64, lo: f32, hi: f32) -> ParamVec {
        self.host_random(key, |n, k| crate::fastrand::uniform_vec(n, k, lo, hi))
    }
    /// I.i.d. N(0, std²) vector of this layout from the fast host generator, determined by `key`.
    pub fn normal(&self, key: u64, std: f32) -> ParamVec {
        self.host_random(key, |n, k| crate::fastrand::normal_vec(n, k, std))
    }
    /// The key of part `i`'s values in a random vector keyed `key` ([`uniform`](Self::uniform),
    /// [`normal`](Self::normal)).
    pub fn part_key(key: u64, i: usize) -> u64 {
        crate::rng::derive_seed(key, crate::rng::Stream::Estimator, 1 << 32 | i as u64)
    }
    fn host_random(&self, key: u64, draw: impl Fn(usize, u64) -> Vec<f32>) -> ParamVec {
        let mut i = 0;
        self.map(|s, p| {
            let values = draw(s.numel(), ParamVec::part_key(key, i));
            i += 1;
            crate::fused::tensor(values, &p.device())
        })
    }
    /// `self + self.uniform(key, lo, hi)` on the parts `keep` accepts (`self` elsewhere), bit
    /// for bit, without the noise vector: on the flex CPU backend each part is read once and
    /// the point written once ([`crate::fastrand::add_uniform`]), the whole cost SmoothOut's
    /// perturbation should have (issue 14). Other backends add a drawn noise tensor.
    pub fn add_uniform(&self, key: u64, lo: f32, hi: f32, keep: impl Fn(&Slot) -> bool) -> ParamVec {
        let mut i = 0;
        self.map(|s, p| {
            let k = ParamVec::part_key(key, i);
            i += 1;
            if !keep(s) {
                return p;
            }
            let n = s.numel();
            let device = p.device();
            match crate::fused::flex_f32(&p) {
                Some(flex) => crate::fused::tensor(crate::fastrand::add_uniform(crate::fused::values(&flex), k, lo, hi), &device),
                None => p + crate::fused::tensor(crate::fastrand::uniform_vec(n, k, lo, hi), &device),
            }
        })
    }
    /// Keeps the parts `keep` accepts and zeroes the others.
    pub fn masked(&self, keep: impl Fn(&Slot) -> bool) -> ParamVec {
        self.map(|s, p| if keep(s) { p } else { p.zeros_like() })
    }
    /// Per-filter Euclidean norms of each part, as `[filters]` tensors (see the module docs).
    pub fn filter_norms(&self) -> Vec<Tensor<1>> {
        self.filter_norms_by(Slot::filter_layout)
    }
    /// [`filter_norms`](Self::filter_norms) with filters cut by `layout` (same meaning as
    /// [`Slot::filter_layout`]).
    pub fn filter_norms_by(&self, layout: impl Fn(&Slot) -> (usize, usize, bool)) -> Vec<Tensor<1>> {
        self.slots
            .iter()
            .zip(&self.parts)
            .map(|(s, p)| {
                let (f, k, last) = layout(s);
                let sq = p.clone().powi_scalar(2);
                let sums: Tensor<1> = if last {
                    sq.reshape([k, f]).sum_dim(0).reshape([f])
                } else {
                    sq.reshape([f, k]).sum_dim(1).reshape([f])
                };
                sums.sqrt()
            })
            .collect()
    }
    /// Multiplies each filter of each part by the matching entry of `factors` (one `[filters]`
    /// tensor per part).
    pub fn scale_filters(&self, factors: &[Tensor<1>]) -> ParamVec {
        self.scale_filters_by(factors, Slot::filter_layout)
    }
    /// [`scale_filters`](Self::scale_filters) with filters cut by `layout`.
    pub fn scale_filters_by(&self, factors: &[Tensor<1>], layout: impl Fn(&Slot) -> (usize, usize, bool)) -> ParamVec {
        let parts = self
            .slots
            .iter()
            .zip(&self.parts)
            .zip(factors)
            .map(|((s, p), fac)| {
                let (f, k, last) = layout(s);
                if last {
                    (p.clone().reshape([k, f]) * fac.clone().reshape([1, f])).reshape([f * k])
                } else {
                    (p.clone().reshape([f, k]) * fac.clone().reshape([f, 1])).reshape([f * k])
                }
            })
            .collect();
        ParamVec { slots: self.slots.clone(), parts }
    }
    /// Per-part (per-layer) Euclidean norms.
    pub fn part_norms(&self) -> Vec<f64> {
        let pairs: Vec<_> = self.parts.iter().map(|p| (p, p)).collect();
        crate::fused::dots(&pairs).into_iter().map(f64::sqrt).collect()
    }

    /// A copy of `model` whose trainable parameters are `self` (fresh autodiff leaves when the
    /// model is on an autodiff device); ids, running state and everything else are kept.
    pub fn write_into<M: Module>(&self, model: M) -> M {
        let index: HashMap<ParamId, usize> = self.slots.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut w = Writer { index, vec: self, mode: Mode::Keep };
        model.map(&mut w)
    }
    /// Like [`write_into`](Self::write_into), but the written parameters always require
    /// gradients on an autodiff device, even in a model taken through `valid()` (gradients of a
    /// model in evaluation mode, for curvature).
    pub fn write_into_with_grad<M: Module>(&self, model: M) -> M {
        let index: HashMap<ParamId, usize> = self.slots.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut w = Writer { index, vec: self, mode: Mode::Grad };
        model.map(&mut w)
    }
    /// A copy of `model` (taken through `valid()`) whose trainable parameters are `self` as
    /// constants on the autodiff twin of its device: the direction model of an exact
    /// Hessian-vector product ([`crate::Classifier::logits_jvp`]).
    pub fn write_into_constant<M: Module>(&self, model: M) -> M {
        let index: HashMap<ParamId, usize> = self.slots.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let mut w = Writer { index, vec: self, mode: Mode::Constant };
        model.map(&mut w)
    }
    /// A Rademacher vector (i.i.d. ±1) of this layout, determined by `key`.
    pub fn rademacher(&self, key: u64) -> ParamVec {
        self.uniform(key, -1.0, 1.0).map(|_, p| p.sign())
    }
    /// All values on the host in f64 (exact for f64 parameters).
    pub fn to_host_f64(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.numel());
        for p in &self.parts {
            v.extend(p.to_data().convert::<f64>().try_to_vec::<f64>().expect("float data"));
        }
        v
    }
    /// A vector of this layout from f64 host values (slot order), on `device`.
    pub fn from_host_f64(&self, values: &[f64], device: &Device) -> ParamVec {
        assert_eq!(values.len(), self.numel(), "host vector length");
        let mut off = 0;
        self.map(|s, _| {
            let n = s.numel();
            let t = Tensor::<1>::from_data(burn::tensor::TensorData::new(values[off..off + n].to_vec(), [n]), device);
            off += n;
            t
        })
    }
}

/// How [`Writer`] places the values.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// On the parameter's device, keeping its gradient requirement.
    Keep,
    /// On the autodiff twin, requiring gradients.
    Grad,
    /// On the autodiff twin, as constants.
    Constant,
}

struct Writer<'a> {
    index: HashMap<ParamId, usize>,
    vec: &'a ParamVec,
    mode: Mode,
}

impl ModuleMapper for Writer<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(&i) = self.index.get(&param.id) else { return param };
        let (id, old, mapper) = param.consume();
        let shape: [usize; D] = old.dims();
        let device = old.device();
        let ad = old.is_autodiff();
        let req = old.is_require_grad();
        let flat = self.vec.parts[i].clone();
        let value: Tensor<D> = if self.mode == Mode::Keep && !ad {
            flat.to_device(&device).reshape(shape)
        } else {
            let inner_dev = device.clone().inner();
            let v = Tensor::from_inner(flat.to_device(&inner_dev).reshape(shape));
            let grad = match self.mode {
                Mode::Keep => req,
                Mode::Grad => true,
                Mode::Constant => false,
            };
            if grad { v.require_grad() } else { v }
        };
        Param::from_mapped_value(id, value, mapper)
    }
}

impl ParamVec {
    /// Each part's values on the host, in slot order.
    pub fn to_host_parts(&self) -> Vec<Vec<f32>> {
        self.parts.iter().map(|p| p.to_data().convert::<f32>().try_to_vec::<f32>().expect("float data")).collect()
    }
}
