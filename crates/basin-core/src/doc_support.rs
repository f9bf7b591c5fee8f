//! A tiny model and data set for the doctests of the entry points (`train`, `train_with`,
//! `top_eigen`, `Objective`), so each example runs in milliseconds without `basin-zoo`.
//! Not part of the API.

use crate::batch::ExampleSet;
use crate::model::Classifier;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Two classes in four features: class i % 2, its features ±1 with a deterministic wobble.
pub struct Blobs(pub usize);

impl ExampleSet for Blobs {
    fn len(&self) -> usize {
        self.0
    }
    fn shape(&self) -> [usize; 3] {
        [1, 1, 4]
    }
    fn gather(&self, indices: &[usize], _augment: Option<&mut rand::rngs::StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>) {
        xs.clear();
        ys.clear();
        for &i in indices {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            xs.extend((0..4).map(|j| sign + 0.8 * ((i * 7 + j * 3) as f32).sin()));
            ys.push((i % 2) as i64);
        }
    }
}

/// Logistic regression on the four features, with its tangent pass (so it has the exact
/// Hessian): z = xW + b, ż = x·V_W + v_b.
#[derive(Module, Debug)]
pub struct LinearNet {
    linear: Linear,
}

impl LinearNet {
    /// A fresh one on `device`.
    pub fn new(device: &Device) -> LinearNet {
        LinearNet { linear: LinearConfig::new(4, 2).init(device) }
    }
}

impl Classifier for LinearNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.linear.forward(images.flatten(1, 3))
    }
    fn logits_jvp(&self, dir: &Self, images: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        let x: Tensor<2> = images.flatten(1, 3);
        let dz = x.clone().matmul(dir.linear.weight.val()) + dir.linear.bias.as_ref().expect("a bias").val().unsqueeze();
        Some((self.linear.forward(x), dz))
    }
}
