//! `basin sharpest`: the sharpest-directions paper's measurements for finished runs — the
//! table (spectral norm, Frobenius norm, test / validation accuracy, final training loss,
//! distance from initialization) and the loss along the top eigenvector.

use crate::model_source::{ModelSource, load_weights};
use crate::{CliError, device, plots};
use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
use basin_core::curvature::frobenius::frobenius;
use basin_core::curvature::lanczos::{LanczosConfig, lanczos};
use basin_core::curvature::objective::subset_indices;
use basin_core::curvature::slice::{EigenSlice, eigen_slice};
use basin_core::curvature::Objective;
use basin_core::paramvec::ParamVec;
use clap::Subcommand;
use std::path::PathBuf;

/// Subcommands of `basin sharpest`.
#[derive(Subcommand)]
pub enum SharpestCommand {
    /// The paper's table for one or more runs: λ_max(H), ‖H‖_F, test acc., val. acc., loss, ‖θ − θ₀‖.
    Table {
        /// Run folders written by `basin train`.
        #[arg(long = "run", required = true)]
        runs: Vec<PathBuf>,
        /// Fraction of the training set for the curvature.
        #[arg(long, default_value_t = 0.05)]
        subset: f64,
        /// Probes for ‖H‖_F.
        #[arg(long, default_value_t = 20)]
        frobenius_samples: usize,
        /// Also write the rows as JSON here (a list, one object per run).
        #[arg(long)]
        json: Option<PathBuf>,
        /// Overwrite --json if it exists.
        #[arg(long)]
        force: bool,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
        #[command(flatten)]
        determinism: crate::model_source::DeterminismArgs,
    },
    /// The loss along the top eigenvector: the curves recorded during training
    /// (`curvature.slice_at`) or, if none, one at the final weights.
    Slice {
        #[command(flatten)]
        source: ModelSource,
        /// Fraction of the training set [default: 0.05] (a slice at the final weights only:
        /// recorded slices keep their own).
        #[arg(long)]
        subset: Option<f64>,
        /// Learning rate η for Δθ₁ (default: the run's optimizer.lr; a slice at the final
        /// weights only).
        #[arg(long)]
        lr: Option<f64>,
        /// Write the slices as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the plot here.
        #[arg(long, default_value = "slice.svg")]
        svg: PathBuf,
        /// Overwrite --json and the plot if they exist.
        #[arg(long)]
        force: bool,
        /// cpu, cuda or wgpu (the last two need their cargo feature).
        #[arg(long, default_value = "cpu")]
        device: String,
        #[command(flatten)]
        determinism: crate::model_source::DeterminismArgs,
    },
}

/// Runs `basin sharpest ...`.
pub fn run(cmd: SharpestCommand) -> Result<(), CliError> {
    match cmd {
        SharpestCommand::Table { runs, subset, frobenius_samples, json, force, device, determinism } => table(&runs, subset, frobenius_samples, json, force, &device, &determinism),
        SharpestCommand::Slice { source, subset, lr, json, svg, force, device, determinism } => {
            let mut outs = json.iter().cloned().collect::<Vec<_>>();
            outs.extend(crate::output::plot_files(&svg));
            crate::output::refuse_overwrite(&outs, force)?;
            slice(&source, subset, lr, json, &svg, &device, &determinism)
        }
    }
}

/// One row of the sharpest-directions table: λ_max(H) by Lanczos and ‖H‖_F by Rademacher probes
/// (exact Hessian, on `subset` of the training set), the run's accuracies and final training
/// loss, and ‖θ − θ₀‖ from the run's init.bpk.
#[derive(serde::Serialize)]
struct TableRow {
    run: PathBuf,
    subset_size: usize,
    lambda_max: f64,
    frobenius: basin_core::curvature::hutchinson::Estimate,
    test_acc: Option<f64>,
    val_acc: Option<f64>,
    train_loss: Option<f64>,
    dist_init: Option<f64>,
}

fn table(runs: &[PathBuf], subset: f64, fro_samples: usize, json: Option<PathBuf>, force: bool, device: &str, determinism: &crate::model_source::DeterminismArgs) -> Result<(), CliError> {
    if let Some(j) = &json {
        crate::output::refuse_overwrite(std::slice::from_ref(j), force)?;
    }
    crate::output::check_fraction("--subset", subset)?;
    crate::output::check_samples("--frobenius-samples", fro_samples)?;
    let dev = device::select(device)?;
    println!("| run | λ_max(H) | ‖H‖_F | test acc. | val. acc. | loss | ‖θ − θ₀‖ |");
    println!("|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for run in runs {
        let src = ModelSource::of_run(run);
        let l = src.load(&dev)?;
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join("summary.json")).map_err(|e| CliError::input(format!("{}: {e}", run.join("summary.json").display())))?,
        )
        .map_err(|e| CliError::input(format!("{}: {e}", run.join("summary.json").display())))?;
        let idx = subset_indices(basin_core::batch::ExampleSet::len(&l.data.train), Some(subset), None, l.cfg.seed);
        let kind = OperatorKind::Hessian;
        determinism.check(&Objective::new(&l.model, &l.data.train, &idx, 500, &dev)).map_err(|e| CliError::input(format!("{}: {}", run.display(), e.message)))?;
        let mk = || CurvatureOperator::new(kind, Objective::new(&l.model, &l.data.train, &idx, 500, &dev), kind.default_eps());
        let mut op = mk()?;
        let top = lanczos(&mut op, &LanczosConfig { k: 1, tol: 1e-3, max_iter: 60, seed: 0, smallest: false, bottom: 0 });
        let mut op2 = mk()?;
        let fro = frobenius(&mut op2, fro_samples, 0);
        let dist = load_weights(l.model.clone(), &run.join("init.bpk")).ok().map(|init| ParamVec::from_model(&l.model).sub(&ParamVec::from_model(&init)).norm());
        let row = TableRow {
            run: run.clone(),
            subset_size: idx.len(),
            lambda_max: top.eigenvalues[0],
            frobenius: fro,
            test_acc: summary["test_acc"].as_f64(),
            val_acc: summary["val_acc"].as_f64(),
            train_loss: summary["train_loss"].as_f64(),
            dist_init: dist,
        };
        let pct = |v: Option<f64>| v.map(|v| format!("{:.1}%", 100.0 * v)).unwrap_or_else(|| "—".into());
        println!(
            "| {} | {:.1} | {:.1} ± {:.1} | {} | {} | {:.5} | {} |",
            run.display(),
            row.lambda_max,
            row.frobenius.mean,
            row.frobenius.stderr,
            pct(row.test_acc),
            pct(row.val_acc),
            row.train_loss.unwrap_or(f64::NAN),
            row.dist_init.map(|d| format!("{d:.2}")).unwrap_or_else(|| "n/a (no init.bpk)".into())
        );
        rows.push(row);
    }
    if let Some(j) = &json {
        basin_core::train::checkpoint::write_atomic(j, &serde_json::to_vec_pretty(&rows).expect("serializes"))?;
        println!("wrote {}", j.display());
    }
    Ok(())
}

fn slice(source: &ModelSource, subset: Option<f64>, lr: Option<f64>, json: Option<PathBuf>, svg: &std::path::Path, device: &str, determinism: &crate::model_source::DeterminismArgs) -> Result<(), CliError> {
    let recorded = match &source.run {
        Some(r) => recorded_slices(&r.join("slices.jsonl"))?,
        None => Vec::new(),
    };
    if !recorded.is_empty() && (subset.is_some() || lr.is_some()) {
        return Err(CliError::input("--subset, --lr: the run recorded its slices during training (slices.jsonl), with their own; these apply to a slice at the final weights only"));
    }
    let subset = subset.unwrap_or(0.05);
    crate::output::check_fraction("--subset", subset)?;
    if let Some(lr) = lr.filter(|lr| !(*lr > 0.0 && lr.is_finite())) {
        return Err(CliError::input(format!("--lr: must be positive and finite (got {lr})")));
    }
    let slices = if recorded.is_empty() {
        let dev = device::select(device)?;
        let l = source.load(&dev)?;
        let idx = subset_indices(basin_core::batch::ExampleSet::len(&l.data.train), Some(subset), None, l.cfg.seed);
        let ks: Vec<f64> = (0..41).map(|i| -5.0 + 0.25 * i as f64).collect();
        determinism.check(&Objective::new(&l.model, &l.data.train, &idx, l.cfg.train.batch_size, &dev))?;
        let lr = lr.unwrap_or(l.cfg.optimizer.lr);
        vec![eigen_slice(&l.model, &l.data.train, &idx, l.cfg.train.batch_size, lr, &ks, 0, OperatorKind::Hessian, &dev)?.0]
    } else {
        recorded
    };
    for s in &slices {
        let ch: Vec<String> = s.alpha_changes.iter().map(|(a, c)| format!("α={a}: {c:+.2e}")).collect();
        println!("step {:>6}: λ₁ ({}) = {:.3}, Δθ₁ = {:.3e}, L = {:.4}, mean ΔL {}", s.step, label(&s.operator), s.lambda1, s.delta, s.loss, ch.join(", "));
    }
    if let Some(j) = &json {
        basin_core::train::checkpoint::write_atomic(j, &serde_json::to_vec_pretty(&slices).expect("serializes"))?;
        println!("wrote {}", j.display());
    }
    let pts: Vec<Vec<(f64, f64)>> = slices.iter().map(|s| s.ks.iter().copied().zip(s.losses.iter().copied()).collect()).collect();
    let series: Vec<plots::Series<'_>> = slices.iter().zip(&pts).map(|(s, p)| plots::Series { label: format!("t = {}", s.step), points: p }).collect();
    let title = format!("Loss along the top {} eigenvector", slices.first().map_or("Hessian", |s| label(&s.operator)));
    plots::line_plot(svg, &title, "k (units of Δθ₁)", "training loss", &series, false)?;
    println!("wrote {}", svg.display());
    Ok(())
}

/// The slices a run recorded during training (`curvature.slice_at`), one JSON object a line;
/// none without the file. A line that does not parse is an error naming the file and line.
fn recorded_slices(path: &std::path::Path) -> Result<Vec<EigenSlice>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.map_err(|e| CliError::input(format!("{}: {e}", path.display())))?,
    };
    let lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    lines.map(|(i, l)| serde_json::from_str(l).map_err(|e| CliError::input(format!("{}:{}: {e}", path.display(), i + 1)))).collect()
}

/// The display name of an operator recorded in a slice.
fn label(name: &str) -> &'static str {
    OperatorKind::parse(name).map_or("unknown operator", OperatorKind::label)
}
