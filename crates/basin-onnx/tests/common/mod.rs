//! Shared by the ONNX tests: the fixture folder, its data and its reference files.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

/// `tests/fixtures/onnx`, made by `scripts/onnx_fixtures.py`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/onnx")
}

/// The fixture's 32 images and labels, as the CLI reads an `.npz`.
pub fn data() -> basin_zoo::data::PreparedSet {
    basin_zoo::data::arrays::read_npz(&fixtures().join("data.npz")).unwrap().train
}

/// The regression fixture's data: the 352 training rows of `diabetes.npz` (10 standardized
/// features, one float target each).
pub fn regression_data() -> basin_zoo::data::PreparedSet {
    basin_zoo::data::arrays::read_npz(&fixtures().join("diabetes.npz")).unwrap().train
}

/// The data a fixture network's reference was computed on.
pub fn data_of(name: &str) -> basin_zoo::data::PreparedSet {
    if name == "regressor" { regression_data() } else { data() }
}

/// A network's float64 reference (`NAME.ref.json`).
pub struct Ref {
    pub json: Value,
}

impl Ref {
    pub fn load(name: &str) -> Ref {
        let text = std::fs::read_to_string(fixtures().join(format!("{name}.ref.json"))).unwrap();
        Ref { json: serde_json::from_str(&text).unwrap() }
    }
    /// A map of named tensors (float32).
    pub fn named(&self, key: &str) -> HashMap<String, Vec<f32>> {
        self.json[key].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())).collect()
    }
    /// A map of named tensors (float64).
    pub fn named64(&self, key: &str) -> HashMap<String, Vec<f64>> {
        self.json[key].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect())).collect()
    }
}

/// ‖a − b‖ / ‖b‖.
pub fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    num / b.iter().map(|y| y * y).sum::<f64>().sqrt().max(1e-300)
}
