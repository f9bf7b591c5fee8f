//! A run folder of the `lstm_lm` example (the S-SGD paper's LSTM language model, Table 5):
//! its `setup.txt`, its `model.bpk` and the corpus it names. `basin hessian --run DIR` takes
//! one as it takes a `basin train` folder.

use crate::CliError;
use basin_zoo::data::corpus::Corpus;
use basin_zoo::models::lstm_lm::{LmBatch, LmRunSetup, LstmLm, chunks, first_chunks, streams};
use burn::module::Module;
use burn::tensor::Device;
use std::path::Path;

/// A trained language model and its training chunks.
pub struct LmRun {
    /// The model, on the autodiff device.
    pub model: LstmLm,
    /// The run's settings.
    pub setup: LmRunSetup,
    /// The training words cut into the run's streams.
    pub train: Vec<Vec<u32>>,
}

/// Whether `dir` is an `lstm_lm` run folder (a `setup.txt` and no `config.toml`).
pub fn is_lm_run(dir: &Path) -> bool {
    dir.join("setup.txt").is_file() && !dir.join("config.toml").exists()
}

impl LmRun {
    /// Loads the run in `dir` onto `device` (its autodiff twin).
    pub fn load(dir: &Path, device: &Device) -> Result<LmRun, CliError> {
        let path = dir.join("setup.txt");
        let text = std::fs::read_to_string(&path).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
        let setup = LmRunSetup::parse(&text).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
        let corpus = Corpus::load_ptb(&setup.data).map_err(|e| CliError::input(format!("{} (named by {}): {e}", setup.data.display(), path.display())))?;
        let ad = device.clone().autodiff();
        let weights = dir.join("model.bpk");
        if !weights.is_file() {
            return Err(CliError::input(format!("{}: no such weights file", weights.display())));
        }
        let model = setup.model_config(corpus.vocab.len()).init(&ad).try_load_file(&weights).map_err(|e| CliError::input(format!("{}: {e:?}", weights.display())))?;
        let train = streams(&corpus.train, setup.batch);
        Ok(LmRun { model, setup, train })
    }

    /// Training chunks in all.
    pub fn chunks(&self) -> usize {
        chunks(&self.train, self.setup.bptt)
    }

    /// The first `n` training chunks (the run's batches, each `batch` streams × `bptt` words).
    pub fn batches(&self, n: usize, device: &Device) -> Vec<LmBatch> {
        first_chunks(&self.train, n, self.setup.bptt, &device.clone().autodiff())
    }
}
