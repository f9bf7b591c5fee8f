//! "A model and its data": what a measuring command measures, whichever of its sources it came
//! from. [`ModelSource`] names the source (a `basin train` run folder, zoo weights, an ONNX
//! file, or a run folder of the `lstm_lm` example) and [`Subject::load`] loads it; the one thing
//! the curvature commands then ask of it is [`Subject::operator`], the curvature operator of its
//! loss over a subset of its training data. A fifth source is a variant here with its loader
//! in a file of its own (as `lm_source.rs` is for language models).

use crate::CliError;
use crate::lm_source::{LmRun, is_lm_run};
use crate::model_source::{DeterminismArgs, Loaded, ModelSource};
use basin_core::curvature::choice::{CurvatureOperator, OperatorKind};
use basin_core::curvature::objective::subset_indices;
use basin_core::curvature::{Differentiable, ExactHessianOperator, FdHessianOperator, LinearOperator, Objective};
use basin_core::paramvec::ParamVec;
use burn::tensor::Device;

/// A curvature operator on parameter vectors.
pub type Operator = Box<dyn LinearOperator<V = ParamVec>>;

/// A loaded model and its training data.
#[allow(clippy::large_enum_variant)] // one per command run
pub enum Subject {
    /// An image or feature classifier (a run folder, zoo weights, an ONNX file).
    Classifier(Loaded),
    /// The `lstm_lm` example's language model.
    LanguageModel(LmRun),
}

/// Which operator, on which subset.
pub struct OperatorSpec<'a> {
    /// Hessian, GGN, Fisher, empirical Fisher or finite differences.
    pub kind: OperatorKind,
    /// Finite-difference step (0 = the tangent pass).
    pub eps: f64,
    /// Label draws per example of the Monte-Carlo Fisher.
    pub fisher_samples: usize,
    /// Fraction of the training data in a subset.
    pub subset: f64,
    /// Examples (or a language model's chunks) in a subset instead of the fraction.
    pub samples: Option<usize>,
    /// Seed; subset `r` is drawn with `seed + r`.
    pub seed: u64,
    /// Batch size of a classifier's subset (a language model's batches are its chunks).
    pub batch_size: usize,
    /// Whether the loss must be deterministic first.
    pub determinism: &'a DeterminismArgs,
}

/// The operator on one subset.
pub struct SubsetOperator {
    /// The operator.
    pub op: Operator,
    /// Examples (chunks) in the subset.
    pub size: usize,
    /// The loss over the subset at the trained weights.
    pub loss: f64,
    /// The trained weights.
    pub point: ParamVec,
}

impl Subject {
    /// Loads what `source` names on `device` (models on its autodiff twin).
    pub fn load(source: &ModelSource, device: &Device) -> Result<Subject, CliError> {
        match &source.run {
            Some(dir) if is_lm_run(dir) => Ok(Subject::LanguageModel(LmRun::load(dir, device)?)),
            _ => Ok(Subject::Classifier(source.load(device)?)),
        }
    }

    /// The classifier, if this is one.
    pub fn classifier(&self) -> Option<&Loaded> {
        match self {
            Subject::Classifier(l) => Some(l),
            Subject::LanguageModel(_) => None,
        }
    }

    /// The model, for reports.
    pub fn model_label(&self) -> String {
        match self {
            Subject::Classifier(l) => l.cfg.model_label(),
            Subject::LanguageModel(lm) => format!("lstm-lm 1×{}", lm.setup.hidden),
        }
    }

    /// The data, for reports.
    pub fn data_label(&self) -> String {
        match self {
            Subject::Classifier(l) => l.cfg.data_label(),
            Subject::LanguageModel(lm) => lm.setup.data.display().to_string(),
        }
    }

    /// What a subset counts.
    pub fn subset_unit(&self) -> String {
        match self {
            Subject::Classifier(_) => "training examples".into(),
            Subject::LanguageModel(lm) => format!("training chunks of {} streams × {} words", lm.setup.batch, lm.setup.bptt),
        }
    }

    /// The operator on subset `r` (label draw `draw` of the Monte-Carlo Fisher).
    pub fn operator(&self, spec: &OperatorSpec, r: u64, draw: u64, dev: &Device) -> Result<SubsetOperator, CliError> {
        match self {
            Subject::Classifier(loaded) => {
                let set = &loaded.data.train;
                let idx = subset_indices(basin_core::batch::ExampleSet::len(set), Some(spec.subset), spec.samples, spec.seed.wrapping_add(r));
                let obj = Objective::new(&loaded.model, set, &idx, spec.batch_size, dev);
                spec.determinism.check(&obj)?;
                let labels = basin_core::rng::derive_seed(spec.seed.wrapping_add(r), basin_core::rng::Stream::FisherLabels, draw);
                let op = CurvatureOperator::fisher(spec.kind, obj, spec.eps, spec.fisher_samples, labels)?;
                let (loss, point) = (op.loss(), op.objective().point().clone());
                Ok(SubsetOperator { op: Box::new(op), size: idx.len(), loss, point })
            }
            Subject::LanguageModel(lm) => {
                // subset r is the r-th run of n consecutive chunks
                let n = spec.samples.unwrap_or_else(|| ((spec.subset * lm.chunks() as f64).ceil() as usize).max(1));
                let batches: Vec<_> = lm.batches((r as usize + 1) * n, dev).into_iter().skip(r as usize * n).collect();
                if batches.len() < n {
                    return Err(CliError::input(format!("--repeats: {} runs of {n} chunks are more than the run's {} training chunks", r + 1, lm.chunks())));
                }
                let obj = Objective::from_batches(&lm.model, batches);
                spec.determinism.check(&obj)?;
                let point = obj.point().clone();
                let loss = obj.loss(&point);
                let op: Operator = match spec.kind {
                    OperatorKind::Fd => Box::new(FdHessianOperator::new(obj, spec.eps)),
                    _ => Box::new(ExactHessianOperator::new(obj)?),
                };
                Ok(SubsetOperator { op, size: n, loss, point })
            }
        }
    }
}
