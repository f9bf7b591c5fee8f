//! Weight initializers the papers name.

use burn::nn::Initializer;

/// Glorot/Xavier uniform (Glorot & Bengio 2010): the noise-enhancement paper's stated init and
/// the Keras default of Keskar et al.'s and Jastrzębski et al.'s networks.
pub fn glorot() -> Initializer {
    Initializer::XavierUniform { gain: 1.0 }
}

/// He/Kaiming normal with fan-in (He et al. 2015), the CIFAR ResNets' init.
pub fn he() -> Initializer {
    Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: false }
}
