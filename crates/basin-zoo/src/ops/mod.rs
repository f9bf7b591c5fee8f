//! Tensor operations basin runs faster than the backend's generic ones on the CPU.
//!
//! [`conv2d`] replaces `Conv2d::forward` in the zoo's networks: on the flex backend it lowers
//! each image with [`im2col`](im2col::im2col) and calls one matrix product per image
//! ([`conv2d_cpu`]); elsewhere it is Burn's own convolution.

pub mod conv2d;
pub mod conv2d_cpu;
pub mod im2col;

pub use conv2d::conv2d;
