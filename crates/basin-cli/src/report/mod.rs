//! Self-contained HTML reports (issue 16): one file with inline SVG and inline CSS, no script
//! and nothing fetched, so it opens offline and travels as an email attachment.
//! [`html`] is the page renderer shared by `basin report` (run folders, [`runs`]) and
//! `basin reproduce --report` (experiments, with error bars).

pub mod html;
pub mod run_folder;
pub mod runs;
