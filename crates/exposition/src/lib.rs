//! Prometheus exposition formats for the Pushgateway: the metric data model,
//! the text format 0.0.4 parser, the delimited protobuf codec, and the text,
//! protobuf and OpenMetrics encoders.
//!
//! Everything here is pure: no I/O, no async, no global state. The HTTP
//! server, storage and consistency rules live in other crates of the
//! workspace; this crate only turns bytes into [`MetricFamily`] values and
//! back, exactly as the Go stack (`prometheus/common/expfmt`,
//! `client_golang`) does, so that clients and scrapers see what the Go
//! Pushgateway would accept, reject and emit.
//!
//! # Brief overview
//!
//! - [`parse_text`] / [`parse_text_with`] parse a text-format body into
//!   families that borrow from the input (`MetricFamily<Cow<str>>`); errors
//!   carry Go's wording and the line number.
//! - [`decode_protobuf_delimited`] decodes varint-delimited
//!   `io.prometheus.client.MetricFamily` messages into owned families.
//! - [`encode_text`], [`encode_protobuf_delimited`] and
//!   [`encode_openmetrics`] write families; the `*_header`/`*_metric`
//!   functions write the parts, for callers that keep pre-encoded output.
//! - [`normalize`], [`sort_metrics`] and [`compare_metrics`] give the order
//!   client_golang exposes metrics in; [`negotiate`] picks a scrape format.
//!
//! ```
//! use exposition::{encode_text, normalize, parse_text};
//! let mut families = parse_text(b"b{x=\"2\"} 1\nb{x=\"1\"} 2\na 1e6\n")?;
//! normalize(&mut families);
//! let mut out = Vec::new();
//! encode_text(&mut out, &families)?;
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "# TYPE a untyped\na 1e+06\n# TYPE b untyped\nb{x=\"1\"} 2\nb{x=\"2\"} 1\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod golang;
mod model;
mod negotiate;
mod openmetrics;
pub mod protobuf;
mod sort;
mod text;

pub use golang::{format_float, parse_float, quote as go_quote, write_float};
pub use model::{
    Bucket, BucketSpan, Counter, Exemplar, Histogram, LabelPair, Metric, MetricFamily, MetricType,
    Quantile, Summary, Timestamp, Value,
};
pub use negotiate::{negotiate, requested_escaping, Format, Offer};
pub use negotiate::{OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use openmetrics::{encode_openmetrics, encode_openmetrics_family, OpenMetricsOptions};
pub use protobuf::{decode_protobuf_delimited, encode_protobuf_delimited, encode_protobuf_family};
pub use sort::{compare_label_values, compare_metrics, normalize, sort_labels, sort_metrics};
pub use text::encode::{
    encode_text, encode_text_family, encode_text_header, encode_text_metric,
    encode_text_metric_parts,
};
pub use text::parse::{parse_text, parse_text_with, ParseOptions, ParsedFamilies};

/// Which metric and label names a push may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// The legacy rules: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
    /// names `[a-zA-Z_][a-zA-Z0-9_]*` (the Go Pushgateway's default).
    #[default]
    Legacy,
    /// Any non-empty UTF-8 name (`--push.enable-utf8-names`).
    Utf8,
}

impl NameValidation {
    /// Whether `name` is a valid metric name under these rules.
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_metric_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }

    /// Whether `name` is a valid label name under these rules (the
    /// reserved `__` prefix is a separate matter for the caller).
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_label_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }
}

/// Whether `name` is a metric name under the legacy rule
/// `^[a-zA-Z_:][a-zA-Z0-9_:]*$`.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    text::parse::is_legacy_metric_name(name)
}

/// Whether `name` is a label name under the legacy rule
/// `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    text::parse::is_legacy_label_name(name)
}

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
    /// OpenMetrics 1.0 cannot express histograms with float counts.
    #[error("OpenMetrics v1.0 does not support float histogram {family}")]
    FloatHistogram {
        /// The family name.
        family: String,
    },
}
