//! Readers on the bundled real MNIST slice and on files written in the official formats,
//! including corrupt and truncated ones.

use basin_zoo::data::cifar::CifarKind;
use basin_zoo::data::sources::bundled_slice_dir;
use basin_zoo::data::{self, DataError, Normalization, PreparedSet};
use std::io::Write;
use std::path::Path;

#[test]
fn bundled_slice_has_exact_counts_and_label_histogram() {
    let tt = data::load("mnist-slice", Some(&bundled_slice_dir())).unwrap();
    assert_eq!(tt.train.len(), 10_000);
    assert_eq!(tt.test.len(), 2_000);
    assert_eq!((tt.train.channels, tt.train.height, tt.train.width), (1, 28, 28));
    // The first 10,000 / 2,000 images of the official files (counted independently with Python
    // when the slice was made: scripts/make_mnist_slice.py).
    assert_eq!(tt.train.label_histogram(), vec![1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    assert_eq!(tt.test.label_histogram(), vec![175, 234, 219, 207, 217, 179, 178, 205, 192, 194]);
}

#[test]
fn normalization_matches_mnist_statistics() {
    let tt = data::load("mnist-slice", Some(&bundled_slice_dir())).unwrap();
    let n = Normalization::fit(&tt.train);
    // MNIST's well-known statistics are mean 0.1307, std 0.3081 on the full training set.
    assert!((n.mean[0] - 0.1307).abs() < 0.003, "mean {}", n.mean[0]);
    assert!((n.std[0] - 0.3081).abs() < 0.003, "std {}", n.std[0]);
    let p = PreparedSet::new(&tt.train, &n);
    let mean: f64 = p.x.iter().map(|&v| v as f64).sum::<f64>() / p.x.len() as f64;
    assert!(mean.abs() < 1e-4);
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::File::create(path).unwrap().write_all(bytes).unwrap();
}

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend((0..n * rows * cols).map(|i| (i % 251) as u8));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

fn err_text(e: DataError) -> String {
    e.to_string()
}

#[test]
fn idx_errors_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("imgs");
    let lab = d.path().join("labs");
    write(&img, &idx_images(3, 4, 4));
    write(&lab, &idx_labels(&[1, 2, 3]));
    let ok = data::sources::load_idx_split(&img, &lab).unwrap();
    assert_eq!(ok.len(), 3);
    assert_eq!(ok.images.len(), 48);

    // truncated: one byte missing
    let mut t = idx_images(3, 4, 4);
    t.pop();
    write(&img, &t);
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("imgs") && e.contains("truncated"), "{e}");

    // bad magic
    let mut m = idx_images(3, 4, 4);
    m[2] = 9;
    write(&img, &m);
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("imgs") && e.contains("magic"), "{e}");

    // labels / images count mismatch
    write(&img, &idx_images(3, 4, 4));
    write(&lab, &idx_labels(&[1, 2]));
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("labs") && e.contains("2 labels"), "{e}");

    // label out of range
    write(&lab, &idx_labels(&[1, 12, 3]));
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("labs") && e.contains("label 12"), "{e}");

    // corrupt gzip
    write(&img, &[0x1f, 0x8b, 1, 2, 3]);
    write(&lab, &idx_labels(&[1, 2, 3]));
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("imgs") && e.contains("gzip"), "{e}");
}

fn cifar_records(n: usize, kind: CifarKind) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        if kind == CifarKind::Cifar100 {
            v.push((i % 20) as u8); // coarse
        }
        v.push((i % kind.num_classes()) as u8);
        v.extend((0..3072).map(|p| ((p + i) % 256) as u8));
    }
    v
}

#[test]
fn cifar10_binary_reads_and_checks_records() {
    let d = tempfile::tempdir().unwrap();
    let sub = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&sub).unwrap();
    for i in 1..=5 {
        write(&sub.join(format!("data_batch_{i}.bin")), &cifar_records(10_000, CifarKind::Cifar10));
    }
    write(&sub.join("test_batch.bin"), &cifar_records(10_000, CifarKind::Cifar10));
    let tt = data::load("cifar10", Some(d.path())).unwrap();
    assert_eq!((tt.train.len(), tt.test.len()), (50_000, 10_000));
    assert_eq!(tt.train.label_histogram(), vec![5_000; 10]);
    // first pixel of the red plane of record 3 is (0 + 3) % 256
    assert_eq!(tt.train.images[3 * 3072], 3);

    // truncated last record
    let mut t = cifar_records(10_000, CifarKind::Cifar10);
    t.truncate(t.len() - 100);
    write(&sub.join("test_batch.bin"), &t);
    let e = data::load("cifar10", Some(d.path())).unwrap_err().to_string();
    assert!(e.contains("test_batch.bin") && e.contains("3073-byte"), "{e}");
}

#[test]
fn cifar100_uses_the_fine_label_and_checks_its_range() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("train.bin"), &cifar_records(50_000, CifarKind::Cifar100));
    write(&d.path().join("test.bin"), &cifar_records(10_000, CifarKind::Cifar100));
    let tt = data::load("cifar100", Some(d.path())).unwrap();
    assert_eq!(tt.train.num_classes, 100);
    assert_eq!(tt.train.labels[57], 57);
    assert_eq!(tt.train.label_histogram(), vec![500; 100]);
    let mut bad = cifar_records(10_000, CifarKind::Cifar100);
    bad[1] = 150; // fine label of record 0
    write(&d.path().join("test.bin"), &bad);
    let e = data::load("cifar100", Some(d.path())).unwrap_err().to_string();
    assert!(e.contains("test.bin") && e.contains("label 150"), "{e}");
}

#[test]
fn validation_split_is_deterministic_and_disjoint() {
    let tt = data::load("mnist-slice", Some(&bundled_slice_dir())).unwrap();
    let (a, va) = tt.train.split_validation(1000, 7).unwrap();
    let (b, vb) = tt.train.split_validation(1000, 7).unwrap();
    let (_, vc) = tt.train.split_validation(1000, 8).unwrap();
    assert_eq!((a.len(), va.len()), (9000, 1000));
    assert_eq!(va.images, vb.images);
    assert_eq!(a.labels, b.labels);
    assert_ne!(va.images, vc.images);
    let total: Vec<usize> = a.label_histogram().iter().zip(va.label_histogram()).map(|(x, y)| x + y).collect();
    assert_eq!(total, tt.train.label_histogram());
    assert!(tt.train.split_validation(10_000, 0).is_err());
}

#[test]
fn augmentation_is_a_shifted_padded_crop() {
    use rand::SeedableRng;
    let tt = data::load("mnist-slice", Some(&bundled_slice_dir())).unwrap();
    let p = PreparedSet::new(&tt.train.take(50), &Normalization::identity(1));
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    p.gather(&[0, 1, 2, 3, 4, 5, 6, 7], Some(&mut rng), &mut xs, &mut ys);
    assert_eq!(xs.len(), 8 * 784);
    // Every augmented image equals its source shifted by some (dy, dx) ∈ [-4, 4]², possibly
    // mirrored, with zero padding: search all 162 candidates.
    for k in 0..8 {
        let src = &p.x[k * 784..(k + 1) * 784];
        let out = &xs[k * 784..(k + 1) * 784];
        let mut found = false;
        for flip in [false, true] {
            for dy in -4i32..=4 {
                for dx in -4i32..=4 {
                    let ok = (0..28i32).all(|r| {
                        (0..28i32).all(|c| {
                            let cc = if flip { 27 - c } else { c };
                            let (sr, sc) = (r + dy, cc + dx);
                            let v = if (0..28).contains(&sr) && (0..28).contains(&sc) { src[(sr * 28 + sc) as usize] } else { 0.0 };
                            out[(r * 28 + c) as usize] == v
                        })
                    });
                    found |= ok;
                }
            }
        }
        assert!(found, "image {k} is not a padded crop of its source");
    }
}

/// Issue 13: zero or overflowing IDX dimensions, and test images of another size than the
/// training images, are one-line errors naming the file (they panicked or passed silently).
#[test]
fn idx_zero_or_overflowing_dimensions_and_mismatched_sizes_name_the_file() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("imgs");
    let lab = d.path().join("labs");
    write(&lab, &idx_labels(&[1, 2, 3]));
    write(&img, &idx_images(3, 0, 4));
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("imgs") && e.contains("is 0"), "{e}");
    let mut h = vec![0, 0, 8, 3];
    for _ in 0..3 {
        h.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    write(&img, &h);
    let e = err_text(data::sources::load_idx_split(&img, &lab).unwrap_err());
    assert!(e.contains("imgs") && e.contains("overflow"), "{e}");

    // a data folder whose test images are 5×5 while the training images are 4×4
    let dir = d.path().join("mnist");
    std::fs::create_dir(&dir).unwrap();
    write(&dir.join("train-images-idx3-ubyte"), &idx_images(3, 4, 4));
    write(&dir.join("train-labels-idx1-ubyte"), &idx_labels(&[1, 2, 3]));
    write(&dir.join("t10k-images-idx3-ubyte"), &idx_images(2, 5, 5));
    write(&dir.join("t10k-labels-idx1-ubyte"), &idx_labels(&[0, 1]));
    let e = data::load("mnist", Some(&dir)).unwrap_err().to_string();
    assert!(e.contains("t10k-images") && e.contains("5×5") && e.lines().count() == 1, "{e}");
}
