//! An in-memory image classification data set (images as bytes, labels as class indices).

use super::error::DataError;

/// Images (C×H×W bytes each, concatenated) and their labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Pixel bytes, image after image, each `channels × height × width` (CHW).
    pub images: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u16>,
    /// Channels per image (1 for MNIST, 3 for CIFAR).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes.
    pub num_classes: usize,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per image: `channels × height × width`.
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }
    /// Count of images per class.
    pub fn label_histogram(&self) -> Vec<usize> {
        let mut h = vec![0; self.num_classes];
        for &l in &self.labels {
            h[l as usize] += 1;
        }
        h
    }
    /// The images at `indices`, as a new data set (used for validation splits and subsets).
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let s = self.image_size();
        let mut images = Vec::with_capacity(indices.len() * s);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(&self.images[i * s..(i + 1) * s]);
            labels.push(self.labels[i]);
        }
        Dataset { images, labels, ..self.shape_only() }
    }
    /// The first `n` images (or all if fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        self.select(&(0..n).collect::<Vec<_>>())
    }
    fn shape_only(&self) -> Dataset {
        Dataset {
            images: Vec::new(),
            labels: Vec::new(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            num_classes: self.num_classes,
        }
    }
    /// Splits off a held-out validation set of `n_val` images chosen by a seeded permutation;
    /// returns (train, validation). Deterministic in `seed`.
    pub fn split_validation(&self, n_val: usize, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        if n_val >= self.len() {
            return Err(DataError::Invalid(format!(
                "data.validation = {n_val} leaves no training image (the set has {})",
                self.len()
            )));
        }
        let (train, val) = validation_split(self.len(), n_val, seed);
        Ok((self.select(&train), self.select(&val)))
    }
}

/// The (train, validation) indices of a set of `n` examples with `n_val` held out by a seeded
/// permutation, each sorted (`data.validation`, for image files and arrays alike).
pub fn validation_split(n: usize, n_val: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let perm = super::shuffle::permutation(n, seed ^ 0x5EED_7A11);
    let (val, train) = perm.split_at(n_val.min(n));
    let (mut train, mut val) = (train.to_vec(), val.to_vec());
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// A training set and a test set of the same shape.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// Training images.
    pub train: Dataset,
    /// Test images.
    pub test: Dataset,
}
