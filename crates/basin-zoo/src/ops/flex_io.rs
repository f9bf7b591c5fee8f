//! Moving f32 data in and out of flex tensors for basin's CPU kernels.

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::nn::PaddingConfig2d;
use burn::tensor::{DType, Tensor, TensorData};

/// `t` itself when its f32 values are one contiguous run, else a contiguous copy.
pub fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.as_slice::<f32>().is_some() { t } else { t.to_contiguous() }
}

/// The f32 values of a tensor made [`contiguous`].
pub fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("basin CPU kernel: expected a contiguous f32 tensor")
}

/// A flex tensor owning `values` with `shape`.
pub fn flex(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Whether `x` lives on the flex CPU backend (directly or under autodiff) as f32: where basin's
/// kernels apply.
pub fn on_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// Padding `(top, left, bottom, right)` when it is fixed; `None` for "same", which depends on
/// the input size and is left to Burn's own ops.
pub fn fixed_padding(padding: &PaddingConfig2d) -> Option<[usize; 4]> {
    match *padding {
        PaddingConfig2d::Valid => Some([0; 4]),
        PaddingConfig2d::Explicit(t, l, b, r) => Some([t, l, b, r]),
        PaddingConfig2d::Same => None,
    }
}
