//! `basin reproduce`: the seeds' experiments as declarative files (`experiments/*.toml`), run
//! over seeds as ordinary run folders, resumable, and aggregated into a report with error bars
//! against the papers' numbers.

pub mod experiment;
pub mod report;
pub mod run;
pub mod status;
