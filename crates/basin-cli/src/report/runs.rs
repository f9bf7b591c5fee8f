//! `basin report RUN_DIR...`: one page for one or several run folders — a summary table,
//! training curves (overlaid when there are several runs, with a legend), eigenvalue
//! tracking, the curvature, sharpness and noise-sensitivity measurements, landscapes (heat
//! maps with colorbar and contours), and each resolved config.

use super::html::{Page, Section, Table};
use super::run_folder::{Measurement, RunFolder};
use crate::plots::{Bar, ErrorBars, HeatMap, LinePlot, Point, Scatter, Series};
use basin_core::curvature::choice::OperatorKind;
use serde_json::Value;


fn num(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => match v {
            Value::Null => "—".into(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn pct(v: &Value) -> String {
    v.as_f64().map(|x| format!("{:.2} %", 100.0 * x)).unwrap_or_else(|| "—".into())
}

/// "Hessian", "Gauss–Newton (GGN)", … for an operator name in metrics.jsonl or hessian.json.
fn operator_label(name: &str) -> String {
    OperatorKind::parse(name).map(|k| k.label().to_string()).unwrap_or_else(|| name.to_string())
}

/// One curve per run of `(x, y)` drawn from its records of `kind`.
fn curves(runs: &[RunFolder], kind: &str, xy: impl Fn(&basin_core::train::metrics::MetricRecord) -> Option<(f64, f64)>) -> Vec<(String, Vec<(f64, f64)>)> {
    runs.iter().map(|r| (r.name.clone(), r.records(kind).filter_map(&xy).collect::<Vec<_>>())).filter(|(_, p)| !p.is_empty()).collect()
}

fn line_figure(sec: &mut Section, data: &[(String, Vec<(f64, f64)>)], title: &str, x: &str, y: &str, log_y: bool) {
    if data.is_empty() {
        return;
    }
    let series: Vec<Series<'_>> = data.iter().map(|(label, p)| Series { label: label.clone(), points: p }).collect();
    sec.figure(&LinePlot { title, x_label: x, y_label: y, series: &series, log_y }, title);
}

fn summary(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("summary", "Summary");
    let mut t = Table::new(&["run", "model", "estimator", "epochs", "steps", "train loss", "train acc", "test loss", "test acc", "converged at step", "seconds"]);
    for r in runs {
        match &r.summary {
            Some(s) => t.row(vec![
                r.name.clone(),
                num(&s["model"], 0),
                num(&s["estimator"], 0),
                num(&s["epochs"], 0),
                num(&s["steps"], 0),
                num(&s["train_loss"], 4),
                pct(&s["train_acc"]),
                num(&s["test_loss"], 4),
                pct(&s["test_acc"]),
                num(&s["converged_at_step"], 0),
                num(&s["seconds"], 1),
            ]),
            None => t.row(vec![r.name.clone(), "unfinished (no summary.json)".into()]),
        }
    }
    sec.table(&t);
    for r in runs.iter().filter(|r| r.torn_line.is_some()) {
        sec.text(&format!(
            "{}: metrics.jsonl ends in a torn line (line {}, written when the process was killed); it is left out of the curves below.",
            r.name,
            r.torn_line.unwrap_or_default()
        ));
    }
    sec
}

fn training(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("training", "Training curves");
    let steps = curves(runs, "step", |m| Some((m.step as f64, m.loss)));
    let loss = if steps.is_empty() { curves(runs, "epoch", |m| Some((m.step as f64, m.loss))) } else { steps };
    line_figure(&mut sec, &loss, "Training loss", "step", "training loss", true);
    line_figure(&mut sec, &curves(runs, "epoch", |m| Some((m.epoch as f64, m.loss))), "Training loss per epoch (mean over the epoch's batches)", "epoch", "training loss", true);
    line_figure(&mut sec, &curves(runs, "epoch", |m| m.test_loss.map(|l| (m.epoch as f64, l))), "Test loss", "epoch", "test loss", false);
    line_figure(&mut sec, &curves(runs, "epoch", |m| m.accuracy.map(|a| (m.epoch as f64, 100.0 * a))), "Test accuracy", "epoch", "test accuracy (%)", false);
    let lr_kind = if runs.iter().any(|r| r.records("step").next().is_some()) { "step" } else { "epoch" };
    line_figure(&mut sec, &curves(runs, lr_kind, |m| Some((m.step as f64, m.lr))), "Learning rate", "step", "learning rate", false);
    sec
}

fn curvature(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("curvature", "Curvature");
    for op in ["hessian", "ggn", "fd"] {
        let top = curves(runs, op, |m| m.eigenvalues.as_ref().and_then(|e| e.first()).map(|l| (m.step as f64, *l)));
        if top.is_empty() {
            continue;
        }
        let label = operator_label(op);
        line_figure(&mut sec, &top, &format!("Tracked top eigenvalue of the {label}"), "step", "λ₁", false);
        if let [one] = runs {
            let k = one.records(op).filter_map(|m| m.eigenvalues.as_ref().map(|e| e.len())).max().unwrap_or(0);
            let per_k: Vec<(String, Vec<(f64, f64)>)> = (0..k)
                .map(|i| (format!("λ{}", i + 1), one.records(op).filter_map(|m| m.eigenvalues.as_ref().and_then(|e| e.get(i)).map(|l| (m.step as f64, *l))).collect()))
                .collect();
            if k > 1 {
                line_figure(&mut sec, &per_k, &format!("Tracked top-{k} eigenvalues of the {label}"), "step", "eigenvalue", false);
            }
        }
        // curvature.track_alignment: the share of the gradient and of the step in the top-k span
        let grad = curves(runs, op, |m| m.alignment.as_ref().map(|a| (m.step as f64, a.grad_in_span)));
        let step = curves(runs, op, |m| m.alignment.as_ref().and_then(|a| a.step_in_span).map(|f| (m.step as f64, f)));
        let both: Vec<(String, Vec<(f64, f64)>)> = grad.into_iter().map(|(n, p)| (format!("{n}: gradient"), p)).chain(step.into_iter().map(|(n, p)| (format!("{n}: step"), p))).collect();
        line_figure(&mut sec, &both, &format!("Share of ‖g‖² and ‖Δw‖² in the span of the top eigenvectors of the {label}"), "step", "fraction in span", false);
    }
    let mut t = Table::new(&["run", "file", "operator", "subset", "top eigenvalues (mean over repeats)", "trace", "λ_min"]);
    let mut densities = Vec::new();
    for r in runs {
        for (file, m) in &r.measurements {
            let Measurement::Hessian(h) = m else { continue };
            let top: Vec<String> = h["mean"].as_array().map(|a| a.iter().map(|v| num(v, 4)).collect()).unwrap_or_default();
            t.row(vec![
                r.name.clone(),
                file.clone(),
                num(&h["operator_label"], 0),
                num(&h["subset_size"], 0),
                top.join(", "),
                num(&h["trace"]["mean"], 3),
                num(&h["bottom"]["eigenvalues"][0], 4),
            ]);
            if let (Some(g), Some(d)) = (h["density"]["grid"].as_array(), h["density"]["density"].as_array()) {
                let pts: Vec<(f64, f64)> = g.iter().zip(d).filter_map(|(x, y)| Some((x.as_f64()?, y.as_f64()?))).collect();
                densities.push((format!("{} — {} ({file})", num(&h["operator_label"], 0), r.name), pts));
            }
        }
    }
    if !t.rows.is_empty() {
        sec.subheading("Measured spectra (basin hessian)").table(&t);
    }
    per_layer(&mut sec, runs);
    for (title, pts) in &densities {
        line_figure(&mut sec, &[("SLQ".to_string(), pts.clone())], &format!("Spectral density of the {title}"), "eigenvalue", "density", true);
    }
    sec
}

/// `basin hessian --per-layer` measurements: a table per file and bar charts of each layer's
/// block λ_max and trace (± its standard error).
fn per_layer(sec: &mut Section, runs: &[RunFolder]) {
    for r in runs {
        for (file, m) in &r.measurements {
            let Measurement::Hessian(h) = m else { continue };
            let Some(rows) = h["per_layer"].as_array().filter(|a| !a.is_empty()) else { continue };
            let label = num(&h["operator_label"], 0);
            let mut t = Table::new(&["layer", "parameters", "λ_max of the block", "trace of the block", "‖block‖_F"]);
            let (mut top, mut trace) = (Vec::new(), Vec::new());
            for row in rows {
                let name = row["layer"].as_str().unwrap_or("?").to_string();
                t.row(vec![name.clone(), num(&row["parameters"], 0), num(&row["lambda_max"], 4), format!("{} ± {}", num(&row["trace"]["mean"], 4), num(&row["trace"]["stderr"], 2)), format!("{} ± {}", num(&row["frobenius"]["mean"], 4), num(&row["frobenius"]["stderr"], 2))]);
                top.push(Bar { label: name.clone(), mean: row["lambda_max"].as_f64().unwrap_or(f64::NAN), std: 0.0, paper: None });
                trace.push(Bar { label: name, mean: row["trace"]["mean"].as_f64().unwrap_or(f64::NAN), std: row["trace"]["stderr"].as_f64().filter(|s| s.is_finite()).unwrap_or(0.0), paper: None });
            }
            sec.subheading(&format!("Per-layer {label} blocks — {} ({file})", r.name)).table(&t);
            for (bars, what) in [(&top, "λ_max"), (&trace, "trace")] {
                let title = format!("{what} of each layer's {label} block — {}", r.name);
                sec.figure(&ErrorBars { title: &title, y_label: what, bars }, &title);
            }
        }
    }
}

/// With three or more finished runs that hold `basin measures`' measures.json: each measure's
/// rank correlations with the generalization gap (as `basin correlate` gives them) and a
/// scatter plot of the measure against the gap, one point per run, coloured by the
/// hyperparameter whose granulated ψ is largest in magnitude for that measure.
fn generalization(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("generalization", "Flatness against generalization");
    let dirs: Vec<std::path::PathBuf> = runs.iter().map(|r| std::path::PathBuf::from(&r.name)).filter(|d| d.join("measures.json").is_file()).collect();
    let a = match crate::commands::correlate::analyze(&dirs, "gap", false) {
        Ok(a) => a,
        Err(e) => {
            // the other sections stand; this one says why it is empty (runs of both target kinds
            // are a fine report, and no correlation)
            eprintln!("note: report: no correlation section: {}", e.message);
            sec.text(&format!("Not correlated: {}", e.message));
            return sec;
        }
    };
    if a.runs.len() < 3 || a.rows.is_empty() {
        return sec;
    }
    let f = |x: f64| if x.is_nan() { "—".to_string() } else { format!("{x:.3}") };
    let mut t = Table::new(&["measure", "n", "Kendall τ", "τ 95 % bootstrap", "Ψ", "CMI (min over pairs)"]);
    for r in &a.rows {
        // a measure whose runs were measured with different settings ranks two quantities together
        let n = if r.settings_kinds > 1 { format!("{} ({} different settings)", r.n, r.settings_kinds) } else { r.n.to_string() };
        t.row(vec![r.measure.clone(), n, f(r.tau), format!("{}–{}", f(r.interval.0), f(r.interval.1)), f(r.psi), f(r.cmi.0)]);
    }
    sec.text(&format!("{} runs; hyperparameters (the config keys in which they differ): {}. Gap = train accuracy − test accuracy. basin correlate gives ψ per hyperparameter.", a.runs.len(), a.names.join(", ")));
    sec.table(&t);
    for r in &a.rows {
        let by = r.per.iter().enumerate().filter(|(_, p)| p.is_finite()).max_by(|x, y| x.1.abs().total_cmp(&y.1.abs())).map(|(i, _)| a.names[i].clone());
        let points: Vec<Point> = a
            .runs
            .iter()
            .filter_map(|run| {
                let m = run.measures.get(&r.measure).filter(|v| v.is_finite())?;
                let group = by.as_ref().map(|k| format!("{k} = {}", run.config.get(k).cloned().unwrap_or_default()));
                Some(Point { label: String::new(), x: (*m, 0.0), y: (run.target, 0.0), paper: None, group })
            })
            .collect();
        if points.len() < 2 {
            continue;
        }
        let title = format!("{}: τ = {}", r.measure, f(r.tau));
        let caption = match &by {
            Some(k) => format!("{} against the gap, coloured by {k} (largest |ψ|)", r.measure),
            None => format!("{} against the gap", r.measure),
        };
        sec.figure(&Scatter { title: &title, x_label: &r.measure, y_label: "gap (train acc − test acc)", points: &points, baseline: None, join: false }, &caption);
    }
    sec
}

fn sharpness(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("sharpness", "Sharpness and noise sensitivity");
    let mut boxes = Table::new(&["run", "file", "protocol", "ε", "subspace", "(C_ε, A)-sharpness", "f₀", "per restart"]);
    let mut slopes = Table::new(&["run", "file", "slope s (train)", "slope s (test)"]);
    let mut noise_curves = Vec::new();
    for r in runs {
        for (file, m) in &r.measurements {
            let Measurement::Sharpness(s) = m else { continue };
            let b = &s["box"];
            if !b.is_null() {
                let per: Vec<String> = b["per_restart"].as_array().map(|a| a.iter().map(|v| num(v, 4)).collect()).unwrap_or_default();
                let sub = if b["subspace"].is_null() { "full space".to_string() } else { format!("{} dims", num(&b["subspace"], 0)) };
                boxes.row(vec![r.name.clone(), file.clone(), num(&b["protocol"], 0), num(&b["eps"], 6), sub, num(&b["sharpness"], 4), num(&b["f0"], 5), per.join(", ")]);
            }
            let n = &s["noise"];
            if !n.is_null() {
                slopes.row(vec![r.name.clone(), file.clone(), num(&n["slope_train"], 4), num(&n["slope_test"], 4)]);
                for set in ["train", "test"] {
                    let pts: Vec<(f64, f64)> = n[set].as_array().map(|a| a.iter().filter_map(|p| Some((p["a"].as_f64()?, p["loss"].as_f64()?))).collect()).unwrap_or_default();
                    noise_curves.push((format!("{} ({set})", r.name), pts));
                }
            }
        }
    }
    if !boxes.rows.is_empty() {
        sec.subheading("(C_ε, A)-sharpness (basin sharpness)").table(&boxes);
    }
    if !slopes.rows.is_empty() {
        sec.subheading("Noise sensitivity C̄(w; a)").table(&slopes);
        line_figure(&mut sec, &noise_curves, "Noise sensitivity C̄(w; a)", "a", "loss under noise", false);
    }
    sec
}

fn landscapes(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("landscapes", "Landscapes");
    for r in runs {
        for (file, m) in &r.measurements {
            let Measurement::Landscape(l) = m else { continue };
            let points = l["points"].as_array().cloned().unwrap_or_default();
            let coords: Vec<Vec<f64>> = points.iter().map(|p| p["coords"].as_array().map(|c| c.iter().filter_map(Value::as_f64).collect()).unwrap_or_default()).collect();
            let loss = |set: &str| -> Vec<f64> { points.iter().map(|p| p[set]["loss"].as_f64().unwrap_or(f64::NAN)).collect() };
            let kind = l["meta"]["kind"].as_str().unwrap_or("");
            let title = format!("{} — {file} ({kind})", r.name);
            if coords.first().is_some_and(|c| c.len() == 2) {
                // a grid in row-major order (x fastest): recover the axes
                let mut xs: Vec<f64> = coords.iter().map(|c| c[0]).collect();
                let mut ys: Vec<f64> = coords.iter().map(|c| c[1]).collect();
                for v in [&mut xs, &mut ys] {
                    v.sort_by(f64::total_cmp);
                    v.dedup();
                }
                let (set, what) = if kind == "plane" { ("test", "test loss") } else { ("train", "training loss") };
                let marks: Vec<(f64, f64, String)> = l["meta"]["coordinates"]
                    .as_array()
                    .map(|a| a.iter().enumerate().filter_map(|(i, p)| Some((p[0].as_f64()?, p[1].as_f64()?, format!("{}", i + 1)))).collect())
                    .unwrap_or_else(|| if kind == "surface" { vec![(0.0, 0.0, "w".to_string())] } else { Vec::new() });
                // a trajectory's path (`landscape trajectory`), and the explained variance
                let path: Vec<(f64, f64)> = l["meta"]["path"].as_array().map(|a| a.iter().filter_map(|p| Some((p["x"].as_f64()?, p["y"].as_f64()?))).collect()).unwrap_or_default();
                if let Some(ev) = l["meta"]["explained_variance"].as_array() {
                    let ev: Vec<String> = ev.iter().filter_map(Value::as_f64).map(|v| format!("{:.1} %", 100.0 * v)).collect();
                    sec.text(&format!("{title}: the two PCA directions of the trajectory explain {} of its variance", ev.join(" and ")));
                }
                if xs.len() * ys.len() == coords.len() {
                    let values = loss(set);
                    sec.figure(&HeatMap { title: &title, xs: &xs, ys: &ys, values: &values, marks: &marks, value_label: what, path: &path }, &format!("{title}: {what}"));
                    // eigenvalue maps (`surface --eigen`)
                    for (end, name) in [("max", "λ_max of the Hessian"), ("min", "λ_min of the Hessian")] {
                        let values: Vec<f64> = points.iter().map(|p| p["eigen"][end].as_f64().unwrap_or(f64::NAN)).collect();
                        if values.iter().all(|v| v.is_finite()) {
                            sec.figure(&HeatMap { title: &title, xs: &xs, ys: &ys, values: &values, marks: &marks, value_label: name, path: &[] }, &format!("{title}: {name}"));
                        }
                    }
                } else {
                    sec.text(&format!("{title}: the points do not form a grid"));
                }
            } else {
                let tr: Vec<(f64, f64)> = coords.iter().zip(loss("train")).filter_map(|(c, l)| Some((*c.first()?, l))).collect();
                let te: Vec<(f64, f64)> = coords.iter().zip(loss("test")).filter_map(|(c, l)| Some((*c.first()?, l))).collect();
                line_figure(&mut sec, &[("train".into(), tr), ("test".into(), te)], &title, "t", "loss", true);
            }
        }
    }
    sec
}

fn config(runs: &[RunFolder]) -> Section {
    let mut sec = Section::new("config", "Configuration");
    for r in runs {
        sec.subheading(&r.name).pre(&r.config);
    }
    sec
}

/// The page for `runs`.
pub fn page(runs: &[RunFolder]) -> Page {
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    Page {
        title: format!("basin report — {}", names.join(", ")),
        subtitle: format!("{} run folder{}; written by basin {}", runs.len(), if runs.len() == 1 { "" } else { "s" }, env!("CARGO_PKG_VERSION")),
        sections: vec![summary(runs), training(runs), curvature(runs), sharpness(runs), generalization(runs), landscapes(runs), config(runs)],
    }
}
