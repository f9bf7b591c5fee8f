//! Loss landscapes as plain data: interpolation between checkpoints, filter-normalized random
//! directions (1-D curves and 2-D grids), the plane through three checkpoints, and SmoothOut's
//! noise sensitivity. Everything returns serde data; plots only consume it.
//!
//! Evaluation is in eval mode (batch norm on running statistics, dropout off). Running
//! statistics are blended with the same coefficients as the weights when several models are
//! combined (so α = 0 and α = 1 reproduce each file exactly), variances floored at 0.

pub mod blend;
pub mod directions;
pub mod eigen;
pub mod grid;
pub mod noise;
pub mod plane;
pub mod trajectory;

pub use blend::{blend, blend_plan};
pub use directions::{DirectionNorm, filter_normalized_direction};
pub use eigen::{EigenParams, EigenSettings, ExtremeEigen, extreme_eigenvalues};
pub use grid::{LandscapePoint, evaluate_at};
pub use trajectory::{TrajectoryPca, trajectory_pca};
