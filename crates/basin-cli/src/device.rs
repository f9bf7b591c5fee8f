//! `--device`: the flex CPU backend by default, CUDA with the `cuda` feature.

use crate::CliError;
use burn::tensor::Device;

/// The plain device named by `--device`.
pub fn select(name: &str) -> Result<Device, CliError> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(CliError::input("--device cuda: this basin was built without the `cuda` feature (cargo build --release --features cuda)")),
        other => Err(CliError::input(format!("--device: unknown device '{other}' (cpu, cuda)"))),
    }
}
