//! The plane through three checkpoints (Garipov et al. 2018, as in S-SGD Fig. 7): orthonormal
//! basis u = (w₂ − w₁)/‖w₂ − w₁‖, v = the part of w₃ − w₁ orthogonal to u, normalized; the point
//! (x, y) is w₁ + x u + y v = c₁w₁ + c₂w₂ + c₃w₃, which is how it is evaluated (so batch-norm
//! statistics are combined with the same coefficients).

use crate::paramvec::ParamVec;
use serde::{Deserialize, Serialize};

/// The plane's geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plane {
    /// ‖w₂ − w₁‖.
    pub n1: f64,
    /// ⟨w₃ − w₁, u⟩.
    pub r_u: f64,
    /// ‖w₃ − w₁ − ⟨w₃ − w₁, u⟩u‖.
    pub n2: f64,
}

impl Plane {
    /// The plane through `w1`, `w2`, `w3` (which must not be collinear).
    pub fn new(w1: &ParamVec, w2: &ParamVec, w3: &ParamVec) -> Plane {
        let d = w2.sub(w1);
        let n1 = d.norm();
        let u = d.scale(1.0 / n1);
        let r = w3.sub(w1);
        let r_u = r.dot(&u);
        let n2 = r.axpy(-r_u, &u).norm();
        Plane { n1, r_u, n2 }
    }
    /// Coordinates of the three points: (0, 0), (‖w₂ − w₁‖, 0), (⟨r, u⟩, n₂).
    pub fn points(&self) -> [(f64, f64); 3] {
        [(0.0, 0.0), (self.n1, 0.0), (self.r_u, self.n2)]
    }
    /// Coefficients (c₁, c₂, c₃) of the point (x, y).
    pub fn coefficients(&self, x: f64, y: f64) -> [f64; 3] {
        let c3 = y / self.n2;
        let c2 = x / self.n1 - y * self.r_u / (self.n1 * self.n2);
        [1.0 - c2 - c3, c2, c3]
    }
}
