//! `basin train`: one run from a TOML config, with progress, checkpoints and resume.

use crate::output::percent;
use crate::{CliError, config_file, device, progress};
use basin_core::train::{TrainOptions, TrainSets, train};
use crate::network::Network;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Arguments of `basin train`.
#[derive(Args)]
pub struct TrainArgs {
    /// TOML config (see configs/); without it, the documented defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. --set optimizer.lr=0.05 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Keep the parameters whose name matches this regular expression fixed (the config key
    /// `model.freeze`; names as `basin export` and PyTorch's state_dict give them).
    #[arg(long, value_name = "REGEX")]
    freeze: Option<String>,
    /// Output folder (default: `runs/<model>-<data>-seed<seed>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    resume: bool,
    /// cpu (flex backend), cuda or wgpu (each needs its cargo feature).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Check the config, print it resolved (TOML) and exit without training.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `basin train`.
pub fn run(mut args: TrainArgs) -> Result<(), CliError> {
    if let Some(re) = args.freeze.take() {
        args.sets.push(format!("model.freeze={}", toml::Value::String(re)));
    }
    let (cfg, extends) = match (&args.out, args.resume) {
        (Some(out), true) => resumed_config(out, args.config.as_deref(), &args.sets)?,
        (None, true) => return Err(CliError::input("--resume: needs --out DIR, the run to continue")),
        _ => (absolute_files(config_file::load(args.config.as_deref(), &args.sets)?)?, false),
    };
    if args.dry_run {
        print!("{}", toml::to_string_pretty(&cfg).expect("config serializes"));
        return Ok(());
    }
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-{}-seed{}", cfg.model_label(), cfg.data_label(), cfg.seed)));
    let device = device::select(&args.device)?;
    let data = basin_zoo::data::prepare(&cfg.data, cfg.seed)?;
    if data.test_is_train {
        return Err(CliError::input(format!("{}: has no arrays 'x_test', 'y_test'; basin train reports test metrics, so it needs them", cfg.data.npz)));
    }
    cfg.validate_against(data.train.len())?;
    let ad = device.clone().autodiff();
    let model = Network::build(&cfg, &data, &ad)?;
    model.check_selects(&cfg)?;
    // one writer per run folder, from here to the end of the run
    let _lock = crate::run_lock::acquire(&out)?;
    let previous = basin_core::train::checkpoint::latest(&out)?;
    if !args.resume && (previous.is_some() || out.join("summary.json").exists()) {
        return Err(CliError::input(format!(
            "{}: already holds a run; pass --resume to continue it or choose another --out",
            out.display()
        )));
    }
    if !args.resume && !crate::run_lock::is_empty(&out) {
        return Err(CliError::input(format!("{}: exists and is not empty (and is not a basin run); choose an empty or new --out", out.display())));
    }
    // A run stopped before its first checkpoint (killed during start-up or its first steps)
    // has nothing to resume from: it starts again from step 0 with its stored config.
    let fresh_start = args.resume && previous.is_none();
    if fresh_start {
        eprintln!("{}: no checkpoint yet; starting the run from step 0 with its config.toml", out.display());
    }
    std::fs::create_dir_all(&out).map_err(|e| CliError::input(format!("{}: {e}", out.display())))?;
    let resume = args.resume && !fresh_start;
    if extends {
        begin_extension(&out, &cfg)?;
    }
    if !args.resume {
        let text = toml::to_string_pretty(&cfg).expect("config serializes");
        basin_core::train::checkpoint::write_atomic(&out.join("config.toml"), text.as_bytes())?;
    }
    // Ctrl-C and SIGTERM (what cluster schedulers send before a kill) both finish the step and
    // write a checkpoint; a second one aborts at once.
    let stop = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    for (signal, code) in [(signal_hook::consts::SIGINT, 130), (signal_hook::consts::SIGTERM, 143)] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, code, stop.clone());
        let _ = signal_hook::flag::register(signal, stop.clone());
    }
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, terminated.clone());
    let sets = TrainSets { train: &data.train, test: &data.test, val: data.val.as_ref().map(|v| v as _) };
    let steps = basin_core::train::trainer::steps_per_epoch(data.train.len(), cfg.train.batch_size) as u64;
    let done = match basin_core::train::checkpoint::latest(&out) {
        Ok(Some(p)) if resume => checkpoint_step(&p).unwrap_or(0),
        _ => 0,
    };
    println!(
        "basin train: {} on {} ({} train / {} test images), {} epochs × {} steps, estimator {}, {} thread{}, out {}",
        cfg.model_label(),
        cfg.data_label(),
        data.train.len(),
        data.test.len(),
        basin_core::train::phases::total_epochs(&basin_core::train::phases::resolve(&cfg)?),
        steps,
        cfg.estimator.name(),
        rayon::current_num_threads(),
        if rayon::current_num_threads() == 1 { "" } else { "s" },
        out.display()
    );
    if resume {
        println!("resuming from step {done} (the run's latest checkpoint)");
    }
    let epochs = basin_core::train::phases::total_epochs(&basin_core::train::phases::resolve(&cfg)?);
    let mut bars = progress::Bars::new(steps * epochs as u64, done);
    let result = train(model, &cfg, &sets, &TrainOptions { out: out.clone(), resume, stop, device }, &mut bars);
    bars.finish();
    let (model, summary) = result.map_err(|e| {
        let sigterm = matches!(e, basin_core::BasinError::Interrupted { .. }) && terminated.load(std::sync::atomic::Ordering::SeqCst);
        let mut e = CliError::from(e);
        if sigterm {
            e.code = 143;
        }
        e
    })?;
    export_weights(&model, &out, "model")?;
    println!(
        "final: train loss {:.4}  train acc {}  test loss {:.4}  test acc {}  ({} steps, {:.1}s)",
        summary.train_loss,
        percent(summary.train_acc),
        summary.test_loss,
        percent(summary.test_acc),
        summary.steps,
        summary.seconds
    );
    if let Some(avg) = &summary.averaged {
        let stem = cfg.average.file_stem();
        let averaged = crate::model_source::load_weights(model.clone(), &out.join(&avg.file))?;
        export_weights(&averaged, &out, &stem)?;
        println!(
            "averaged ({}, {} weights{}): train loss {:.4}  test acc {}  → {stem}.bpk, {stem}.safetensors",
            avg.method,
            avg.averaged,
            if avg.recalibrated_bn { ", batch norm recalibrated" } else { "" },
            avg.train_loss,
            percent(avg.test_acc)
        );
    }
    println!("wrote {}/summary.json, metrics.jsonl, config.toml, model.bpk, model.safetensors", out.display());
    Ok(())
}

/// `model.onnx` and `data.npz` as absolute paths (the run folder's config.toml then names the
/// same files from any working directory); a file that does not exist is an error naming the key.
fn absolute_files(mut cfg: basin_core::train::TrainConfig) -> Result<basin_core::train::TrainConfig, CliError> {
    for (key, path) in [("model.onnx", &mut cfg.model.onnx), ("data.npz", &mut cfg.data.npz)] {
        if !path.is_empty() {
            let abs = std::fs::canonicalize(&*path).map_err(|e| CliError::input(format!("{key}: {path}: {e}")))?;
            *path = abs.display().to_string();
        }
    }
    Ok(cfg)
}

/// Writes weights as burnpack (STEM.bpk, reloadable with ids) and safetensors
/// (STEM.safetensors, names like `hidden.0.weight`; Linear weights are [in, out], the transpose
/// of PyTorch's [out, in]), each through a temporary file and a rename.
fn export_weights(model: &Network, out: &std::path::Path, stem: &str) -> Result<(), CliError> {
    use burn::module::Module;
    use burn::store::{ModuleSnapshot, SafetensorsStore};
    use basin_core::Classifier;
    model.sync_running_stats();
    let bpk = out.join(format!("{stem}.bpk"));
    let tmp = out.join(format!("{stem}.bpk.tmp"));
    model.clone().save_file(&tmp).map_err(|e| CliError::run(format!("{}: {e:?}", tmp.display())))?;
    std::fs::rename(&tmp, &bpk).map_err(|e| CliError::run(format!("{}: {e}", bpk.display())))?;
    let st = out.join(format!("{stem}.safetensors"));
    let tmp = out.join(format!("{stem}.safetensors.tmp"));
    let mut store = SafetensorsStore::from_file(&tmp).overwrite(true);
    model.save_into(&mut store).map_err(|e| CliError::run(format!("{}: {e:?}", tmp.display())))?;
    crate::output::canonical_safetensors(&tmp)?;
    std::fs::rename(&tmp, &st).map_err(|e| CliError::run(format!("{}: {e}", st.display())))?;
    Ok(())
}

/// The config of the run in `out` for `--resume`: its config.toml, which must exist. A
/// `--config` or `--set` given again must not change it (the first differing key is the error),
/// with one exception: a larger `train.epochs` **extends** the run (one that ended at its epoch
/// cap without reaching `train.stop_at_loss` continues from its last checkpoint). Nothing in the
/// loop depends on the total number of epochs (rates are functions of the epoch, L*/L** of the
/// loss), so the extended run is bit-identical to one started with the larger cap; runs with
/// `[[phases]]`, whose epochs are fixed per phase, cannot be extended. Returns the config to run
/// and whether it extends the stored one.
fn resumed_config(out: &std::path::Path, config: Option<&std::path::Path>, sets: &[String]) -> Result<(basin_core::train::TrainConfig, bool), CliError> {
    let saved = out.join("config.toml");
    if !saved.is_file() {
        return Err(CliError::input(format!("{}: missing; --resume needs the run's stored config", saved.display())));
    }
    let stored = config_file::load(Some(&saved), &[])?;
    if config.is_none() && sets.is_empty() {
        return Ok((stored, false));
    }
    let asked = config_file::load(Some(config.unwrap_or(&saved)), sets)?;
    let mut same_length = asked.clone();
    same_length.train.epochs = stored.train.epochs;
    if let Some((key, was, now)) = config_file::first_difference(&stored, &same_length) {
        return Err(CliError::input(format!("{key}: {now} differs from the run's config.toml ({was}); --resume continues with the stored config, drop the override")));
    }
    let (was, now) = (stored.train.epochs, asked.train.epochs);
    if now == was {
        return Ok((stored, false));
    }
    if !stored.phases.is_empty() {
        return Err(CliError::input("train.epochs: the run's config.toml has [[phases]], which fix its length; it cannot be extended"));
    }
    if now < was {
        return Err(CliError::input(format!("train.epochs: {now} is below the run's config.toml ({was}); a run can be extended, not shortened")));
    }
    Ok((asked, true))
}

/// Starts extending the run in `out` to `cfg` (a larger `train.epochs`): the new config.toml
/// first, then the old summary.json goes (it described the run at its old cap; metrics.jsonl and
/// the last checkpoint keep everything it said). Interrupted in between, the folder is a run in
/// progress either way.
fn begin_extension(out: &std::path::Path, cfg: &basin_core::train::TrainConfig) -> Result<(), CliError> {
    let text = toml::to_string_pretty(cfg).expect("config serializes");
    basin_core::train::checkpoint::write_atomic(&out.join("config.toml"), text.as_bytes())?;
    crate::output::remove_stale(&out.join("summary.json"))
}

/// The step a checkpoint folder was written at (its state.json), if it can be read.
pub fn checkpoint_step(checkpoint: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(checkpoint.join("state.json")).ok()?;
    serde_json::from_str::<basin_core::train::checkpoint::LoopState>(&text).ok().map(|s| s.step)
}
