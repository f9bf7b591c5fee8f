//! Atomic checkpoints: weights (burnpack), optimizer state and loop position, written into a
//! temporary folder that is renamed into place, then published by atomically replacing the
//! `latest` pointer file. A crash at any point leaves the previous checkpoint intact.

use crate::error::BasinError;
use crate::model::Classifier;
use crate::paramvec::ParamVec;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the training loop stood when a checkpoint was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epoch being run (0-based).
    pub epoch: usize,
    /// Batches of that epoch already taken.
    pub batch_in_epoch: usize,
    /// Global steps taken.
    pub step: u64,
    /// Sum of batch losses × batch sizes so far in this epoch.
    pub epoch_loss_sum: f64,
    /// Examples seen so far in this epoch.
    pub epoch_examples: usize,
    /// Seconds of training before this checkpoint (excluding time since a resume).
    pub seconds: f64,
    /// The last `train.loss_window` minibatch losses (for L* / L**).
    #[serde(default)]
    pub recent_losses: Vec<f64>,
    /// Factor on the learning rate (0.5 once L* was reached).
    #[serde(default = "one")]
    pub lr_factor: f64,
    /// Step at which the loss reached L* and the rate was halved.
    #[serde(default)]
    pub halved_at: Option<u64>,
    /// Step at which the loss fell below L** (the convergence time).
    #[serde(default)]
    pub converged_at: Option<u64>,
}

fn one() -> f64 {
    1.0
}

impl Default for LoopState {
    fn default() -> Self {
        LoopState {
            epoch: 0,
            batch_in_epoch: 0,
            step: 0,
            epoch_loss_sum: 0.0,
            epoch_examples: 0,
            seconds: 0.0,
            recent_losses: Vec::new(),
            lr_factor: 1.0,
            halved_at: None,
            converged_at: None,
        }
    }
}

const LATEST: &str = "latest";

/// Writes `text` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BasinError> {
    let tmp = path.with_extension(format!("{}tmp", path.extension().map(|e| format!("{}.", e.to_string_lossy())).unwrap_or_default()));
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        // no half-written or orphaned temporary stays behind a failed write
        let _ = std::fs::remove_file(&tmp);
        BasinError::file(path, e)
    })
}

/// What the callbacks of a run checkpoint, by callback name.
#[derive(Default)]
pub struct CallbackStates {
    /// JSON states (`callbacks.json`).
    pub json: serde_json::Map<String, serde_json::Value>,
    /// Parameter-space vectors (`callback-NAME.bin`, bit for bit).
    pub vectors: Vec<(String, Vec<ParamVec>)>,
}

/// Writes `model`'s weights (running statistics folded in) to the burnpack file `path`
/// through `path.tmp` and a rename: a crash leaves the old file or none, never half of one.
pub fn save_model_atomic<M: Classifier>(model: &M, path: &Path) -> Result<(), BasinError> {
    let tmp = path.with_extension("bpk.tmp");
    model.sync_running_stats();
    model.clone().save_file(&tmp).map_err(|e| BasinError::file(&tmp, format!("{e:?}")))?;
    std::fs::rename(&tmp, path).map_err(|e| BasinError::file(path, e))
}

/// Saves a checkpoint under `dir/checkpoints/step-N/` and points `dir/checkpoints/latest` at it;
/// older checkpoints are removed once the new one is published.
pub fn save<M: Classifier>(dir: &Path, model: &M, optim: &ModuleOptimizer, state: &LoopState, estimator_state: &[ParamVec], callbacks: &CallbackStates) -> Result<PathBuf, BasinError> {
    if !crate::params::all_finite(model) {
        return Err(BasinError::NonFinite { step: state.step.saturating_sub(1), what: "weights (checkpoint not written)".into() });
    }
    let root = dir.join("checkpoints");
    std::fs::create_dir_all(&root).map_err(|e| BasinError::file(&root, e))?;
    // A fresh folder name even when this step was saved before (Ctrl-C, then the epoch's own
    // checkpoint after a resume): `latest` must never name a folder that is being replaced.
    let base = format!("step-{:09}", state.step);
    let name = (0..).map(|k| if k == 0 { base.clone() } else { format!("{base}-{k}") }).find(|n| !root.join(n).exists()).expect("a free name");
    let tmp = root.join(format!("{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| BasinError::file(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| BasinError::file(&tmp, e))?;
    model.sync_running_stats();
    let model_path = tmp.join("model.bpk");
    model.clone().save_file(&model_path).map_err(|e| BasinError::file(&model_path, format!("{e:?}")))?;
    let optim_path = tmp.join("optim.bpk");
    optim.save(&optim_path).map_err(|e| BasinError::file(&optim_path, format!("{e:?}")))?;
    if !estimator_state.is_empty() {
        let p = tmp.join("estimator.bin");
        std::fs::write(&p, encode_vectors(estimator_state)).map_err(|e| BasinError::file(&p, e))?;
    }
    if !callbacks.json.is_empty() {
        let p = tmp.join("callbacks.json");
        std::fs::write(&p, serde_json::to_vec_pretty(&callbacks.json).expect("JSON serializes")).map_err(|e| BasinError::file(&p, e))?;
    }
    for (name, v) in callbacks.vectors.iter().filter(|(_, v)| !v.is_empty()) {
        let p = tmp.join(format!("callback-{name}.bin"));
        std::fs::write(&p, encode_vectors(v)).map_err(|e| BasinError::file(&p, e))?;
    }
    let state_path = tmp.join("state.json");
    std::fs::write(&state_path, serde_json::to_vec_pretty(state).expect("state serializes"))
        .map_err(|e| BasinError::file(&state_path, e))?;
    let final_dir = root.join(&name);
    std::fs::rename(&tmp, &final_dir).map_err(|e| BasinError::file(&final_dir, e))?;
    write_atomic(&root.join(LATEST), name.as_bytes())?;
    // Only now that `latest` names the new one are older checkpoints dropped.
    if let Ok(entries) = std::fs::read_dir(&root) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with("step-") && n != name {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(final_dir)
}

/// Vectors as bytes: "BSNV", count (u64 LE), length (u64 LE), then the f32 LE values.
fn encode_vectors(v: &[ParamVec]) -> Vec<u8> {
    let len = v[0].numel();
    let mut out = b"BSNV".to_vec();
    out.extend((v.len() as u64).to_le_bytes());
    out.extend((len as u64).to_le_bytes());
    for x in v {
        for f in x.to_host() {
            out.extend(f.to_le_bytes());
        }
    }
    out
}

/// The estimator state saved in checkpoint `ckpt` (empty when there is none), in the layout of
/// `template`.
pub fn load_estimator_state(ckpt: &Path, template: &ParamVec) -> Result<Vec<ParamVec>, BasinError> {
    load_vectors(&ckpt.join("estimator.bin"), template)
}

/// The vectors callback `name` saved in checkpoint `ckpt` (empty when none), in the layout of
/// `template`.
pub fn load_callback_vectors(ckpt: &Path, name: &str, template: &ParamVec) -> Result<Vec<ParamVec>, BasinError> {
    load_vectors(&ckpt.join(format!("callback-{name}.bin")), template)
}

/// Vectors written by `encode_vectors` to `p` (empty when the file does not exist).
fn load_vectors(p: &Path, template: &ParamVec) -> Result<Vec<ParamVec>, BasinError> {
    if !p.exists() {
        return Ok(Vec::new());
    }
    let b = std::fs::read(p).map_err(|e| BasinError::file(p, e))?;
    if b.len() < 20 || &b[..4] != b"BSNV" {
        return Err(BasinError::file(p, "not a basin vector file"));
    }
    let n = u64::from_le_bytes(b[4..12].try_into().expect("8 bytes")) as usize;
    let len = u64::from_le_bytes(b[12..20].try_into().expect("8 bytes")) as usize;
    if len != template.numel() || b.len() != 20 + 4 * n * len {
        return Err(BasinError::file(p, "size does not match the model"));
    }
    let device = template.device();
    Ok((0..n)
        .map(|i| {
            let vals: Vec<f32> = b[20 + 4 * i * len..20 + 4 * (i + 1) * len]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            template.from_host(&vals, &device)
        })
        .collect())
}

/// The callback states saved in checkpoint `ckpt`, by callback name (empty when none).
pub fn load_callback_states(ckpt: &Path) -> Result<serde_json::Map<String, serde_json::Value>, BasinError> {
    let p = ckpt.join("callbacks.json");
    if !p.exists() {
        return Ok(Default::default());
    }
    let text = std::fs::read_to_string(&p).map_err(|e| BasinError::file(&p, e))?;
    serde_json::from_str(&text).map_err(|e| BasinError::file(&p, e))
}

/// The folder of the latest published checkpoint of the run in `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>, BasinError> {
    let pointer = dir.join("checkpoints").join(LATEST);
    if !pointer.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&pointer).map_err(|e| BasinError::file(&pointer, e))?;
    let p = dir.join("checkpoints").join(name.trim());
    if !p.join("state.json").is_file() {
        return Err(BasinError::file(&pointer, format!("points at {}, which holds no checkpoint", p.display())));
    }
    Ok(Some(p))
}

/// Loads model weights, optimizer state and loop state from checkpoint folder `ckpt`.
pub fn load<M: Classifier>(ckpt: &Path, model: M, optim: ModuleOptimizer) -> Result<(M, ModuleOptimizer, LoopState), BasinError> {
    let model_path = ckpt.join("model.bpk");
    let model = model.try_load_file(&model_path).map_err(|e| BasinError::file(&model_path, format!("{e:?}")))?;
    let optim_path = ckpt.join("optim.bpk");
    let optim = optim.load(&optim_path).map_err(|e| BasinError::file(&optim_path, format!("{e:?}")))?;
    let state_path = ckpt.join("state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| BasinError::file(&state_path, e))?;
    let state = serde_json::from_str(&text).map_err(|e| BasinError::file(&state_path, e))?;
    Ok((model, optim, state))
}
