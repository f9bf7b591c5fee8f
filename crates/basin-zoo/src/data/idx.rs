//! IDX files (LeCun's MNIST format, also Fashion-MNIST), plain or gzip-compressed.
//!
//! Layout: a 4-byte magic `0x00 0x00 <type> <ndim>` (type 0x08 = unsigned byte), then `ndim`
//! big-endian u32 dimensions, then the data. Images are magic 0x00000803 (N×rows×cols),
//! labels 0x00000801 (N).

use super::error::DataError;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// Reads a whole file, transparently gunzipping it when it starts with the gzip magic bytes.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 4);
        GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| DataError::corrupt(path, format!("bad gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// An IDX array of unsigned bytes: its dimensions and its data.
#[derive(Debug, Clone)]
pub struct IdxArray {
    /// Dimensions, outermost first (N, then rows, cols for images).
    pub dims: Vec<usize>,
    /// The bytes, row-major.
    pub data: Vec<u8>,
}

/// Parses an IDX array of unsigned bytes with exactly `ndim` dimensions, checking the magic
/// number and that the file holds exactly the bytes its header announces.
pub fn read_idx(path: &Path, ndim: usize) -> Result<IdxArray, DataError> {
    let bytes = read_maybe_gz(path)?;
    if bytes.len() < 4 {
        return Err(DataError::corrupt(path, "file too short for an IDX header"));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(DataError::corrupt(
            path,
            format!(
                "bad IDX magic number {:02x}{:02x}{:02x}{:02x} (expected 000008{:02x})",
                bytes[0], bytes[1], bytes[2], bytes[3], ndim
            ),
        ));
    }
    if bytes[3] as usize != ndim {
        return Err(DataError::corrupt(
            path,
            format!("IDX file has {} dimensions, expected {ndim}", bytes[3]),
        ));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(DataError::corrupt(path, "file too short for its IDX dimensions"));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    if let Some(i) = dims.iter().skip(1).position(|&d| d == 0) {
        return Err(DataError::corrupt(path, format!("dimension {} of {dims:?} is 0", i + 1)));
    }
    let Some(expected) = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)) else {
        return Err(DataError::corrupt(path, format!("dimensions {dims:?} overflow")));
    };
    let actual = bytes.len() - header;
    if actual != expected {
        return Err(DataError::corrupt(
            path,
            format!(
                "truncated or padded: header announces {dims:?} = {expected} bytes, file holds {actual}"
            ),
        ));
    }
    Ok(IdxArray { dims, data: bytes[header..].to_vec() })
}
