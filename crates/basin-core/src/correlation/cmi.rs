//! The conditional mutual information score of the NeurIPS 2020 PGDL competition (Jiang et al.
//! 2020, "NeurIPS 2020 Competition: Predicting Generalization in Deep Learning"; the scoring
//! program's `mutual_information.py`, quoted in `docs/measures-reference.md` §4.1).
//!
//! For every ordered pair of models (a model with itself included, as the scorer counts it),
//! V_g = 1{g₁ > g₂} and V_μ = 1{μ₁ > μ₂} (strict: a tie is "not greater"). Conditioning on a set
//! S of two hyperparameters, the pairs fall into cells by the (value of model 1, value of model
//! 2) of each hyperparameter in S. In each cell k, I_k is the mutual information of V_g and V_μ
//! and H_k the entropy of V_g (bits). The score of S is mean_k I_k / mean_k H_k, and the score
//! of the measure is the minimum over S: a measure that predicts the gap only through a
//! hyperparameter it happens to track scores low once that hyperparameter is held fixed.
//! Cells are keyed by value tuples (the scorer concatenates strings, which can collide).

use super::Table;
use std::collections::BTreeMap;

/// Entropy (bits) of counts, as the scorer computes it (+1e-12 inside the logarithm).
fn entropy(p: &[f64]) -> f64 {
    let total: f64 = p.iter().sum();
    -p.iter().map(|&x| x / total).map(|q| q * (q + 1e-12).log2()).sum::<f64>()
}

/// (I, H(V_g)) of one cell's 2 × 2 counts `t[g][μ]`.
fn mi(t: &[[f64; 2]; 2]) -> (f64, f64) {
    let total: f64 = t.iter().flatten().sum();
    let rows = [t[0][0] + t[0][1], t[1][0] + t[1][1]];
    let cols = [t[0][0] + t[1][0], t[0][1] + t[1][1]];
    let mut mi = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            let joint = t[i][j] / total;
            if joint > 0.0 {
                mi += joint * (joint / ((rows[i] / total) * (cols[j] / total))).log2();
            }
        }
    }
    (mi, entropy(&rows))
}

/// The score conditioned on hyperparameters `a` and `b` (indices into `table.names`).
pub fn score_given(table: &Table, a: usize, b: usize) -> f64 {
    let n = table.len();
    let mut cells: BTreeMap<(&str, &str, &str, &str), [[f64; 2]; 2]> = BTreeMap::new();
    for i in 0..n {
        for j in 0..n {
            let g = usize::from(table.gap[i] > table.gap[j]);
            let m = usize::from(table.measure[i] > table.measure[j]);
            let key = (table.hparams[i][a].as_str(), table.hparams[j][a].as_str(), table.hparams[i][b].as_str(), table.hparams[j][b].as_str());
            cells.entry(key).or_insert([[0.0; 2]; 2])[g][m] += 1.0;
        }
    }
    let k = cells.len() as f64;
    let (i_sum, h_sum) = cells.values().map(mi).fold((0.0, 0.0), |(a, b), (i, h)| (a + i, b + h));
    (i_sum / k) / (h_sum / k)
}

/// The score: the minimum over pairs of distinct hyperparameters, and the pair that attains
/// it. NaN with fewer than two hyperparameters or two models.
pub fn score(table: &Table) -> (f64, Option<(usize, usize)>) {
    let h = if table.len() < 2 { 0 } else { table.names.len() };
    let mut best = (f64::NAN, None);
    for a in 0..h {
        for b in (a + 1)..h {
            // (a, b) and (b, a) give the same cells, so one order is enough
            let s = score_given(table, a, b);
            if best.1.is_none() || s < best.0 {
                best = (s, Some((a, b)));
            }
        }
    }
    best
}
