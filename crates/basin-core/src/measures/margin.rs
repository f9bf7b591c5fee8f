//! The output margin of Jiang et al. 2019 (§C, the γ of eqs. 22, 31, 43): per training example
//! `f(x)[y] − max_{j≠y} f(x)[j]` on the logits, and γ the 10th percentile over the training set,
//! as `measures.py` takes it (`kthvalue(m // 10)`, then its absolute value;
//! `docs/measures-reference.md` §1.1).

/// γ from per-example margins: the ⌊m/10⌋-th smallest (1-based; the smallest when m < 10),
/// in absolute value.
pub fn percentile_margin(margins: &[f64]) -> f64 {
    let mut m = margins.to_vec();
    m.sort_by(f64::total_cmp);
    let k = (m.len() / 10).max(1);
    m[k - 1].abs()
}

/// Per-example margins of `logits` (`[n, k]`, row-major) for labels `y`.
pub fn margins(logits: &[f32], k: usize, y: &[i64]) -> Vec<f64> {
    logits
        .chunks_exact(k)
        .zip(y)
        .map(|(z, &t)| {
            let t = t as usize;
            let other = z.iter().enumerate().filter(|(j, _)| *j != t).map(|(_, &v)| v as f64).fold(f64::NEG_INFINITY, f64::max);
            z[t] as f64 - other
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_are_the_true_logit_minus_the_best_other() {
        // two examples, three classes
        let z = [2.0f32, 0.5, 1.0, -1.0, 3.0, 4.0];
        assert_eq!(margins(&z, 3, &[0, 1]), vec![1.0, -1.0]);
    }

    #[test]
    fn the_percentile_is_the_tenth_smallest_of_a_hundred_in_absolute_value() {
        let m: Vec<f64> = (0..100).map(|i| i as f64 - 20.0).rev().collect();
        // sorted: −20, −19, …; the 10th smallest is −11
        assert_eq!(percentile_margin(&m), 11.0);
        assert_eq!(percentile_margin(&[0.5, 2.0, 3.0]), 0.5);
    }
}
