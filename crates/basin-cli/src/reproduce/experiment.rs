//! An experiment file (`experiments/NAME.toml`): a base config, cells (named groups of `--set`
//! overrides), seeds, measurements after training, the paper's reference numbers and the claims
//! as comparisons between cells. A user adds an experiment by writing such a file.

use crate::CliError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One experiment, as written in its TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Short name (the file stem).
    pub name: String,
    /// What it reproduces, in a line.
    pub title: String,
    /// Paper and table or figure.
    pub source: String,
    /// Data set of the runs, and what the paper used when this is a stand-in.
    pub data: String,
    /// The paper's data when `data` is a stand-in (e.g. CIFAR-10), else empty.
    #[serde(default)]
    pub stand_in_for: String,
    /// Seeds per cell at full scale.
    pub seeds: usize,
    /// Measurements after training beyond summary.json: `lambda_max` (top eigenvalue of the
    /// exact Hessian on 5 % of the training set, `basin hessian`), `noise` (noise sensitivity
    /// C̄(w; a) and its slope, `basin sharpness --no-box`), `sharpness` ((C_ε, A)-sharpness,
    /// `basin sharpness` on 5,000 training examples; `sharpness_1k` the same on 1,000),
    /// `sharpness_code` (the same box under the SmoothOut authors' script's protocol,
    /// `basin sharpness --protocol smoothout-code`).
    #[serde(default)]
    pub measure: Vec<String>,
    /// Minutes on the 2-core development machine, per scale (for `--list`).
    #[serde(default)]
    pub minutes: BTreeMap<String, f64>,
    /// `--set` overrides of every run.
    #[serde(default)]
    pub base: BTreeMap<String, toml::Value>,
    /// Per-scale changes: `quick`, `full`, and any other scale the file defines (e.g. a
    /// `medium` scale, the largest that fits the development machine).
    #[serde(default)]
    pub scale: BTreeMap<String, Scale>,
    /// Named training protocols beside the papers' text (`basin reproduce --protocol NAME`),
    /// e.g. `smoothout-code`: what the authors' published code does that the text does not say.
    #[serde(default)]
    pub protocol: BTreeMap<String, Protocol>,
    /// A hyperparameter grid: config key → values. Every combination becomes a cell, after
    /// the listed `cells`, named `key=value …` by the keys' last segments (e.g.
    /// `lr=0.1 batch_size=32`). A scale's `grid` narrows the values that run at that scale.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// The cells.
    #[serde(default)]
    pub cells: Vec<Cell>,
    /// The paper's numbers.
    #[serde(default)]
    pub references: Vec<Reference>,
    /// The claims, e.g. `test_acc[LB+SmoothOut] > test_acc[LB]`.
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// Figures beyond the error bars: one metric against another, a point per cell.
    #[serde(default)]
    pub figures: Vec<FigureSpec>,
}

/// `[[figures]]`: `y` against `x` over `cells` (mean ± std in both), as `NAME.svg`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// File stem.
    pub name: String,
    /// Title (the paper's figure it stands for).
    pub title: String,
    /// On the x axis: a metric, or a config key every cell sets to a number (a sweep's
    /// parameter, e.g. `estimator.level` for the S-SGD paper's Fig. 3).
    pub x: String,
    /// Metric on the y axis.
    pub y: String,
    /// Cells, in order.
    pub cells: Vec<String>,
    /// A config key whose value groups the cells into lines (e.g. `estimator.layers`).
    pub group: Option<String>,
    /// A cell drawn as a horizontal line at its mean of `y` (e.g. the SGD baseline).
    pub baseline: Option<String>,
}

/// A scale: its seeds and overrides on top of `base`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// Seeds per cell (default: the experiment's).
    pub seeds: Option<usize>,
    /// Overrides.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// The measurements at this scale (default: the experiment's `measure`), e.g. a cheaper
    /// sharpness budget at `quick`.
    pub measure: Option<Vec<String>>,
    /// The grid's values that run at this scale (keys of the experiment's `grid`; a key not
    /// named keeps all its values), e.g. a corner of the grid at `quick`.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<toml::Value>>,
}

/// `[protocol.NAME]`: a training protocol other than the paper's text, as overrides of every
/// run (and each cell's own, `protocol = { NAME = {…} }`), reported in its own folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// What the protocol is and where it comes from, in a line (shown in the report).
    pub title: String,
    /// Overrides of every run, applied after the scale's.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
}

/// A named group of overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cell {
    /// Name, used in claims and references.
    pub name: String,
    /// Overrides on top of base and scale.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    /// Per-scale overrides of this cell, applied last (e.g. a shorter phase schedule at
    /// `quick` for a cell that sets its own `phases`).
    #[serde(default)]
    pub scale: BTreeMap<String, BTreeMap<String, toml::Value>>,
    /// The scales this cell runs at (default: all), e.g. a sweep too large for `quick`.
    pub scales: Option<Vec<String>>,
    /// Per-protocol overrides of this cell (e.g. the authors' per-chunk noise on the SmoothOut
    /// cells only), applied with the protocol's own.
    #[serde(default)]
    pub protocol: BTreeMap<String, BTreeMap<String, toml::Value>>,
}

/// A number from the paper.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Cell.
    pub cell: String,
    /// Metric (`test_acc`, `lambda_max`, `converged_at_step`, …).
    pub metric: String,
    /// The paper's value.
    pub value: f64,
    /// The paper's standard deviation, when it gives one.
    pub std: Option<f64>,
    /// Table or figure.
    pub source: String,
}

/// A claim: `metric[cell] > metric[cell]` (or `<`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The paper's words.
    pub text: String,
    /// The comparison.
    pub test: String,
}

/// A parsed claim: `metric[a]` (greater than, if `greater`) `metric[b]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Left metric and cell.
    pub left: (String, String),
    /// Right metric and cell.
    pub right: (String, String),
    /// `>` (true) or `<`.
    pub greater: bool,
}

/// Parses `metric[cell] > metric[cell]`.
pub fn parse_comparison(s: &str) -> Option<Comparison> {
    let (l, r, greater) = match (s.split_once('>'), s.split_once('<')) {
        (Some((l, r)), None) => (l, r, true),
        (None, Some((l, r))) => (l, r, false),
        _ => return None,
    };
    let term = |t: &str| {
        let t = t.trim();
        let (m, rest) = t.split_once('[')?;
        let c = rest.strip_suffix(']')?;
        (!m.trim().is_empty() && !c.trim().is_empty()).then(|| (m.trim().to_string(), c.trim().to_string()))
    };
    Some(Comparison { left: term(l)?, right: term(r)?, greater })
}

/// The metrics a report knows: from summary.json, the tracked eigenvalues in metrics.jsonl
/// (peak of the top one and its step), and the measurements.
pub const METRICS: &[&str] = &[
    "test_acc", "test_loss", "train_loss", "train_acc", "steps", "converged_at_step", "seconds", "lambda_max", "lambda_peak", "lambda_peak_step", "noise_slope_train",
    "noise_slope_test", "sharpness", "sharpness_code", "hessian_fro", "dist_init", "endpoint_test_acc",
];

/// The measures of `basin measures` that the `generalization` measurement computes on every
/// run of a grid: all but `trace`, `frobenius` and `c-eps-sharpness`, which cost 20–140
/// training-set passes each (BENCHMARKS.md, "Generalization measures: what each costs").
pub const GRID_MEASURES: &str = "norms,margin,path-norm,lambda-max,pacbayes,pacbayes-mag,sharpness,sharpness-mag,worst-case,average-case,relative-flatness,fisher-rao";

/// A measurement after training: the file it writes in the run folder and the `basin`
/// arguments that write it (the run folder is appended as `--run DIR`, and the file as `--json
/// FILE` unless the command is `basin measures`, which writes measures.json itself).
pub fn measurement(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    match name {
        // Jiang et al.'s protocol: the generalization measures, for `basin correlate`
        "generalization" => Some(("measures.json", &["measures", "--measures", GRID_MEASURES])),
        "lambda_max" => Some(("hessian.json", &["hessian", "--top-k", "1"])),
        "noise" => Some(("noise.json", &["sharpness", "--no-box", "--noise", "0,0.005,0.01,0.02,0.04"])),
        // SmoothOut Table I: ε = 5e-4, full space, the maximum of 5 L-BFGS-B runs; on 5,000
        // training examples (a CPU budget: each evaluation is a pass over them)
        "sharpness" => Some(("sharpness.json", &["sharpness", "--eps", "5e-4", "--restarts", "5", "--max-evals", "20", "--samples", "5000"])),
        // the same on 1,000 examples: the quick scale's budget (same metric, same file)
        "sharpness_1k" => Some(("sharpness.json", &["sharpness", "--eps", "5e-4", "--restarts", "5", "--max-evals", "20", "--samples", "1000"])),
        // the sharpest-directions paper's NSGD table: λ_max(H), ‖H‖_F and ‖θ − θ₀‖
        "sharpest_table" => Some(("sharpest.json", &["sharpest", "table", "--subset", "0.05"])),
        // the SmoothOut authors' measure_sharpness.py: validation set, 100-dim subspace, one
        // fmin_l_bfgs_b run of 10 iterations from y = 0
        "sharpness_code" => Some(("sharpness-code.json", &["sharpness", "--protocol", "smoothout-code", "--eps", "5e-4"])),
        _ => None,
    }
}

impl Experiment {
    /// Reads and checks `path`; errors name the file and the field.
    pub fn load(path: &Path) -> Result<Experiment, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
        let mut e: Experiment = toml::from_str(&text).map_err(|e| CliError::input(format!("{}: {}", path.display(), e.message().lines().next().unwrap_or("invalid"))))?;
        let bad = |m: String| Err(CliError::input(format!("{}: {m}", path.display())));
        if let Err(m) = e.expand_grid() {
            return bad(m);
        }
        if e.cells.is_empty() || e.seeds == 0 {
            return bad("needs at least one cell and one seed".into());
        }
        let names: Vec<&str> = e.cells.iter().map(|c| c.name.as_str()).collect();
        for (i, c) in e.cells.iter().enumerate() {
            if names[..i].contains(&c.name.as_str()) {
                return bad(format!("cell '{}' is defined twice", c.name));
            }
        }
        let lists = std::iter::once(("measure".to_string(), &e.measure)).chain(e.scale.iter().filter_map(|(k, s)| s.measure.as_ref().map(|m| (format!("scale.{k}.measure"), m))));
        for (key, list) in lists {
            if let Some(m) = list.iter().find(|m| measurement(m).is_none()) {
                return bad(format!("{key}: unknown measurement '{m}' (lambda_max, noise, sharpness, sharpness_1k, sharpness_code, sharpest_table, generalization)"));
            }
        }
        let scales = e.scale_names();
        for c in &e.cells {
            if let Some(p) = c.protocol.keys().find(|p| !e.protocol.contains_key(*p)) {
                return bad(format!("cell '{}': protocol: unknown protocol '{p}' (protocols: {})", c.name, e.protocol_names().join(", ")));
            }
            if let Some(s) = c.scales.iter().flatten().find(|s| !scales.contains(s)) {
                return bad(format!("cell '{}': scales: unknown scale '{s}' (scales: {})", c.name, scales.join(", ")));
            }
        }
        let known = |m: &str, c: &str| METRICS.contains(&m) && names.contains(&c);
        for r in &e.references {
            if !known(&r.metric, &r.cell) {
                return bad(format!("reference {}[{}]: unknown metric or cell (metrics: {}; cells: {})", r.metric, r.cell, METRICS.join(", "), names.join(", ")));
            }
        }
        for c in &e.claims {
            let Some(p) = parse_comparison(&c.test) else {
                return bad(format!("claim '{}': expected metric[cell] > metric[cell]", c.test));
            };
            if !known(&p.left.0, &p.left.1) || !known(&p.right.0, &p.right.1) {
                return bad(format!("claim '{}': unknown metric or cell (cells: {})", c.test, names.join(", ")));
            }
        }
        for f in &e.figures {
            if let Some(c) = f.cells.iter().chain(&f.baseline).find(|c| !names.contains(&c.as_str())) {
                return bad(format!("figure '{}': unknown cell '{c}' (cells: {})", f.name, names.join(", ")));
            }
            if !METRICS.contains(&f.y.as_str()) {
                return bad(format!("figure '{}': unknown metric '{}' (metrics: {})", f.name, f.y, METRICS.join(", ")));
            }
            // x: a metric, or a number every cell sets
            let cells = f.cells.iter().filter_map(|c| e.cells.iter().find(|x| &x.name == c));
            if !METRICS.contains(&f.x.as_str())
                && let Some(c) = cells.clone().find(|c| e.setting(c, "full", &f.x).as_ref().and_then(number).is_none())
            {
                return bad(format!("figure '{}': x = '{}' is neither a metric ({}) nor a number cell '{}' sets", f.name, f.x, METRICS.join(", "), c.name));
            }
            if let Some(g) = &f.group
                && let Some(c) = cells.clone().find(|c| e.setting(c, "full", g).is_none())
            {
                return bad(format!("figure '{}': group = '{g}' is not set for cell '{}'", f.name, c.name));
            }
        }
        Ok(e)
    }

    /// The protocols: `paper` (the text, always) and those the file defines.
    pub fn protocol_names(&self) -> Vec<String> {
        std::iter::once("paper".to_string()).chain(self.protocol.keys().cloned()).collect()
    }

    /// The experiment under protocol `name`: `paper` is the file as written; another folds the
    /// protocol's overrides into every cell (after the scale's, with the cell's own for the
    /// protocol last) and names the protocol in the title. An unknown name is an error naming
    /// the protocols.
    pub fn with_protocol(&self, name: &str) -> Result<Experiment, CliError> {
        if name == "paper" {
            return Ok(self.clone());
        }
        let Some(p) = self.protocol.get(name) else {
            return Err(CliError::input(format!("--protocol: '{name}' is not a protocol of {} ({})", self.name, self.protocol_names().join(", "))));
        };
        let mut e = self.clone();
        e.title = format!("{} — protocol {name}: {}", e.title, p.title);
        for c in &mut e.cells {
            let own = c.protocol.get(name).cloned().unwrap_or_default();
            // after the scale's overrides: the cell's per-scale table is applied last, so the
            // protocol goes there for every scale
            for s in self.scale_names() {
                let t = c.scale.entry(s).or_default();
                t.extend(p.set.clone());
                t.extend(own.clone());
            }
        }
        Ok(e)
    }

    /// Appends a cell for every combination of the `grid`'s values, each running at the scales
    /// whose `grid` (if any) holds all its values.
    fn expand_grid(&mut self) -> Result<(), String> {
        if let Some((k, _)) = self.grid.iter().find(|(_, v)| v.is_empty()) {
            return Err(format!("grid.{k}: needs at least one value"));
        }
        for (name, s) in &self.scale {
            if let Some(k) = s.grid.keys().find(|k| !self.grid.contains_key(*k)) {
                return Err(format!("scale.{name}.grid.{k}: not a key of the experiment's grid"));
            }
            for (k, vs) in &s.grid {
                if let Some(v) = vs.iter().find(|v| !self.grid[k].contains(v)) {
                    return Err(format!("scale.{name}.grid.{k}: {v} is not one of the grid's values"));
                }
            }
        }
        let mut combos: Vec<Vec<(String, toml::Value)>> = vec![vec![]];
        for (k, vs) in &self.grid {
            combos = combos.into_iter().flat_map(|c| vs.iter().map(move |v| [c.clone(), vec![(k.clone(), v.clone())]].concat())).collect();
        }
        if self.grid.is_empty() {
            return Ok(());
        }
        let narrowed: Vec<&String> = self.scale.iter().filter(|(_, s)| !s.grid.is_empty()).map(|(n, _)| n).collect();
        for combo in combos {
            let name = combo.iter().map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k))).collect::<Vec<_>>().join(" ");
            let runs_at = |scale: &str| combo.iter().all(|(k, v)| self.scale[scale].grid.get(k).is_none_or(|vs| vs.contains(v)));
            let scales = (!narrowed.is_empty()).then(|| {
                let all = self.scale_names();
                all.into_iter().filter(|s| !narrowed.contains(&s) || runs_at(s)).collect()
            });
            self.cells.push(Cell { name, set: combo.into_iter().collect(), scale: BTreeMap::new(), scales, protocol: BTreeMap::new() });
        }
        Ok(())
    }

    /// The scales this experiment runs at: `quick`, `full` and those its file defines.
    pub fn scale_names(&self) -> Vec<String> {
        let mut v: Vec<String> = vec!["quick".into(), "full".into()];
        v.extend(self.scale.keys().filter(|k| !v.contains(k)).cloned().collect::<Vec<_>>());
        v
    }

    /// The experiment as it runs at `scale`: the cells that run there, and the references,
    /// claims and figures about those cells only. An error names the scale when it is not
    /// one of [`Experiment::scale_names`] or no cell runs there.
    pub fn at_scale(&self, scale: &str) -> Result<Experiment, CliError> {
        let scales = self.scale_names();
        if !scales.iter().any(|s| s == scale) {
            return Err(CliError::input(format!("--scale: '{scale}' is not a scale of {} ({})", self.name, scales.join(", "))));
        }
        let mut e = self.clone();
        e.cells.retain(|c| c.scales.as_ref().is_none_or(|s| s.iter().any(|s| s == scale)));
        if e.cells.is_empty() {
            return Err(CliError::input(format!("--scale: no cell of {} runs at '{scale}'", self.name)));
        }
        let cells = &e.cells;
        let here = |c: &str| cells.iter().any(|x| x.name == c);
        e.references.retain(|r| here(&r.cell));
        e.claims.retain(|c| parse_comparison(&c.test).is_some_and(|p| here(&p.left.1) && here(&p.right.1)));
        e.figures.retain(|f| f.cells.iter().chain(&f.baseline).all(|c| here(c)));
        Ok(e)
    }

    /// The measurements at `scale`.
    pub fn measure_at(&self, scale: &str) -> &[String] {
        self.scale.get(scale).and_then(|s| s.measure.as_deref()).unwrap_or(&self.measure)
    }

    /// Seeds at `scale`.
    pub fn seeds_at(&self, scale: &str) -> usize {
        self.scale.get(scale).and_then(|s| s.seeds).unwrap_or(self.seeds)
    }

    /// The overrides of `cell` at `scale`: base, then the scale's, the cell's, and the cell's
    /// own for the scale.
    fn overrides(&self, cell: &Cell, scale: &str) -> BTreeMap<String, toml::Value> {
        let mut all: BTreeMap<String, toml::Value> = self.base.clone();
        if let Some(s) = self.scale.get(scale) {
            all.extend(s.set.clone());
        }
        all.extend(cell.set.clone());
        if let Some(s) = cell.scale.get(scale) {
            all.extend(s.clone());
        }
        all
    }

    /// The value `cell` sets for the config key `key` at `scale`, if any.
    pub fn setting(&self, cell: &Cell, scale: &str, key: &str) -> Option<toml::Value> {
        self.overrides(cell, scale).remove(key)
    }

    /// The `--set key=value` arguments of `cell` at `scale` with `seed`.
    pub fn sets(&self, cell: &Cell, scale: &str, seed: usize) -> Vec<String> {
        let mut all = self.overrides(cell, scale);
        all.insert("seed".into(), toml::Value::Integer(seed as i64));
        all.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// A config value as a number (integers too): the x of a sweep figure.
pub fn number(v: &toml::Value) -> Option<f64> {
    v.as_float().or(v.as_integer().map(|i| i as f64))
}

/// The folder name of a cell: lower case, anything but letters and digits as `-`.
pub fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as an experiment file in a fresh folder (kept alive by the returned guard).
    fn written(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiment.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn comparisons_parse() {
        let c = parse_comparison("test_acc[LB+SmoothOut] > test_acc[LB]").unwrap();
        assert_eq!(c.left, ("test_acc".into(), "LB+SmoothOut".into()));
        assert_eq!(c.right, ("test_acc".into(), "LB".into()));
        assert!(c.greater);
        assert!(!parse_comparison("lambda_max[a] < lambda_max[b]").unwrap().greater);
        for bad in ["a > b", "x[a] >", "x[a] >< y[b]", "[a] > x[b]", "x[] > y[b]"] {
            assert!(parse_comparison(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_cell_s_own_scale_overrides_come_last() {
        let text = r#"
name = "x"
title = "t"
source = "s"
data = "mnist"
seeds = 1
[base]
"train.epochs" = 20
[scale.quick]
set = { "train.epochs" = 2 }
[[cells]]
name = "a"
set = { "train.epochs" = 10 }
scale = { quick = { "train.epochs" = 1 } }
[[cells]]
name = "b"
"#;
        let e: Experiment = toml::from_str(text).unwrap();
        let epochs = |cell: usize, scale: &str| e.sets(&e.cells[cell], scale, 0).into_iter().find(|s| s.starts_with("train.epochs=")).unwrap();
        assert_eq!(epochs(0, "quick"), "train.epochs=1");
        assert_eq!(epochs(0, "full"), "train.epochs=10");
        assert_eq!(epochs(1, "quick"), "train.epochs=2");
        assert_eq!(epochs(1, "full"), "train.epochs=20");
    }

    #[test]
    fn a_scale_may_list_its_own_measurements_and_they_are_checked() {
        let text = "name = \"x\"\ntitle = \"t\"\nsource = \"s\"\ndata = \"mnist\"\nseeds = 1\nmeasure = [\"lambda_max\", \"sharpness\"]\n[scale.quick]\nmeasure = [\"sharpness_1k\"]\n[[cells]]\nname = \"a\"\n";
        let (_dir, path) = written(text);
        let Ok(e) = Experiment::load(&path) else { panic!("the file loads") };
        assert_eq!(e.measure_at("quick"), ["sharpness_1k"]);
        assert_eq!(e.measure_at("full"), ["lambda_max", "sharpness"]);
        // the same metric and file as `sharpness`, on fewer examples
        let (file, args) = measurement("sharpness_1k").unwrap();
        assert_eq!(file, measurement("sharpness").unwrap().0);
        assert!(args.windows(2).any(|w| w == ["--samples", "1000"]));
        std::fs::write(&path, text.replace("[\"sharpness_1k\"]", "[\"sharpness_2k\"]")).unwrap();
        let Err(err) = Experiment::load(&path) else { panic!("an unknown measurement is an error") };
        let err = err.message;
        assert!(err.contains("scale.quick.measure") && err.contains("sharpness_2k"), "{err}");
    }

    #[test]
    fn a_grid_becomes_one_cell_per_combination_and_a_scale_narrows_it() {
        let text = "name = \"g\"\ntitle = \"t\"\nsource = \"s\"\ndata = \"mnist\"\nseeds = 2\n[grid]\n\"optimizer.lr\" = [0.1, 0.01]\n\"model.width\" = [64, 128]\n\"model.depth\" = [1, 2]\n[scale.quick]\ngrid = { \"model.width\" = [64] }\n";
        let (_dir, path) = written(text);
        let Ok(e) = Experiment::load(&path) else { panic!("the file loads") };
        assert_eq!(e.cells.len(), 8);
        let names: Vec<&str> = e.cells.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"depth=2 width=128 lr=0.01"), "{names:?}");
        let cell = e.cells.iter().find(|c| c.name == "depth=2 width=128 lr=0.01").unwrap();
        assert_eq!(e.sets(cell, "full", 1), ["model.depth=2", "model.width=128", "optimizer.lr=0.01", "seed=1"]);
        assert_eq!(e.at_scale("quick").map(|q| q.cells.len()).unwrap_or(0), 4);
        assert_eq!(e.at_scale("full").map(|q| q.cells.len()).unwrap_or(0), 8);
        for (bad, want) in [("grid = { \"model.width\" = [32] }", "32 is not one of the grid's values"), ("grid = { \"seed\" = [1] }", "not a key of the experiment's grid")] {
            std::fs::write(&path, text.replace("grid = { \"model.width\" = [64] }", bad)).unwrap();
            let Err(err) = Experiment::load(&path) else { panic!("{bad} is an error") };
            assert!(err.message.contains(want), "{}", err.message);
        }
    }

    const SWEEP: &str = r#"
name = "x"
title = "t"
source = "s"
data = "mnist"
seeds = 1
[scale.medium]
set = { "train.epochs" = 3 }
[[cells]]
name = "a"
[[cells]]
name = "b"
scales = ["medium", "full"]
[[references]]
cell = "b"
metric = "test_acc"
value = 0.9
source = "Fig. 3"
[[claims]]
text = "a beats b"
test = "test_acc[a] > test_acc[b]"
[[claims]]
text = "a is sharper than a"
test = "lambda_max[a] > lambda_max[a]"
"#;

    #[test]
    fn a_cell_runs_only_at_its_scales_with_the_claims_about_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, SWEEP).unwrap();
        let Ok(e) = Experiment::load(&path) else { panic!("the file loads") };
        assert_eq!(e.scale_names(), ["quick", "full", "medium"]);
        let Ok(quick) = e.at_scale("quick") else { panic!("quick is a scale") };
        let names = |e: &Experiment| e.cells.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&quick), ["a"]);
        // the claim and the reference about b are not part of the quick report
        assert_eq!(quick.claims.len(), 1);
        assert!(quick.references.is_empty());
        let Ok(medium) = e.at_scale("medium") else { panic!("medium is defined") };
        assert_eq!(names(&medium), ["a", "b"]);
        assert_eq!((medium.claims.len(), medium.references.len()), (2, 1));
        assert!(medium.sets(&medium.cells[1], "medium", 0).contains(&"train.epochs=3".to_string()));
        let Err(err) = e.at_scale("large") else { panic!("an undefined scale is an error") };
        assert!(err.message.contains("'large'") && err.message.contains("medium"), "{}", err.message);
        std::fs::write(&path, SWEEP.replace("[\"medium\", \"full\"]", "[\"meduim\"]")).unwrap();
        let Err(err) = Experiment::load(&path) else { panic!("a cell at an undefined scale is an error") };
        assert!(err.message.contains("cell 'b'") && err.message.contains("meduim"), "{}", err.message);
    }

    #[test]
    fn a_protocol_applies_its_overrides_and_each_cells_own_after_the_scale() {
        let text = "name = \"x\"\ntitle = \"t\"\nsource = \"s\"\ndata = \"mnist\"\nseeds = 1\n[protocol.code]\ntitle = \"the authors' loop\"\nset = { \"train.ghost_batch\" = 128 }\n[scale.quick]\nset = { \"train.ghost_batch\" = 7, \"train.epochs\" = 1 }\n[[cells]]\nname = \"a\"\n[[cells]]\nname = \"b\"\nset = { \"estimator.name\" = \"smoothout\" }\nprotocol = { code = { \"estimator.noise_per\" = \"chunk\" } }\n";
        let (_dir, path) = written(text);
        let Ok(e) = Experiment::load(&path) else { panic!("the file loads") };
        assert_eq!(e.protocol_names(), ["paper", "code"]);
        let Ok(paper) = e.with_protocol("paper") else { panic!("paper is always a protocol") };
        assert!(paper.sets(&paper.cells[1], "quick", 0).contains(&"train.ghost_batch=7".to_string()));
        let Ok(code) = e.with_protocol("code") else { panic!("code is defined") };
        assert!(code.title.contains("the authors' loop"));
        for scale in ["quick", "full"] {
            let a = code.sets(&code.cells[0], scale, 0);
            let b = code.sets(&code.cells[1], scale, 0);
            assert!(a.contains(&"train.ghost_batch=128".to_string()), "{scale}: the protocol wins over the scale: {a:?}");
            assert!(!a.iter().any(|s| s.starts_with("estimator.noise_per")), "cell a has no protocol overrides of its own");
            assert!(b.contains(&"estimator.noise_per=\"chunk\"".to_string()), "{b:?}");
        }
        let Err(err) = e.with_protocol("cod") else { panic!("an unknown protocol is an error") };
        assert!(err.message.contains("'cod'") && err.message.contains("code"), "{}", err.message);
        std::fs::write(&path, text.replace("protocol = { code", "protocol = { cdoe")).unwrap();
        let Err(err) = Experiment::load(&path) else { panic!("a cell naming an undefined protocol is an error") };
        assert!(err.message.contains("cell 'b'") && err.message.contains("cdoe"), "{}", err.message);
    }

    #[test]
    fn a_figure_may_sweep_a_config_key_that_every_cell_sets() {
        let fig = "\n[[figures]]\nname = \"f\"\ntitle = \"t\"\nx = \"estimator.level\"\ny = \"test_acc\"\ngroup = \"estimator.layers\"\nbaseline = \"a\"\ncells = [\"b\", \"c\"]\n";
        let text = "name = \"x\"\ntitle = \"t\"\nsource = \"s\"\ndata = \"mnist\"\nseeds = 1\n[[cells]]\nname = \"a\"\n[[cells]]\nname = \"b\"\nset = { \"estimator.level\" = 0.1, \"estimator.layers\" = \"conv\" }\n[[cells]]\nname = \"c\"\nset = { \"estimator.level\" = 1, \"estimator.layers\" = \"conv\" }\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, format!("{text}{fig}")).unwrap();
        let Ok(e) = Experiment::load(&path) else { panic!("the file loads") };
        // an integer level is a number too
        assert_eq!(e.setting(&e.cells[2], "quick", "estimator.level").as_ref().and_then(number), Some(1.0));
        for (bad, want) in [
            (fig.replace("estimator.level", "estimator.sigma"), "estimator.sigma"),
            (fig.replace("group = \"estimator.layers\"", "group = \"estimator.params\""), "estimator.params"),
            (fig.replace("baseline = \"a\"", "baseline = \"z\""), "'z'"),
        ] {
            std::fs::write(&path, format!("{text}{bad}")).unwrap();
            let Err(err) = Experiment::load(&path) else { panic!("{bad} loads") };
            assert!(err.message.contains("figure 'f'") && err.message.contains(want), "{}", err.message);
        }
        // a string where x needs a number
        std::fs::write(&path, format!("{text}{fig}").replace("\"estimator.level\" = 0.1", "\"estimator.level\" = \"low\"")).unwrap();
        assert!(Experiment::load(&path).is_err());
    }
}
