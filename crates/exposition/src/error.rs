//! The crate's one error type.

use crate::model::MetricType;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A text-format body is malformed. Displays as Go's `ParseError`.
    #[error("text format parsing error in line {line}: {message}")]
    Text {
        /// The 1-based line the parser was on.
        line: usize,
        /// Go's description of the problem.
        message: String,
    },
    /// A protobuf body is truncated or malformed.
    #[error("{0}")]
    Protobuf(String),
    /// A metric's value does not have the shape its family type requires.
    #[error("expected {expected} value in metric family {family:?}")]
    ValueMismatch {
        /// The family name.
        family: String,
        /// The family type.
        expected: MetricType,
    },
    /// A body holds more series than the parser was allowed to read.
    #[error("more than {limit} series")]
    TooManySeries {
        /// The most series allowed.
        limit: u64,
    },
    /// OpenMetrics 1.0 cannot express histograms with float counts.
    #[error("OpenMetrics v1.0 does not support float histogram {family}")]
    FloatHistogram {
        /// The family name.
        family: String,
    },
}
