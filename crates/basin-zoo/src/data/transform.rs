//! Per-channel normalization and the standard CIFAR augmentation (pad 4, random 32×32 crop,
//! random horizontal flip), applied while a batch is assembled.

use super::dataset::Dataset;
use rand::RngExt;
use rand::rngs::StdRng;

/// Per-channel mean and standard deviation of pixel/255, estimated on a training set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel.
    pub std: Vec<f32>,
}

impl Normalization {
    /// Statistics of `data`, channel by channel (computed in f64).
    pub fn fit(data: &Dataset) -> Normalization {
        let hw = data.height * data.width;
        let mut sum = vec![0f64; data.channels];
        let mut sq = vec![0f64; data.channels];
        for img in data.images.chunks_exact(data.image_size()) {
            for c in 0..data.channels {
                for &p in &img[c * hw..(c + 1) * hw] {
                    let v = p as f64 / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
        }
        let n = (data.len() * hw).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let std = sq
            .iter()
            .zip(&mean)
            .map(|(q, m)| ((q / n - m * m).max(1e-12)).sqrt() as f32)
            .collect();
        Normalization { mean: mean.iter().map(|&m| m as f32).collect(), std }
    }
    /// Identity normalization (mean 0, std 1) for `channels` channels.
    pub fn identity(channels: usize) -> Normalization {
        Normalization { mean: vec![0.0; channels], std: vec![1.0; channels] }
    }
}

/// A data set with its images normalized once into f32, ready to be batched.
#[derive(Debug, Clone)]
pub struct PreparedSet {
    /// Normalized images, CHW each.
    pub x: Vec<f32>,
    /// Labels as i64 (what the loss takes); empty for a regression set.
    pub y: Vec<i64>,
    /// Real-valued targets of a regression set, `num_classes` per example, row-major (fitted
    /// by the mean squared error); `None` for a set of class labels.
    pub values: Option<Vec<f32>>,
    /// Channels, height, width.
    pub shape: [usize; 3],
    /// Number of classes; for a regression set, the width T of its targets. Either way, the
    /// number of outputs the network must give.
    pub num_classes: usize,
    /// The value a zero pixel takes after normalization, per channel (padding for crops).
    pad_value: Vec<f32>,
}

impl PreparedSet {
    /// Examples given as arrays, used as they are (the user's own normalization): `x` holds
    /// `y.len()` items of `shape` (C, H, W; features as `[F, 1, 1]`), row-major.
    ///
    /// # Panics
    /// If `x` does not hold `y.len()` items of `shape` (the npz reader checks it first).
    pub fn from_arrays(x: Vec<f32>, y: Vec<i64>, shape: [usize; 3], num_classes: usize) -> PreparedSet {
        assert_eq!(x.len(), y.len() * shape.iter().product::<usize>(), "PreparedSet::from_arrays: x and y disagree");
        PreparedSet { x, y, values: None, shape, num_classes, pad_value: vec![0.0; shape[0]] }
    }

    /// A regression set given as arrays, used as they are: `x` as in
    /// [`from_arrays`](Self::from_arrays), `values` the `width` real targets of each item.
    ///
    /// # Panics
    /// If `x` and `values` do not hold the same number of items.
    pub fn from_regression_arrays(x: Vec<f32>, values: Vec<f32>, width: usize, shape: [usize; 3]) -> PreparedSet {
        let n = values.len() / width.max(1);
        assert_eq!((x.len(), values.len()), (n * shape.iter().product::<usize>(), n * width), "PreparedSet::from_regression_arrays: x and the targets disagree");
        PreparedSet { x, y: Vec::new(), values: Some(values), shape, num_classes: width, pad_value: vec![0.0; shape[0]] }
    }

    /// The examples at `indices` (subsets and validation splits of arrays).
    pub fn select(&self, indices: &[usize]) -> PreparedSet {
        let s = self.example_size();
        let x = rows(&self.x, s, indices).collect();
        let y = if self.y.is_empty() { Vec::new() } else { indices.iter().map(|&i| self.y[i]).collect() };
        let values = self.values.as_ref().map(|v| rows(v, self.num_classes, indices).collect());
        PreparedSet { x, y, values, shape: self.shape, num_classes: self.num_classes, pad_value: self.pad_value.clone() }
    }

    /// Normalizes every image of `data` with `norm`.
    pub fn new(data: &Dataset, norm: &Normalization) -> PreparedSet {
        let hw = data.height * data.width;
        let mut x = Vec::with_capacity(data.images.len());
        for img in data.images.chunks_exact(data.image_size()) {
            for c in 0..data.channels {
                let (m, s) = (norm.mean[c], norm.std[c]);
                x.extend(img[c * hw..(c + 1) * hw].iter().map(|&p| (p as f32 / 255.0 - m) / s));
            }
        }
        PreparedSet {
            x,
            values: None,
            y: data.labels.iter().map(|&l| l as i64).collect(),
            shape: [data.channels, data.height, data.width],
            num_classes: data.num_classes,
            pad_value: norm.mean.iter().zip(&norm.std).map(|(m, s)| -m / s).collect(),
        }
    }
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.x.len() / self.example_size().max(1)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per example.
    pub fn example_size(&self) -> usize {
        self.shape.iter().product()
    }
    /// Copies the examples at `indices` into `xs`/`ys` (cleared first). With `augment`, each
    /// image is zero-padded by 4 pixels, randomly cropped back and flipped with probability ½.
    pub fn gather(&self, indices: &[usize], augment: Option<&mut StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>) {
        let s = self.example_size();
        xs.clear();
        ys.clear();
        xs.reserve(indices.len() * s);
        if !self.y.is_empty() {
            ys.extend(indices.iter().map(|&i| self.y[i]));
        }
        match augment {
            None => {
                for &i in indices {
                    xs.extend_from_slice(&self.x[i * s..(i + 1) * s]);
                }
            }
            Some(rng) => {
                for &i in indices {
                    let dy = rng.random_range(0..=8) as isize - 4;
                    let dx = rng.random_range(0..=8) as isize - 4;
                    let flip = rng.random_bool(0.5);
                    self.push_shifted(&self.x[i * s..(i + 1) * s], dy, dx, flip, xs);
                }
            }
        }
    }
    /// Appends `img` translated by (dy, dx) with padding, optionally mirrored left-right: this is
    /// exactly a crop of the 4-padded image at offset (4+dy, 4+dx).
    fn push_shifted(&self, img: &[f32], dy: isize, dx: isize, flip: bool, out: &mut Vec<f32>) {
        let [c, h, w] = self.shape;
        for ch in 0..c {
            let plane = &img[ch * h * w..(ch + 1) * h * w];
            for r in 0..h as isize {
                let sr = r + dy;
                for col in 0..w as isize {
                    let col = if flip { w as isize - 1 - col } else { col };
                    let sc = col + dx;
                    let v = if sr >= 0 && sr < h as isize && sc >= 0 && sc < w as isize {
                        plane[sr as usize * w + sc as usize]
                    } else {
                        self.pad_value[ch]
                    };
                    out.push(v);
                }
            }
        }
    }
}

/// The rows `indices` of `data`, a row-major array of rows of `width` values.
fn rows<'a>(data: &'a [f32], width: usize, indices: &'a [usize]) -> impl Iterator<Item = f32> + 'a {
    indices.iter().flat_map(move |&i| data[i * width..(i + 1) * width].iter().copied())
}

impl basin_core::batch::ExampleSet for PreparedSet {
    fn len(&self) -> usize {
        PreparedSet::len(self)
    }
    fn target_width(&self) -> Option<usize> {
        self.values.is_some().then_some(self.num_classes)
    }
    fn gather_values(&self, indices: &[usize], vs: &mut Vec<f32>) {
        vs.clear();
        vs.extend(rows(self.values.as_ref().expect("gather_values on a set of class labels"), self.num_classes, indices));
    }
    fn shape(&self) -> [usize; 3] {
        self.shape
    }
    fn gather(&self, indices: &[usize], augment: Option<&mut StdRng>, xs: &mut Vec<f32>, ys: &mut Vec<i64>) {
        PreparedSet::gather(self, indices, augment, xs, ys)
    }
}
