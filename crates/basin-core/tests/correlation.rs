//! Kendall's τ, the granulated Ψ and the PGDL conditional-MI score against an independent
//! computation on a fixed table of 16 models (`tests/correlation/reference.py`: scipy's
//! `kendalltau`, a grouping computation of Ψ, and a NumPy copy of the PGDL scoring program; its
//! output is `tests/correlation/expected.json`).

use basin_core::correlation::{Table, cmi, granulated, kendall};
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(include_str!("correlation/expected.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn table() -> Table {
    let e = expected();
    Table {
        names: e["names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        hparams: e["hparams"].as_array().unwrap().iter().map(|h| h.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()).collect(),
        measure: floats(&e["measure"]),
        gap: floats(&e["gap"]),
    }
}

#[test]
fn kendall_tau_is_scipys_and_counts_ties_as_jiang_does() {
    let (t, e) = (table(), expected());
    let tau = kendall::tau(&t.measure, &t.gap);
    assert!((tau - e["tau"].as_f64().unwrap()).abs() < 1e-12, "{tau} vs scipy {}", e["tau"]);
    let tied = &e["tied"];
    let tau = kendall::tau(&floats(&tied["measure"]), &floats(&tied["gap"]));
    assert!((tau - tied["tau_a"].as_f64().unwrap()).abs() < 1e-12, "with ties: {tau} vs {}", tied["tau_a"]);
    // the sign of the relation, and its symmetry
    let neg: Vec<f64> = t.measure.iter().map(|x| -x).collect();
    assert!((kendall::tau(&neg, &t.gap) + kendall::tau(&t.measure, &t.gap)).abs() < 1e-12);
}

#[test]
fn granulated_psi_matches_the_grouping_computation() {
    let (t, e) = (table(), expected());
    let (psi, per) = granulated::psi(&t);
    assert!((psi - e["psi"].as_f64().unwrap()).abs() < 1e-12, "Ψ {psi} vs {}", e["psi"]);
    for (a, b) in per.iter().zip(floats(&e["psi_per"])) {
        assert!((a - b).abs() < 1e-12, "ψ {per:?} vs {}", e["psi_per"]);
    }
}

#[test]
fn conditional_mutual_information_matches_the_pgdl_scorer() {
    let (t, e) = (table(), expected());
    let (s, pair) = cmi::score(&t);
    assert!((s - e["cmi"].as_f64().unwrap()).abs() < 1e-12, "CMI {s} vs the scorer's {}", e["cmi"]);
    assert!(pair.is_some());
    // a measure equal to the gap scores 1, one unrelated to it (a constant) 0
    let constant = Table { measure: vec![1.0; t.len()], ..t.clone() };
    assert!(cmi::score(&constant).0.abs() < 1e-12, "{}", cmi::score(&constant).0);
    let perfect = Table { measure: t.gap.clone(), ..t.clone() };
    assert!((cmi::score(&perfect).0 - 1.0).abs() < 1e-9, "{}", cmi::score(&perfect).0);
}

#[test]
fn the_bootstrap_interval_holds_tau_and_narrows_with_more_models() {
    let t = table();
    let tau = kendall::tau(&t.measure, &t.gap);
    let (lo, hi) = kendall::bootstrap_interval(&t.measure, &t.gap, 2000, 0.95, 0);
    assert!(lo < tau && tau < hi && -1.0 <= lo && hi <= 1.0, "[{lo}, {hi}] around {tau}");
    // the same relation on 8× the models gives a narrower interval
    let many: Vec<usize> = (0..8).flat_map(|_| 0..t.len()).collect();
    let big = t.select(&many);
    let noise: Vec<f64> = big.measure.iter().enumerate().map(|(i, x)| x + 1e-6 * i as f64).collect();
    let (blo, bhi) = kendall::bootstrap_interval(&noise, &big.gap, 2000, 0.95, 0);
    assert!(bhi - blo < hi - lo, "[{blo}, {bhi}] is not narrower than [{lo}, {hi}]");
    // deterministic in its seed
    assert_eq!(kendall::bootstrap_interval(&t.measure, &t.gap, 500, 0.9, 3), kendall::bootstrap_interval(&t.measure, &t.gap, 500, 0.9, 3));
}

/// A measure that ranks every pair of models as the gap does has τ = 1 on every resample: the
/// copies a resample draws are not pairs (counted as ties, they pulled the interval below 1).
#[test]
fn a_perfect_ranking_keeps_its_interval_at_one() {
    let gap: Vec<f64> = (0..16).map(|i| i as f64 * 0.1).collect();
    let measure: Vec<f64> = gap.iter().map(|g| 3.0 * g + 1.0).collect();
    assert_eq!(kendall::bootstrap_interval(&measure, &gap, 1000, 0.95, 0), (1.0, 1.0));
}
