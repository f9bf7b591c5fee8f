//! Ghost batch normalization (Hoffer, Hubara & Soudry, 2017), used by the noise-enhancement
//! paper's C1/C2 with ghost batches of 100.

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::Tensor;

/// Batch norm whose training statistics come from consecutive chunks ("ghost batches") of
/// `ghost` examples instead of the whole batch; running statistics are updated once per ghost
/// batch, as in the reference implementation. In evaluation it is plain batch norm.
/// `ghost = 0` means ordinary batch norm.
#[derive(Module, Debug)]
pub struct GhostBatchNorm {
    bn: BatchNorm,
    ghost: usize,
}

impl GhostBatchNorm {
    /// Batch norm over `features` channels with ghost batches of `ghost` examples (0 = off).
    pub fn new(features: usize, ghost: usize, device: &burn::tensor::Device) -> GhostBatchNorm {
        GhostBatchNorm { bn: BatchNormConfig::new(features).init(device), ghost }
    }

    /// The batch norm itself (its parameters and running statistics).
    pub fn inner(&self) -> &BatchNorm {
        &self.bn
    }

    /// See [`basin_core::Classifier::sync_running_stats`].
    pub fn sync_running_stats(&self) {
        basin_core::model::sync_batch_norm(&self.bn);
    }

    /// Normalizes `x` (`[B, C, ...]`).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let b = x.dims()[0];
        let training = x.device().is_autodiff();
        if self.ghost == 0 || !training || b <= self.ghost {
            return crate::ops::batch_norm(&self.bn, x);
        }
        let chunks = b.div_ceil(self.ghost);
        let parts: Vec<Tensor<D>> = x.chunk(chunks, 0).into_iter().map(|p| crate::ops::batch_norm(&self.bn, p)).collect();
        Tensor::cat(parts, 0)
    }
}
