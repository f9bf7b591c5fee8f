//! Batches as tensors, and the source of extra batches some estimators need.

use burn::tensor::{Device, Int, Tensor, TensorData};

/// What a batch's outputs are fitted to: class indices for the cross-entropy, or real values
/// for the mean squared error (a regression set, e.g. an `.npz` whose `y` holds floats).
#[derive(Debug, Clone)]
pub enum Targets {
    /// Class indices `[B]`: the loss is the mean cross-entropy of the logits.
    Classes(Tensor<1, Int>),
    /// Real-valued targets `[B, T]`: the loss is the mean squared error over all `B·T`
    /// entries, as PyTorch's `nn.MSELoss()` (reduction `mean`) computes it.
    Values(Tensor<2>),
}

impl Targets {
    /// Number of examples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(t) => t.dims()[0],
            Targets::Values(t) => t.dims()[0],
        }
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Examples `start..start + len`.
    pub fn narrow(&self, start: usize, len: usize) -> Targets {
        match self {
            Targets::Classes(t) => Targets::Classes(t.clone().narrow(0, start, len)),
            Targets::Values(t) => Targets::Values(t.clone().narrow(0, start, len)),
        }
    }
    /// The class indices; `None` for real-valued targets.
    pub fn classes(&self) -> Option<&Tensor<1, Int>> {
        match self {
            Targets::Classes(t) => Some(t),
            Targets::Values(_) => None,
        }
    }
}

/// A batch of images (or feature vectors held as `[F, 1, 1]` images) and their targets, on one
/// device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Images `[B, C, H, W]`.
    pub images: Tensor<4>,
    /// Class indices `[B]` or real values `[B, T]`.
    pub targets: Targets,
}

impl Batch {
    /// Builds a batch from host data: `xs` holds `n` images of `shape` = [C, H, W].
    pub fn from_host(xs: Vec<f32>, ys: Vec<i64>, shape: [usize; 3], device: &Device) -> Batch {
        let n = ys.len();
        Batch { images: images(xs, n, shape, device), targets: Targets::Classes(Tensor::from_data(TensorData::new(ys, [n]), device)) }
    }
    /// Builds a regression batch: `xs` holds `n` images of `shape`, `vs` their `n × width`
    /// targets, row-major.
    pub fn from_host_values(xs: Vec<f32>, vs: Vec<f32>, width: usize, shape: [usize; 3], device: &Device) -> Batch {
        let n = vs.len() / width.max(1);
        Batch { images: images(xs, n, shape, device), targets: Targets::Values(Tensor::from_data(TensorData::new(vs, [n, width]), device)) }
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }
    /// True when the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Consecutive chunks of `size` examples (the last one smaller): ghost batches.
    pub fn split(&self, size: usize) -> Vec<Batch> {
        let n = self.len();
        (0..n.div_ceil(size.max(1)))
            .map(|c| {
                let (start, len) = (c * size, size.min(n - c * size));
                Batch { images: self.images.clone().narrow(0, start, len), targets: self.targets.narrow(start, len) }
            })
            .collect()
    }
}

fn images(xs: Vec<f32>, n: usize, [c, h, w]: [usize; 3], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(xs, [n, c, h, w]), device)
}

/// Where an estimator gets an *independent* extra batch (noise enhancement's B'); the trainer
/// implements it with its own seeded stream so runs stay reproducible and resumable. `B` is the
/// task's batch type (image batches by default).
pub trait BatchSource<B = Batch> {
    /// An independent batch of `size` examples, drawn for `step`.
    fn extra_batch(&mut self, size: usize, step: u64) -> B;
    /// The training set itself, for estimators that measure curvature on a fixed subset of it
    /// (Nudged SGD); `None` where there is none.
    fn examples(&self) -> Option<&dyn ExampleSet> {
        None
    }
    /// Steps per epoch of the run (0 when unknown).
    fn steps_per_epoch(&self) -> u64 {
        0
    }
}

/// A labelled image set the trainer can batch: any data source implements this. Its targets are
/// class labels, or real values when [`target_width`](Self::target_width) says so.
pub trait ExampleSet {
    /// Number of examples.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Image shape [C, H, W].
    fn shape(&self) -> [usize; 3];
    /// Copies examples `indices` into `xs` (images, CHW each) and `ys` (labels; left empty by a
    /// regression set), clearing both first; with `augment`, applies the set's random augmentation drawn from that generator.
    fn gather(&self, indices: &[usize], augment: Option<&mut rand::rngs::StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>);
    /// The width `T` of the real-valued targets of a regression set (fitted by the mean squared
    /// error); `None` (the default) for class labels.
    fn target_width(&self) -> Option<usize> {
        None
    }
    /// Copies the real-valued targets at `indices` into `vs` (cleared first), `T` per example;
    /// called only when [`target_width`](Self::target_width) is `Some` (the default, for sets of
    /// class labels, is never called).
    fn gather_values(&self, indices: &[usize], vs: &mut Vec<f32>) {
        let _ = (indices, vs);
        unreachable!("ExampleSet::gather_values on a set of class labels")
    }
    /// The batch of `indices` on `device`.
    fn batch(&self, indices: &[usize], augment: Option<&mut rand::rngs::StdRng>, device: &Device) -> Batch {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        self.gather(indices, augment, &mut xs, &mut ys);
        match self.target_width() {
            None => Batch::from_host(xs, ys, self.shape(), device),
            Some(width) => {
                let mut vs = Vec::new();
                self.gather_values(indices, &mut vs);
                Batch::from_host_values(xs, vs, width, self.shape(), device)
            }
        }
    }
}
