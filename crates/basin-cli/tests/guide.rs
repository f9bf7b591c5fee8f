//! The user guide cannot rot: every ```` ```sh ```` block of `docs/guide/*.md` runs here, as
//! written, one chapter per test (its blocks in order, in one fresh folder holding links to the
//! repository's `configs/` and `experiments/` (and `tests/fixtures/onnx` as `pytorch/`), with this build's `basin` first on `PATH`, under
//! `set -euo pipefail`). Blocks fenced `text` are shown, not run (GPU builds, placeholders,
//! printed output); the guide's index says so. The guide's Rust blocks are doctests of
//! `basin-zoo`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn guide_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/guide")
}

/// The ```` ```sh ```` blocks of a Markdown text, in order.
fn shell_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(b), "```") => {
                blocks.push(b.join("\n"));
                current = None;
            }
            (Some(b), l) => b.push(l),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

fn run_chapter(name: &str) {
    let path = guide_dir().join(format!("{name}.md"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let blocks = shell_blocks(&text);
    assert!(!blocks.is_empty(), "{name}.md has no ```sh block");
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (d, link) in [("configs", "configs"), ("experiments", "experiments"), ("tests/fixtures/onnx", "pytorch")] {
        std::os::unix::fs::symlink(root.join(d).canonicalize().unwrap(), dir.path().join(link)).unwrap();
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_basin")).parent().unwrap().to_path_buf();
    let path_var = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let script = format!("set -euo pipefail\n{}\n", blocks.join("\n"));
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(dir.path()).env("PATH", path_var).env("RAYON_NUM_THREADS", "1").output().unwrap();
    let tail = |b: &[u8]| String::from_utf8_lossy(b).lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "docs/guide/{name}.md: a shell block failed ({})\n--- stdout (end)\n{}\n--- stderr (end)\n{}", out.status, tail(&out.stdout), tail(&out.stderr));
}

/// The chapters with shell blocks, each run by a test below.
const CHAPTERS: &[&str] = &["training", "measuring", "landscapes", "reports", "reproducing", "cluster", "onnx", "generalization"];

#[test]
fn every_chapter_with_shell_blocks_is_run() {
    for e in std::fs::read_dir(guide_dir()).unwrap().flatten() {
        let p = e.path();
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        if p.extension().is_some_and(|x| x == "md") && !shell_blocks(&std::fs::read_to_string(&p).unwrap()).is_empty() {
            assert!(CHAPTERS.contains(&stem.as_str()), "docs/guide/{stem}.md has ```sh blocks but no test runs them: add it to CHAPTERS");
        }
    }
}

#[test]
fn shell_blocks_are_found_in_order() {
    let md = "text\n```sh\na\nb\n```\n```text\nnot run\n```\n```sh\nc\n```\n";
    assert_eq!(shell_blocks(md), vec!["a\nb".to_string(), "c".to_string()]);
}

#[test]
fn guide_training() {
    run_chapter("training");
}

#[test]
fn guide_measuring() {
    run_chapter("measuring");
}

#[test]
fn guide_landscapes() {
    run_chapter("landscapes");
}

#[test]
fn guide_reports() {
    run_chapter("reports");
}

#[test]
fn guide_reproducing() {
    run_chapter("reproducing");
}

#[test]
fn guide_cluster() {
    run_chapter("cluster");
}

#[test]
fn guide_onnx() {
    run_chapter("onnx");
}

#[test]
fn guide_generalization() {
    run_chapter("generalization");
}
