//! [`OnnxError`]: what can be wrong with an ONNX file, each a one-line message naming the file,
//! the node or the initializer.

use std::fmt;

/// A file basin cannot turn into a network, with the reason in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxError(pub String);

/// The message on one line: control characters (which names read from a file may hold) are
/// written as escapes.
impl fmt::Display for OnnxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for OnnxError {}

/// `Err(OnnxError)` from a format string.
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::OnnxError(format!($($arg)*))) };
}
pub(crate) use bail;
