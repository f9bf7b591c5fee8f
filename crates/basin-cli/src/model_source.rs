//! Where a command finds a trained model and its data: a run folder (`--run DIR`: its
//! config.toml and model.bpk), a weights file with a zoo model name, or an ONNX file (with its
//! own weights or a `--weights` state_dict); the data by name or as NumPy arrays (`--npz`).
//! Every measuring command takes these flags and gets a [`Network`] and its data from
//! [`ModelSource::load`], or, where a language model's run folder is also accepted
//! (`basin hessian`), a [`crate::subject::Subject`].

use crate::{CliError, config_file};
use basin_core::train::TrainConfig;
use crate::network::Network;
use basin_zoo::data::RunData;
use burn::tensor::Device;
use clap::Args;
use std::path::{Path, PathBuf};

/// How to find a trained model.
#[derive(Args, Clone)]
pub struct ModelSource {
    /// A run folder written by `basin train` (uses its config.toml and model.bpk).
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// A weights file (.bpk or .safetensors) instead of --run: for a zoo --model, or for an
    /// --onnx graph (a PyTorch state_dict saved as safetensors).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Zoo model name for --weights.
    #[arg(long, conflicts_with_all = ["run", "onnx"])]
    pub model: Option<String>,
    /// An ONNX file exported from PyTorch (its weights, or --weights).
    #[arg(long, conflicts_with = "run")]
    pub onnx: Option<PathBuf>,
    /// Data set name for --weights or --onnx (default mnist-slice).
    #[arg(long, conflicts_with_all = ["run", "npz"])]
    pub data: Option<String>,
    /// NumPy arrays as the data (.npz with x, y and optionally x_test, y_test; or an .npy of
    /// inputs beside its `STEM_labels.npy`), used as given.
    #[arg(long, conflicts_with = "run")]
    pub npz: Option<PathBuf>,
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
    pub model: Network,
    /// The run's config (or defaults with the given model/data).
    pub cfg: TrainConfig,
    /// Prepared data.
    pub data: RunData,
}

/// Loads weights from `path` (.bpk or .safetensors) into `model`.
pub fn load_weights(model: Network, path: &Path) -> Result<Network, CliError> {
    model.load_weights(path)
}

impl ModelSource {
    /// The final weights of run folder `dir`.
    pub fn of_run(dir: &Path) -> ModelSource {
        ModelSource { run: Some(dir.to_path_buf()), weights: None, model: None, onnx: None, data: None, npz: None, data_dir: None, averaged: false }
    }

    /// Loads the model and its data on `device` (plain; the model lives on its autodiff twin).
    pub fn load(&self, device: &Device) -> Result<Loaded, CliError> {
        if let Some(dir) = self.run.as_deref().filter(|d| crate::lm_source::is_lm_run(d)) {
            return Err(CliError::input(format!("{}: a language model's run folder (lstm_lm): only `basin hessian` measures it", dir.display())));
        }
        let (mut cfg, weights) = match (&self.run, &self.weights, &self.onnx) {
            (Some(dir), None, None) => {
                let cfg = config_file::load(Some(&dir.join("config.toml")), &[])?;
                let weights = if self.averaged { averaged_weights(dir, &cfg)? } else { dir.join("model.bpk") };
                (cfg, Some(weights))
            }
            (None, w, onnx) if w.is_some() || onnx.is_some() => {
                let mut cfg = TrainConfig::default();
                match (onnx, &self.model) {
                    (Some(f), _) => cfg.model.onnx = f.display().to_string(),
                    (None, Some(m)) => cfg.model.name = m.clone(),
                    (None, None) => return Err(CliError::input("--weights needs --model NAME (a zoo network) or --onnx FILE")),
                }
                if let Some(d) = &self.data {
                    cfg.data.name = d.clone();
                }
                (cfg, w.clone())
            }
            _ => return Err(CliError::input("give either --run DIR, --weights FILE --model NAME, or --onnx FILE")),
        };
        if let Some(n) = &self.npz {
            cfg.data.npz = n.display().to_string();
        }
        if let Some(d) = &self.data_dir {
            cfg.data.dir = d.clone();
        }
        cfg.validate()?;
        let data = basin_zoo::data::prepare(&cfg.data, cfg.seed)?;
        let ad = device.clone().autodiff();
        let mut model = Network::build(&cfg, &data, &ad)?;
        if let Some(w) = &weights {
            model = model.load_weights(w)?;
            // a diverged model's curvature, sharpness or landscape is NaN dressed as a result
            if !basin_core::params::all_finite(&model) {
                return Err(CliError::input(format!("{}: holds non-finite weights (NaN or ±∞): nothing about it can be measured or exported", w.display())));
            }
        }
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
