//! Generalization measures of a trained model (issue 38), one family per file, as the field's
//! reference code defines them (`docs/measures-reference.md` quotes it): so far the norm-based
//! measures of Jiang et al. 2019 ([`norms`]) and their output margin ([`margin`]).

pub mod margin;
pub mod norms;
