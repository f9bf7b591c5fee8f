//! ONNX networks as basin models (issue 40).
//!
//! A PyTorch user exports a model with `torch.onnx.export` (either exporter; see the guide's
//! chapter "Your own PyTorch model") and basin reads it at run time, with no code generation,
//! into an [`OnnxNet`]: a Burn module whose parameters are the graph's trainable initializers
//! (Conv, Gemm and MatMul weights and biases, normalization scales and shifts) and whose forward
//! pass is the graph run on basin-zoo's [`Dual`](basin_zoo::jvp::Dual) values. So the plain
//! pass and the tangent pass of the exact Hessian come from one definition, as for the zoo's
//! networks, and every estimator, instrument and method works on it.
//!
//! The file is parsed with `onnx-ir`'s bindings of the ONNX schema ([`onnx_ir::ModelProto`]).
//! basin reads the protobuf rather than onnx-ir's processed graph because that graph lifts
//! initializers into unnamed constants and rewrites Gemm/MatMul into its own Linear node: the
//! parameters must keep their initializer names (PyTorch's `state_dict` names), and
//! [`export`] writes the same file back with the trained values.
#![warn(missing_docs)]

pub mod error;
mod exec;
pub mod export;
pub mod file;
pub mod layers;
pub mod net;
pub mod program;
pub mod value;

pub use error::OnnxError;
pub use net::OnnxNet;
