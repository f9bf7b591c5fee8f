//! Where a command finds a trained model and its data: a run folder (`--run DIR`: its
//! config.toml and model.bpk) or a weights file with a model and data name.

use crate::{CliError, config_file};
use basin_core::train::TrainConfig;
use basin_zoo::data::RunData;
use basin_zoo::{ModelOptions, ZooModel};
use burn::module::Module;
use burn::tensor::Device;
use clap::Args;
use std::path::{Path, PathBuf};

/// How to find a trained model.
#[derive(Args, Clone)]
pub struct ModelSource {
    /// A run folder written by `basin train` (uses its config.toml and model.bpk).
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// A weights file (.bpk or .safetensors) instead of --run.
    #[arg(long, requires = "model")]
    pub weights: Option<PathBuf>,
    /// Zoo model name for --weights.
    #[arg(long)]
    pub model: Option<String>,
    /// Data set name for --weights (default mnist-slice).
    #[arg(long)]
    pub data: Option<String>,
    /// Folder of the data files.
    #[arg(long)]
    pub data_dir: Option<String>,
    /// With --run: the run's averaged model (`[average]`: model-swa.bpk or model-ema.bpk)
    /// instead of its final weights.
    #[arg(long, requires = "run")]
    pub averaged: bool,
}

/// A loaded model with its config and prepared data.
pub struct Loaded {
    /// The model, on the autodiff device.
    pub model: ZooModel,
    /// The run's config (or defaults with the given model/data).
    pub cfg: TrainConfig,
    /// Prepared data.
    pub data: RunData,
}

/// Loads weights from `path` (.bpk or .safetensors) into `model`.
pub fn load_weights(model: ZooModel, path: &Path) -> Result<ZooModel, CliError> {
    if !path.is_file() {
        return Err(CliError::input(format!("{}: no such weights file", path.display())));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => {
            use burn::store::{ModuleSnapshot, SafetensorsStore};
            let mut m = model;
            m.load_from(&mut SafetensorsStore::from_file(path))
                .map_err(|e| CliError::input(format!("{}: {e:?}", path.display())))?;
            Ok(m)
        }
        _ => model.try_load_file(path).map_err(|e| CliError::input(format!("{}: {e:?}", path.display()))),
    }
}

impl ModelSource {
    /// Loads the model and its data on `device` (plain; the model lives on its autodiff twin).
    pub fn load(&self, device: &Device) -> Result<Loaded, CliError> {
        let (cfg, weights) = match (&self.run, &self.weights) {
            (Some(dir), None) => {
                let cfg = config_file::load(Some(&dir.join("config.toml")), &[])?;
                let weights = if self.averaged { averaged_weights(dir, &cfg)? } else { dir.join("model.bpk") };
                (cfg, weights)
            }
            (None, Some(w)) => {
                let mut cfg = TrainConfig::default();
                cfg.model.name = self.model.clone().unwrap_or_default();
                if let Some(d) = &self.data {
                    cfg.data.name = d.clone();
                }
                (cfg, w.clone())
            }
            _ => return Err(CliError::input("give either --run DIR or --weights FILE --model NAME")),
        };
        let mut cfg = cfg;
        if let Some(d) = &self.data_dir {
            cfg.data.dir = d.clone();
        }
        let data = basin_zoo::data::prepare(&cfg.data, cfg.seed)?;
        let ad = device.clone().autodiff();
        let opts = ModelOptions::of(&cfg.model);
        let model = ZooModel::build(&cfg.model.name, data.shape, data.classes, &opts, &ad).map_err(CliError::input)?;
        let model = load_weights(model, &weights)?;
        Ok(Loaded { model, cfg, data })
    }
}

/// The averaged model's weights in run folder `dir`: the file its summary.json names, which
/// must exist (a run without `[average]`, or not finished, has none).
fn averaged_weights(dir: &Path, cfg: &TrainConfig) -> Result<PathBuf, CliError> {
    if !cfg.average.enabled() {
        return Err(CliError::input(format!("{}: --averaged: the run has no averaged model (its config.toml sets no [average] method)", dir.display())));
    }
    let path = dir.join(format!("{}.bpk", cfg.average.file_stem()));
    if !path.is_file() {
        return Err(CliError::input(format!("{}: --averaged: no such file (the run has not finished)", path.display())));
    }
    Ok(path)
}

/// `--no-determinism-check` of the measuring commands, and the check it turns off.
#[derive(clap::Args, Clone, Debug)]
pub struct DeterminismArgs {
    /// Skip the check that the loss over the subset is the same at two evaluations (run before
    /// any estimate: a model random in evaluation mode gives eigenvalues of noise).
    #[arg(long)]
    pub no_determinism_check: bool,
}

impl DeterminismArgs {
    /// [`basin_core::curvature::Objective::check_deterministic`] as a one-line exit-2 error
    /// that names the way out, unless turned off.
    pub fn check<M: basin_core::task::LossModel>(&self, obj: &basin_core::curvature::Objective<M>) -> Result<(), CliError> {
        if self.no_determinism_check {
            return Ok(());
        }
        obj.check_deterministic().map_err(|e| CliError::input(format!("{e}; fix the model, or pass --no-determinism-check to measure anyway")))
    }
}
