//! [`Network`]: the network a command trains or measures, a zoo network or an ONNX graph,
//! built from a run's config in one place.

use crate::CliError;
use basin_core::Classifier;
use basin_core::train::{TrainConfig, init_model};
use basin_onnx::OnnxNet;
use basin_zoo::data::RunData;
use basin_zoo::{ModelOptions, ZooModel};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use std::path::Path;

/// A network of the zoo (`model.name`) or read from an ONNX file (`model.onnx`).
///
/// Its [`Module`] impl is transparent: it adds no level to parameter paths, so records and
/// safetensors files keep the names the network has on its own (`Mlp.hidden.0.weight` for a
/// zoo network, as run folders written before this type existed hold them).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Network {
    /// A zoo network.
    Zoo(ZooModel),
    /// An ONNX graph.
    Onnx(OnnxNet),
}

impl Network {
    /// The network `cfg` names, for `data`, on the autodiff device `ad`: a zoo network with its
    /// seeded initialization, or the ONNX file with its own weights (checked on `data`'s item
    /// shape, its parameter count printed on stderr, and a warning when PyTorch's exporter
    /// folded batch norms into convolutions).
    pub fn build(cfg: &TrainConfig, data: &RunData, ad: &Device) -> Result<Network, CliError> {
        let net = Network::build_unfrozen(cfg, data, ad)?;
        if cfg.model.freeze.is_empty() { Ok(net) } else { net.freeze(&cfg.model.freeze) }
    }

    /// [`basin_core::train::trainer::check_selects`] on this network.
    pub fn check_selects(&self, cfg: &TrainConfig) -> Result<(), basin_core::BasinError> {
        match self {
            Network::Zoo(z) => basin_core::train::trainer::check_selects(cfg, z),
            Network::Onnx(o) => basin_core::train::trainer::check_selects(cfg, o),
        }
    }

    /// The trainable parameters' names (module paths, or ONNX initializer names) and ids.
    fn param_ids(&self) -> Vec<(String, burn::module::ParamId)> {
        match self {
            Network::Zoo(z) => basin_core::paramvec::ParamVec::from_model(z).slots.iter().map(|s| (s.path.clone(), s.id)).collect(),
            Network::Onnx(o) => o.param_ids(),
        }
    }

    /// `self` with the parameters whose name `pattern` (`model.freeze`) matches kept fixed in
    /// training; what was frozen is said on stderr. A pattern that is not a regular expression,
    /// or that matches no parameter, is an error naming `model.freeze`.
    pub fn freeze(self, pattern: &str) -> Result<Network, CliError> {
        let re = regex::Regex::new(pattern).map_err(|e| CliError::input(format!("model.freeze: not a regular expression: {}", e.to_string().lines().last().unwrap_or("").trim_start_matches("error: "))))?;
        let all = self.param_ids();
        let (hit, ids): (Vec<&str>, Vec<_>) = all.iter().filter(|(n, _)| re.is_match(n)).map(|(n, id)| (n.as_str(), *id)).unzip();
        if ids.is_empty() {
            let names: Vec<&str> = all.iter().take(8).map(|(n, _)| n.as_str()).collect();
            return Err(CliError::input(format!("model.freeze: '{pattern}' matches no parameter (they are named like {})", names.join(", "))));
        }
        eprintln!("model.freeze: {} of {} parameter tensors kept fixed ({})", ids.len(), all.len(), hit.join(", "));
        Ok(match self {
            Network::Zoo(z) => Network::Zoo(basin_core::params::freeze(z, &ids)),
            Network::Onnx(o) => Network::Onnx(basin_core::params::freeze(o, &ids)),
        })
    }

    fn build_unfrozen(cfg: &TrainConfig, data: &RunData, ad: &Device) -> Result<Network, CliError> {
        if data.train.values.as_ref().is_some_and(|v| v.iter().all(|t| t.fract() == 0.0)) {
            eprintln!("warning: array 'y' holds floats that are all whole numbers: they are fitted as real targets (mean squared error); save class labels as integers (y.astype(np.int64)) for the cross-entropy");
        }
        if cfg.model.onnx.is_empty() {
            let opts = ModelOptions::of(&cfg.model);
            ZooModel::build(&cfg.model.name, data.shape, data.classes, &opts, ad).map_err(CliError::input)?;
            return Ok(Network::Zoo(init_model(ad, cfg.seed, |d| ZooModel::build(&cfg.model.name, data.shape, data.classes, &opts, d).expect("name checked above"))));
        }
        let path = Path::new(&cfg.model.onnx);
        let net = OnnxNet::load(path, ad).map_err(|e| CliError::input(e.to_string()))?;
        let classes = net.check_input(&data.shape, ad).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
        if data.is_regression() && classes != data.classes {
            return Err(CliError::input(format!("{}: the graph gives {classes} outputs, but array 'y' has {} targets per row", path.display(), data.classes)));
        }
        if classes < data.classes {
            return Err(CliError::input(format!("{}: the graph gives {classes} logits, but the labels go up to {} (array 'y' or the data set)", path.display(), data.classes - 1)));
        }
        if !net.folded_batch_norms().is_empty() {
            eprintln!(
                "warning: {}: PyTorch's exporter folded batch norms into the convolutions ({}): its parameters are not the model's; export with optimize=False to keep them (docs/guide/onnx.md)",
                path.display(),
                net.folded_batch_norms().join(", ")
            );
        }
        eprintln!("{}: {} trainable parameters", path.display(), net.num_trainable());
        Ok(Network::Onnx(net))
    }

    /// `self` with the weights of `path`: `.bpk` (basin's record of this network), or
    /// `.safetensors` (for a zoo network basin's names; for an ONNX graph the initializer
    /// names, i.e. a PyTorch `state_dict`).
    pub fn load_weights(self, path: &Path) -> Result<Network, CliError> {
        if !path.is_file() {
            return Err(CliError::input(format!("{}: no such weights file", path.display())));
        }
        let bad = |e: String| CliError::input(format!("{}: {e}", path.display()));
        match (self, path.extension().and_then(|e| e.to_str())) {
            (Network::Onnx(net), Some("safetensors")) => {
                let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
                let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
                let mut named = std::collections::HashMap::new();
                for (name, view) in st.tensors() {
                    let v: Vec<f32> = match view.dtype() {
                        safetensors::Dtype::F32 => view.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect(),
                        safetensors::Dtype::F64 => view.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32).collect(),
                        _ => continue, // num_batches_tracked and other integer buffers
                    };
                    named.insert(name, v);
                }
                Ok(Network::Onnx(net.with_named(&named).map_err(|e| bad(e.to_string()))?))
            }
            (Network::Zoo(m), Some("safetensors")) => {
                use burn::store::{ModuleSnapshot, SafetensorsStore};
                let mut m = m;
                m.load_from(&mut SafetensorsStore::from_file(path)).map_err(|e| bad(format!("{e:?}")))?;
                Ok(Network::Zoo(m))
            }
            (n, _) => n.try_load_file(path).map_err(|e| bad(format!("{e:?}"))),
        }
    }
}

/// Dispatches `$body` on the inner network bound to `$m`, rebuilding the variant when `$wrap`.
macro_rules! each {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            Network::Zoo($m) => $body,
            Network::Onnx($m) => $body,
        }
    };
    (wrap $self:expr, $m:ident => $body:expr) => {
        match $self {
            Network::Zoo($m) => Network::Zoo($body),
            Network::Onnx($m) => Network::Onnx($body),
        }
    };
}

impl Module for Network {
    fn collect_devices(&self, devices: burn::module::Devices) -> burn::module::Devices {
        each!(self, m => m.collect_devices(devices))
    }
    fn fork(self, device: &Device) -> Self {
        each!(wrap self, m => m.fork(device))
    }
    fn to_device(self, device: &Device) -> Self {
        each!(wrap self, m => m.to_device(device))
    }
    fn train(self) -> Self {
        each!(wrap self, m => m.train())
    }
    fn valid(&self) -> Self {
        each!(wrap self, m => m.valid())
    }
    fn materialize(self) -> Self {
        each!(wrap self, m => m.materialize())
    }
    fn visit<V: burn::module::ModuleVisitor>(&self, visitor: &mut V) {
        each!(self, m => m.visit(visitor))
    }
    fn map<M: burn::module::ModuleMapper>(self, mapper: &mut M) -> Self {
        each!(wrap self, m => m.map(mapper))
    }
}

/// Both passes of either kind of network.
impl Classifier for Network {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Network::Zoo(m) => m.logits(images),
            Network::Onnx(m) => m.logits(images),
        }
    }
    fn logits_jvp(&self, dir: &Self, images: Tensor<4>) -> Option<(Tensor<2>, Tensor<2>)> {
        match (self, dir) {
            (Network::Zoo(m), Network::Zoo(d)) => m.logits_jvp(d, images),
            (Network::Onnx(m), Network::Onnx(d)) => m.logits_jvp(d, images),
            _ => None,
        }
    }
    fn features(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        match self {
            Network::Zoo(m) => m.features(images),
            Network::Onnx(_) => None,
        }
    }
}
