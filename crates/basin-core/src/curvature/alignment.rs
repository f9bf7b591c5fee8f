//! Alignment of the gradient and of the optimizer's step with the top Hessian eigenvectors
//! (`[curvature] track_alignment`): the measurement of the sharpest-directions authors'
//! `callbacks_analysis.py` (Jastrzębski et al. 2019, §4: SGD's steps lie mostly in the span of
//! the top few eigenvectors, which is what Nudged SGD acts on).
//!
//! For unit, orthonormal eigenvectors e₁ … e_k (Lanczos with full re-orthogonalization) and a
//! vector v: cos(v, eᵢ) = ⟨v, eᵢ⟩/‖v‖, and the fraction of ‖v‖² in their span is Σᵢ cos²(v, eᵢ).
//!
//! Two kinds of quantity, each under its own name:
//! - the reference's main ones ([`BatchAlignment`]): its `FullBatchGradientAnalysis` takes
//!   the *mini-batch* gradients g_b of the tracking examples in training mode (batches of the
//!   run's size, the last partial one included) and logs, over the batches, the mean, the mean
//!   absolute value and the standard deviation of cos(g_b, eᵢ) (`alig/{i}_mean`,
//!   `alig/{i}_abs_mean`, `alig/{i}_std`) and of cos(g_b, ḡ) with ḡ their mean (`alig/fbg_*`),
//!   with its cos(a, b) = a·b/(10⁻¹⁰ + ‖a‖‖b‖). The sign of a Lanczos vector is arbitrary, so
//!   `abs_mean` is the one to read; a signed mean is meaningful only next to it.
//! - basin's earlier ones ([`Alignment`]'s `grad_cos`, `grad_in_span`, `step_*`): the
//!   full-batch gradient of the tracking subset in evaluation mode (the reference's `fbg_e{i}`
//!   up to the mode) and the optimizer's last step, signed.

use super::vector::Vector;
use serde::{Deserialize, Serialize};

/// The gradient and the last step decomposed along the top-k eigenvectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alignment {
    /// cos(g, eᵢ) for i = 1..k, g the gradient on the tracking subset.
    pub grad_cos: Vec<f64>,
    /// ‖P g‖²/‖g‖², P the projection onto span(e₁ … e_k).
    pub grad_in_span: f64,
    /// cos(Δw, eᵢ) for the step that led to these weights (Δw = wₜ − wₜ₋₁, momentum or Adam
    /// included); absent when the previous weights are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_cos: Option<Vec<f64>>,
    /// ‖P Δw‖²/‖Δw‖².
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_in_span: Option<f64>,
    /// The reference's quantities over the mini-batch gradients in training mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<BatchAlignment>,
}

/// The sharpest-directions code's alignment of mini-batch gradients g_b (b = 1..B) with the
/// top eigenvectors and with their mean ḡ: statistics over the batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchAlignment {
    /// B, the mini-batches.
    pub batches: usize,
    /// mean_b cos(g_b, eᵢ) (`alig/{i}_mean`).
    pub cos_mean: Vec<f64>,
    /// mean_b |cos(g_b, eᵢ)| (`alig/{i}_abs_mean`).
    pub cos_abs_mean: Vec<f64>,
    /// Standard deviation over b of cos(g_b, eᵢ) (`alig/{i}_std`, NumPy's, ddof 0).
    pub cos_std: Vec<f64>,
    /// mean_b cos(g_b, ḡ) (`alig/fbg_mean`).
    pub fbg_cos_mean: f64,
    /// mean_b |cos(g_b, ḡ)| (`alig/fbg_abs_mean`).
    pub fbg_cos_abs_mean: f64,
    /// Standard deviation over b of cos(g_b, ḡ) (`alig/fbg_std`).
    pub fbg_cos_std: f64,
}

/// The reference's cosine, a·b/(10⁻¹⁰ + ‖a‖‖b‖).
fn reference_cos<V: Vector>(a: &V, b: &V) -> f64 {
    a.dot(b) / (1e-10 + a.norm() * b.norm())
}

/// (mean, mean of |·|, standard deviation with ddof 0) of `xs`.
fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let abs = xs.iter().map(|x| x.abs()).sum::<f64>() / n;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, abs, std)
}

/// [`BatchAlignment`] of the mini-batch gradients `grads` with `vectors`; ḡ is their mean with
/// equal weights (the reference divides the sum by the number of batches).
pub fn batch_alignment<V: Vector>(vectors: &[V], grads: &[V]) -> BatchAlignment {
    let mut fbg = grads[0].scale(0.0);
    for g in grads {
        fbg = fbg.axpy(1.0, g);
    }
    let fbg = fbg.scale(1.0 / grads.len() as f64);
    let per: Vec<(f64, f64, f64)> = vectors.iter().map(|e| stats(&grads.iter().map(|g| reference_cos(g, e)).collect::<Vec<_>>())).collect();
    let (fm, fa, fs) = stats(&grads.iter().map(|g| reference_cos(g, &fbg)).collect::<Vec<_>>());
    BatchAlignment {
        batches: grads.len(),
        cos_mean: per.iter().map(|p| p.0).collect(),
        cos_abs_mean: per.iter().map(|p| p.1).collect(),
        cos_std: per.iter().map(|p| p.2).collect(),
        fbg_cos_mean: fm,
        fbg_cos_abs_mean: fa,
        fbg_cos_std: fs,
    }
}

/// cos(v, eᵢ) for each of `vectors` (unit and orthonormal) and the fraction of ‖v‖² in their
/// span; zeros for v = 0.
pub fn decompose<V: Vector>(vectors: &[V], v: &V) -> (Vec<f64>, f64) {
    let norm = v.norm();
    if !(norm > 0.0) {
        return (vec![0.0; vectors.len()], 0.0);
    }
    let cos: Vec<f64> = vectors.iter().map(|e| e.dot(v) / (norm * e.norm())).collect();
    let in_span = cos.iter().map(|c| c * c).sum();
    (cos, in_span)
}

/// The [`Alignment`] of gradient `g` and, when known, `step` with `vectors`.
pub fn alignment<V: Vector>(vectors: &[V], g: &V, step: Option<&V>) -> Alignment {
    let (grad_cos, grad_in_span) = decompose(vectors, g);
    let s = step.map(|s| decompose(vectors, s));
    Alignment { grad_cos, grad_in_span, step_cos: s.as_ref().map(|s| s.0.clone()), step_in_span: s.map(|s| s.1), batches: None }
}

#[cfg(test)]
mod tests {
    use super::{alignment, batch_alignment};

    /// Three mini-batch gradients in the plane against e₁, e₂: the statistics as the
    /// reference's NumPy computes them (printed by a few lines of Python: means of cosines,
    /// not cosines of means; |·| before the mean; ddof 0).
    #[test]
    fn batch_alignment_is_the_mean_abs_mean_and_std_of_the_cosines_over_batches() {
        let e = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let g = vec![vec![1.0, 1.0], vec![-2.0, 0.0], vec![0.0, 3.0]];
        let b = batch_alignment(&e, &g);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert_eq!(b.batches, 3);
        assert!(close(b.cos_mean[0], -0.09763107293781752) && close(b.cos_abs_mean[0], 0.5690355936955158) && close(b.cos_std[0], 0.7003343298311936), "{b:?}");
        assert!(close(b.cos_mean[1], 0.5690355937010714) && close(b.cos_std[1], 0.4197600422330319), "{b:?}");
        assert!(close(b.fbg_cos_mean, 0.5757246268501226) && close(b.fbg_cos_abs_mean, 0.5757246268501226) && close(b.fbg_cos_std, 0.3001829133437537), "{b:?}");
    }
    use crate::curvature::dense::DenseOperator;
    use crate::curvature::lanczos::{LanczosConfig, lanczos};

    /// A quadratic ½ wᵀAw with a known spectrum: the gradient is Aw, its coordinates along the
    /// eigenvectors qᵢ are λᵢ⟨w, qᵢ⟩, so cos(g, qᵢ) = λᵢ⟨w, qᵢ⟩/‖Aw‖ in closed form; the
    /// eigenvectors come from Lanczos on the operator, the expectation from nalgebra's
    /// eigendecomposition.
    #[test]
    fn gradient_and_step_of_a_quadratic_decompose_as_its_eigenvectors_say() {
        let spectrum = [9.0, 4.0, 1.0, 0.5, 0.25, 0.1];
        let mut op = DenseOperator::with_spectrum(&spectrum, 3);
        let eig = nalgebra::SymmetricEigen::new(op.matrix.clone());
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let q = |i: usize| -> Vec<f64> { eig.eigenvectors.column(order[i]).iter().copied().collect() };
        let w: Vec<f64> = vec![0.3, -1.0, 0.7, 0.2, -0.4, 1.1];
        let g: Vec<f64> = (0..6).map(|r| (0..6).map(|c| op.matrix[(r, c)] * w[c]).sum()).collect();
        let top = lanczos(&mut op, &LanczosConfig { k: 2, tol: 1e-12, max_iter: 6, seed: 1, smallest: false, bottom: 0 });
        // a step with a component outside the top-2 span (momentum-like)
        let step: Vec<f64> = g.iter().zip(q(3)).map(|(gi, qi)| -0.1 * gi + 0.05 * qi).collect();
        let a = alignment(&top.eigenvectors, &g, Some(&step));

        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        let gn = dot(&g, &g).sqrt();
        let sn = dot(&step, &step).sqrt();
        let (mut gs, mut ss) = (0.0, 0.0);
        for (i, lambda) in spectrum.iter().enumerate().take(2) {
            let want = lambda * dot(&w, &q(i)) / gn;
            assert!((a.grad_cos[i].abs() - want.abs()).abs() < 1e-9, "cos(g, e{}): {} vs {want}", i + 1, a.grad_cos[i]);
            let want_s = dot(&step, &q(i)) / sn;
            assert!((a.step_cos.as_ref().unwrap()[i].abs() - want_s.abs()).abs() < 1e-9);
            gs += want * want;
            ss += want_s * want_s;
        }
        assert!((a.grad_in_span - gs).abs() < 1e-9 && (a.step_in_span.unwrap() - ss).abs() < 1e-9);
        assert!(a.grad_in_span < 1.0 && a.step_in_span.unwrap() < a.grad_in_span, "{a:?}");
        // the whole space's eigenvectors hold all of it
        let all = lanczos(&mut op, &LanczosConfig { k: 6, tol: 1e-12, max_iter: 6, seed: 1, smallest: false, bottom: 0 });
        assert!((alignment(&all.eigenvectors, &g, None).grad_in_span - 1.0).abs() < 1e-9);
    }
}
