//! The OpenMetrics 1.0 text encoder, as client_golang's
//! `expfmt.MetricFamilyToOpenMetrics` writes it: counters named `x_total`
//! become family `x` of type `counter` (others `unknown`), untyped is
//! `unknown`, integers for counts, `.0` on integral floats, exemplars, and
//! `# EOF` at the end.

use crate::golang::write_float;
use crate::model::{Exemplar, LabelPair, Metric, MetricFamily, MetricType, Timestamp, Value};
use crate::text::encode::{write_escaped, write_name, write_name_and_labels, Quoting};
use crate::Error;

/// Options for the OpenMetrics encoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenMetricsOptions {
    /// Write `_created` samples for counters, summaries and histograms that
    /// carry a created timestamp.
    pub created_lines: bool,
}

/// Appends every non-empty family and the closing `# EOF`.
///
/// ```
/// use exposition::{encode_openmetrics, parse_text};
/// let families = parse_text(b"# TYPE jobs_total counter\njobs_total 3\n")?;
/// let mut out = Vec::new();
/// encode_openmetrics(&mut out, &families, Default::default())?;
/// assert_eq!(out, b"# TYPE jobs counter\njobs_total 3.0\n# EOF\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_openmetrics<S: AsRef<str>>(
    out: &mut Vec<u8>,
    families: &[MetricFamily<S>],
    options: OpenMetricsOptions,
) -> Result<(), Error> {
    for family in families {
        encode_openmetrics_family(out, family, options)?;
    }
    out.extend_from_slice(b"# EOF\n");
    Ok(())
}

/// Appends one family in OpenMetrics form (without `# EOF`).
pub fn encode_openmetrics_family<S: AsRef<str>>(
    out: &mut Vec<u8>,
    family: &MetricFamily<S>,
    options: OpenMetricsOptions,
) -> Result<(), Error> {
    let name = family.name.as_ref();
    let t = family.metric_type;
    let is_total_counter = t == MetricType::Counter && name.ends_with("_total");
    let compliant = if is_total_counter {
        &name[..name.len() - 6]
    } else {
        name
    };
    if let Some(help) = &family.help {
        out.extend_from_slice(b"# HELP ");
        write_name(out, compliant);
        out.push(b' ');
        write_escaped(out, help.as_ref(), true);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    write_name(out, compliant);
    out.extend_from_slice(match t {
        MetricType::Counter if is_total_counter => b" counter\n".as_slice(),
        MetricType::Counter | MetricType::Untyped => b" unknown\n",
        MetricType::Gauge => b" gauge\n",
        MetricType::Summary => b" summary\n",
        MetricType::Histogram => b" histogram\n",
        MetricType::GaugeHistogram => b" gaugehistogram\n",
    });
    if let Some(unit) = &family.unit {
        out.extend_from_slice(b"# UNIT ");
        write_name(out, compliant);
        out.push(b' ');
        write_escaped(out, unit.as_ref(), true);
        out.push(b'\n');
    }
    for metric in &family.metrics {
        write_metric(out, name, compliant, t, metric, options)?;
    }
    Ok(())
}

enum Number {
    Float(f64),
    Int(u64),
}

fn write_metric<S: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    compliant: &str,
    t: MetricType,
    metric: &Metric<S>,
    options: OpenMetricsOptions,
) -> Result<(), Error> {
    let sample = |out: &mut Vec<u8>,
                  suffix: &str,
                  extra: Option<(&str, f64)>,
                  n: Number,
                  ex: Option<&Exemplar<S>>| {
        write_sample(out, compliant, suffix, metric, extra, n, ex)
    };
    let created = |out: &mut Vec<u8>, base: &str, ts: &Option<Timestamp>| {
        if let (true, Some(ts)) = (options.created_lines, ts) {
            write_name_and_labels(
                out,
                base,
                "_created",
                &metric.labels,
                None,
                write_om_float,
                Quoting::AsNeeded,
            );
            out.push(b' ');
            write_om_float(out, timestamp_seconds(ts));
            out.push(b'\n');
        }
    };
    match (&metric.value, t) {
        (Value::Counter(c), MetricType::Counter) => {
            let full = if name.ends_with("_total") {
                name
            } else {
                compliant
            };
            write_sample(
                out,
                full,
                "",
                metric,
                None,
                Number::Float(c.value),
                c.exemplar.as_deref(),
            );
            created(out, compliant, &c.created);
        }
        (Value::Gauge(v), MetricType::Gauge) | (Value::Untyped(v), MetricType::Untyped) => {
            sample(out, "", None, Number::Float(*v), None)
        }
        (Value::Summary(s), MetricType::Summary) => {
            for q in &s.quantiles {
                sample(
                    out,
                    "",
                    Some(("quantile", q.quantile)),
                    Number::Float(q.value),
                    None,
                );
            }
            sample(out, "_sum", None, Number::Float(s.sample_sum), None);
            sample(out, "_count", None, Number::Int(s.sample_count), None);
            created(out, compliant, &s.created);
        }
        (Value::Histogram(h), t) if t.is_histogram() => {
            let float_histogram = || Error::FloatHistogram {
                family: compliant.to_owned(),
            };
            let mut inf_seen = false;
            for b in &h.buckets {
                if b.cumulative_count_float.is_some_and(|f| f > 0.0) {
                    return Err(float_histogram());
                }
                let count = Number::Int(b.cumulative_count.unwrap_or(0));
                sample(
                    out,
                    "_bucket",
                    Some(("le", b.upper_bound)),
                    count,
                    b.exemplar.as_deref(),
                );
                inf_seen |= b.upper_bound == f64::INFINITY;
            }
            if !inf_seen {
                let count = Number::Int(h.sample_count.unwrap_or(0));
                sample(out, "_bucket", Some(("le", f64::INFINITY)), count, None);
            }
            sample(
                out,
                "_sum",
                None,
                Number::Float(h.sample_sum.unwrap_or(0.0)),
                None,
            );
            if h.sample_count_float.is_some_and(|f| f > 0.0) {
                return Err(float_histogram());
            }
            sample(
                out,
                "_count",
                None,
                Number::Int(h.sample_count.unwrap_or(0)),
                None,
            );
            created(out, compliant, &h.created);
        }
        _ => {
            return Err(Error::ValueMismatch {
                family: name.to_owned(),
                expected: t,
            })
        }
    }
    Ok(())
}

fn write_sample<S: AsRef<str>>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    metric: &Metric<S>,
    extra: Option<(&str, f64)>,
    value: Number,
    exemplar: Option<&Exemplar<S>>,
) {
    write_name_and_labels(
        out,
        name,
        suffix,
        &metric.labels,
        extra,
        write_om_float,
        Quoting::AsNeeded,
    );
    out.push(b' ');
    match value {
        Number::Float(v) => write_om_float(out, v),
        Number::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
    }
    if let Some(ts) = metric.timestamp_ms {
        out.push(b' ');
        write_om_float(out, ts as f64 / 1000.0);
    }
    if let Some(e) = exemplar.filter(|e| !e.labels.is_empty()) {
        out.extend_from_slice(b" # ");
        write_name_and_labels(
            out,
            "",
            "",
            &e.labels as &[LabelPair<S>],
            None,
            write_om_float,
            Quoting::AsNeeded,
        );
        out.push(b' ');
        write_om_float(out, e.value);
        if let Some(ts) = &e.timestamp {
            out.push(b' ');
            write_om_float(out, timestamp_seconds(ts));
        }
    }
    out.push(b'\n');
}

fn timestamp_seconds(ts: &Timestamp) -> f64 {
    (ts.seconds as f64 * 1e9 + f64::from(ts.nanos)) / 1e9
}

/// OpenMetrics floats: like the text format, but integral values keep a
/// `.0` (`1.0`, `0.0`, `100.0`).
fn write_om_float(out: &mut Vec<u8>, v: f64) {
    let start = out.len();
    if v == 1.0 {
        out.extend_from_slice(b"1.0");
    } else if v == 0.0 {
        out.extend_from_slice(b"0.0");
    } else if v == -1.0 {
        out.extend_from_slice(b"-1.0");
    } else {
        write_float(out, v);
        let written = &out[start..];
        if v.is_finite() && !written.iter().any(|&b| b == b'e' || b == b'.') {
            out.extend_from_slice(b".0");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_text;

    fn om(text: &str) -> String {
        let families = parse_text(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        encode_openmetrics(&mut out, &families, OpenMetricsOptions::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn maps_types_and_formats_numbers() {
        assert_eq!(
            om("# HELP c h\"q\n# TYPE c counter\nc 100\nu{le=\"1\"} 2.5 1500\n"),
            "# HELP c h\\\"q\n# TYPE c unknown\nc 100.0\n# TYPE u unknown\nu{le=\"1\"} 2.5 1.5\n# EOF\n"
        );
        assert_eq!(
            om("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"),
            "# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.0\nh_count 2\n# EOF\n"
        );
    }

    #[test]
    fn refuses_float_histograms() {
        let families =
            parse_text(b"# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\nh_count 2\n").unwrap();
        let err = encode_openmetrics(&mut Vec::new(), &families, OpenMetricsOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::FloatHistogram { .. }));
    }
}
