//! Heat maps of a loss over a plane, readable on their own: a colorbar with the value scale
//! (log scale when every value is positive, labelled as such) and contour lines at labelled
//! levels (the `contour` crate's marching squares).

use super::{Figure, draw_error};
use crate::CliError;
use plotters::prelude::*;

/// Contour levels drawn on a heat map.
const LEVELS: usize = 7;

/// A heat map of `values` (row-major, `ys.len()` rows × `xs.len()` columns, evenly spaced).
pub struct HeatMap<'a> {
    /// Title.
    pub title: &'a str,
    /// Column coordinates.
    pub xs: &'a [f64],
    /// Row coordinates.
    pub ys: &'a [f64],
    /// Values, row-major.
    pub values: &'a [f64],
    /// Marked points with labels.
    pub marks: &'a [(f64, f64, String)],
    /// What the values are (colorbar label).
    pub value_label: &'a str,
    /// A path drawn over the map (a training trajectory), in order; empty for none.
    pub path: &'a [(f64, f64)],
}

/// The color scale: values to [0, 1], log10 when every value is positive.
struct Scale {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Scale {
    fn new(values: &[f64]) -> Option<Scale> {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        lo.is_finite().then_some(Scale { log: lo > 0.0, lo, hi })
    }
    fn t(&self, v: f64) -> f64 {
        if self.log { v.log10() } else { v }
    }
    fn inverse(&self, t: f64) -> f64 {
        if self.log { 10f64.powf(t) } else { t }
    }
    /// Position of `v` in [0, 1] (non-finite values at the top).
    fn unit(&self, v: f64) -> f64 {
        if !v.is_finite() {
            return 1.0;
        }
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        ((self.t(v) - a) / (b - a).max(1e-12)).clamp(0.0, 1.0)
    }
    /// `n` levels evenly spaced on the color scale, strictly inside (lo, hi).
    fn levels(&self, n: usize) -> Vec<f64> {
        let (a, b) = (self.t(self.lo), self.t(self.hi));
        if b - a <= 1e-12 {
            return Vec::new();
        }
        (1..=n).map(|i| self.inverse(a + (b - a) * i as f64 / (n + 1) as f64)).collect()
    }
}

/// A number printed short enough for a label.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-2 || v.abs() >= 1e4) { format!("{v:.2e}") } else { format!("{v:.3}") }
}

/// Contour segments in data coordinates, one list per level of `levels` (all traced in one
/// pass). Grid value (c, r) sits at (c + ½, r + ½) in the contour crate's frame
/// [0, nx] × [0, ny], whose border is the heat map's outer edge; segments along that border
/// close the crate's rings and are not contour lines.
pub fn contour_segments(xs: &[f64], ys: &[f64], values: &[f64], levels: &[f64]) -> Vec<Vec<[(f64, f64); 2]>> {
    let (nx, ny) = (xs.len(), ys.len());
    let none = || vec![Vec::new(); levels.len()];
    if nx < 2 || ny < 2 {
        return none();
    }
    let top = values.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
    let clean: Vec<f64> = values.iter().map(|v| if v.is_finite() { *v } else { top }).collect();
    let Ok(lines) = contour::ContourBuilder::new(nx, ny, true).lines(&clean, levels) else {
        return none();
    };
    let (sx, sy) = ((xs[nx - 1] - xs[0]) / (nx - 1) as f64, (ys[ny - 1] - ys[0]) / (ny - 1) as f64);
    let on_border = |x: f64, y: f64| x <= 0.0 || y <= 0.0 || x >= nx as f64 || y >= ny as f64;
    let to_data = |x: f64, y: f64| (xs[0] + (x - 0.5) * sx, ys[0] + (y - 0.5) * sy);
    lines
        .iter()
        .map(|line| {
            let mut out = Vec::new();
            for ring in &line.geometry().0 {
                for w in ring.0.windows(2) {
                    let (p, q) = (w[0], w[1]);
                    if on_border(p.x, p.y) && on_border(q.x, q.y) {
                        continue;
                    }
                    out.push([to_data(p.x, p.y), to_data(q.x, q.y)]);
                }
            }
            out
        })
        .collect()
}

impl Figure for HeatMap<'_> {
    fn size(&self) -> (u32, u32) {
        (860, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>, what: &str) -> Result<(), CliError>
    where
        DB::ErrorType: 'static,
    {
        let (xs, ys) = (self.xs, self.ys);
        if xs.len() < 2 || ys.len() < 2 || self.values.len() != xs.len() * ys.len() {
            return Err(CliError::run(format!("{what}: a heat map needs a grid of at least 2 × 2 values")));
        }
        // every value missing (NaN: an eigenvalue map none of whose points converged) draws an
        // all-grey map, the title saying why; an infinite value with no finite one is an error
        let all_missing = self.values.iter().all(|v| v.is_nan());
        let scale = Scale::new(self.values)
            .or_else(|| all_missing.then_some(Scale { log: false, lo: 0.0, hi: 1.0 }))
            .ok_or_else(|| CliError::run(format!("{what}: no finite value to plot")))?;
        root.fill(&WHITE).map_err(draw_error(what))?;
        let (w, _) = self.size();
        let (left, right) = root.split_horizontally(w - 130);
        let (dx, dy) = ((xs[xs.len() - 1] - xs[0]) / (xs.len() - 1) as f64, (ys[ys.len() - 1] - ys[0]) / (ys.len() - 1) as f64);
        let mut chart = ChartBuilder::on(&left)
            .caption(self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d((xs[0] - dx / 2.0)..(xs[xs.len() - 1] + dx / 2.0), (ys[0] - dy / 2.0)..(ys[ys.len() - 1] + dy / 2.0))
            .map_err(draw_error(what))?;
        chart.configure_mesh().disable_mesh().label_style(("sans-serif", 13)).draw().map_err(draw_error(what))?;
        chart
            .draw_series(ys.iter().enumerate().flat_map(|(r, &y)| {
                let scale = &scale;
                xs.iter().enumerate().map(move |(c, &x)| {
                    // a missing value (an unconverged eigenvalue, a failed point) is light grey,
                    // never a colour of the scale
                    let v = self.values[r * xs.len() + c];
                    let color = if v.is_finite() { ViridisRGB::get_color(scale.unit(v)) } else { RGBColor(215, 215, 215) };
                    Rectangle::new([(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)], color.filled())
                })
            }))
            .map_err(draw_error(what))?;
        // contour lines, each labelled with its level at its middle segment's midpoint
        let levels = scale.levels(LEVELS);
        for (&level, segs) in levels.iter().zip(contour_segments(xs, ys, self.values, &levels)) {
            let ink = if scale.unit(level) > 0.6 { BLACK } else { WHITE };
            chart.draw_series(segs.iter().map(|s| PathElement::new(s.to_vec(), ink.mix(0.85).stroke_width(1)))).map_err(draw_error(what))?;
            if let Some(s) = segs.get(segs.len() / 2) {
                let at = ((s[0].0 + s[1].0) / 2.0, (s[0].1 + s[1].1) / 2.0);
                chart.draw_series(std::iter::once(Text::new(short(level), at, ("sans-serif", 13).into_font().color(&ink)))).map_err(draw_error(what))?;
            }
        }
        if self.path.len() > 1 {
            chart.draw_series(std::iter::once(PathElement::new(self.path.to_vec(), WHITE.stroke_width(2)))).map_err(draw_error(what))?;
            chart.draw_series(self.path.iter().map(|&p| Circle::new(p, 3, WHITE.filled()))).map_err(draw_error(what))?;
        }
        for (x, y, label) in self.marks {
            chart.draw_series(std::iter::once(Circle::new((*x, *y), 6, RED.filled()))).map_err(draw_error(what))?;
            chart.draw_series(std::iter::once(Text::new(label.clone(), (*x, *y), ("sans-serif", 16).into_font().color(&WHITE)))).map_err(draw_error(what))?;
        }
        // the colorbar: the scale's colors bottom to top, ticks at real values
        let (a, b) = (scale.t(scale.lo), scale.t(scale.hi).max(scale.t(scale.lo) + 1e-12));
        let label = if scale.log { format!("{} (log scale)", self.value_label) } else { self.value_label.to_string() };
        let mut bar = ChartBuilder::on(&right)
            .margin_top(50)
            .margin_bottom(55)
            .margin_right(10)
            .y_label_area_size(75)
            .build_cartesian_2d(0.0..1.0, a..b)
            .map_err(draw_error(what))?;
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(6)
            .y_label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .y_label_formatter(&|t| short(scale.inverse(*t)))
            .y_desc(label)
            .draw()
            .map_err(draw_error(what))?;
        let steps = 64;
        bar.draw_series((0..steps).map(|i| {
            let (t0, t1) = (a + (b - a) * i as f64 / steps as f64, a + (b - a) * (i + 1) as f64 / steps as f64);
            Rectangle::new([(0.0, t0), (1.0, t1)], ViridisRGB::get_color((i as f64 + 0.5) / steps as f64).filled())
        }))
        .map_err(draw_error(what))?;
        for &level in &levels {
            let t = scale.t(level);
            bar.draw_series(std::iter::once(PathElement::new(vec![(0.0, t), (1.0, t)], BLACK.stroke_width(1)))).map_err(draw_error(what))?;
        }
        root.present().map_err(draw_error(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contours_of_a_ramp_sit_where_the_ramp_takes_the_level() {
        // v(x, y) = 2x + 1 on x ∈ [−1, 1]: the level 1.5 is the line x = 0.25
        let xs: Vec<f64> = (0..9).map(|i| -1.0 + 0.25 * i as f64).collect();
        let ys: Vec<f64> = (0..5).map(|i| 10.0 + i as f64).collect();
        let v: Vec<f64> = ys.iter().flat_map(|_| xs.iter().map(|x| 2.0 * x + 1.0)).collect();
        let segs = contour_segments(&xs, &ys, &v, &[1.5]).remove(0);
        assert!(!segs.is_empty());
        for s in &segs {
            for p in s {
                assert!((p.0 - 0.25).abs() < 1e-9, "contour point {p:?} off the line x = 0.25");
                assert!(p.1 >= 9.5 - 1e-9 && p.1 <= 14.5 + 1e-9, "{p:?} outside the map");
            }
        }
        // the line spans the map: from the bottom edge to the top edge
        let (lo, hi) = segs.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.1), h.max(p.1)));
        assert!(lo <= 10.0 && hi >= 14.0, "{lo}..{hi}");
    }

    #[test]
    fn log_scale_levels_are_inside_the_range_and_evenly_spaced_in_log() {
        let s = Scale::new(&[0.01, 1.0, 100.0]).unwrap();
        assert!(s.log);
        let l = s.levels(3);
        assert_eq!(l.len(), 3);
        for (got, want) in l.iter().zip([0.1, 1.0, 10.0]) {
            assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
        }
        assert!(!Scale::new(&[-1.0, 1.0]).unwrap().log);
    }
}
