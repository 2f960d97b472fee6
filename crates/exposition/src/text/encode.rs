//! The text format 0.0.4 encoder, byte-for-byte as client_golang's
//! `expfmt.MetricFamilyToText` writes it.
//!
//! Metrics are written in the order given; sorting is the caller's business
//! (see [`crate::sort_metrics`]). Names that are not legacy-valid are quoted
//! inside the braces (`{"my.metric",a="b"} 1`), as current client_golang does.

use crate::golang::write_float;
use crate::model::{LabelPair, Metric, MetricFamily, MetricType, Value};
use crate::names::{is_legacy_label_name, is_legacy_metric_name};
use crate::Error;

/// Appends every non-empty family in text format.
///
/// ```
/// use exposition::{encode_text, parse_text};
/// let families = parse_text(b"# TYPE x gauge\nx{a=\"1\"} 123456789\n")?;
/// let mut out = Vec::new();
/// encode_text(&mut out, &families)?;
/// assert_eq!(out, b"# TYPE x gauge\nx{a=\"1\"} 1.23456789e+08\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_text<S: AsRef<str>>(
    out: &mut Vec<u8>,
    families: &[MetricFamily<S>],
) -> Result<(), Error> {
    for family in families {
        encode_text_family(out, family)?;
    }
    Ok(())
}

/// Appends one family (HELP, TYPE, samples); writes nothing for a family
/// without metrics.
pub fn encode_text_family<S: AsRef<str>>(
    out: &mut Vec<u8>,
    family: &MetricFamily<S>,
) -> Result<(), Error> {
    if family.metrics.is_empty() {
        return Ok(());
    }
    let name = family.name.as_ref();
    encode_text_header(
        out,
        name,
        family.help.as_ref().map(AsRef::as_ref),
        family.metric_type,
    );
    for metric in &family.metrics {
        encode_text_metric(out, name, family.metric_type, metric)?;
    }
    Ok(())
}

/// Appends the `# HELP` line (when `help` is present) and the `# TYPE` line.
pub fn encode_text_header(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    metric_type: MetricType,
) {
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        write_name(out, name);
        out.push(b' ');
        write_escaped(out, help, false);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    write_name(out, name);
    out.extend_from_slice(match metric_type {
        MetricType::Counter => b" counter\n".as_slice(),
        MetricType::Gauge => b" gauge\n",
        MetricType::Summary => b" summary\n",
        MetricType::Untyped => b" untyped\n",
        // The classic text format has no gauge histogram; Go writes both as histogram.
        MetricType::Histogram | MetricType::GaugeHistogram => b" histogram\n",
    });
}

/// Appends the sample lines of one metric of a family named `name`.
///
/// Fails when the metric's value does not have the family type's shape,
/// as Go's `expected counter in metric ...` error does.
pub fn encode_text_metric<S: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    metric_type: MetricType,
    metric: &Metric<S>,
) -> Result<(), Error> {
    encode_text_metric_parts(
        out,
        name,
        metric_type,
        &metric.labels,
        &metric.value,
        metric.timestamp_ms,
        Quoting::AsNeeded,
    )
}

/// [`encode_text_metric`] with the metric given as its parts, so that the
/// labels can come from somewhere other than the metric (for example a
/// sanitised label set borrowed from several places).
pub fn encode_text_metric_parts<L: AsRef<str>, V>(
    out: &mut Vec<u8>,
    name: &str,
    metric_type: MetricType,
    labels: &[LabelPair<L>],
    value: &Value<V>,
    timestamp_ms: Option<i64>,
    quoting: Quoting,
) -> Result<(), Error> {
    let ts = timestamp_ms;
    match (value, metric_type) {
        (Value::Counter(c), MetricType::Counter) => {
            write_sample(out, name, "", labels, None, c.value, ts, quoting)
        }
        (Value::Gauge(v), MetricType::Gauge) | (Value::Untyped(v), MetricType::Untyped) => {
            write_sample(out, name, "", labels, None, *v, ts, quoting)
        }
        (Value::Summary(s), MetricType::Summary) => {
            for q in &s.quantiles {
                write_sample(
                    out,
                    name,
                    "",
                    labels,
                    Some(("quantile", q.quantile)),
                    q.value,
                    ts,
                    quoting,
                );
            }
            write_sample(out, name, "_sum", labels, None, s.sample_sum, ts, quoting);
            write_sample(
                out,
                name,
                "_count",
                labels,
                None,
                s.sample_count as f64,
                ts,
                quoting,
            );
        }
        (Value::Histogram(h), t) if t.is_histogram() => {
            let mut inf_seen = false;
            for b in &h.buckets {
                write_sample(
                    out,
                    name,
                    "_bucket",
                    labels,
                    Some(("le", b.upper_bound)),
                    b.count(),
                    ts,
                    quoting,
                );
                inf_seen |= b.upper_bound == f64::INFINITY;
            }
            if !inf_seen {
                write_sample(
                    out,
                    name,
                    "_bucket",
                    labels,
                    Some(("le", f64::INFINITY)),
                    h.count(),
                    ts,
                    quoting,
                );
            }
            write_sample(
                out,
                name,
                "_sum",
                labels,
                None,
                h.sample_sum.unwrap_or(0.0),
                ts,
                quoting,
            );
            write_sample(out, name, "_count", labels, None, h.count(), ts, quoting);
        }
        _ => {
            return Err(Error::ValueMismatch {
                family: name.to_owned(),
                expected: metric_type,
            })
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_sample<S: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &[LabelPair<S>],
    extra: Option<(&str, f64)>,
    value: f64,
    timestamp_ms: Option<i64>,
    quoting: Quoting,
) {
    write_name_and_labels(out, name, suffix, labels, extra, write_float, quoting);
    out.push(b' ');
    write_float(out, value);
    if let Some(ts) = timestamp_ms {
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
    }
    out.push(b'\n');
}

/// Whether names may need quoting in text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quoting {
    /// Check each metric and label name, quoting those that are not
    /// legacy-valid.
    #[default]
    AsNeeded,
    /// The caller has checked that every name is legacy-valid (and every
    /// suffix it adds keeps it so): write names as they are.
    NotNeeded,
}

/// Writes `name+suffix{labels,extra="v"}`, the name inside the braces when
/// it is not legacy-valid. Shared with the OpenMetrics encoder, which
/// formats the extra label's number differently.
pub(crate) fn write_name_and_labels<S: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: &[LabelPair<S>],
    extra: Option<(&str, f64)>,
    write_number: fn(&mut Vec<u8>, f64),
    quoting: Quoting,
) {
    let mut separator = b'{';
    let mut inside_braces = false;
    if !name.is_empty() {
        let legacy = quoting == Quoting::NotNeeded
            || (is_legacy_metric_name(name)
                && suffix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        if legacy {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(suffix.as_bytes());
        } else {
            inside_braces = true;
            out.push(b'{');
            separator = b',';
            out.push(b'"');
            write_escaped(out, name, true);
            write_escaped(out, suffix, true);
            out.push(b'"');
        }
    }
    if labels.is_empty() && extra.is_none() {
        if inside_braces {
            out.push(b'}');
        }
        return;
    }
    for label in labels {
        out.push(separator);
        match quoting {
            Quoting::AsNeeded => write_label_name(out, label.name.as_ref()),
            Quoting::NotNeeded => out.extend_from_slice(label.name.as_ref().as_bytes()),
        }
        out.extend_from_slice(b"=\"");
        write_escaped(out, label.value.as_ref(), true);
        out.push(b'"');
        separator = b',';
    }
    if let Some((extra_name, extra_value)) = extra {
        out.push(separator);
        out.extend_from_slice(extra_name.as_bytes());
        out.extend_from_slice(b"=\"");
        write_number(out, extra_value);
        out.push(b'"');
    }
    out.push(b'}');
}

/// Writes a metric name as is when legacy-valid, else quoted.
pub(crate) fn write_name(out: &mut Vec<u8>, name: &str) {
    if is_legacy_metric_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        out.push(b'"');
        write_escaped(out, name, true);
        out.push(b'"');
    }
}

fn write_label_name(out: &mut Vec<u8>, name: &str) {
    if is_legacy_label_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        out.push(b'"');
        write_escaped(out, name, true);
        out.push(b'"');
    }
}

/// Escapes `\` and newline, and `"` when `quotes` is set.
pub(crate) fn write_escaped(out: &mut Vec<u8>, s: &str, quotes: bool) {
    let bytes = s.as_bytes();
    let needs = |b: u8| b == b'\\' || b == b'\n' || (quotes && b == b'"');
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if needs(b) {
            out.extend_from_slice(&bytes[last..i]);
            out.extend_from_slice(match b {
                b'\\' => b"\\\\".as_slice(),
                b'\n' => b"\\n",
                _ => b"\\\"",
            });
            last = i + 1;
        }
    }
    out.extend_from_slice(&bytes[last..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Bucket, Histogram, Quantile, Summary};

    fn label(n: &str, v: &str) -> LabelPair {
        LabelPair {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn writes_histograms_with_synthetic_inf_bucket() {
        let family = MetricFamily {
            name: "h".to_string(),
            help: Some("a\\b\nc\"".to_string()),
            metric_type: MetricType::Histogram,
            unit: None,
            metrics: vec![Metric {
                labels: vec![label("a", "x\"y")],
                value: Value::Histogram(Box::new(Histogram {
                    sample_count: Some(5),
                    sample_sum: Some(2.5),
                    buckets: vec![Bucket {
                        cumulative_count: Some(2),
                        upper_bound: 0.5,
                        ..Bucket::default()
                    }],
                    ..Histogram::default()
                })),
                timestamp_ms: None,
            }],
        };
        let mut out = Vec::new();
        encode_text_family(&mut out, &family).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP h a\\\\b\\nc\"\n# TYPE h histogram\n\
             h_bucket{a=\"x\\\"y\",le=\"0.5\"} 2\n\
             h_bucket{a=\"x\\\"y\",le=\"+Inf\"} 5\n\
             h_sum{a=\"x\\\"y\"} 2.5\nh_count{a=\"x\\\"y\"} 5\n"
        );
    }

    #[test]
    fn writes_summaries_and_timestamps() {
        let family = MetricFamily {
            name: "s".to_string(),
            help: None,
            metric_type: MetricType::Summary,
            unit: None,
            metrics: vec![Metric {
                labels: vec![],
                value: Value::Summary(Summary {
                    sample_count: 3,
                    sample_sum: 9.0,
                    quantiles: vec![Quantile {
                        quantile: 0.99,
                        value: 5.0,
                    }],
                    created: None,
                }),
                timestamp_ms: Some(-5),
            }],
        };
        let mut out = Vec::new();
        encode_text_family(&mut out, &family).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# TYPE s summary\ns{quantile=\"0.99\"} 5 -5\ns_sum 9 -5\ns_count 3 -5\n"
        );
    }

    #[test]
    fn quotes_names_that_are_not_legacy() {
        let family = MetricFamily {
            name: "my.metric".to_string(),
            help: None,
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric {
                labels: vec![label("dotted.label", "v")],
                value: Value::Gauge(1.0),
                timestamp_ms: None,
            }],
        };
        let mut out = Vec::new();
        encode_text_family(&mut out, &family).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# TYPE \"my.metric\" gauge\n{\"my.metric\",\"dotted.label\"=\"v\"} 1\n"
        );
    }

    #[test]
    fn refuses_a_value_of_the_wrong_shape() {
        let family = MetricFamily {
            name: "c".to_string(),
            help: None,
            metric_type: MetricType::Counter,
            unit: None,
            metrics: vec![Metric::<String> {
                labels: vec![],
                value: Value::Gauge(1.0),
                timestamp_ms: None,
            }],
        };
        let err = encode_text_family(&mut Vec::new(), &family).unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected COUNTER value in metric family \"c\""
        );
    }
}
