//! The granulated Kendall coefficient (Jiang et al. 2019, §2, eq. 3): for hyperparameter i,
//! ψ_i is the mean, over every setting of the *other* hyperparameters, of τ within the models
//! that differ only in hyperparameter i; Ψ is the mean of the ψ_i. It asks whether the measure
//! tracks the gap when one thing changes, which a τ over all models (dominated by the
//! hyperparameter that moves the gap most) does not.

use super::Table;
use super::kendall::tau_over;
use std::collections::BTreeMap;

/// Ψ and each hyperparameter's ψ_i (in `table.names`' order). Within a group, τ counts only the
/// pairs of models that differ in hyperparameter i: two seeds of one setting differ in nothing
/// the group asks about. A group without such a pair (a single model, or seeds of one value
/// only) is left out of the mean; a hyperparameter with no such group is NaN, and left out of Ψ.
pub fn psi(table: &Table) -> (f64, Vec<f64>) {
    let per: Vec<f64> = (0..table.names.len())
        .map(|i| {
            let mut groups: BTreeMap<Vec<&str>, Vec<usize>> = BTreeMap::new();
            for (m, h) in table.hparams.iter().enumerate() {
                let others: Vec<&str> = h.iter().enumerate().filter(|(k, _)| *k != i).map(|(_, v)| v.as_str()).collect();
                groups.entry(others).or_default().push(m);
            }
            let differ = |g: &[usize], a: usize, b: usize| table.hparams[g[a]][i] != table.hparams[g[b]][i];
            let taus: Vec<f64> = groups
                .values()
                .filter(|g| (0..g.len()).any(|a| (a + 1..g.len()).any(|b| differ(g, a, b))))
                .map(|g| {
                    let sub = table.select(g);
                    tau_over(&sub.measure, &sub.gap, |a, b| differ(g, a, b))
                })
                .collect();
            if taus.is_empty() { f64::NAN } else { taus.iter().sum::<f64>() / taus.len() as f64 }
        })
        .collect();
    let defined: Vec<f64> = per.iter().copied().filter(|x| !x.is_nan()).collect();
    let total = if defined.is_empty() { f64::NAN } else { defined.iter().sum::<f64>() / defined.len() as f64 };
    (total, per)
}
