//! Generalization measures of a trained model (issue 38), one family per file, as the field's
//! reference code defines them (`docs/measures-reference.md` quotes it): the norm-based
//! measures of Jiang et al. 2019 ([`norms`]) and their output margin ([`margin`]); their
//! PAC-Bayes flatness ([`pacbayes`], over the bisection of [`search`]); Andriushchenko et al.'s
//! worst-case ([`apgd`]) and average-case ([`average_case`]) sharpness; Petzka et al.'s
//! relative flatness ([`relative_flatness`]) and the Fisher–Rao norm ([`fisher_rao`]).
//!
//! The perturbation measures work on the parameters as one flat host vector and take the loss
//! (or accuracy) as a closure, so that the same code runs on a network and, in the tests, on a
//! quadratic whose answer is known in closed form.

pub mod alpha;
pub mod apgd;
pub mod average_case;
pub mod fisher_rao;
pub mod margin;
pub mod norms;
pub mod pacbayes;
pub mod relative_flatness;
pub mod search;
