//! Tensor operations basin runs faster than the backend's generic ones on the CPU.
//!
//! [`conv2d()`], [`linear()`], [`batch_norm()`] and [`max_pool2d()`] replace the `forward` of Burn's
//! `Conv2d`, `Linear`, `BatchNorm` and `MaxPool2d` in the zoo's networks: on the flex backend
//! they run basin's kernels (im2col + one matrix product per image; dense products in fixed row
//! blocks with the backward's two products side by side; two-pass fused batch norm; pooling
//! that keeps its argmax) with hand-written backward passes, plugged in through Burn's
//! backend-extension API; elsewhere they are Burn's own.

pub mod batch_norm;
pub mod batch_norm_cpu;
pub mod batch_norm_eval;
pub mod conv2d;
pub mod conv2d_cpu;
pub mod flex_io;
pub mod im2col;
pub mod linear;
pub mod linear_cpu;
pub mod max_pool2d;
pub mod max_pool2d_cpu;
pub mod relu_mask;

pub use batch_norm::batch_norm;
pub use conv2d::conv2d;
pub use linear::linear;
pub use max_pool2d::max_pool2d;
pub use relu_mask::relu_mask;
