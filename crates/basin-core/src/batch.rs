//! Batches as tensors, and the source of extra batches some estimators need.

use burn::tensor::{Device, Int, Tensor, TensorData};

/// A batch of images and their class indices, on one device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Images `[B, C, H, W]`.
    pub images: Tensor<4>,
    /// Class indices `[B]`.
    pub targets: Tensor<1, Int>,
}

impl Batch {
    /// Builds a batch from host data: `xs` holds `n` images of `shape` = [C, H, W].
    pub fn from_host(xs: Vec<f32>, ys: Vec<i64>, shape: [usize; 3], device: &Device) -> Batch {
        let n = ys.len();
        let [c, h, w] = shape;
        Batch {
            images: Tensor::from_data(TensorData::new(xs, [n, c, h, w]), device),
            targets: Tensor::from_data(TensorData::new(ys, [n]), device),
        }
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.dims()[0]
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
                Batch { images: self.images.clone().narrow(0, start, len), targets: self.targets.clone().narrow(0, start, len) }
            })
            .collect()
    }
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

/// A labelled image set the trainer can batch: any data source implements this.
pub trait ExampleSet {
    /// Number of examples.
    fn len(&self) -> usize;
    /// True when empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Image shape [C, H, W].
    fn shape(&self) -> [usize; 3];
    /// Copies examples `indices` into `xs` (images, CHW each) and `ys` (labels), clearing both
    /// first; with `augment`, applies the set's random augmentation drawn from that generator.
    fn gather(&self, indices: &[usize], augment: Option<&mut rand::rngs::StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>);
    /// The batch of `indices` on `device`.
    fn batch(&self, indices: &[usize], augment: Option<&mut rand::rngs::StdRng>, device: &Device) -> Batch {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        self.gather(indices, augment, &mut xs, &mut ys);
        Batch::from_host(xs, ys, self.shape(), device)
    }
}
