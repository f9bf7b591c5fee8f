//! Plots drawn from plain data (plotters): the tools return data, the CLI draws it. Every
//! figure is a [`Figure`], written as an SVG file with a PNG beside it ([`write()`]) or rendered
//! to an SVG string for inlining into the HTML report ([`svg_string`]).

mod bars;
pub mod heat;
mod line;
mod scatter;

pub use bars::{Bar, ErrorBars};
pub use heat::HeatMap;
pub use line::{LinePlot, Series};
pub use scatter::{Point, Scatter};

use crate::CliError;
use plotters::prelude::*;
use std::path::Path;

/// Something drawable on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `root`; `what` names it in errors.
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>, what: &str) -> Result<(), CliError>
    where
        DB::ErrorType: 'static;
}

/// A plotters error as a one-line CLI error naming `what` (the file or the figure).
pub(crate) fn draw_error<E: std::error::Error>(what: &str) -> impl Fn(E) -> CliError + '_ {
    move |e| CliError::run(format!("{what}: {e}"))
}

/// The range of `values` (finite ones), padded by 10 % on each side; `None` when none is finite.
pub(crate) fn padded(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.1).max(1e-9 * hi.abs().max(1.0));
    Some((lo - pad, hi + pad))
}

/// Writes `fig` as SVG to `path` and as PNG beside it, each through a temporary file and a
/// rename: no half-drawn plot is ever left behind.
pub fn write(fig: &impl Figure, path: &Path) -> Result<(), CliError> {
    font_ready(path)?;
    let what = path.display().to_string();
    let tmp = path.with_extension("svg.tmp");
    finish(fig.draw(SVGBackend::new(&tmp, fig.size()).into_drawing_area(), &what), &tmp, path)?;
    let png = path.with_extension("png");
    let tmp = path.with_extension("png.tmp.png");
    finish(fig.draw(BitMapBackend::new(&tmp, fig.size()).into_drawing_area(), &what), &tmp, &png)
}

/// `fig` as an SVG document in a string (for inlining into HTML).
pub fn svg_string(fig: &impl Figure, what: &str) -> Result<String, CliError> {
    font_ready(Path::new(what))?;
    let mut s = String::new();
    fig.draw(SVGBackend::with_string(&mut s, fig.size()).into_drawing_area(), what)?;
    Ok(s)
}

/// A line plot of `series` as SVG at `path` and PNG beside it.
pub fn line_plot(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series<'_>], log_y: bool) -> Result<(), CliError> {
    write(&LinePlot { title, x_label, y_label, series, log_y }, path)
}

/// A heat map of `values` (row-major, `ys.len()` rows × `xs.len()` columns) with a colorbar,
/// labelled contour lines and optional marked points, as SVG at `path` and PNG beside it.
pub fn heat_map(path: &Path, title: &str, xs: &[f64], ys: &[f64], values: &[f64], marks: &[(f64, f64, String)]) -> Result<(), CliError> {
    heat_map_of(path, title, "loss", xs, ys, values, marks)
}

/// [`heat_map`] with a path drawn over it (a training trajectory).
pub fn heat_map_with_path(file: &Path, title: &str, xs: &[f64], ys: &[f64], values: &[f64], marks: &[(f64, f64, String)], path: &[(f64, f64)]) -> Result<(), CliError> {
    write(&HeatMap { title, xs, ys, values, marks, value_label: "loss", path }, file)
}

/// [`heat_map`] of a quantity named `value_label` on its colorbar (an eigenvalue map).
pub fn heat_map_of(path: &Path, title: &str, value_label: &str, xs: &[f64], ys: &[f64], values: &[f64], marks: &[(f64, f64, String)]) -> Result<(), CliError> {
    write(&HeatMap { title, xs, ys, values, marks, value_label, path: &[] }, path)
}

/// Means with ±1 std error bars per cell (and the paper's values), as SVG at `path` and PNG
/// beside it: the picture of a reproduction's table.
pub fn error_bars(path: &Path, title: &str, y_label: &str, bars: &[Bar]) -> Result<(), CliError> {
    write(&ErrorBars { title, y_label, bars }, path)
}

/// Renames a finished temporary file into place, or removes it if drawing failed.
fn finish(drawn: Result<(), CliError>, tmp: &Path, path: &Path) -> Result<(), CliError> {
    match drawn {
        Ok(()) => std::fs::rename(tmp, path).map_err(|e| CliError::run(format!("{}: {e}", path.display()))),
        Err(e) => {
            let _ = std::fs::remove_file(tmp);
            Err(e)
        }
    }
}

/// Registers a TrueType font: plotters lays out the text of both backends with it (ab_glyph).
fn font_ready(path: &Path) -> Result<(), CliError> {
    static READY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *READY.get_or_init(|| {
        for f in ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"] {
            if let Ok(bytes) = std::fs::read(f) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    });
    if ok { Ok(()) } else { Err(CliError::run(format!("{}: plots need the DejaVu Sans font (apt-get install fonts-dejavu-core); the data files are written", path.display()))) }
}
