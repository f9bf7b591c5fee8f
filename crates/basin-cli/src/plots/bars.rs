//! Error-bar plots: each cell's mean ± std over seeds, with the paper's value as a red cross.

use super::{Figure, draw_error, padded};
use crate::CliError;
use plotters::prelude::*;

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

/// An error-bar plot.
pub struct ErrorBars<'a> {
    /// Title.
    pub title: &'a str,
    /// y axis label.
    pub y_label: &'a str,
    /// The cells.
    pub bars: &'a [Bar],
}

impl Figure for ErrorBars<'_> {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>, what: &str) -> Result<(), CliError>
    where
        DB::ErrorType: 'static,
    {
        let bars = self.bars;
        root.fill(&WHITE).map_err(draw_error(what))?;
        let Some((lo, hi)) = padded(bars.iter().flat_map(|b| [b.mean - b.std, b.mean + b.std].into_iter().chain(b.paper))) else {
            return Err(CliError::run(format!("{what}: nothing to plot")));
        };
        let n = bars.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo..hi)
            .map_err(draw_error(what))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.max(1))
            .x_label_formatter(&|x| bars.get(x.round().max(0.0) as usize).filter(|_| (x - x.round()).abs() < 1e-6).map(|b| b.label.clone()).unwrap_or_default())
            .y_desc(self.y_label)
            .draw()
            .map_err(draw_error(what))?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| ErrorBar::new_vertical(i as f64, b.mean - b.std, b.mean, b.mean + b.std, BLUE.filled(), 12)))
            .map_err(draw_error(what))?
            .label("basin: mean ± std over seeds")
            .legend(|(x, y)| Circle::new((x, y), 4, BLUE.filled()));
        let papers: Vec<(f64, f64)> = bars.iter().enumerate().filter_map(|(i, b)| b.paper.map(|p| (i as f64, p))).collect();
        if !papers.is_empty() {
            chart
                .draw_series(papers.iter().map(|&(x, y)| Cross::new((x, y), 7, RED.stroke_width(2))))
                .map_err(draw_error(what))?
                .label("paper")
                .legend(|(x, y)| Cross::new((x, y), 5, RED.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(draw_error(what))?;
        root.present().map_err(draw_error(what))
    }
}
