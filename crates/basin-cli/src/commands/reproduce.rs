//! `basin reproduce`: list, run and report the papers' experiments (see `crate::reproduce`).

use crate::CliError;
use crate::reproduce::experiment::Experiment;
use crate::reproduce::{report, run};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Arguments of `basin reproduce`.
#[derive(Args)]
pub struct ReproduceArgs {
    /// Experiment name (a file experiments/NAME.toml) or a path to an experiment file.
    name: Option<String>,
    /// List the experiments with their paper, table or figure, scale and time here.
    #[arg(long)]
    list: bool,
    /// quick (minutes, reduced data and epochs), full (the paper's protocol as far as the data
    /// allows), or another scale the experiment file defines (`--list` shows them).
    #[arg(long, default_value = "quick")]
    scale: String,
    /// The training protocol: `paper` (the paper's text) or one the experiment file defines,
    /// e.g. `smoothout-code` (what the authors' published code does); its runs and report go
    /// to their own folder (default repro/NAME-SCALE-PROTOCOL).
    #[arg(long, default_value = "paper")]
    protocol: String,
    /// Seeds per cell (default: the experiment's for the scale).
    #[arg(long)]
    seeds: Option<usize>,
    /// Runs at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Output folder (default: repro/NAME-SCALE).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only aggregate the runs that exist into report.md / report.json.
    #[arg(long)]
    report: bool,
    /// Folder of the experiment files.
    #[arg(long, default_value = "experiments")]
    experiments: PathBuf,
}

fn find(dir: &Path, name: &str) -> Result<Experiment, CliError> {
    let p = Path::new(name);
    let path = if p.extension().is_some_and(|e| e == "toml") { p.to_path_buf() } else { dir.join(format!("{name}.toml")) };
    if !path.is_file() {
        let known = list_files(dir).iter().filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())).collect::<Vec<_>>().join(", ");
        return Err(CliError::input(format!("{}: no such experiment (known: {known})", path.display())));
    }
    Experiment::load(&path)
}

fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map(|r| r.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Runs `basin reproduce`.
pub fn run(args: ReproduceArgs) -> Result<(), CliError> {
    if args.list {
        println!("| experiment | reproduces | data | seeds | quick | full | other scales | protocols |");
        println!("|---|---|---|---|---|---|---|---|");
        for p in list_files(&args.experiments) {
            let e = Experiment::load(&p)?;
            let data = if e.stand_in_for.is_empty() { e.data.clone() } else { format!("{} (stand-in for {})", e.data, e.stand_in_for) };
            let t = |s: &str| e.minutes.get(s).map(|m| if *m >= 90.0 { format!("≈ {:.1} h", m / 60.0) } else { format!("≈ {m:.0} min") }).unwrap_or_else(|| "—".into());
            let other: Vec<String> = e.scale_names().into_iter().skip(2).map(|s| format!("{s} ({} seeds, {})", e.seeds_at(&s), t(&s))).collect();
            let other = if other.is_empty() { "—".to_string() } else { other.join(", ") };
            println!("| {} | {} | {data} | {} / {} | {} | {} | {other} | {} |", e.name, e.source, e.seeds_at("quick"), e.seeds_at("full"), t("quick"), t("full"), e.protocol_names().join(", "));
        }
        return Ok(());
    }
    let name = args.name.as_deref().ok_or_else(|| CliError::input("reproduce: give an experiment name or --list"))?;
    if args.jobs == 0 || args.seeds == Some(0) {
        return Err(CliError::input("--jobs, --seeds: must be ≥ 1"));
    }
    let e = find(&args.experiments, name)?.at_scale(&args.scale)?.with_protocol(&args.protocol)?;
    let seeds = args.seeds.unwrap_or(e.seeds_at(&args.scale));
    let suffix = if args.protocol == "paper" { String::new() } else { format!("-{}", args.protocol) };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("repro/{}-{}{suffix}", e.name, args.scale)));
    if !args.report {
        let stop = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register(signal, stop.clone());
        }
        run::run(&e, &args.scale, seeds, args.jobs, &out, stop)?;
    }
    if !out.is_dir() {
        return Err(CliError::input(format!("{}: no runs yet (run `basin reproduce {name} --scale {}` first)", out.display(), args.scale)));
    }
    let r = report::build(&e, &args.scale, seeds, &out);
    report::write(&e, &r, &out)?;
    print!("{}", report::markdown(&e, &r));
    println!("wrote {}/report.md, report.json", out.display());
    Ok(())
}
