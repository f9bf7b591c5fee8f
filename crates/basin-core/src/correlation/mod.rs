//! How well a measure ranks models by their generalization gap, over a set of trained models
//! that differ in their hyperparameters (Jiang et al. 2019, "Fantastic Generalization Measures
//! and Where to Find Them", §2; the NeurIPS 2020 PGDL competition's scoring): Kendall's τ
//! ([`kendall`]), the granulated Kendall coefficient Ψ ([`granulated`]) and the conditional
//! mutual information score ([`cmi`]). `docs/measures-reference.md` quotes the reference
//! definitions these follow.
//!
//! A [`Table`] holds, per model, its hyperparameter values (as strings: they are only compared
//! for equality), the measure and the gap.

pub mod cmi;
pub mod granulated;
pub mod kendall;

/// Models with their hyperparameters, one measure and the generalization gap.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The hyperparameters' names (config keys).
    pub names: Vec<String>,
    /// Per model, its value of each hyperparameter (`names`' order).
    pub hparams: Vec<Vec<String>>,
    /// Per model, the measure.
    pub measure: Vec<f64>,
    /// Per model, the generalization gap (or the test loss).
    pub gap: Vec<f64>,
}

impl Table {
    /// The number of models.
    pub fn len(&self) -> usize {
        self.measure.len()
    }

    /// True when there are no models.
    pub fn is_empty(&self) -> bool {
        self.measure.is_empty()
    }

    /// The models at `rows`.
    pub fn select(&self, rows: &[usize]) -> Table {
        Table {
            names: self.names.clone(),
            hparams: rows.iter().map(|&i| self.hparams[i].clone()).collect(),
            measure: rows.iter().map(|&i| self.measure[i]).collect(),
            gap: rows.iter().map(|&i| self.gap[i]).collect(),
        }
    }
}
