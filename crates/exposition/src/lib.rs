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

mod error;
mod golang;
mod model;
mod names;
mod negotiate;
mod openmetrics;
pub mod protobuf;
mod sort;
mod text;

pub use error::Error;
pub use golang::{format_float, parse_float, quote as go_quote, write_float};
pub use model::{
    Bucket, BucketSpan, Counter, Exemplar, Histogram, LabelPair, Metric, MetricFamily, MetricType,
    Quantile, Summary, Timestamp, Value,
};
pub use names::{is_valid_legacy_label_name, is_valid_legacy_metric_name, NameValidation};
pub use negotiate::{negotiate, requested_escaping, Format, Offer};
pub use negotiate::{OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use openmetrics::{encode_openmetrics, encode_openmetrics_family, OpenMetricsOptions};
pub use protobuf::{
    decode_protobuf_delimited, decode_protobuf_delimited_at_most, encode_protobuf_delimited,
    encode_protobuf_family,
};
pub use sort::{
    compare_label_values, compare_metrics, compare_str, normalize, sort_labels, sort_metrics,
};
pub use text::encode::{
    encode_text, encode_text_family, encode_text_header, encode_text_metric,
    encode_text_metric_parts, Quoting,
};
pub use text::parse::{parse_text, parse_text_with, ParseOptions, ParsedFamilies};
