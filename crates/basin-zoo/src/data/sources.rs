//! The named data sets basin knows and where their files live.
//!
//! | name            | files (plain or .gz)                                   | default dir               |
//! |-----------------|--------------------------------------------------------|---------------------------|
//! | `mnist-slice`   | the 2,000/1,000 MNIST slice bundled in the repo        | `data/mnist-slice`        |
//! | `mnist`         | `{train,t10k}-{images-idx3,labels-idx1}-ubyte`         | `data/full/mnist`         |
//! | `fashion-mnist` | same names as MNIST                                    | `data/full/fashion-mnist` |
//! | `cifar10`       | `data_batch_{1..5}.bin`, `test_batch.bin`              | `data/full/cifar10`       |
//! | `cifar100`      | `train.bin`, `test.bin`                                | `data/full/cifar100`      |
//!
//! CIFAR files may also sit in the archive's own sub-folder (`cifar-10-batches-bin/`,
//! `cifar-100-binary/`). Full sets are checked for their official counts.

use super::cifar::{CifarKind, read_cifar_bin};
use super::dataset::{Dataset, TrainTest};
use super::error::DataError;
use super::idx::read_idx;
use std::path::{Path, PathBuf};

/// Names accepted by [`load`].
pub const DATASET_NAMES: &[&str] = &["mnist-slice", "mnist", "fashion-mnist", "cifar10", "cifar100"];

/// The folder of the bundled MNIST slice inside this source tree (for tests and defaults when
/// the working directory is elsewhere).
pub fn bundled_slice_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist-slice"))
}

/// Default folder for a data set name, relative to the working directory.
pub fn default_dir(name: &str) -> PathBuf {
    match name {
        "mnist-slice" => {
            let local = PathBuf::from("data/mnist-slice");
            if local.is_dir() { local } else { bundled_slice_dir() }
        }
        other => PathBuf::from("data/full").join(other),
    }
}

/// Loads the named data set from `dir` (or its default folder).
pub fn load(name: &str, dir: Option<&Path>) -> Result<TrainTest, DataError> {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| default_dir(name));
    let tt = match name {
        "mnist-slice" => load_idx_pair(&dir, None)?,
        "mnist" | "fashion-mnist" => load_idx_pair(&dir, Some((60_000, 10_000)))?,
        "cifar10" => load_cifar(&dir, CifarKind::Cifar10)?,
        "cifar100" => load_cifar(&dir, CifarKind::Cifar100)?,
        other => {
            return Err(DataError::Invalid(format!(
                "data.name: unknown data set '{other}' (known: {})",
                DATASET_NAMES.join(", ")
            )));
        }
    };
    Ok(tt)
}

/// Finds `stem` in `dir` as `stem`, `stem.gz`, or with the last '-' written as '.'
/// (`train-images.idx3-ubyte`, the other spelling in circulation).
fn find_file(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    for name in [stem.to_string(), format!("{stem}.gz"), dotted.clone(), format!("{dotted}.gz")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::Invalid(format!(
        "{}: no file {stem} or {stem}.gz (run `basin data fetch` or pass --dir)",
        dir.display()
    )))
}

/// Reads an images file and its labels file and checks they agree.
pub fn load_idx_split(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let img = read_idx(images, 3)?;
    let lab = read_idx(labels, 1)?;
    if img.dims[0] != lab.dims[0] {
        return Err(DataError::corrupt(
            labels,
            format!("holds {} labels but {} holds {} images", lab.dims[0], images.display(), img.dims[0]),
        ));
    }
    if let Some((i, &l)) = lab.data.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(DataError::corrupt(labels, format!("label {l} at index {i} is outside 0..10")));
    }
    Ok(Dataset {
        images: img.data,
        labels: lab.data.iter().map(|&l| l as u16).collect(),
        channels: 1,
        height: img.dims[1],
        width: img.dims[2],
        num_classes: 10,
    })
}

fn load_idx_pair(dir: &Path, expected: Option<(usize, usize)>) -> Result<TrainTest, DataError> {
    let train = load_idx_split(&find_file(dir, "train-images-idx3-ubyte")?, &find_file(dir, "train-labels-idx1-ubyte")?)?;
    let test_images = find_file(dir, "t10k-images-idx3-ubyte")?;
    let test = load_idx_split(&test_images, &find_file(dir, "t10k-labels-idx1-ubyte")?)?;
    if (test.height, test.width) != (train.height, train.width) {
        return Err(DataError::corrupt(
            &test_images,
            format!("images are {}×{}, the training images {}×{}", test.height, test.width, train.height, train.width),
        ));
    }
    if train.is_empty() {
        return Err(DataError::corrupt(dir, "the training set holds no images"));
    }
    if let Some((n_train, n_test)) = expected {
        check_count(dir, "training", train.len(), n_train)?;
        check_count(dir, "test", test.len(), n_test)?;
    }
    Ok(TrainTest { train, test })
}

fn check_count(dir: &Path, what: &str, got: usize, want: usize) -> Result<(), DataError> {
    if got != want {
        return Err(DataError::corrupt(dir, format!("{what} set has {got} images, the official set has {want}")));
    }
    Ok(())
}

fn load_cifar(dir: &Path, kind: CifarKind) -> Result<TrainTest, DataError> {
    let (sub, train_files, test_file): (&str, Vec<String>, &str) = match kind {
        CifarKind::Cifar10 => ("cifar-10-batches-bin", (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(), "test_batch.bin"),
        CifarKind::Cifar100 => ("cifar-100-binary", vec!["train.bin".into()], "test.bin"),
    };
    let dir = if dir.join(sub).is_dir() { dir.join(sub) } else { dir.to_path_buf() };
    let read = |files: &[String]| -> Result<Dataset, DataError> {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for f in files {
            let p = dir.join(f);
            if !p.is_file() {
                return Err(DataError::Invalid(format!(
                    "{}: missing {f} (see `basin data fetch {}`)",
                    dir.display(),
                    if kind == CifarKind::Cifar10 { "cifar10" } else { "cifar100" }
                )));
            }
            read_cifar_bin(&p, kind, &mut images, &mut labels)?;
        }
        Ok(Dataset { images, labels, channels: 3, height: 32, width: 32, num_classes: kind.num_classes() })
    };
    let train = read(&train_files)?;
    let test = read(&[test_file.to_string()])?;
    check_count(&dir, "training", train.len(), 50_000)?;
    check_count(&dir, "test", test.len(), 10_000)?;
    Ok(TrainTest { train, test })
}
