//! `basin report RUN_DIR... [--out report.html]`: one self-contained HTML page for one run
//! folder or several (curves overlaid, summaries in one table). See [`crate::report`].

use crate::CliError;
use crate::report::{run_folder::RunFolder, runs};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `basin report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Run folders (written by `basin train`); several are compared on one page.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
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
    crate::output::refuse_overwrite(std::slice::from_ref(&args.out), args.force)?;
    let folders = args.runs.iter().map(|d| RunFolder::load(d)).collect::<Result<Vec<_>, _>>()?;
    runs::page(&folders).write(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
