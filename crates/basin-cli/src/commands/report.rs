//! `basin report RUN_DIR... [--out report.html]`: one self-contained HTML page for one run
//! folder or several (curves overlaid, summaries in one table), and for a model that is no run
//! folder (`--onnx FILE --npz DATA`, `--weights FILE --model NAME`): its evaluation, its
//! config, and the measurements in `--measurements DIR`. See [`crate::report`].

use crate::CliError;
use crate::model_source::ModelSource;
use crate::report::{run_folder::RunFolder, runs};
use basin_core::train::evaluate::evaluate;
use burn::tensor::Device;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `basin report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Run folders (written by `basin train`); several are compared on one page.
    #[arg(required_unless_present_any = ["onnx", "weights", "run"])]
    runs: Vec<PathBuf>,
    /// A model that is no run folder, beside the runs (or alone): `--onnx FILE`, or
    /// `--weights FILE --model NAME`, with its data (`--npz`, `--data`). `--run DIR` is one
    /// more run folder.
    #[command(flatten)]
    source: ModelSource,
    /// With --onnx or --weights: a folder of that model's measurements (the JSON outputs of
    /// `basin hessian --json`, `basin sharpness --json`, `basin landscape --out`).
    #[arg(long)]
    measurements: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// Overwrite an existing --out file.
    #[arg(long)]
    force: bool,
}

/// Runs `basin report`.
pub fn run(args: ReportArgs) -> Result<(), CliError> {
    if args.out.extension().is_none_or(|e| e != "html") {
        return Err(CliError::input(format!("--out: {} should end in .html", args.out.display())));
    }
    if args.source.averaged {
        return Err(CliError::input("--averaged: basin report shows a run's averaged model from its summary.json, not on its own"));
    }
    crate::output::refuse_overwrite(std::slice::from_ref(&args.out), args.force)?;
    let model = args.source.onnx.is_some() || args.source.weights.is_some();
    let s = &args.source;
    let model_flags = [("--measurements", args.measurements.is_some()), ("--model", s.model.is_some()), ("--data", s.data.is_some()), ("--npz", s.npz.is_some()), ("--data-dir", s.data_dir.is_some())];
    if let Some((flag, _)) = model_flags.iter().find(|(_, given)| *given && !model) {
        return Err(CliError::input(format!("{flag}: for a model given by --onnx or --weights (a run folder has its own data and measurements)")));
    }
    let mut folders = args.runs.iter().chain(&args.source.run).map(|d| RunFolder::load(d)).collect::<Result<Vec<_>, _>>()?;
    if model {
        folders.push(model_entry(&args.source, args.measurements.as_deref())?);
    }
    runs::page(&folders).write(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The page's entry for a model that is no run folder: its training and test loss and
/// accuracy (evaluation mode), computed here.
fn model_entry(source: &ModelSource, measurements: Option<&std::path::Path>) -> Result<RunFolder, CliError> {
    let source = ModelSource { run: None, ..source.clone() };
    let dev = Device::flex();
    let l = source.load(&dev)?;
    let bs = l.cfg.train.eval_batch_size;
    let train = evaluate(&l.model, &l.data.train, bs, &dev);
    let test = (!l.data.test_is_train).then(|| evaluate(&l.model, &l.data.test, bs, &dev));
    let summary = json!({
        "model": l.cfg.model_label(),
        "train_loss": train.loss,
        "train_acc": train.accuracy,
        "test_loss": test.map(|t| t.loss),
        "test_acc": test.and_then(|t| t.accuracy),
    });
    let config = toml::to_string_pretty(&l.cfg).expect("config serializes");
    RunFolder::of_model(format!("{} on {}", l.cfg.model_label(), l.cfg.data_label()), config, summary, measurements)
}
