//! Line plots: one curve per series, a legend when there are several, optional log-scale y
//! axis (labelled as such).

use super::{Figure, draw_error};
use crate::CliError;
use plotters::prelude::*;

/// One named curve.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// (x, y) points.
    pub points: &'a [(f64, f64)],
}

/// A line plot.
pub struct LinePlot<'a> {
    /// Title.
    pub title: &'a str,
    /// x axis label.
    pub x_label: &'a str,
    /// y axis label.
    pub y_label: &'a str,
    /// The curves.
    pub series: &'a [Series<'a>],
    /// Plot log10 y (non-positive values are clamped to 1e-12).
    pub log_y: bool,
}

impl Figure for LinePlot<'_> {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>, what: &str) -> Result<(), CliError>
    where
        DB::ErrorType: 'static,
    {
        let y_of = |y: f64| if self.log_y { y.max(1e-12).log10() } else { y };
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &(x, y) in self.series.iter().flat_map(|s| s.points).filter(|(x, y)| x.is_finite() && y.is_finite()) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y_of(y));
            y1 = y1.max(y_of(y));
        }
        if !x0.is_finite() {
            return Err(CliError::run(format!("{what}: nothing to plot")));
        }
        // a flat curve still gets a readable y range around its value
        let pad = ((y1 - y0) * 0.05).max(y1.abs().max(y0.abs()) * 0.05).max(1e-9);
        root.fill(&WHITE).map_err(draw_error(what))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1.max(x0 + 1e-12), (y0 - pad)..(y1 + pad))
            .map_err(draw_error(what))?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(if self.log_y { format!("log10 {} (log scale)", self.y_label) } else { self.y_label.to_string() })
            .draw()
            .map_err(draw_error(what))?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = s.points.iter().filter(|(x, y)| x.is_finite() && y.is_finite()).map(|&(x, y)| (x, y_of(y))).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(draw_error(what))?
                .label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        if self.series.iter().any(|s| !s.label.is_empty()) {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw_error(what))?;
        }
        root.present().map_err(draw_error(what))
    }
}
