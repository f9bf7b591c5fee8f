//! CIFAR-10 / CIFAR-100 in the official *binary version* (Krizhevsky, 2009).
//!
//! CIFAR-10 records are 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major
//! 32×32), 10,000 records per batch file. CIFAR-100 records carry 2 label bytes (coarse, fine)
//! before the pixels; basin uses the fine label (100 classes).

use super::error::DataError;
use super::idx::read_maybe_gz;
use std::path::Path;

/// Which CIFAR variant a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// 10 classes, 1 label byte per record.
    Cifar10,
    /// 100 fine classes, 2 label bytes (coarse, fine) per record.
    Cifar100,
}

impl CifarKind {
    /// Label bytes before the pixels of each record.
    pub fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }
    /// Number of classes of the label basin uses.
    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }
}

/// Bytes of one image: 3 channels × 32 × 32.
pub const CIFAR_PIXELS: usize = 3 * 32 * 32;

/// Reads one binary batch file, appending its images (CHW bytes) and labels.
/// The file size must be a whole number of records and every label in range.
pub fn read_cifar_bin(
    path: &Path,
    kind: CifarKind,
    images: &mut Vec<u8>,
    labels: &mut Vec<u16>,
) -> Result<usize, DataError> {
    let bytes = read_maybe_gz(path)?;
    let record = kind.label_bytes() + CIFAR_PIXELS;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(DataError::corrupt(
            path,
            format!(
                "size {} is not a whole number of {record}-byte {:?} records (truncated or wrong variant)",
                bytes.len(),
                kind
            ),
        ));
    }
    let n = bytes.len() / record;
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        let label = rec[kind.label_bytes() - 1] as usize;
        if label >= kind.num_classes() {
            return Err(DataError::corrupt(
                path,
                format!("record {i} has label {label}, outside 0..{}", kind.num_classes()),
            ));
        }
        labels.push(label as u16);
        images.extend_from_slice(&rec[kind.label_bytes()..]);
    }
    Ok(n)
}
