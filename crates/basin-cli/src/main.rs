//! `basin`: train Burn models toward flat minima and measure how flat they are.

mod commands;
mod config_file;
mod device;
mod export;
mod lm_source;
mod model_source;
mod network;
mod output;
mod plots;
mod progress;
mod report;
mod reproduce;
mod run_lock;
mod shards;
mod slurm;
mod subject;
mod wait_policy;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Train neural networks toward flat minima and measure their flatness.
#[derive(Parser)]
#[command(name = "basin", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (defaults: ne-f1 on the bundled MNIST slice).
    Train(commands::train::TrainArgs),
    /// Obtain and verify data sets.
    Data {
        #[command(subcommand)]
        command: commands::data::DataCommand,
    },
    /// Hessian spectrum of a trained model: top eigenvalues, trace, Frobenius norm, density.
    Hessian(commands::hessian::HessianArgs),
    /// Sharpest-directions measurements: the paper's table, the loss along the top eigenvector.
    Sharpest {
        #[command(subcommand)]
        command: commands::sharpest::SharpestCommand,
    },
    /// (C_ε, A)-sharpness (L-BFGS-B) and noise sensitivity of a trained model.
    Sharpness(commands::sharpness::SharpnessArgs),
    /// Loss landscapes: interpolation, filter-normalized surfaces, plane through 3 checkpoints.
    Landscape {
        #[command(subcommand)]
        command: commands::landscape::LandscapeCommand,
    },
    /// Generalization measures of trained runs into each run's measures.json (norms, margin,
    /// PAC-Bayes, worst- and average-case sharpness, relative flatness, curvature), resumable.
    Measures(commands::measures::MeasuresArgs),
    /// How well each measure ranks runs by their generalization gap: Kendall's τ, granulated
    /// Ψ, conditional mutual information.
    Correlate(commands::correlate::CorrelateArgs),
    /// A run's trained weights back out: the ONNX graph with trained initializers, or a
    /// PyTorch state_dict as safetensors.
    Export(commands::export::ExportArgs),
    /// One self-contained HTML page for one or several run folders.
    Report(commands::report::ReportArgs),
    /// The papers' experiments over seeds, with error bars against the papers' numbers.
    Reproduce(commands::reproduce::ReproduceArgs),
    /// List the zoo's models.
    Models,
    /// Speed benchmarks.
    Bench {
        #[command(subcommand)]
        command: commands::bench::BenchCommand,
    },
}

/// A failure with the exit code it maps to: 2 for bad input (config, arguments, files), 1 for
/// failures while running, 130 for an interruption by Ctrl-C (SIGINT), 143 by SIGTERM.
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// Bad input: exit code 2.
    pub fn input(message: impl std::fmt::Display) -> Self {
        CliError { code: 2, message: message.to_string() }
    }
    /// A failure while running: exit code 1.
    pub fn run(message: impl std::fmt::Display) -> Self {
        CliError { code: 1, message: message.to_string() }
    }
}

impl From<basin_core::BasinError> for CliError {
    fn from(e: basin_core::BasinError) -> Self {
        let code = match e {
            basin_core::BasinError::Config { .. } | basin_core::BasinError::File { .. } => 2,
            basin_core::BasinError::Interrupted { .. } => 130,
            basin_core::BasinError::Diverged { .. } | basin_core::BasinError::NonFinite { .. } => 1,
        };
        CliError { code, message: e.to_string() }
    }
}

impl From<basin_zoo::data::DataError> for CliError {
    fn from(e: basin_zoo::data::DataError) -> Self {
        CliError::input(e)
    }
}

/// A parent `basin reproduce` asks its children for their error line in the file named by
/// `BASIN_ERROR_FILE`, so a run that failed on a cluster says why in `--status`; an
/// interruption (130, 143) is no error there.
fn record_error(e: &CliError) {
    if let Some(path) = std::env::var_os("BASIN_ERROR_FILE").filter(|_| e.code != 130 && e.code != 143) {
        let path = std::path::PathBuf::from(path);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&path, format!("{}\n", e.message));
    }
}

impl Command {
    /// Whether the command's own work is numerical (training, curvature, measures, benchmarks):
    /// it then runs with rayon's workers kept spinning between parallel parts
    /// ([`basin_core::hot_workers`], unless `BASIN_WAIT_POLICY=passive`). `reproduce` waits on
    /// child processes and the rest are input and output: theirs would spin for nothing.
    fn computes(&self) -> bool {
        matches!(self, Command::Train(_) | Command::Hessian(_) | Command::Sharpness(_) | Command::Landscape { .. } | Command::Sharpest { .. } | Command::Measures(_) | Command::Bench { .. })
    }

    fn run(self) -> Result<(), CliError> {
        match self {
            Command::Train(args) => commands::train::run(args),
            Command::Data { command } => commands::data::run(command),
            Command::Hessian(args) => commands::hessian::run(args),
            Command::Sharpness(args) => commands::sharpness::run(args),
            Command::Landscape { command } => commands::landscape::run(command),
            Command::Sharpest { command } => commands::sharpest::run(command),
            Command::Report(args) => commands::report::run(args),
            Command::Export(args) => commands::export::run(args),
            Command::Measures(args) => commands::measures::run(args),
            Command::Correlate(args) => commands::correlate::run(args),
            Command::Reproduce(args) => commands::reproduce::run(args),
            Command::Models => {
                for (name, what) in basin_zoo::MODEL_NAMES {
                    println!("{name:<12} {what}");
                }
                Ok(())
            }
            Command::Bench { command } => commands::bench::run(command),
        }
    }
}

fn main() -> ExitCode {
    // `basin … | head` ends quietly, as a Unix tool does: Rust starts with SIGPIPE ignored, so a
    // closed pipe turned the next `println!` into a panic with a backtrace. A long run ended this
    // way resumes from its last checkpoint, as after `kill -9` (`cli_hardening.rs`).
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Reuse freed activation buffers instead of faulting fresh pages in every step.
    basin_core::heap::keep_freed_memory();
    let cli = Cli::parse();
    // A numerical command runs on a worker of rayon's pool (`hot_workers`): its threads get the
    // main thread's 8 MiB of stack, not the 2 MiB of a spawned thread.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build_global();
    let result = match wait_policy::active() {
        Ok(true) if cli.command.computes() => basin_core::hot_workers::with_hot_workers(|| cli.command.run()),
        Ok(_) => cli.command.run(),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            record_error(&e);
            ExitCode::from(e.code)
        }
    }
}
