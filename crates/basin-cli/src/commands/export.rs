//! `basin export`: a run's trained weights out of basin, for a model that came in as ONNX:
//! the original graph with the trained initializers (`--onnx`), or the initializers under
//! their names, PyTorch's `state_dict` names (`--safetensors`, which
//! `model.load_state_dict(safetensors.torch.load_file(F))` accepts with `strict=True`).

use crate::CliError;
use crate::model_source::ModelSource;
use crate::network::Network;
use basin_core::Classifier;
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `basin export`.
#[derive(Args)]
pub struct ExportArgs {
    /// The run folder (a run of `basin train --set model.onnx=FILE`).
    #[arg(long)]
    run: PathBuf,
    /// The run's averaged model (`[average]`) instead of its final weights.
    #[arg(long)]
    averaged: bool,
    /// Write the original ONNX graph with the trained initializers here.
    #[arg(long, required_unless_present = "safetensors")]
    onnx: Option<PathBuf>,
    /// Write the trained initializers under their ONNX names (PyTorch state_dict names) here.
    #[arg(long)]
    safetensors: Option<PathBuf>,
}

/// Runs `basin export`.
pub fn run(args: ExportArgs) -> Result<(), CliError> {
    let outs: Vec<&Path> = args.onnx.iter().chain(&args.safetensors).map(PathBuf::as_path).collect();
    if let [a, b] = outs[..]
        && a == b
    {
        return Err(CliError::input(format!("{}: given to both --onnx and --safetensors (one would replace the other)", a.display())));
    }
    if let Some(o) = outs.iter().find(|o| o.exists()) {
        return Err(CliError::input(format!("{}: exists; basin export writes new files only (remove it or choose another path)", o.display())));
    }
    let device = burn::tensor::Device::flex();
    let mut source = ModelSource::of_run(&args.run);
    source.averaged = args.averaged;
    let loaded = source.load(&device)?;
    let Network::Onnx(net) = &loaded.model else {
        return Err(CliError::input(format!("{}: a run of the zoo network '{}'; basin export writes ONNX models back (zoo runs hold model.safetensors already)", args.run.display(), loaded.cfg.model.name)));
    };
    net.sync_running_stats();
    let steps = std::fs::read_to_string(args.run.join("summary.json")).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()).and_then(|v| v["steps"].as_i64()).unwrap_or(0);
    let err = |e: basin_onnx::OnnxError| CliError::input(e.to_string());
    // both files are encoded before either is written
    let mut files = vec![];
    if let Some(p) = &args.onnx {
        files.push((p, basin_onnx::export::onnx_bytes(net, Path::new(&loaded.cfg.model.onnx)).map_err(err)?));
    }
    if let Some(p) = &args.safetensors {
        files.push((p, basin_onnx::export::safetensors_bytes(net, steps).map_err(err)?));
    }
    for (p, bytes) in files {
        basin_core::train::checkpoint::write_atomic(p, &bytes)?;
        println!("wrote {}", p.display());
    }
    Ok(())
}
