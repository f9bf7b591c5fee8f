//! `landscape … --export npz|vtk`: a landscape's grid and every map for other tools
//! (loss-landscape keeps its surfaces in HDF5 and converts them for ParaView).
//!
//! - `npz`: NumPy's archive (`numpy.load`), the arrays of loss-landscape's surface files under
//!   the same names: `xcoordinates` (and `ycoordinates` for a 2-D grid) and one array per map —
//!   `train_loss`, `train_acc`, `test_loss`, `test_acc`, and `lambda_max`, `lambda_min` with
//!   `--eigen`. A 2-D map has shape `[len(y), len(x)]`, value `[j, i]` at `(x_i, y_j)`, the
//!   layout of `numpy.meshgrid(x, y)`, so `plt.contour(x, y, train_loss)` draws it. Each `.npy`
//!   member is written by `npyz`, the archive (stored, uncompressed, as `numpy.savez`) by `zip`.
//! - `vtk`: a legacy-format VTK structured grid (ASCII), points (x, y, train loss) and every map
//!   as point data, which ParaView, VisIt and meshio open. The legacy format is a few lines of
//!   text, so it is written here rather than through a crate.

use crate::CliError;
use basin_core::landscape::grid::LandscapePoint;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One named map over the grid, in grid order (x fastest).
pub struct Map {
    /// Its name in the exported file.
    pub name: &'static str,
    /// One value per grid point.
    pub values: Vec<f64>,
}

/// The maps a landscape holds: losses, accuracies (not for a regression set), and both
/// eigenvalue ends, each when every point has it.
pub fn maps(points: &[LandscapePoint]) -> Vec<Map> {
    let pick = |name: &'static str, f: &dyn Fn(&LandscapePoint) -> Option<f64>| Some(Map { name, values: points.iter().map(f).collect::<Option<_>>()? });
    [
        pick("train_loss", &|p| Some(p.train.loss)),
        pick("train_acc", &|p| p.train.accuracy),
        pick("test_loss", &|p| Some(p.test.loss)),
        pick("test_acc", &|p| p.test.accuracy),
        pick("lambda_max", &|p| Some(p.eigen?.max)),
        pick("lambda_min", &|p| Some(p.eigen?.min)),
    ]
    .into_iter()
    .flatten()
    .filter(|m| !m.values.is_empty())
    .collect()
}

/// The formats `--export` takes.
pub fn check(formats: &[String]) -> Result<(), CliError> {
    match formats.iter().find(|f| !matches!(f.as_str(), "npz" | "vtk")) {
        Some(f) => Err(CliError::input(format!("--export: unknown format '{f}' (npz, vtk)"))),
        None => Ok(()),
    }
}

/// The files `--export` writes for the output prefix `prefix`.
pub fn files(prefix: &Path, formats: &[String]) -> Vec<PathBuf> {
    formats.iter().map(|f| prefix.with_extension(f)).collect()
}

/// Writes `prefix.npz` / `prefix.vtk` for a grid of axes `xs` (and `ys`, 2-D) and `maps`,
/// each through a temporary file and a rename.
pub fn write(prefix: &Path, formats: &[String], xs: &[f64], ys: Option<&[f64]>, maps: &[Map]) -> Result<(), CliError> {
    for f in formats {
        let path = prefix.with_extension(f);
        let bytes = match f.as_str() {
            "npz" => npz(xs, ys, maps).map_err(|e| CliError::run(format!("{}: {e}", path.display())))?,
            _ => vtk(xs, ys, maps).into_bytes(),
        };
        basin_core::train::checkpoint::write_atomic(&path, &bytes)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// One `.npy` file of f64 values with `shape`.
fn npy(values: &[f64], shape: &[u64]) -> std::io::Result<Vec<u8>> {
    use npyz::WriterBuilder;
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new().default_dtype().shape(shape).writer(&mut buf).begin_nd()?;
    w.extend(values.iter().copied())?;
    w.finish()?;
    Ok(buf)
}

fn npz(xs: &[f64], ys: Option<&[f64]>, maps: &[Map]) -> std::io::Result<Vec<u8>> {
    let shape: Vec<u64> = match ys {
        Some(ys) => vec![ys.len() as u64, xs.len() as u64],
        None => vec![xs.len() as u64],
    };
    let mut members = vec![("xcoordinates", npy(xs, &[xs.len() as u64])?)];
    if let Some(ys) = ys {
        members.push(("ycoordinates", npy(ys, &[ys.len() as u64])?));
    }
    for m in maps {
        members.push((m.name, npy(&m.values, &shape)?));
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(false);
    for (name, bytes) in members {
        zip.start_file(format!("{name}.npy"), options).map_err(std::io::Error::other)?;
        zip.write_all(&bytes)?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

fn vtk(xs: &[f64], ys: Option<&[f64]>, maps: &[Map]) -> String {
    let ys_owned = [0.0];
    let ys = ys.unwrap_or(&ys_owned);
    let n = xs.len() * ys.len();
    let mut s = format!("# vtk DataFile Version 3.0\nbasin loss landscape\nASCII\nDATASET STRUCTURED_GRID\nDIMENSIONS {} {} 1\nPOINTS {n} double\n", xs.len(), ys.len());
    let loss = &maps[0].values;
    for (j, y) in ys.iter().enumerate() {
        for (i, x) in xs.iter().enumerate() {
            s.push_str(&format!("{x} {y} {}\n", loss[j * xs.len() + i]));
        }
    }
    s.push_str(&format!("POINT_DATA {n}\n"));
    for m in maps {
        s.push_str(&format!("SCALARS {} double 1\nLOOKUP_TABLE default\n", m.name));
        for v in &m.values {
            s.push_str(&format!("{v}\n"));
        }
    }
    s
}
