//! The training trajectory in the plane of its two principal directions (Li et al., "Visualizing
//! the Loss Landscape of Neural Nets", NeurIPS 2018, §7; loss-landscape's `projection.py`).
//!
//! With checkpoints w₀ … w_{n−1} and the final weights w_n, the rows of M are the differences
//! dₜ = wₜ − w_n, t = 0 … n: the final weights are always a row (a zero one), as in
//! loss-landscape's `plot_trajectory.py`, whose checkpoint list always ends at the final epoch,
//! whether or not the run kept them (`train.keep_every` need not divide the run). As the authors' code (scikit-learn's `PCA`, which centers its input), the
//! directions are the top two principal axes of the centered rows dₜ − d̄, and the explained
//! variance of each is its share of the centered rows' total variance; the path is the
//! projection of each (uncentered) dₜ onto the two unit directions, so the final point sits at
//! the origin. PCA goes through the n × n Gram matrix of the centered rows (n is tens, the
//! parameter count millions): its eigenvectors uₖ give the directions Σₜ uₖₜ (dₜ − d̄)/√λₖ.

use crate::error::BasinError;
use crate::paramvec::ParamVec;

/// The two principal directions of a trajectory and the path in their coordinates.
#[derive(Debug, Clone)]
pub struct TrajectoryPca {
    /// The unit directions, first and second principal axis.
    pub directions: [ParamVec; 2],
    /// The fraction of the centered differences' variance along each.
    pub explained: [f64; 2],
    /// (⟨dₜ, e₁⟩, ⟨dₜ, e₂⟩) for each checkpoint, in order, and last the final weights (0, 0)
    /// when they were not the last checkpoint already (see `with_end`).
    pub path: Vec<(f64, f64)>,
    /// Whether the final weights were appended as a row of their own (they were not among
    /// `points`).
    pub with_end: bool,
}

/// PCA of the checkpoints `points` around the final weights `end` (at least 3 checkpoints, not
/// all on one line). Signs are fixed so that the first checkpoint has non-negative
/// coordinates.
pub fn trajectory_pca(points: &[ParamVec], end: &ParamVec) -> Result<TrajectoryPca, BasinError> {
    let mut diffs: Vec<ParamVec> = points.iter().map(|p| p.sub(end)).collect();
    let with_end = diffs.last().is_none_or(|d| d.norm() > 0.0);
    let n = diffs.len() - usize::from(!with_end);
    if n < 3 {
        return Err(BasinError::config("train.keep_every", format!("the trajectory has {n} checkpoints besides the final weights; PCA of its path needs at least 3 (keep weights more often)")));
    }
    if with_end {
        diffs.push(end.zeros_like());
    }
    let n = diffs.len();
    let mean = diffs[1..].iter().fold(diffs[0].clone(), |a, d| a.add(d)).scale(1.0 / n as f64);
    let centered: Vec<ParamVec> = diffs.iter().map(|d| d.sub(&mean)).collect();
    let mut gram = nalgebra::DMatrix::zeros(n, n);
    for i in 0..n {
        for j in i..n {
            let v = centered[i].dot(&centered[j]);
            (gram[(i, j)], gram[(j, i)]) = (v, v);
        }
    }
    let eig = nalgebra::SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
    let total: f64 = eig.eigenvalues.iter().map(|l| l.max(0.0)).sum();
    let (l1, l2) = (eig.eigenvalues[order[0]], eig.eigenvalues[order[1]]);
    if !(total > 0.0 && l2 > 1e-12 * l1) {
        return Err(BasinError::config("train.keep_every", "the checkpoints lie on one line (or coincide): they span no plane"));
    }
    let direction = |k: usize| {
        let (u, l) = (eig.eigenvectors.column(order[k]), eig.eigenvalues[order[k]]);
        centered.iter().enumerate().fold(centered[0].zeros_like(), |acc, (t, c)| acc.axpy(u[t] / l.sqrt(), c))
    };
    let mut dirs = [direction(0), direction(1)];
    for d in dirs.iter_mut() {
        if diffs[0].dot(d) < 0.0 {
            *d = d.scale(-1.0);
        }
    }
    let path = diffs.iter().map(|d| (d.dot(&dirs[0]), d.dot(&dirs[1]))).collect();
    Ok(TrajectoryPca { explained: [l1 / total, l2 / total], directions: dirs, path, with_end })
}

#[cfg(test)]
mod tests {
    use super::trajectory_pca;
    use crate::paramvec::ParamVec;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    /// A random trajectory against an independent computation: the SVD of the explicit
    /// (n × d) matrix of centered differences, in f64 on the host.
    #[test]
    fn the_directions_and_explained_variance_are_the_svd_of_the_centered_differences() {
        let d = Device::flex();
        let template = ParamVec::from_model(&LinearConfig::new(7, 5).init(&d));
        let end = template.uniform(1, -1.0, 1.0);
        // a path mostly in a plane, with a smaller third component
        let (e1, e2, e3) = (template.uniform(2, -1.0, 1.0), template.uniform(3, -1.0, 1.0), template.uniform(4, -1.0, 1.0));
        let points: Vec<ParamVec> = (0..8).map(|t| {
            let t = t as f64;
            end.axpy(3.0 - 0.4 * t, &e1).axpy((0.7 * t).sin(), &e2).axpy(0.05 * (1.3 * t).cos(), &e3)
        }).collect();
        let pca = trajectory_pca(&points, &end).unwrap();

        // loss-landscape's rows: every checkpoint and the final weights (a zero row)
        let rows: Vec<Vec<f64>> = points.iter().chain(std::iter::once(&end)).map(|p| p.sub(&end).to_host_f64()).collect();
        let (n, dim) = (rows.len(), rows[0].len());
        let mean: Vec<f64> = (0..dim).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64).collect();
        let m = nalgebra::DMatrix::from_fn(n, dim, |i, j| rows[i][j] - mean[j]);
        let svd = m.svd(false, true);
        let mut s: Vec<(f64, usize)> = svd.singular_values.iter().copied().zip(0..).collect();
        s.sort_by(|a, b| b.0.total_cmp(&a.0));
        let total: f64 = s.iter().map(|(v, _)| v * v).sum();
        let vt = svd.v_t.unwrap();
        for k in 0..2 {
            let want = s[k].0 * s[k].0 / total;
            assert!((pca.explained[k] - want).abs() < 1e-6, "explained variance {k}: {} vs SVD {want}", pca.explained[k]);
            let got = pca.directions[k].to_host_f64();
            let cos: f64 = (0..dim).map(|j| got[j] * vt[(s[k].1, j)]).sum();
            assert!((cos.abs() - 1.0).abs() < 1e-5, "direction {k}: |cos| with the SVD's axis is {cos}");
            assert!((got.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-5, "direction {k} is not a unit vector");
        }
        assert!(pca.explained[0] + pca.explained[1] > 0.95 && pca.explained[1] > 0.05, "{:?}", pca.explained);
        // the path: each difference projected on the directions; the first checkpoint positive
        for (p, (x, y)) in points.iter().zip(&pca.path) {
            let dv = p.sub(&end);
            assert!((dv.dot(&pca.directions[0]) - x).abs() < 1e-9 && (dv.dot(&pca.directions[1]) - y).abs() < 1e-9);
        }
        assert!(pca.path[0].0 >= 0.0 && pca.path[0].1 >= 0.0);
        assert!(pca.with_end && pca.path.len() == points.len() + 1 && pca.path[points.len()] == (0.0, 0.0));
        // a trajectory that already ends at the final weights gets no second zero row
        let ending: Vec<ParamVec> = points.iter().cloned().chain(std::iter::once(end.clone())).collect();
        let again = trajectory_pca(&ending, &end).unwrap();
        assert!(!again.with_end && again.path.len() == ending.len() && (again.explained[0] - pca.explained[0]).abs() < 1e-9);
        // a path on one line spans no plane
        let line: Vec<ParamVec> = (0..4).map(|t| end.axpy(t as f64 + 1.0, &e1)).collect();
        assert!(trajectory_pca(&line, &end).is_err());
        assert!(trajectory_pca(&points[..2], &end).is_err());
    }
}
