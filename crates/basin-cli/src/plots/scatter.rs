//! Scatter plots with error bars in x and y: one point per cell, a metric against another
//! (the noise-enhancement paper's Fig. 3 plots accuracy against convergence time), or against
//! a swept parameter with the points of a group joined by a line and a baseline drawn across
//! (the S-SGD paper's Fig. 3: accuracy against the noise level, per layer set, with SGD).

use super::{Figure, draw_error, padded};
use crate::CliError;
use plotters::prelude::*;

/// The groups' colours (the tab10 palette without its red, which marks the paper's values).
const GROUP_COLORS: [RGBColor; 6] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(148, 103, 189), RGBColor(140, 86, 75), RGBColor(23, 190, 207)];

/// One labelled point: mean ± std in x and in y.
pub struct Point {
    /// Label drawn beside the point (the cell's name).
    pub label: String,
    /// x mean and std.
    pub x: (f64, f64),
    /// y mean and std.
    pub y: (f64, f64),
    /// The paper's (x, y), drawn as a red cross.
    pub paper: Option<(f64, f64)>,
    /// The line the point belongs to (points of a group are joined in x order, one colour
    /// and a legend entry per group, no per-point label); `None`: a blue labelled point.
    pub group: Option<String>,
}

/// A scatter plot with 2-D error bars.
pub struct Scatter<'a> {
    /// Title.
    pub title: &'a str,
    /// x axis label.
    pub x_label: &'a str,
    /// y axis label.
    pub y_label: &'a str,
    /// The points.
    pub points: &'a [Point],
    /// A horizontal dashed line: its label and y (e.g. the SGD baseline's mean).
    pub baseline: Option<(&'a str, f64)>,
    /// Join a group's points by a line (a swept parameter); `false`: coloured points only.
    pub join: bool,
}

impl Figure for Scatter<'_> {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>, what: &str) -> Result<(), CliError>
    where
        DB::ErrorType: 'static,
    {
        let pts = self.points;
        root.fill(&WHITE).map_err(draw_error(what))?;
        let spread = |f: fn(&Point) -> (f64, f64), k: usize| {
            pts.iter().flat_map(move |p| {
                let (m, s) = f(p);
                let s = if s.is_finite() { s } else { 0.0 };
                [m - s, m + s].into_iter().chain(p.paper.map(|q| if k == 0 { q.0 } else { q.1 }))
            })
        };
        let base_y = self.baseline.map(|b| b.1);
        let (Some(xr), Some(yr)) = (padded(spread(|p| p.x, 0)), padded(spread(|p| p.y, 1).chain(base_y))) else {
            return Err(CliError::run(format!("{what}: nothing to plot")));
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(draw_error(what))?;
        chart.configure_mesh().x_desc(self.x_label).y_desc(self.y_label).draw().map_err(draw_error(what))?;
        if let Some((label, y)) = self.baseline {
            chart
                .draw_series(DashedLineSeries::new([(xr.0, y), (xr.1, y)], 8, 5, BLACK.stroke_width(2)))
                .map_err(draw_error(what))?
                .label(label)
                .legend(|(x, y)| PathElement::new([(x - 8, y), (x + 8, y)], BLACK.stroke_width(2)));
        }
        // ungrouped points in blue with their labels, then one coloured line per group
        let mut groups: Vec<Option<&str>> = Vec::new();
        for p in pts {
            if !groups.contains(&p.group.as_deref()) {
                groups.push(p.group.as_deref());
            }
        }
        let sd = |s: f64| if s.is_finite() { s } else { 0.0 };
        for (i, g) in groups.iter().enumerate() {
            let color = if g.is_none() { BLUE } else { GROUP_COLORS[i % GROUP_COLORS.len()] };
            let mut mine: Vec<&Point> = pts.iter().filter(|p| p.group.as_deref() == *g).collect();
            mine.sort_by(|a, b| a.x.0.total_cmp(&b.x.0));
            chart
                .draw_series(mine.iter().map(|p| ErrorBar::new_vertical(p.x.0, p.y.0 - sd(p.y.1), p.y.0, p.y.0 + sd(p.y.1), color.filled(), 10)))
                .map_err(draw_error(what))?
                .label(g.map(str::to_string).unwrap_or_else(|| "basin: mean ± std over seeds".into()))
                .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
            chart
                .draw_series(mine.iter().map(|p| ErrorBar::new_horizontal(p.y.0, p.x.0 - sd(p.x.1), p.x.0, p.x.0 + sd(p.x.1), color.filled(), 10)))
                .map_err(draw_error(what))?;
            if g.is_some() && self.join {
                chart.draw_series(LineSeries::new(mine.iter().map(|p| (p.x.0, p.y.0)), color.stroke_width(2))).map_err(draw_error(what))?;
            } else if g.is_none() {
                chart
                    .draw_series(mine.iter().map(|p| EmptyElement::at((p.x.0, p.y.0)) + Text::new(p.label.clone(), (8, -18), ("sans-serif", 14).into_font())))
                    .map_err(draw_error(what))?;
            }
        }
        let papers: Vec<(f64, f64)> = pts.iter().filter_map(|p| p.paper).collect();
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
