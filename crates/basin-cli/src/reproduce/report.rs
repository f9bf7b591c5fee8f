//! `basin reproduce NAME --report`: aggregates the runs that exist into report.md,
//! report.html (self-contained, the renderer of `basin report`) and report.json — each cell's metrics as mean ± std (n), the paper's numbers beside them with the
//! difference in units of the combined standard deviation, and a verdict per claim.

use super::experiment::{Experiment, FigureSpec, METRICS, Reference, number, parse_comparison, slug};
use crate::CliError;
use crate::plots::{Bar, ErrorBars, Point, Scatter};
use crate::report::html::{Page, Section, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Mean, sample standard deviation and count.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Values.
    pub n: usize,
}

impl Stat {
    /// Of `xs` (non-empty).
    pub fn of(xs: &[f64]) -> Stat {
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let std = if n > 1 { (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        Stat { mean, std, n }
    }
}

/// A claim's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The paper's words.
    pub text: String,
    /// The comparison.
    pub test: String,
    /// Welch's t of left − right (signed so that positive supports the claim).
    pub t: Option<f64>,
    /// Its Welch–Satterthwaite degrees of freedom ν.
    pub df: Option<f64>,
    /// `reproduced` (t ≥ t₀.₉₅(ν), the one-sided 95 % point of Student's t at ν), `not
    /// reproduced` (t ≤ −t₀.₉₅(ν)), `inconclusive` (between), `inconclusive (not measured)` (a
    /// cell has no value: no finished run, or the metric is not measured at this scale),
    /// `inconclusive (too few seeds)` (fewer than 2 runs in a cell), `inconclusive (no spread)`
    /// (both cells without variance: t is not defined), or `inconclusive (below f32
    /// resolution)` (means within 1e-6 of their scale).
    pub verdict: String,
}

/// Welch's t supporting `left > right` (or `<`), its Welch–Satterthwaite degrees of freedom,
/// and the verdict: a one-sided test at the 95 % level, each claim having a direction. The
/// critical value is Student's t at ν (`statrs`): 6.31 at ν = 1, 2.92 at ν = 2, 1.81 at ν = 10,
/// so two seeds per cell must agree closely before a claim counts as reproduced.
pub fn judge(left: Option<Stat>, right: Option<Stat>, greater: bool) -> (Option<f64>, Option<f64>, String) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (Some(l), Some(r)) = (left, right) else { return (None, None, "inconclusive (not measured)".into()) };
    if l.n < 2 || r.n < 2 {
        return (None, None, "inconclusive (too few seeds)".into());
    }
    // basin computes in f32: means that differ by less than 1e-6 of their scale are the
    // same number to the measurement, whatever their spread (which is round-off too)
    if (l.mean - r.mean).abs() <= 1e-6 * l.mean.abs().max(r.mean.abs()).max(1.0) {
        return (None, None, "inconclusive (below f32 resolution)".into());
    }
    let (a, b) = (l.std.powi(2) / l.n as f64, r.std.powi(2) / r.n as f64);
    if a + b == 0.0 {
        // seeds that tie within each cell (an accuracy on a grid of 1e-4, a step count) give
        // no spread to judge a difference against
        return (None, None, "inconclusive (no spread)".into());
    }
    let d = if greater { l.mean - r.mean } else { r.mean - l.mean };
    let t = d / (a + b).sqrt();
    let df = (a + b).powi(2) / (a * a / (l.n - 1) as f64 + b * b / (r.n - 1) as f64);
    let critical = StudentsT::new(0.0, 1.0, df).expect("ν > 0").inverse_cdf(0.95);
    let v = if t >= critical {
        "reproduced"
    } else if t <= -critical {
        "not reproduced"
    } else {
        "inconclusive"
    };
    (Some(t), Some(df), v.into())
}

/// Everything the report shows.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Experiment name.
    pub name: String,
    /// Scale.
    pub scale: String,
    /// cell → metric → statistic.
    pub cells: BTreeMap<String, BTreeMap<String, Stat>>,
    /// Paper against basin.
    pub references: Vec<(Reference, Option<Stat>, Option<f64>)>,
    /// Claims.
    pub claims: Vec<Verdict>,
    /// Finished runs / runs of the design.
    pub runs: (usize, usize),
}

/// The metrics of one finished run folder (summary.json and the measurement files; λ_max from
/// hessian.json, else from sharpest.json), or None if unfinished. A run with an averaged model
/// (`[average]`) is the averaged model's: its losses and accuracies (the trained weights' test
/// accuracy as `endpoint_test_acc`), as its measurements are (`--averaged`).
pub fn run_metrics(dir: &Path) -> Option<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let s: serde_json::Value = serde_json::from_str(&text).ok()?;
    let mut m = BTreeMap::new();
    for k in METRICS {
        if let Some(v) = s[*k].as_f64() {
            m.insert(k.to_string(), v);
        }
    }
    if s["averaged"].is_object() {
        if let Some(v) = s["test_acc"].as_f64() {
            m.insert("endpoint_test_acc".into(), v);
        }
        for k in ["test_acc", "test_loss", "train_loss", "train_acc"] {
            if let Some(v) = s["averaged"][k].as_f64() {
                m.insert(k.into(), v);
            }
        }
    }
    let json = |f: &str| std::fs::read_to_string(dir.join(f)).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if let Some(v) = json("hessian.json").and_then(|h| h["mean"][0].as_f64()) {
        m.insert("lambda_max".into(), v);
    }
    if let Some(row) = json("sharpest.json").map(|t| t[0].clone()) {
        for (k, v) in [("lambda_max", &row["lambda_max"]), ("hessian_fro", &row["frobenius"]["mean"]), ("dist_init", &row["dist_init"])] {
            if let Some(v) = v.as_f64() {
                m.entry(k.to_string()).or_insert(v);
            }
        }
    }
    if let Some(v) = json("sharpness.json").and_then(|s| s["box"]["sharpness"].as_f64()) {
        m.insert("sharpness".into(), v);
    }
    if let Some(v) = json("sharpness-code.json").and_then(|s| s["box"]["sharpness"].as_f64()) {
        m.insert("sharpness_code".into(), v);
    }
    if let Some(n) = json("noise.json") {
        for (k, f) in [("noise_slope_train", "slope_train"), ("noise_slope_test", "slope_test")] {
            if let Some(v) = n["noise"][f].as_f64() {
                m.insert(k.into(), v);
            }
        }
    }
    // the peak of the tracked top eigenvalue (curvature.track_every) and its step
    let tracked: Vec<(f64, f64)> = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["eigenvalues"].is_array())
        .filter_map(|r| Some((r["step"].as_f64()?, r["eigenvalues"][0].as_f64()?)))
        .collect();
    if let Some(&(step, peak)) = tracked.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        m.insert("lambda_peak".into(), peak);
        m.insert("lambda_peak_step".into(), step);
    }
    Some(m)
}

/// Aggregates the runs under `out` for `scale`.
pub fn build(e: &Experiment, scale: &str, seeds: usize, out: &Path) -> Report {
    let mut cells = BTreeMap::new();
    let mut done = 0;
    for c in &e.cells {
        let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for s in 0..seeds {
            if let Some(m) = run_metrics(&out.join(slug(&c.name)).join(format!("seed-{s}"))) {
                done += 1;
                for (k, v) in m {
                    per.entry(k).or_default().push(v);
                }
            }
        }
        cells.insert(c.name.clone(), per.into_iter().map(|(k, v)| (k, Stat::of(&v))).collect::<BTreeMap<_, _>>());
    }
    let get = |metric: &str, cell: &str| cells.get(cell).and_then(|m: &BTreeMap<String, Stat>| m.get(metric)).copied();
    let references = e
        .references
        .iter()
        .map(|r| {
            let s = get(&r.metric, &r.cell);
            let z = s.and_then(|s| {
                let sd = (s.std.powi(2) + r.std.unwrap_or(0.0).powi(2)).sqrt();
                (sd > 0.0).then(|| (s.mean - r.value) / sd)
            });
            (r.clone(), s, z)
        })
        .collect();
    let claims = e
        .claims
        .iter()
        .map(|c| {
            let p = parse_comparison(&c.test).expect("checked when loading");
            let (t, df, verdict) = judge(get(&p.left.0, &p.left.1), get(&p.right.0, &p.right.1), p.greater);
            Verdict { text: c.text.clone(), test: c.test.clone(), t, df, verdict }
        })
        .collect();
    Report { name: e.name.clone(), scale: scale.into(), cells, references, claims, runs: (done, e.cells.len() * seeds) }
}

fn fmt(s: &Stat) -> String {
    let digits = if s.mean.abs() >= 1000.0 {
        0
    } else if s.mean.abs() >= 10.0 {
        1
    } else {
        4
    };
    format!("{:.digits$} ± {:.digits$} (n={})", s.mean, s.std, s.n)
}

/// The report's three tables: cells (mean ± std (n) per metric), the paper against basin,
/// and the claims with their verdicts. Markdown and HTML are rendered from these.
pub fn tables(e: &Experiment, r: &Report) -> (Table, Table, Table) {
    let metrics: Vec<&str> = METRICS.iter().copied().filter(|m| r.cells.values().any(|c| c.contains_key(*m))).collect();
    let mut header = vec!["cell"];
    header.extend(&metrics);
    let mut cells = Table::new(&header);
    for c in &e.cells {
        let mut row = vec![c.name.clone()];
        row.extend(metrics.iter().map(|m| r.cells.get(&c.name).and_then(|x| x.get(*m)).map(fmt).unwrap_or_else(|| "—".into())));
        cells.row(row);
    }
    let mut refs = Table::new(&["cell", "metric", "paper", "basin", "(basin − paper) / σ"]);
    for (p, s, z) in &r.references {
        let paper = match p.std {
            Some(sd) => format!("{} ± {} ({})", p.value, sd, p.source),
            None => format!("{} ({})", p.value, p.source),
        };
        refs.row(vec![p.cell.clone(), p.metric.clone(), paper, s.as_ref().map(fmt).unwrap_or_else(|| "—".into()), z.map(|z| if z.abs() >= 1e3 { format!("{z:+.1e}") } else { format!("{z:+.1}") }).unwrap_or_else(|| "—".into())]);
    }
    let mut claims = Table::new(&["claim", "test", "Welch t", "ν", "verdict"]);
    for v in &r.claims {
        let num = |x: Option<f64>, f: fn(f64) -> String| x.map(f).unwrap_or_else(|| "—".into());
        claims.row(vec![v.text.clone(), v.test.clone(), num(v.t, |t| format!("{t:+.2}")), num(v.df, |d| format!("{d:.1}")), v.verdict.clone()]);
    }
    (cells, refs, claims)
}

const VERDICT_RULE: &str = "Verdicts: Welch's t of the two cells' means over seeds, one-sided at 95 %: reproduced when t ≥ t₀.₉₅(ν), Student's t at the Welch–Satterthwaite degrees of freedom ν (6.31 at ν = 1, 2.92 at ν = 2, 1.81 at ν = 10), not reproduced when t ≤ −t₀.₉₅(ν), inconclusive otherwise, with fewer than 2 seeds per cell, when neither cell varies over its seeds, or when the means differ by less than 1e-6 of their scale (f32 resolution).";

/// One line on what the experiment is and how far it got.
fn lead(e: &Experiment, r: &Report) -> String {
    let mut s = format!("Source: {}. Data: {}", e.source, e.data);
    if !e.stand_in_for.is_empty() {
        s += &format!(" (stand-in for {})", e.stand_in_for);
    }
    s + &format!(". Scale: {}. Finished runs: {} of {}.", r.scale, r.runs.0, r.runs.1)
}

/// The report as Markdown.
pub fn markdown(e: &Experiment, r: &Report) -> String {
    let (cells, refs, claims) = tables(e, r);
    let mut md = format!("# {} — {}\n\n{}\n\n", e.name, e.title, lead(e, r));
    md += &cells.markdown();
    if !refs.rows.is_empty() {
        md += &format!("\n{}", refs.markdown());
    }
    if !claims.rows.is_empty() {
        md += &format!("\n{}", claims.markdown());
    }
    md + &format!("\n{VERDICT_RULE}\n")
}

/// The report as one self-contained HTML page (the renderer of `basin report`), with an
/// error-bar figure per compared metric (`bars`, from `metric_bars`).
pub fn html(e: &Experiment, r: &Report, bars: &[(String, Vec<Bar>)]) -> Page {
    let (cells, refs, claims) = tables(e, r);
    let mut results = Section::new("cells", "Cells: mean ± std (n) over seeds");
    results.table(&cells);
    let mut paper = Section::new("paper", "The paper's numbers against basin's");
    if !refs.rows.is_empty() {
        paper.table(&refs);
    }
    let mut verdicts = Section::new("claims", "Claims and verdicts");
    if !claims.rows.is_empty() {
        verdicts.table(&claims);
    }
    verdicts.text(VERDICT_RULE);
    let mut figures = Section::new("plots", "Error bars");
    for (m, bars) in bars {
        let title = format!("{} — {m} ({} scale)", e.name, r.scale);
        figures.figure(&ErrorBars { title: &title, y_label: m, bars }, &format!("{m}: mean ± std over seeds (blue) and the paper's value (red)"));
    }
    for f in figure_points(e, r).into_iter().filter(|f| !f.points.is_empty()) {
        let title = format!("{} ({} scale)", f.spec.title, r.scale);
        figures.figure(&f.scatter(&title), &format!("{} against {}: mean ± std over seeds per cell, the paper's values (red)", f.spec.y, f.spec.x));
    }
    Page { title: format!("{} — {}", e.name, e.title), subtitle: lead(e, r), sections: vec![results, paper, verdicts, figures] }
}

/// The metrics named by a claim or a reference, in the order they first appear.
fn plotted_metrics(e: &Experiment) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let named = e.claims.iter().filter_map(|c| parse_comparison(&c.test)).flat_map(|p| [p.left.0, p.right.0]).chain(e.references.iter().map(|r| r.metric.clone()));
    for m in named {
        if !v.contains(&m) {
            v.push(m);
        }
    }
    v
}

/// Each compared metric's bars: every cell's mean ± std with the paper's value.
fn metric_bars(e: &Experiment, r: &Report) -> Vec<(String, Vec<Bar>)> {
    plotted_metrics(e)
        .into_iter()
        .map(|m| {
            let bars: Vec<Bar> = e
                .cells
                .iter()
                .filter_map(|c| {
                    let s = r.cells.get(&c.name)?.get(&m)?;
                    let paper = e.references.iter().find(|p| p.cell == c.name && p.metric == m).map(|p| p.value);
                    Some(Bar { label: c.name.clone(), mean: s.mean, std: s.std, paper })
                })
                .collect();
            (m, bars)
        })
        .filter(|(_, b)| !b.is_empty())
        .collect()
}

/// Draws `<metric>.svg` (+ .png) into `out` for each metric's `bars`; returns the files
/// written.
fn plots(e: &Experiment, r: &Report, bars: &[(String, Vec<Bar>)], out: &Path) -> Vec<String> {
    let mut written = Vec::new();
    for (m, bars) in bars {
        let file = out.join(format!("{m}.svg"));
        match crate::plots::error_bars(&file, &format!("{} — {m} ({} scale)", e.name, r.scale), m, bars) {
            Ok(()) => written.push(format!("{m}.svg")),
            Err(err) => eprintln!("warning: {}", err.message),
        }
    }
    written
}

/// One `[[figures]]` entry ready to draw: its points and its baseline.
struct FigureData<'a> {
    spec: &'a FigureSpec,
    points: Vec<Point>,
    /// The baseline cell's name and mean of `y`.
    baseline: Option<(String, f64)>,
}

impl FigureData<'_> {
    /// The scatter plot under `title`.
    fn scatter<'b>(&'b self, title: &'b str) -> Scatter<'b> {
        Scatter { title, x_label: &self.spec.x, y_label: &self.spec.y, points: &self.points, baseline: self.baseline.as_ref().map(|(l, v)| (l.as_str(), *v)), join: true }
    }
}

/// Each `[[figures]]` entry's points: the cells with both values, and the paper's values where
/// it gives both. An `x` that is a config key is the cell's setting at the report's scale
/// (no spread); `group` names each point's line.
fn figure_points<'a>(e: &'a Experiment, r: &Report) -> Vec<FigureData<'a>> {
    e.figures
        .iter()
        .map(|f| {
            let points = f
                .cells
                .iter()
                .filter_map(|c| {
                    let m = r.cells.get(c)?;
                    let cell = e.cells.iter().find(|x| &x.name == c)?;
                    let x = match m.get(&f.x) {
                        Some(x) => (x.mean, x.std),
                        None => (number(&e.setting(cell, &r.scale, &f.x)?)?, 0.0),
                    };
                    let y = m.get(&f.y)?;
                    let paper = |metric: &str| e.references.iter().find(|p| &p.cell == c && p.metric == metric).map(|p| p.value);
                    let group = f.group.as_ref().and_then(|g| {
                        let v = e.setting(cell, &r.scale, g)?;
                        Some(format!("{g} = {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                    });
                    Some(Point { label: c.clone(), x, y: (y.mean, y.std), paper: paper(&f.x).zip(paper(&f.y)), group })
                })
                .collect();
            let baseline = f.baseline.as_ref().and_then(|b| Some((b.clone(), r.cells.get(b)?.get(&f.y)?.mean)));
            FigureData { spec: f, points, baseline }
        })
        .collect()
}

/// Draws each `[[figures]]` entry that has points as `NAME.svg` (+ .png); returns the files.
fn figure_plots(e: &Experiment, r: &Report, out: &Path) -> Vec<String> {
    let mut written = Vec::new();
    for f in figure_points(e, r) {
        if f.points.is_empty() {
            eprintln!("note: figure {}: no cell has both {} and {} yet", f.spec.name, f.spec.x, f.spec.y);
            continue;
        }
        let title = format!("{} ({} scale)", f.spec.title, r.scale);
        match crate::plots::write(&f.scatter(&title), &out.join(format!("{}.svg", f.spec.name))) {
            Ok(()) => written.push(format!("{}.svg", f.spec.name)),
            Err(err) => eprintln!("warning: {}", err.message),
        }
    }
    written
}

/// Writes report.md (with the plots), report.json and one plot per compared metric into `out`.
pub fn write(e: &Experiment, r: &Report, out: &Path) -> Result<(), CliError> {
    let bars = metric_bars(e, r);
    let mut figures = plots(e, r, &bars, out);
    figures.extend(figure_plots(e, r, out));
    let mut md = markdown(e, r);
    for f in &figures {
        md += &format!("\n![{f}]({f})\n");
    }
    basin_core::train::checkpoint::write_atomic(&out.join("report.md"), md.as_bytes())?;
    basin_core::train::checkpoint::write_atomic(&out.join("report.json"), &serde_json::to_vec_pretty(r).expect("report serializes"))?;
    html(e, r, &bars).write(&out.join("report.html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_welch_t() {
        let s = |mean, std, n| Some(Stat { mean, std, n });
        assert_eq!(judge(s(0.9, 0.01, 3), s(0.8, 0.01, 3), true).2, "reproduced");
        assert_eq!(judge(s(0.8, 0.01, 3), s(0.9, 0.01, 3), true).2, "not reproduced");
        assert_eq!(judge(s(0.9, 0.1, 3), s(0.89, 0.1, 3), true).2, "inconclusive");
        assert_eq!(judge(s(0.9, 0.0, 1), s(0.8, 0.0, 3), true).2, "inconclusive (too few seeds)");
        // the authors' sharpness protocol at these minima: round-off against round-off
        assert_eq!(judge(s(2.6e-7, 0.5e-7, 3), s(1.4e-7, 0.1e-7, 3), true).2, "inconclusive (below f32 resolution)");
        assert_eq!(judge(s(0.8, 0.01, 3), s(0.9, 0.01, 3), false).2, "reproduced");
        // two seeds per cell, one of them spread: t = 2.5 at ν = 1.0 is not enough (t₀.₉₅(1) =
        // 6.31, a two-sided p of 0.24), though it passed the old fixed t ≥ 2
        let (t, df, v) = judge(s(0.925, 0.02, 2), s(0.89, 0.0, 2), true);
        assert!((t.unwrap() - 2.475).abs() < 1e-3 && (df.unwrap() - 1.0).abs() < 1e-12, "{t:?} {df:?}");
        assert_eq!(v, "inconclusive");
        // many seeds: the critical value nears the normal's 1.645, and t = 1.9 passes
        let (t, df, v) = judge(s(1.0 + 1.9 * (2.0f64 / 400.0).sqrt(), 1.0, 400), s(1.0, 1.0, 400), true);
        assert!((t.unwrap() - 1.9).abs() < 1e-9 && df.unwrap() > 790.0, "{t:?} {df:?}");
        assert_eq!(v, "reproduced");
        // seeds that tie within each cell: no t
        assert_eq!(judge(s(0.9, 0.0, 2), s(0.8, 0.0, 2), true).2, "inconclusive (no spread)");
        let st = Stat::of(&[1.0, 2.0, 3.0]);
        assert_eq!((st.mean, st.std, st.n), (2.0, 1.0, 3));
    }
}
