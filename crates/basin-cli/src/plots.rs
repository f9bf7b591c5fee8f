//! Plots drawn from plain data (plotters, SVG): the tools return data, the CLI draws it.

use crate::CliError;
use plotters::prelude::*;
use std::path::Path;

/// One named curve.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// (x, y) points.
    pub points: &'a [(f64, f64)],
}

/// A line plot of `series` written as SVG to `path` and as PNG beside it (through temporary
/// files and renames).
pub fn line_plot(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series<'_>], log_y: bool) -> Result<(), CliError> {
    font_ready(path)?;
    let tmp = path.with_extension("svg.tmp");
    finish(draw_line(SVGBackend::new(&tmp, (800, 500)).into_drawing_area(), path, title, x_label, y_label, series, log_y), &tmp, path)?;
    let png = path.with_extension("png");
    let tmp = path.with_extension("png.tmp.png");
    finish(draw_line(BitMapBackend::new(&tmp, (800, 500)).into_drawing_area(), &png, title, x_label, y_label, series, log_y), &tmp, &png)
}

/// Renames a finished temporary file into place, or removes it if drawing failed: no half-drawn
/// plot is ever left behind.
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

fn draw_line<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series<'_>], log_y: bool) -> Result<(), CliError>
where
    DB::ErrorType: 'static,
{
    {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for s in series {
            for &(x, y) in s.points {
                let y = if log_y { y.max(1e-12).log10() } else { y };
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if !x0.is_finite() {
            return Err(CliError::run(format!("{}: nothing to plot", path.display())));
        }
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        let draw = |e: Box<dyn std::error::Error + '_>| CliError::run(format!("{}: {e}", path.display()));
        root.fill(&WHITE).map_err(|e| draw(Box::new(e)))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1.max(x0 + 1e-12), (y0 - pad)..(y1 + pad))
            .map_err(|e| draw(Box::new(e)))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(if log_y { format!("log10 {y_label}") } else { y_label.to_string() })
            .draw()
            .map_err(|e| draw(Box::new(e)))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, if log_y { y.max(1e-12).log10() } else { y })).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|e| draw(Box::new(e)))?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        if series.len() > 1 {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| draw(Box::new(e)))?;
        }
        root.present().map_err(|e| draw(Box::new(e)))?;
    }
    Ok(())
}

/// A heat map of `values` (row-major, `ys.len()` rows × `xs.len()` columns) with optional marked
/// points, written as SVG to `path` and as PNG beside it.
pub fn heat_map(path: &Path, title: &str, xs: &[f64], ys: &[f64], values: &[f64], marks: &[(f64, f64, String)]) -> Result<(), CliError> {
    font_ready(path)?;
    let tmp = path.with_extension("svg.tmp");
    finish(draw_heat(SVGBackend::new(&tmp, (760, 640)).into_drawing_area(), path, title, xs, ys, values, marks), &tmp, path)?;
    let png = path.with_extension("png");
    let tmp = path.with_extension("png.tmp.png");
    finish(draw_heat(BitMapBackend::new(&tmp, (760, 640)).into_drawing_area(), &png, title, xs, ys, values, marks), &tmp, &png)
}

fn draw_heat<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, path: &Path, title: &str, xs: &[f64], ys: &[f64], values: &[f64], marks: &[(f64, f64, String)]) -> Result<(), CliError>
where
    DB::ErrorType: 'static,
{
    {
        let draw = |e: Box<dyn std::error::Error + '_>| CliError::run(format!("{}: {e}", path.display()));
        root.fill(&WHITE).map_err(|e| draw(Box::new(e)))?;
        let (x0, x1) = (xs[0], xs[xs.len() - 1]);
        let (y0, y1) = (ys[0], ys[ys.len() - 1]);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| draw(Box::new(e)))?;
        chart.configure_mesh().disable_mesh().draw().map_err(|e| draw(Box::new(e)))?;
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (dx, dy) = ((x1 - x0) / (xs.len() - 1).max(1) as f64, (y1 - y0) / (ys.len() - 1).max(1) as f64);
        // log scale of the loss shows the basin's floor and walls at once
        let t = |v: f64| ((v - lo).max(0.0) + 1e-3).ln();
        let (tl, th) = (t(lo), t(hi));
        chart
            .draw_series(ys.iter().enumerate().flat_map(|(r, &y)| {
                xs.iter().enumerate().map(move |(c, &x)| {
                    let v = values[r * xs.len() + c];
                    let k = if v.is_finite() { ((t(v) - tl) / (th - tl).max(1e-12)).clamp(0.0, 1.0) } else { 1.0 };
                    let color = ViridisRGB::get_color(k);
                    Rectangle::new([(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)], color.filled())
                })
            }))
            .map_err(|e| draw(Box::new(e)))?;
        for (x, y, label) in marks {
            chart
                .draw_series(std::iter::once(Circle::new((*x, *y), 6, RED.filled())))
                .map_err(|e| draw(Box::new(e)))?;
            chart
                .draw_series(std::iter::once(Text::new(label.clone(), (*x, *y), ("sans-serif", 16).into_font().color(&WHITE))))
                .map_err(|e| draw(Box::new(e)))?;
        }
        root.present().map_err(|e| draw(Box::new(e)))?;
    }
    Ok(())
}

/// One cell of an error-bar plot: its name, mean ± std over seeds, and the paper's value.
pub struct Bar {
    /// Cell name (x axis).
    pub label: String,
    /// Mean over seeds.
    pub mean: f64,
    /// Standard deviation over seeds.
    pub std: f64,
    /// The paper's value, drawn as a red cross.
    pub paper: Option<f64>,
}

/// Means with ±1 std error bars per cell (and the paper's values), as SVG to `path` and PNG
/// beside it: the picture of a reproduction's table.
pub fn error_bars(path: &Path, title: &str, y_label: &str, bars: &[Bar]) -> Result<(), CliError> {
    font_ready(path)?;
    let tmp = path.with_extension("svg.tmp");
    finish(draw_bars(SVGBackend::new(&tmp, (800, 500)).into_drawing_area(), path, title, y_label, bars), &tmp, path)?;
    let png = path.with_extension("png");
    let tmp = path.with_extension("png.tmp.png");
    finish(draw_bars(BitMapBackend::new(&tmp, (800, 500)).into_drawing_area(), &png, title, y_label, bars), &tmp, &png)
}

fn draw_bars<DB: DrawingBackend>(root: DrawingArea<DB, plotters::coord::Shift>, path: &Path, title: &str, y_label: &str, bars: &[Bar]) -> Result<(), CliError>
where
    DB::ErrorType: 'static,
{
    {
        let draw = |e: Box<dyn std::error::Error + '_>| CliError::run(format!("{}: {e}", path.display()));
        root.fill(&WHITE).map_err(|e| draw(Box::new(e)))?;
        let vals = bars.iter().flat_map(|b| [b.mean - b.std, b.mean + b.std].into_iter().chain(b.paper)).filter(|v| v.is_finite());
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        let pad = ((hi - lo) * 0.1).max(1e-9);
        let n = bars.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, (lo - pad)..(hi + pad))
            .map_err(|e| draw(Box::new(e)))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1))
            .x_label_formatter(&|x| bars.get(x.round().max(0.0) as usize).filter(|_| (x - x.round()).abs() < 1e-6).map(|b| b.label.clone()).unwrap_or_default())
            .y_desc(y_label)
            .draw()
            .map_err(|e| draw(Box::new(e)))?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| ErrorBar::new_vertical(i as f64, b.mean - b.std, b.mean, b.mean + b.std, BLUE.filled(), 12)))
            .map_err(|e| draw(Box::new(e)))?
            .label("basin: mean ± std over seeds")
            .legend(|(x, y)| Circle::new((x, y), 4, BLUE.filled()));
        let papers: Vec<(f64, f64)> = bars.iter().enumerate().filter_map(|(i, b)| b.paper.map(|p| (i as f64, p))).collect();
        if !papers.is_empty() {
            chart
                .draw_series(papers.iter().map(|&(x, y)| Cross::new((x, y), 7, RED.stroke_width(2))))
                .map_err(|e| draw(Box::new(e)))?
                .label("paper")
                .legend(|(x, y)| Cross::new((x, y), 5, RED.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(|e| draw(Box::new(e)))?;
        root.present().map_err(|e| draw(Box::new(e)))?;
    }
    Ok(())
}
