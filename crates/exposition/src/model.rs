//! The metric data model: families, metrics, label pairs and values.
//!
//! It mirrors `io.prometheus.client.MetricFamily` (client_model's proto2
//! schema) field for field, keeping presence where the wire format has it
//! and where it changes meaning (HELP, timestamps, float histogram counts).
//! The string type is a parameter: the text parser produces
//! `MetricFamily<Cow<'_, str>>` borrowing from the input buffer, the protobuf
//! decoder produces owned `MetricFamily<String>`, and every encoder accepts
//! any `S: AsRef<str>`.

use std::borrow::Cow;
use std::fmt;

/// The type of a metric family, with client_model's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum MetricType {
    /// A monotonic counter.
    Counter = 0,
    /// A value that can go up and down.
    Gauge = 1,
    /// Quantiles, sum and count.
    Summary = 2,
    /// A value without a declared type.
    #[default]
    Untyped = 3,
    /// Buckets, sum and count (classic and/or native).
    Histogram = 4,
    /// A histogram whose buckets can go down (OpenMetrics gauge histogram).
    GaugeHistogram = 5,
}

impl MetricType {
    /// The type for a protobuf enum number; unknown numbers give `None`.
    pub fn from_i32(n: i32) -> Option<MetricType> {
        Some(match n {
            0 => MetricType::Counter,
            1 => MetricType::Gauge,
            2 => MetricType::Summary,
            3 => MetricType::Untyped,
            4 => MetricType::Histogram,
            5 => MetricType::GaugeHistogram,
            _ => return None,
        })
    }

    /// The protobuf enum name, as Go prints it (`COUNTER`, `GAUGE_HISTOGRAM`).
    pub fn as_proto_name(self) -> &'static str {
        match self {
            MetricType::Counter => "COUNTER",
            MetricType::Gauge => "GAUGE",
            MetricType::Summary => "SUMMARY",
            MetricType::Untyped => "UNTYPED",
            MetricType::Histogram => "HISTOGRAM",
            MetricType::GaugeHistogram => "GAUGE_HISTOGRAM",
        }
    }

    /// Whether metrics of this type carry a histogram value.
    pub fn is_histogram(self) -> bool {
        matches!(self, MetricType::Histogram | MetricType::GaugeHistogram)
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_proto_name())
    }
}

/// A metric family: every sample of one metric name.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily<S = String> {
    /// The metric name.
    pub name: S,
    /// The HELP text; `None` when the input had no HELP (not the same as empty).
    pub help: Option<S>,
    /// The family type.
    pub metric_type: MetricType,
    /// The unit (protobuf field 5; never set by the text format).
    pub unit: Option<S>,
    /// The metrics, in input order until sorted.
    pub metrics: Vec<Metric<S>>,
}

/// One label name and value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelPair<S = String> {
    /// The label name.
    pub name: S,
    /// The label value.
    pub value: S,
}

/// One metric (one label set) of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<S = String> {
    /// The labels, without `quantile`/`le` (those belong to the value).
    pub labels: Vec<LabelPair<S>>,
    /// The value, shaped by the family type.
    pub value: Value<S>,
    /// The sample timestamp in milliseconds; presence matters.
    pub timestamp_ms: Option<i64>,
}

/// The value of a metric.
///
/// The protobuf schema allows a metric to carry any combination of value
/// fields; this model keeps the one matching the family type (or, if that one
/// is missing, the first present, so a mismatch stays detectable).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<S = String> {
    /// A counter value.
    Counter(Counter<S>),
    /// A gauge value.
    Gauge(f64),
    /// An untyped value.
    Untyped(f64),
    /// A summary.
    Summary(Summary),
    /// A histogram (classic buckets and/or native); boxed, being large.
    Histogram(Box<Histogram<S>>),
    /// No value field at all (possible in protobuf input only).
    Missing,
}

impl<S> Value<S> {
    /// The family type this value belongs to; `None` for [`Value::Missing`].
    /// Histograms report [`MetricType::Histogram`] (gauge histograms share the shape).
    pub fn kind(&self) -> Option<MetricType> {
        Some(match self {
            Value::Counter(_) => MetricType::Counter,
            Value::Gauge(_) => MetricType::Gauge,
            Value::Untyped(_) => MetricType::Untyped,
            Value::Summary(_) => MetricType::Summary,
            Value::Histogram(_) => MetricType::Histogram,
            Value::Missing => return None,
        })
    }

    /// Whether this value has the shape the family type requires.
    pub fn matches(&self, metric_type: MetricType) -> bool {
        match (self, metric_type) {
            (Value::Histogram(_), t) => t.is_histogram(),
            (v, t) => v.kind() == Some(t),
        }
    }
}

/// A counter with its optional exemplar and created timestamp.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Counter<S = String> {
    /// The counter value.
    pub value: f64,
    /// An exemplar (protobuf only).
    pub exemplar: Option<Box<Exemplar<S>>>,
    /// When the counter was created (protobuf only).
    pub created: Option<Timestamp>,
}

/// A summary.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// Observation count.
    pub sample_count: u64,
    /// Sum of observations.
    pub sample_sum: f64,
    /// Quantiles in input order.
    pub quantiles: Vec<Quantile>,
    /// When the summary was created (protobuf only).
    pub created: Option<Timestamp>,
}

/// One summary quantile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quantile {
    /// The quantile rank (0..=1).
    pub quantile: f64,
    /// The value at that rank.
    pub value: f64,
}

/// A histogram: classic buckets and, from protobuf, native-histogram fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram<S = String> {
    /// Integer observation count.
    pub sample_count: Option<u64>,
    /// Float observation count; overrides `sample_count` when non-zero.
    pub sample_count_float: Option<f64>,
    /// Sum of observations.
    pub sample_sum: Option<f64>,
    /// Classic buckets, cumulative, in increasing upper bound.
    pub buckets: Vec<Bucket<S>>,
    /// When the histogram was created (protobuf only).
    pub created: Option<Timestamp>,
    /// Native histogram schema.
    pub schema: Option<i32>,
    /// Native histogram zero-bucket width.
    pub zero_threshold: Option<f64>,
    /// Native histogram zero-bucket count.
    pub zero_count: Option<u64>,
    /// Native histogram zero-bucket float count.
    pub zero_count_float: Option<f64>,
    /// Native negative spans.
    pub negative_spans: Vec<BucketSpan>,
    /// Native negative bucket deltas (integer histograms).
    pub negative_deltas: Vec<i64>,
    /// Native negative bucket counts (float histograms).
    pub negative_counts: Vec<f64>,
    /// Native positive spans.
    pub positive_spans: Vec<BucketSpan>,
    /// Native positive bucket deltas (integer histograms).
    pub positive_deltas: Vec<i64>,
    /// Native positive bucket counts (float histograms).
    pub positive_counts: Vec<f64>,
    /// Native histogram exemplars.
    pub exemplars: Vec<Exemplar<S>>,
}

impl<S> Histogram<S> {
    /// The observation count as Go's encoders read it: the float count when
    /// it is non-zero, else the integer count.
    pub fn count(&self) -> f64 {
        match self.sample_count_float {
            Some(f) if f != 0.0 => f,
            _ => self.sample_count.unwrap_or(0) as f64,
        }
    }

    /// Whether any native-histogram field is set (Prometheus' own test:
    /// a zero bucket, a span or a schema turns a histogram native).
    pub fn is_native(&self) -> bool {
        self.schema.is_some_and(|s| s != 0)
            || self.zero_threshold.is_some_and(|z| z != 0.0)
            || self.zero_count.is_some_and(|z| z != 0)
            || self.zero_count_float.is_some_and(|z| z != 0.0)
            || !self.negative_spans.is_empty()
            || !self.positive_spans.is_empty()
    }
}

/// One classic histogram bucket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bucket<S = String> {
    /// Cumulative integer count.
    pub cumulative_count: Option<u64>,
    /// Cumulative float count; overrides the integer count when non-zero.
    pub cumulative_count_float: Option<f64>,
    /// Inclusive upper bound.
    pub upper_bound: f64,
    /// An exemplar (protobuf only).
    pub exemplar: Option<Box<Exemplar<S>>>,
}

impl<S> Bucket<S> {
    /// The cumulative count as Go's encoders read it.
    pub fn count(&self) -> f64 {
        match self.cumulative_count_float {
            Some(f) if f != 0.0 => f,
            _ => self.cumulative_count.unwrap_or(0) as f64,
        }
    }
}

/// A run of consecutive native-histogram buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketSpan {
    /// Gap to the previous span (or the first bucket index).
    pub offset: i32,
    /// Number of consecutive buckets.
    pub length: u32,
}

/// An exemplar: labels, value and optional timestamp.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exemplar<S = String> {
    /// Exemplar labels (e.g. a trace ID).
    pub labels: Vec<LabelPair<S>>,
    /// The exemplar value.
    pub value: f64,
    /// When the exemplar was observed.
    pub timestamp: Option<Timestamp>,
}

/// A protobuf `google.protobuf.Timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

/// Owned/borrowed string conversion used to turn parsed families into owned ones.
impl<'a> MetricFamily<Cow<'a, str>> {
    /// Copies every borrowed string so the family outlives the input buffer.
    pub fn into_owned(self) -> MetricFamily<String> {
        self.map_strings(&mut |s| s.into_owned())
    }
}

impl<S> MetricFamily<S> {
    /// Rebuilds the family with every string converted by `f`.
    pub fn map_strings<T>(self, f: &mut impl FnMut(S) -> T) -> MetricFamily<T> {
        MetricFamily {
            name: f(self.name),
            help: self.help.map(&mut *f),
            metric_type: self.metric_type,
            unit: self.unit.map(&mut *f),
            metrics: self.metrics.into_iter().map(|m| m.map_strings(f)).collect(),
        }
    }
}

impl<S> Metric<S> {
    /// Rebuilds the metric with every string converted by `f`.
    pub fn map_strings<T>(self, f: &mut impl FnMut(S) -> T) -> Metric<T> {
        Metric {
            labels: map_labels(self.labels, f),
            timestamp_ms: self.timestamp_ms,
            value: match self.value {
                Value::Counter(c) => Value::Counter(Counter {
                    value: c.value,
                    exemplar: c.exemplar.map(|e| Box::new(e.map_strings(f))),
                    created: c.created,
                }),
                Value::Gauge(v) => Value::Gauge(v),
                Value::Untyped(v) => Value::Untyped(v),
                Value::Summary(s) => Value::Summary(s),
                Value::Histogram(h) => Value::Histogram(Box::new(Histogram {
                    sample_count: h.sample_count,
                    sample_count_float: h.sample_count_float,
                    sample_sum: h.sample_sum,
                    buckets: h
                        .buckets
                        .into_iter()
                        .map(|b| Bucket {
                            cumulative_count: b.cumulative_count,
                            cumulative_count_float: b.cumulative_count_float,
                            upper_bound: b.upper_bound,
                            exemplar: b.exemplar.map(|e| Box::new(e.map_strings(f))),
                        })
                        .collect(),
                    created: h.created,
                    schema: h.schema,
                    zero_threshold: h.zero_threshold,
                    zero_count: h.zero_count,
                    zero_count_float: h.zero_count_float,
                    negative_spans: h.negative_spans,
                    negative_deltas: h.negative_deltas,
                    negative_counts: h.negative_counts,
                    positive_spans: h.positive_spans,
                    positive_deltas: h.positive_deltas,
                    positive_counts: h.positive_counts,
                    exemplars: h.exemplars.into_iter().map(|e| e.map_strings(f)).collect(),
                })),
                Value::Missing => Value::Missing,
            },
        }
    }
}

impl<S> Exemplar<S> {
    fn map_strings<T>(self, f: &mut impl FnMut(S) -> T) -> Exemplar<T> {
        let Exemplar {
            labels,
            value,
            timestamp,
        } = self;
        Exemplar {
            labels: map_labels(labels, f),
            value,
            timestamp,
        }
    }
}

fn map_labels<S, T>(labels: Vec<LabelPair<S>>, f: &mut impl FnMut(S) -> T) -> Vec<LabelPair<T>> {
    labels
        .into_iter()
        .map(|l| LabelPair {
            name: f(l.name),
            value: f(l.value),
        })
        .collect()
}
#[cfg(test)]
mod size_tests {
    #[test]
    fn print_sizes() {
        use std::borrow::Cow;
        eprintln!(
            "Metric<Cow>={} Value={} Counter={} Summary={} Histogram={} LabelPair={}",
            std::mem::size_of::<super::Metric<Cow<str>>>(),
            std::mem::size_of::<super::Value<Cow<str>>>(),
            std::mem::size_of::<super::Counter<Cow<str>>>(),
            std::mem::size_of::<super::Summary>(),
            std::mem::size_of::<super::Histogram<Cow<str>>>(),
            std::mem::size_of::<super::LabelPair<Cow<str>>>()
        );
    }
}
