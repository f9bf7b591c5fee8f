//! `[estimator]` of a config: `name` picks the method, and only that method's keys may follow
//! (each with the paper's default). Each method's settings are its own struct, in its own file
//! (`SmoothOutConfig` in smoothout.rs, …), with Burn-style builders
//! (`SmoothOutConfig::default().with_a(0.05).init()`); this enum is the serde-tagged union the
//! TOML parses into. Adding a method: one file with its estimator and config, one arm here.

use super::GradientEstimator;
use super::ada_smoothout::AdaSmoothOutConfig;
use super::det_smoothout::DetSmoothOutConfig;
use super::entropy_sgd::EntropySgdConfig;
use super::noise_enhancement::NoiseEnhancementConfig;
use super::nsgd::NsgdConfig;
use super::plain::Plain;
use super::sam::{AsamConfig, SamConfig};
use super::smoothout::SmoothOutConfig;
use super::ssgd::SymmetricSgdConfig;
use crate::error::BasinError;
use crate::model::Classifier;
use serde::{Deserialize, Serialize};

/// Distribution of SmoothOut noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// θᵢ ~ U(−a, a) (the papers' main choice).
    #[default]
    Uniform,
    /// θᵢ ~ N(0, a²) (journal Table V ablation).
    Gaussian,
}

/// When SmoothOut-family noise is drawn (`noise_per` of smoothout and ada-smoothout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum NoisePer {
    /// One θ per batch (Algorithm 1, the papers' text).
    #[default]
    Batch,
    /// A fresh θ for every ghost chunk (`train.ghost_batch`), as the authors' `main_gbn.py`
    /// does: a batch of 6000 in chunks of 128 averages 47 noise draws.
    Chunk,
}

/// Names accepted in `estimator.name`.
pub const ESTIMATOR_NAMES: &[&str] =
    &["sgd", "smoothout", "det-smoothout", "ada-smoothout", "s-sgd", "noise-enhancement", "sam", "asam", "nsgd", "entropy-sgd"];

/// `Ok` when `ok`, else a config error naming `estimator.<key>`.
pub fn check(ok: bool, key: &str, why: &str) -> Result<(), BasinError> {
    if ok { Ok(()) } else { Err(BasinError::config(format!("estimator.{key}"), why.to_string())) }
}

/// `[estimator] name = "sgd"`: the plain mini-batch gradient; no parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {}

/// `[estimator]`: the method (`name`) and its own parameters.
///
/// ```
/// use basin_core::estimators::{EstimatorConfig, SamConfig, SmoothOutConfig};
///
/// // from a config file: the name, then only that method's keys
/// let cfg: EstimatorConfig = toml::from_str("name = \"smoothout\"\na = 0.05").unwrap();
/// assert_eq!(cfg, EstimatorConfig::SmoothOut(SmoothOutConfig::default().with_a(0.05)));
/// assert_eq!(cfg.name(), "smoothout");
/// cfg.validate().unwrap();
///
/// // another method's key is an error that lists this method's keys
/// let err = toml::from_str::<EstimatorConfig>("name = \"sam\"\na = 0.05").unwrap_err();
/// assert!(err.to_string().contains("rho"));
///
/// // in code, with the paper's defaults
/// assert_eq!(EstimatorConfig::default_of("sam"), Some(EstimatorConfig::Sam(SamConfig { rho: 0.05, m: 0 })));
///
/// // every method's config: valid at its defaults, and the same after a trip through TOML
/// for name in basin_core::estimators::ESTIMATOR_NAMES {
///     let cfg = EstimatorConfig::default_of(name).unwrap();
///     cfg.validate().unwrap();
///     assert_eq!(toml::from_str::<EstimatorConfig>(&toml::to_string(&cfg).unwrap()).unwrap(), cfg, "{name}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name")]
pub enum EstimatorConfig {
    /// Plain SGD gradient.
    #[serde(rename = "sgd")]
    Sgd(SgdConfig),
    /// SmoothOut.
    #[serde(rename = "smoothout")]
    SmoothOut(SmoothOutConfig),
    /// Deterministic SmoothOut.
    #[serde(rename = "det-smoothout")]
    DetSmoothOut(DetSmoothOutConfig),
    /// AdaSmoothOut.
    #[serde(rename = "ada-smoothout")]
    AdaSmoothOut(AdaSmoothOutConfig),
    /// S-SGD.
    #[serde(rename = "s-sgd")]
    SymmetricSgd(SymmetricSgdConfig),
    /// Noise-enhanced SGD.
    #[serde(rename = "noise-enhancement")]
    NoiseEnhancement(NoiseEnhancementConfig),
    /// SAM.
    #[serde(rename = "sam")]
    Sam(SamConfig),
    /// ASAM.
    #[serde(rename = "asam")]
    Asam(AsamConfig),
    /// Nudged SGD.
    #[serde(rename = "nsgd")]
    Nsgd(NsgdConfig),
    /// Entropy-SGD.
    #[serde(rename = "entropy-sgd")]
    EntropySgd(EntropySgdConfig),
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig::Sgd(SgdConfig {})
    }
}

impl EstimatorConfig {
    /// The method `name` with its defaults, or None for an unknown name.
    pub fn default_of(name: &str) -> Option<EstimatorConfig> {
        Some(match name {
            "sgd" => EstimatorConfig::Sgd(SgdConfig {}),
            "smoothout" => EstimatorConfig::SmoothOut(Default::default()),
            "det-smoothout" => EstimatorConfig::DetSmoothOut(Default::default()),
            "ada-smoothout" => EstimatorConfig::AdaSmoothOut(Default::default()),
            "s-sgd" => EstimatorConfig::SymmetricSgd(Default::default()),
            "noise-enhancement" => EstimatorConfig::NoiseEnhancement(Default::default()),
            "sam" => EstimatorConfig::Sam(Default::default()),
            "asam" => EstimatorConfig::Asam(Default::default()),
            "nsgd" => EstimatorConfig::Nsgd(Default::default()),
            "entropy-sgd" => EstimatorConfig::EntropySgd(Default::default()),
            _ => return None,
        })
    }

    /// The method's name, as written in `estimator.name`.
    pub fn name(&self) -> &'static str {
        match self {
            EstimatorConfig::Sgd(_) => "sgd",
            EstimatorConfig::SmoothOut(_) => "smoothout",
            EstimatorConfig::DetSmoothOut(_) => "det-smoothout",
            EstimatorConfig::AdaSmoothOut(_) => "ada-smoothout",
            EstimatorConfig::SymmetricSgd(_) => "s-sgd",
            EstimatorConfig::NoiseEnhancement(_) => "noise-enhancement",
            EstimatorConfig::Sam(_) => "sam",
            EstimatorConfig::Asam(_) => "asam",
            EstimatorConfig::Nsgd(_) => "nsgd",
            EstimatorConfig::EntropySgd(_) => "entropy-sgd",
        }
    }

    /// The key and value of the method's parameter selection (`params`, or S-SGD's `layers`),
    /// for the methods that perturb a chosen set of parameters.
    pub fn param_filter(&self) -> Option<(&'static str, crate::paramkind::ParamFilter)> {
        match self {
            EstimatorConfig::SmoothOut(c) => Some(("params", c.params)),
            EstimatorConfig::DetSmoothOut(c) => Some(("params", c.params)),
            EstimatorConfig::AdaSmoothOut(c) => Some(("params", c.params)),
            EstimatorConfig::SymmetricSgd(c) => Some(("layers", c.layers)),
            _ => None,
        }
    }

    /// An error naming the key when the method's parameter selection takes none of the
    /// parameters whose kinds are `kinds` (`params = "conv"` on an MLP): its noise would touch
    /// nothing and the run would be plain SGD under the method's name.
    pub fn check_selects(&self, kinds: &[crate::paramkind::ParamKind]) -> Result<(), crate::BasinError> {
        match self.param_filter() {
            Some((key, f)) if !kinds.iter().any(|&k| f.accepts(k)) => {
                let name = serde_json::to_value(f).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                Err(crate::BasinError::config(format!("estimator.{key}"), format!("'{name}' selects no parameter of this model, so {} would add no noise and train as plain SGD", self.name())))
            }
            _ => Ok(()),
        }
    }

    /// When the method draws its noise (`noise_per`), for the methods that have the setting.
    pub fn noise_per(&self) -> Option<NoisePer> {
        match self {
            EstimatorConfig::SmoothOut(c) => Some(c.noise_per),
            EstimatorConfig::AdaSmoothOut(c) => Some(c.noise_per),
            _ => None,
        }
    }

    /// This estimator with every setting that defaults to the base optimizer's rate resolved
    /// to `lr` (Entropy-SGD's `inner_lr = 0`); the others as they are.
    pub fn with_run_lr(&self, lr: f64) -> EstimatorConfig {
        match self {
            EstimatorConfig::EntropySgd(c) => EstimatorConfig::EntropySgd(c.with_run_lr(lr)),
            other => other.clone(),
        }
    }

    /// Checks the method's parameters; errors name the key.
    pub fn validate(&self) -> Result<(), BasinError> {
        match self {
            EstimatorConfig::Sgd(_) => Ok(()),
            EstimatorConfig::SmoothOut(c) => c.validate(),
            EstimatorConfig::DetSmoothOut(c) => c.validate(),
            EstimatorConfig::AdaSmoothOut(c) => c.validate(),
            EstimatorConfig::SymmetricSgd(c) => c.validate(),
            EstimatorConfig::NoiseEnhancement(c) => c.validate(),
            EstimatorConfig::Sam(c) => c.validate(),
            EstimatorConfig::Asam(c) => c.validate(),
            EstimatorConfig::Nsgd(c) => c.validate(),
            EstimatorConfig::EntropySgd(c) => c.validate(),
        }
    }

    /// The estimator this config describes (`seed` is the run's seed).
    pub fn build<M: Classifier>(&self, seed: u64) -> Box<dyn GradientEstimator<M>> {
        match self {
            EstimatorConfig::Sgd(_) => Box::new(Plain),
            EstimatorConfig::SmoothOut(c) => Box::new(c.init()),
            EstimatorConfig::DetSmoothOut(c) => Box::new(c.init(seed)),
            EstimatorConfig::AdaSmoothOut(c) => Box::new(c.init()),
            EstimatorConfig::SymmetricSgd(c) => Box::new(c.init()),
            EstimatorConfig::NoiseEnhancement(c) => Box::new(c.init()),
            EstimatorConfig::Sam(c) => Box::new(c.init()),
            EstimatorConfig::Asam(c) => Box::new(c.init()),
            EstimatorConfig::Nsgd(c) => Box::new(c.init()),
            EstimatorConfig::EntropySgd(c) => Box::new(c.init()),
        }
    }
}

/// The single `[estimator]` struct of basin ≤ 0.1 wrote every method's keys into each
/// config.toml with these values (unless a user changed them). When a table holds all of them
/// (the signature of such a file), a key that does not belong to the named method and still
/// holds its old default is dropped, so old run folders load and resume; any other foreign key
/// stays and is an error. A table a user wrote lacks most of them and is left alone.
///
/// Kept on purpose (reviewed for issue 25): run folders written by those versions still resume,
/// and the shim only ever drops a key whose value is the old default, so it cannot hide a
/// setting a user changed.
pub const LEGACY_DEFAULTS: &str = r#"
a = 0.0375
noise = "uniform"
denoise = true
params = "all"
copies = 4
level = 0.4
layers = "weights"
alpha = 1.5
rho = 0.05
eta = 0.01
gamma = 1.0
directions = 5
every = 0
subset = 0.05
lanczos_iter = 30
mode = "nudge"
random_subspace = false
operator = "hessian"
"#;

/// Drops from an `[estimator]` table the keys of other methods that hold their legacy
/// defaults (see [`LEGACY_DEFAULTS`]); the method's own keys and changed values are kept.
pub fn drop_legacy_keys(table: &mut toml::Table) {
    let legacy: toml::Table = LEGACY_DEFAULTS.parse().expect("the legacy defaults parse");
    if !legacy.keys().all(|k| table.contains_key(k)) {
        return;
    }
    let Some(own) = table.get("name").and_then(|v| v.as_str()).and_then(EstimatorConfig::default_of) else {
        return;
    };
    let own_keys: Vec<String> = match toml::Value::try_from(&own) {
        Ok(toml::Value::Table(t)) => t.keys().cloned().collect(),
        _ => return,
    };
    table.retain(|k, v| {
        if own_keys.iter().any(|o| o == k) {
            return true;
        }
        // an integer equal to a float default counts as that default
        let same = match (legacy.get(k), &*v) {
            (Some(toml::Value::Float(d)), toml::Value::Integer(x)) => *x as f64 == *d,
            (Some(d), v) => d == v,
            (None, _) => false,
        };
        !same
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_parses_with_only_its_own_keys() {
        let c: EstimatorConfig = toml::from_str("name = \"smoothout\"\na = 0.05").unwrap();
        assert_eq!(c, EstimatorConfig::SmoothOut(SmoothOutConfig::default().with_a(0.05)));
        let c: EstimatorConfig = toml::from_str("name = \"ada-smoothout\"").unwrap();
        assert_eq!(c, EstimatorConfig::AdaSmoothOut(AdaSmoothOutConfig { a: 0.15, ..Default::default() }), "AdaSmoothOut's own default");
        let err = toml::from_str::<EstimatorConfig>("name = \"sam\"\na = 0.05").unwrap_err().to_string();
        assert!(err.contains("unknown field `a`") && err.contains("rho"), "{err}");
        let err = toml::from_str::<EstimatorConfig>("name = \"sgd\"\nrho = 0.1").unwrap_err().to_string();
        assert!(err.contains("unknown field `rho`"), "{err}");
        // a round trip writes the name and the method's keys only
        let text = toml::to_string(&EstimatorConfig::Sam(SamConfig::default())).unwrap();
        assert_eq!(text.trim(), "name = \"sam\"\nrho = 0.05\nm = 0");
    }

    #[test]
    fn legacy_tables_drop_foreign_defaults_and_keep_changes() {
        let legacy = |name: &str| -> toml::Table {
            let mut t: toml::Table = LEGACY_DEFAULTS.parse().unwrap();
            t.insert("name".into(), name.into());
            t
        };
        let mut t = legacy("sam");
        t.insert("rho".into(), 0.1.into());
        t.insert("level".into(), 0.3.into());
        drop_legacy_keys(&mut t);
        let keys: Vec<&str> = t.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["level", "name", "rho"], "the changed foreign key stays (and will be an error)");
        // a table a user wrote is left alone, even where a value equals an old default
        let mut user: toml::Table = toml::from_str("name = \"sam\"\nlevel = 0.4").unwrap();
        drop_legacy_keys(&mut user);
        assert!(user.contains_key("level"));
    }
}
