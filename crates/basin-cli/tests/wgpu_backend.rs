//! The `wgpu` feature end to end (issue 14): training and a Hessian measurement on the bundled
//! slice with `--device wgpu` agree with the flex CPU path.
//!
//! Not part of the default test run (it needs the feature, a second build of Burn, and a
//! Vulkan driver). On a machine without a GPU, Mesa's software Vulkan driver serves:
//!
//!     sudo apt-get install mesa-vulkan-drivers libvulkan1
//!     cargo test --release -p basin-cli --features wgpu --test wgpu_backend
//!
//! Both runs start from the same weights (`init_model` draws them on the CPU and moves them).
//! The two backends sum in different orders, so 16 SGD steps end with weights that differ in
//! the last bits: the training loss must agree to 1e-5 relative, the test accuracy to one
//! example in 256, and the top Hessian eigenvalue to 1e-4 relative. Measured on Mesa's
//! llvmpipe (2026-11-30): 5e-7 and 2e-8, the same accuracy.
#![cfg(feature = "wgpu")]

use std::path::Path;
use std::process::Command;

fn basin(args: &[&str], cwd: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_basin")).args(args).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "basin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn wgpu_trains_and_measures_like_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for device in ["cpu", "wgpu"] {
        basin(
            &["train", "--device", device, "--out", device, "--set", "data.train_subset=1024", "--set", "data.test_subset=256", "--set", "train.epochs=1", "--set", "train.batch_size=64"],
            dir.path(),
        );
        basin(&["hessian", "--device", device, "--run", device, "--samples", "256", "--top-k", "1", "--json", &format!("{device}-h.json")], dir.path());
        let s = json(&dir.path().join(device).join("summary.json"));
        let h = json(&dir.path().join(format!("{device}-h.json")));
        seen.push((s["train_loss"].as_f64().unwrap(), s["test_acc"].as_f64().unwrap(), h["mean"][0].as_f64().unwrap()));
    }
    let ((lc, ac, ec), (lg, ag, eg)) = (seen[0], seen[1]);
    println!("cpu: loss {lc}, acc {ac}, λ1 {ec}; wgpu: loss {lg}, acc {ag}, λ1 {eg}");
    assert!((lc - lg).abs() <= 1e-5 * lc, "train loss: cpu {lc}, wgpu {lg}");
    assert!((ac - ag).abs() <= 1.0 / 256.0 + 1e-12, "test accuracy: cpu {ac}, wgpu {ag}");
    assert!((ec - eg).abs() <= 1e-4 * ec, "λ1: cpu {ec}, wgpu {eg}");
}
