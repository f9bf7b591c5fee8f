//! A data set given as NumPy arrays: an `.npz` archive with arrays `x`, `y` and optionally
//! `x_test`, `y_test` (what `numpy.savez(F, x=…, y=…)` writes), or a pair of `.npy` files.
//!
//! `x` holds images `[N, C, H, W]` or features `[N, F]` (held as `[F, 1, 1]` images), float32
//! or float64, used as given: the user's own normalization. `y` holds integer class labels
//! (any NumPy integer type) for the cross-entropy, or float targets `[N]` or `[N, T]` for the
//! mean squared error (a regression set; the network must give T outputs). Every check names the array: a shape that
//! does not match, a dtype basin does not read, a label out of range, a value that is not
//! finite. Read with `npyz` and `zip` (pure Rust); a header is checked against the bytes
//! that follow it before anything is allocated.

use super::error::DataError;
use super::transform::PreparedSet;
use std::io::Read;
use std::path::Path;

/// Arrays read from a file: training examples and, when the file has them, test examples.
#[derive(Debug, Clone)]
pub struct Arrays {
    /// `x`, `y`.
    pub train: PreparedSet,
    /// `x_test`, `y_test` (None when the file has neither).
    pub test: Option<PreparedSet>,
}

/// One array: shape and values.
enum Data {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// Reads `name` from `bytes` (an `.npy` file's contents); errors name `what`.
fn parse(bytes: &[u8], what: &str, path: &Path) -> Result<(Vec<usize>, Data), DataError> {
    let bad = |m: String| DataError::corrupt(path, format!("array '{what}': {m}"));
    let npy = npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not a NumPy array ({e})")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad(format!("shape {shape:?} is too large")))?;
    let descr = npy.dtype().descr().trim_matches(|c| c == '\'' || c == '"').to_string();
    let width: usize = descr.get(2..).and_then(|w| w.parse().ok()).unwrap_or(0);
    if n.checked_mul(width.max(1)).is_none_or(|b| b > bytes.len()) {
        bail_shape(&bad, &shape, bytes.len())?;
    }
    if npy.order() == npyz::Order::Fortran {
        return Err(bad("is in Fortran order (save it C-contiguous: numpy.ascontiguousarray)".into()));
    }
    let r = |e: std::io::Error| bad(format!("cannot be read ({e})"));
    let data = match descr.as_str() {
        "<f4" => Data::Float(npy.into_vec::<f32>().map_err(r)?),
        "<f8" => Data::Float(npy.into_vec::<f64>().map_err(r)?.into_iter().map(|x| x as f32).collect()),
        "<i8" => Data::Int(npy.into_vec::<i64>().map_err(r)?),
        "<i4" => Data::Int(npy.into_vec::<i32>().map_err(r)?.into_iter().map(i64::from).collect()),
        "<i2" => Data::Int(npy.into_vec::<i16>().map_err(r)?.into_iter().map(i64::from).collect()),
        "|i1" => Data::Int(npy.into_vec::<i8>().map_err(r)?.into_iter().map(i64::from).collect()),
        "|u1" => Data::Int(npy.into_vec::<u8>().map_err(r)?.into_iter().map(i64::from).collect()),
        "<u2" => Data::Int(npy.into_vec::<u16>().map_err(r)?.into_iter().map(i64::from).collect()),
        "<u4" => Data::Int(npy.into_vec::<u32>().map_err(r)?.into_iter().map(i64::from).collect()),
        other => return Err(bad(format!("dtype {other} is not read (x: float32 or float64; y: integer labels or float32/float64 targets)"))),
    };
    let len = match &data {
        Data::Float(v) => v.len(),
        Data::Int(v) => v.len(),
    };
    if len != n {
        return Err(bad(format!("holds {len} values, its shape {shape:?} needs {n}")));
    }
    Ok((shape, data))
}

fn bail_shape(bad: &dyn Fn(String) -> DataError, shape: &[usize], have: usize) -> Result<(), DataError> {
    Err(bad(format!("its header claims shape {shape:?}, more than the {have} bytes that follow")))
}

/// `x` and `y` as a set: shapes agree, `x` finite floats, `y` non-negative integer labels, or
/// finite floats (a regression set: `[N]` or `[N, T]` targets). An error names the file each
/// array came from (`paths`: one `.npz`, or an `.npy` pair) and the array.
fn examples(x: (Vec<usize>, Data), y: (Vec<usize>, Data), names: (&str, &str), paths: (&Path, &Path)) -> Result<PreparedSet, DataError> {
    let bad = |k: usize, m: String| {
        let (path, name) = if k == 0 { (paths.0, names.0) } else { (paths.1, names.1) };
        DataError::corrupt(path, format!("array '{name}': {m}"))
    };
    let (xs, xd) = x;
    let (ys, yd) = y;
    let Data::Float(xv) = xd else { return Err(bad(0, "holds integers; basin reads float32 or float64 inputs".into())) };
    let shape = match xs[..] {
        [_, c, h, w] => [c, h, w],
        [_, f] => [f, 1, 1],
        _ => return Err(bad(0, format!("has shape {xs:?}; basin reads images [N, C, H, W] or features [N, F]"))),
    };
    if xs[0] == 0 || shape.contains(&0) {
        return Err(bad(0, format!("is empty (shape {xs:?})")));
    }
    if let Some(i) = xv.iter().position(|v| !v.is_finite()) {
        return Err(bad(0, format!("value {} at flat index {i} is not finite", xv[i])));
    }
    match yd {
        Data::Int(yv) => {
            if ys.len() != 1 || ys[0] != xs[0] {
                return Err(bad(1, format!("has shape {ys:?}; it must be [{}], one label per row of '{}'", xs[0], names.0)));
            }
            if let Some(&l) = yv.iter().find(|&&l| l < 0) {
                return Err(bad(1, format!("label {l} is negative")));
            }
            let classes = yv.iter().max().map_or(0, |&m| m as usize + 1);
            Ok(PreparedSet::from_arrays(xv, yv, shape, classes))
        }
        Data::Float(yv) => {
            let width = match ys[..] {
                [n] if n == xs[0] => 1,
                [n, t] if n == xs[0] && t > 0 => t,
                _ => return Err(bad(1, format!("has shape {ys:?}; float targets must be [{n}] or [{n}, T], one row per row of '{}'", names.0, n = xs[0]))),
            };
            if let Some(i) = yv.iter().position(|v| !v.is_finite()) {
                return Err(bad(1, format!("value {} at flat index {i} is not finite", yv[i])));
            }
            Ok(PreparedSet::from_regression_arrays(xv, yv, width, shape))
        }
    }
}

/// Reads an `.npz` archive (`x`, `y`, optional `x_test`, `y_test`).
pub fn read_npz(path: &Path) -> Result<Arrays, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| DataError::corrupt(path, format!("not an .npz archive ({e})")))?;
    let mut get = |name: &str| -> Result<Option<(Vec<usize>, Data)>, DataError> {
        let mut entry = match zip.by_name(&format!("{name}.npy")) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(DataError::corrupt(path, format!("array '{name}': {e}"))),
        };
        let size = entry.size();
        if size > 1 << 34 {
            return Err(DataError::corrupt(path, format!("array '{name}': {size} bytes is too large")));
        }
        // the declared size is only a hint: a crafted archive may claim up to 16 GiB for a few
        // bytes, so at most 64 MiB is reserved up front and the rest grows as it is read
        let mut bytes = Vec::with_capacity((size as usize).min(64 << 20));
        entry.read_to_end(&mut bytes).map_err(|e| DataError::corrupt(path, format!("array '{name}': {e}")))?;
        parse(&bytes, name, path).map(Some)
    };
    let need = |v: Option<(Vec<usize>, Data)>, name: &str| v.ok_or_else(|| DataError::corrupt(path, format!("has no array '{name}' (basin reads x, y and optionally x_test, y_test)")));
    let x = need(get("x")?, "x")?;
    let y = need(get("y")?, "y")?;
    let test = match (get("x_test")?, get("y_test")?) {
        (Some(x), Some(y)) => Some(examples(x, y, ("x_test", "y_test"), (path, path))?),
        (None, None) => None,
        (Some(_), None) => return Err(DataError::corrupt(path, "has 'x_test' but no 'y_test'")),
        (None, Some(_)) => return Err(DataError::corrupt(path, "has 'y_test' but no 'x_test'")),
    };
    let train = examples(x, y, ("x", "y"), (path, path))?;
    finish(train, test, path)
}

/// Reads a pair of `.npy` files (inputs and labels).
pub fn read_npy_pair(x_path: &Path, y_path: &Path) -> Result<Arrays, DataError> {
    let read = |p: &Path, name: &str| -> Result<(Vec<usize>, Data), DataError> {
        let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
        parse(&bytes, name, p)
    };
    let train = examples(read(x_path, "x")?, read(y_path, "y")?, ("x", "y"), (x_path, y_path))?;
    finish(train, None, x_path)
}

/// Both sets share the item shape, the kind of targets, and the number of classes (the larger of
/// the two) or of real targets per row (equal).
fn finish(mut train: PreparedSet, mut test: Option<PreparedSet>, path: &Path) -> Result<Arrays, DataError> {
    if let Some(t) = &test {
        if t.shape != train.shape {
            return Err(DataError::corrupt(path, format!("array 'x_test': items of shape {:?}, 'x' has {:?}", t.shape, train.shape)));
        }
        if t.values.is_some() != train.values.is_some() {
            let kind = |p: &PreparedSet| if p.values.is_some() { "float targets" } else { "integer labels" };
            return Err(DataError::corrupt(path, format!("array 'y_test' holds {}, 'y' holds {}", kind(t), kind(&train))));
        }
        if t.values.is_some() && t.num_classes != train.num_classes {
            return Err(DataError::corrupt(path, format!("array 'y_test': {} targets per row, 'y' has {}", t.num_classes, train.num_classes)));
        }
        let k = t.num_classes.max(train.num_classes);
        train.num_classes = k;
    }
    if let Some(t) = test.as_mut() {
        t.num_classes = train.num_classes;
    }
    Ok(Arrays { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` file in NumPy's format 1.0: the header padded to 64 bytes, then the data.
    fn npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        std::fs::write(path, bytes).unwrap();
    }

    /// With an `.npy` pair, a problem of the labels names the labels' file, not the inputs'.
    #[test]
    fn a_bad_label_of_an_npy_pair_names_the_labels_file() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("x.npy"), dir.path().join("x_labels.npy"));
        npy(&x, "<f4", "(2, 3)", &[0.5f32; 6].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
        npy(&y, "<i8", "(2,)", &[1i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
        let Err(e) = read_npy_pair(&x, &y) else { panic!("a negative label is an error") };
        let e = e.to_string();
        assert!(e.contains("x_labels.npy") && e.contains("array 'y': label -1 is negative"), "{e}");
    }

    /// A header whose shape overflows 64 bits is an error naming the file and the array, in
    /// every profile (npyz multiplies it before basin can check: Cargo.toml keeps that from
    /// panicking in the dev profile).
    #[test]
    fn a_shape_that_overflows_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("x.npy"), dir.path().join("x_labels.npy"));
        npy(&x, "<f4", "(1099511627776, 1099511627776, 4)", &[0u8; 16]);
        npy(&y, "<i8", "(2,)", &[0u8; 16]);
        let Err(e) = read_npy_pair(&x, &y) else { panic!("an overflowing shape is an error") };
        let e = e.to_string();
        assert!(e.contains("x.npy") && e.contains("array 'x'"), "{e}");
    }
}
