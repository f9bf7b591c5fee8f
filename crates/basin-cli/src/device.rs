//! `--device`: the flex CPU backend by default; CUDA with the `cuda` feature, Burn's wgpu
//! backend (Vulkan, Metal or DirectX 12, whatever the machine offers) with the `wgpu` feature.
//! basin's own CPU kernels (`basin_zoo::ops`) and fused passes (`basin_core::fused`) apply to
//! flex tensors only; on the other devices Burn's own ops run.

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
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err(CliError::input("--device wgpu: this basin was built without the `wgpu` feature (cargo build --release --features wgpu)")),
        other => Err(CliError::input(format!("--device: unknown device '{other}' (cpu, cuda, wgpu)"))),
    }
}
