//! Property tests of the data readers (issue 13): random, truncated and bit-flipped IDX files
//! (raw and gzip) and CIFAR binary records give a data set or a clean error naming the file,
//! never a panic. Cases: `PROPTEST_CASES` (proptest's default 256 in CI; README for the local
//! counts).

use basin_zoo::data::cifar::{CifarKind, read_cifar_bin};
use basin_zoo::data::sources::load_idx_split;
use proptest::prelude::*;
use std::io::Write;
use std::path::Path;

fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, rows, cols] {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend((0..n * rows * cols).map(|i| (i % 251) as u8));
    v
}

fn idx_labels(n: u32) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A valid file mutated: truncated to `cut` bytes (when shorter), `flips` bits flipped, and
/// optionally gzip-compressed (before or after the damage).
fn damaged(valid: &[u8], cut: usize, flips: &[(usize, u8)], gz: u8) -> Vec<u8> {
    let mut b = if gz == 1 { gzip(valid) } else { valid.to_vec() };
    b.truncate(cut.max(1).min(b.len()));
    for &(i, bit) in flips {
        if !b.is_empty() {
            let i = i % b.len();
            b[i] ^= 1 << (bit % 8);
        }
    }
    if gz == 2 { gzip(&b) } else { b }
}

fn idx_case(dir: &Path, images: &[u8], labels: &[u8]) -> Result<(), TestCaseError> {
    let (img, lab) = (dir.join("images"), dir.join("labels"));
    std::fs::write(&img, images).unwrap();
    std::fs::write(&lab, labels).unwrap();
    if let Err(e) = load_idx_split(&img, &lab) {
        let m = e.to_string();
        prop_assert!(m.contains("images") || m.contains("labels"), "error does not name the file: {m}");
        prop_assert_eq!(m.lines().count(), 1);
    }
    Ok(())
}

proptest! {
    #[test]
    fn damaged_idx_files_read_or_fail_cleanly(n in 0u32..6, rows in 0u32..5, cols in 0u32..5, cut in 0usize..200, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4), gz in 0u8..3, which in 0u8..3) {
        let dir = tempfile::tempdir().unwrap();
        let (img, lab) = (idx_images(n, rows, cols), idx_labels(n));
        let (img, lab) = match which {
            0 => (damaged(&img, cut, &flips, gz), lab),
            1 => (img, damaged(&lab, cut, &flips, gz)),
            _ => (damaged(&img, cut, &flips, gz), damaged(&lab, cut, &flips, gz)),
        };
        idx_case(dir.path(), &img, &lab)?;
    }

    #[test]
    fn random_bytes_as_idx_read_or_fail_cleanly(a in prop::collection::vec(any::<u8>(), 0..64), b in prop::collection::vec(any::<u8>(), 0..64), header in any::<[u8; 4]>()) {
        let dir = tempfile::tempdir().unwrap();
        // half the time behind a plausible magic, so the dimension parsing is reached
        let mut a2 = vec![0, 0, 8, 3];
        a2.extend_from_slice(&header);
        a2.extend_from_slice(&a);
        idx_case(dir.path(), &a2, &b)?;
        idx_case(dir.path(), &a, &b)?;
    }

    #[test]
    fn damaged_cifar_records_read_or_fail_cleanly(records in 0usize..3, cut in 0usize..7000, flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4), hundred in any::<bool>()) {
        let kind = if hundred { CifarKind::Cifar100 } else { CifarKind::Cifar10 };
        let rec = kind.label_bytes() + 3072;
        let valid: Vec<u8> = (0..records * rec).map(|i| if i % rec < kind.label_bytes() { (i % 10) as u8 } else { (i % 256) as u8 }).collect();
        let b = damaged(&valid, cut, &flips, 0);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("batch.bin");
        std::fs::write(&p, &b).unwrap();
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        if let Err(e) = read_cifar_bin(&p, kind, &mut images, &mut labels) {
            let m = e.to_string();
            prop_assert!(m.contains("batch.bin"), "{}", m);
        }
    }
}

/// The `.npz` of the ONNX fixtures (real NumPy output: `numpy.savez` and `savez_compressed`).
fn npz_fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx").join(name)).unwrap()
}

proptest! {
    /// NumPy arrays (`--npz`): a truncated, bit-flipped or overwritten `.npz` (stored or
    /// deflated) gives arrays or an error naming the file, never a panic or a huge allocation.
    #[test]
    fn npz_never_panics(which in 0u8..2, cut in 0usize..300_000, flips in prop::collection::vec((0usize..300_000, 0u8..8), 0..6), overwrite in prop::collection::vec((0usize..300_000, any::<u8>()), 0..4)) {
        let valid = npz_fixture(if which == 0 { "data.npz" } else { "train.npz" });
        let mut b = damaged(&valid, cut, &flips, 0);
        for &(i, v) in &overwrite {
            if !b.is_empty() {
                let n = b.len();
                b[i % n] = v;
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npz");
        std::fs::write(&p, &b).unwrap();
        match basin_zoo::data::arrays::read_npz(&p) {
            Ok(a) => prop_assert!(!a.train.is_empty()),
            Err(e) => prop_assert!(e.to_string().contains("a.npz"), "{e}"),
        }
    }
}
