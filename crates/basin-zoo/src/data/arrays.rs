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
/// finite floats (a regression set: `[N]` or `[N, T]` targets).
fn examples(x: (Vec<usize>, Data), y: (Vec<usize>, Data), names: (&str, &str), path: &Path) -> Result<PreparedSet, DataError> {
    let bad = |name: &str, m: String| DataError::corrupt(path, format!("array '{name}': {m}"));
    let (xs, xd) = x;
    let (ys, yd) = y;
    let Data::Float(xv) = xd else { return Err(bad(names.0, "holds integers; basin reads float32 or float64 inputs".into())) };
    let shape = match xs[..] {
        [_, c, h, w] => [c, h, w],
        [_, f] => [f, 1, 1],
        _ => return Err(bad(names.0, format!("has shape {xs:?}; basin reads images [N, C, H, W] or features [N, F]"))),
    };
    if xs[0] == 0 || shape.contains(&0) {
        return Err(bad(names.0, format!("is empty (shape {xs:?})")));
    }
    if let Some(i) = xv.iter().position(|v| !v.is_finite()) {
        return Err(bad(names.0, format!("value {} at flat index {i} is not finite", xv[i])));
    }
    match yd {
        Data::Int(yv) => {
            if ys.len() != 1 || ys[0] != xs[0] {
                return Err(bad(names.1, format!("has shape {ys:?}; it must be [{}], one label per row of '{}'", xs[0], names.0)));
            }
            if let Some(&l) = yv.iter().find(|&&l| l < 0) {
                return Err(bad(names.1, format!("label {l} is negative")));
            }
            let classes = yv.iter().max().map_or(0, |&m| m as usize + 1);
            Ok(PreparedSet::from_arrays(xv, yv, shape, classes))
        }
        Data::Float(yv) => {
            let width = match ys[..] {
                [n] if n == xs[0] => 1,
                [n, t] if n == xs[0] && t > 0 => t,
                _ => return Err(bad(names.1, format!("has shape {ys:?}; float targets must be [{n}] or [{n}, T], one row per row of '{}'", names.0, n = xs[0]))),
            };
            if let Some(i) = yv.iter().position(|v| !v.is_finite()) {
                return Err(bad(names.1, format!("value {} at flat index {i} is not finite", yv[i])));
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
        let mut bytes = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut bytes).map_err(|e| DataError::corrupt(path, format!("array '{name}': {e}")))?;
        parse(&bytes, name, path).map(Some)
    };
    let need = |v: Option<(Vec<usize>, Data)>, name: &str| v.ok_or_else(|| DataError::corrupt(path, format!("has no array '{name}' (basin reads x, y and optionally x_test, y_test)")));
    let x = need(get("x")?, "x")?;
    let y = need(get("y")?, "y")?;
    let test = match (get("x_test")?, get("y_test")?) {
        (Some(x), Some(y)) => Some(examples(x, y, ("x_test", "y_test"), path)?),
        (None, None) => None,
        (Some(_), None) => return Err(DataError::corrupt(path, "has 'x_test' but no 'y_test'")),
        (None, Some(_)) => return Err(DataError::corrupt(path, "has 'y_test' but no 'x_test'")),
    };
    let train = examples(x, y, ("x", "y"), path)?;
    finish(train, test, path)
}

/// Reads a pair of `.npy` files (inputs and labels).
pub fn read_npy_pair(x_path: &Path, y_path: &Path) -> Result<Arrays, DataError> {
    let read = |p: &Path, name: &str| -> Result<(Vec<usize>, Data), DataError> {
        let bytes = std::fs::read(p).map_err(|e| DataError::io(p, e))?;
        parse(&bytes, name, p)
    };
    let train = examples(read(x_path, "x")?, read(y_path, "y")?, ("x", "y"), x_path)?;
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
