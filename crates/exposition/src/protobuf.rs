//! The varint-delimited protobuf codec for `io.prometheus.client.MetricFamily`.
//!
//! Decoding goes through prost types generated from the vendored
//! client_model `metrics.proto` (compiled by protox at build time) and moves
//! their strings into the [`crate::model`] types. Encoding writes the wire
//! format directly from the model, in field-number order as Go does, and
//! exposes the pieces (family header, one metric field) so that callers can
//! assemble a family from metrics encoded at different times.

use prost::Message;

use crate::model::{
    Bucket, BucketSpan, Counter, Exemplar, Histogram, LabelPair, Metric, MetricFamily, MetricType,
    Quantile, Summary, Timestamp, Value,
};
use crate::Error;

/// The prost types generated from client_model's `metrics.proto`.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.client.rs"));
}

/// Decodes a body of varint-length-prefixed `MetricFamily` messages.
///
/// Follows the Go Pushgateway: messages are read to the end of the body; a
/// later family with the same name replaces an earlier one (in place); a
/// truncated length or message is `unexpected EOF`.
///
/// ```
/// use exposition::{decode_protobuf_delimited, encode_protobuf_delimited, parse_text};
/// let families = parse_text(b"# TYPE x counter\nx{a=\"b\"} 2\n")?;
/// let mut wire = Vec::new();
/// encode_protobuf_delimited(&mut wire, &families);
/// let back = decode_protobuf_delimited(&wire)?;
/// assert_eq!(back, families.into_iter().map(|f| f.into_owned()).collect::<Vec<_>>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_protobuf_delimited(body: &[u8]) -> Result<Vec<MetricFamily>, Error> {
    decode_protobuf_delimited_at_most(body, u64::MAX)
}

/// [`decode_protobuf_delimited`], stopping with [`Error::TooManySeries`] as
/// soon as the families kept hold more than `max_series` metrics.
pub fn decode_protobuf_delimited_at_most(
    mut body: &[u8],
    max_series: u64,
) -> Result<Vec<MetricFamily>, Error> {
    let mut series = 0u64;
    let mut families: Vec<MetricFamily> = Vec::new();
    // Where each name sits in `families`: a later family of the same name
    // replaces the earlier one, as in Go, without a quadratic search.
    let mut positions: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    while !body.is_empty() {
        let (len, header) = read_varint(body)?;
        body = &body[header..];
        let len = usize::try_from(len).map_err(|_| Error::Protobuf("unexpected EOF".into()))?;
        if len > body.len() {
            return Err(Error::Protobuf("unexpected EOF".into()));
        }
        let (message, rest) = body.split_at(len);
        body = rest;
        let family = decode_family(message)?;
        series += family.metrics.len() as u64;
        if let Some(&i) = positions.get(&family.name) {
            series -= families[i].metrics.len() as u64;
        }
        if series > max_series {
            return Err(Error::TooManySeries { limit: max_series });
        }
        match positions.get(&family.name) {
            Some(&i) => families[i] = family,
            None => {
                positions.insert(family.name.clone(), families.len());
                families.push(family);
            }
        }
    }
    Ok(families)
}

/// Decodes one `MetricFamily` message (without length prefix).
pub fn decode_family(message: &[u8]) -> Result<MetricFamily, Error> {
    let pb =
        pb::MetricFamily::decode(message).map_err(|e| Error::Protobuf(format!("proto: {e}")))?;
    from_pb(pb)
}

fn read_varint(b: &[u8]) -> Result<(u64, usize), Error> {
    let mut value: u64 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 || (i == 9 && byte > 1) {
            return Err(Error::Protobuf(
                "binary: varint overflows a 64-bit integer".into(),
            ));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(Error::Protobuf("unexpected EOF".into()))
}

fn from_pb(pb: pb::MetricFamily) -> Result<MetricFamily, Error> {
    // `type` is a closed proto2 enum: Go's decoder keeps an unknown number
    // as an unknown field and reads the default, COUNTER.
    let metric_type = pb
        .r#type
        .and_then(MetricType::from_i32)
        .unwrap_or(MetricType::Counter);
    let metrics = pb
        .metric
        .into_iter()
        .map(|m| metric_from_pb(metric_type, m))
        .collect();
    Ok(MetricFamily {
        name: pb.name.unwrap_or_default(),
        help: pb.help,
        metric_type,
        unit: pb.unit,
        metrics,
    })
}

fn labels_from_pb(labels: Vec<pb::LabelPair>) -> Vec<LabelPair> {
    labels
        .into_iter()
        .map(|l| LabelPair {
            name: l.name.unwrap_or_default(),
            value: l.value.unwrap_or_default(),
        })
        .collect()
}

fn timestamp_from_pb(t: Option<prost_types::Timestamp>) -> Option<Timestamp> {
    t.map(|t| Timestamp {
        seconds: t.seconds,
        nanos: t.nanos,
    })
}

fn exemplar_from_pb(e: pb::Exemplar) -> Exemplar {
    Exemplar {
        labels: labels_from_pb(e.label),
        value: e.value.unwrap_or(0.0),
        timestamp: timestamp_from_pb(e.timestamp),
    }
}

fn metric_from_pb(metric_type: MetricType, m: pb::Metric) -> Metric {
    let pb::Metric {
        label,
        gauge,
        counter,
        summary,
        untyped,
        histogram,
        timestamp_ms,
    } = m;
    let counter = counter.map(|c| {
        Value::Counter(Counter {
            value: c.value.unwrap_or(0.0),
            exemplar: c.exemplar.map(|e| Box::new(exemplar_from_pb(e))),
            created: timestamp_from_pb(c.created_timestamp),
        })
    });
    let gauge = gauge.map(|g| Value::Gauge(g.value.unwrap_or(0.0)));
    let untyped = untyped.map(|u| Value::Untyped(u.value.unwrap_or(0.0)));
    let summary = summary.map(|s| {
        Value::Summary(Summary {
            sample_count: s.sample_count.unwrap_or(0),
            sample_sum: s.sample_sum.unwrap_or(0.0),
            quantiles: s
                .quantile
                .into_iter()
                .map(|q| Quantile {
                    quantile: q.quantile.unwrap_or(0.0),
                    value: q.value.unwrap_or(0.0),
                })
                .collect(),
            created: timestamp_from_pb(s.created_timestamp),
        })
    });
    let histogram = histogram.map(|h| Value::Histogram(Box::new(histogram_from_pb(h))));
    // Keep the value the family type asks for; failing that, the first one
    // present, so that a type mismatch remains visible to the caller.
    let preferred = match metric_type {
        MetricType::Counter => 0,
        MetricType::Gauge => 1,
        MetricType::Summary => 2,
        MetricType::Untyped => 3,
        MetricType::Histogram | MetricType::GaugeHistogram => 4,
    };
    let mut candidates = [counter, gauge, summary, untyped, histogram];
    let value = candidates[preferred]
        .take()
        .or_else(|| candidates.iter_mut().find_map(Option::take))
        .unwrap_or(Value::Missing);
    Metric {
        labels: labels_from_pb(label),
        value,
        timestamp_ms,
    }
}

fn spans_from_pb(spans: Vec<pb::BucketSpan>) -> Vec<BucketSpan> {
    spans
        .into_iter()
        .map(|s| BucketSpan {
            offset: s.offset.unwrap_or(0),
            length: s.length.unwrap_or(0),
        })
        .collect()
}

fn histogram_from_pb(h: pb::Histogram) -> Histogram {
    Histogram {
        sample_count: h.sample_count,
        sample_count_float: h.sample_count_float,
        sample_sum: h.sample_sum,
        buckets: h
            .bucket
            .into_iter()
            .map(|b| Bucket {
                cumulative_count: b.cumulative_count,
                cumulative_count_float: b.cumulative_count_float,
                upper_bound: b.upper_bound.unwrap_or(0.0),
                exemplar: b.exemplar.map(|e| Box::new(exemplar_from_pb(e))),
            })
            .collect(),
        created: timestamp_from_pb(h.created_timestamp),
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: h.zero_count,
        zero_count_float: h.zero_count_float,
        negative_spans: spans_from_pb(h.negative_span),
        negative_deltas: h.negative_delta,
        negative_counts: h.negative_count,
        positive_spans: spans_from_pb(h.positive_span),
        positive_deltas: h.positive_delta,
        positive_counts: h.positive_count,
        exemplars: h.exemplars.into_iter().map(exemplar_from_pb).collect(),
    }
}

// ---------------------------------------------------------------------------
// Encoding.

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;

#[inline]
fn varint_len(v: u64) -> usize {
    // One byte per started group of seven bits.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn key_len(field: u32) -> usize {
    varint_len(u64::from(field) << 3)
}

#[inline]
fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn len_field(field: u32, body_len: usize) -> usize {
    key_len(field) + varint_len(body_len as u64) + body_len
}

#[inline]
fn put_len_header(out: &mut Vec<u8>, field: u32, body_len: usize) {
    put_key(out, field, LEN);
    put_varint(out, body_len as u64);
}

#[inline]
fn str_field_len(field: u32, s: &str) -> usize {
    len_field(field, s.len())
}

#[inline]
fn put_str(out: &mut Vec<u8>, field: u32, s: &str) {
    put_len_header(out, field, s.len());
    out.extend_from_slice(s.as_bytes());
}

#[inline]
fn double_field_len(field: u32) -> usize {
    key_len(field) + 8
}

#[inline]
fn put_double(out: &mut Vec<u8>, field: u32, v: f64) {
    put_key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn uint_field_len(field: u32, v: u64) -> usize {
    key_len(field) + varint_len(v)
}

#[inline]
fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

#[inline]
fn label_pair_len<S: AsRef<str>>(l: &LabelPair<S>) -> usize {
    str_field_len(1, l.name.as_ref()) + str_field_len(2, l.value.as_ref())
}

fn put_labels<S: AsRef<str>>(out: &mut Vec<u8>, field: u32, labels: &[LabelPair<S>]) {
    for l in labels {
        let (name, value) = (l.name.as_ref().as_bytes(), l.value.as_ref().as_bytes());
        let pair = 2 + name.len() + 2 + value.len();
        if pair < 0x80 && field < 16 {
            // Every length fits one varint byte: the common case, written
            // in three copies.
            out.reserve(2 + pair);
            out.extend_from_slice(&[(field << 3) as u8 | LEN, pair as u8, 0x0a, name.len() as u8]);
            out.extend_from_slice(name);
            out.extend_from_slice(&[0x12, value.len() as u8]);
            out.extend_from_slice(value);
        } else {
            put_len_header(out, field, label_pair_len(l));
            put_str(out, 1, l.name.as_ref());
            put_str(out, 2, l.value.as_ref());
        }
    }
}

fn labels_len<S: AsRef<str>>(field: u32, labels: &[LabelPair<S>]) -> usize {
    labels
        .iter()
        .map(|l| len_field(field, label_pair_len(l)))
        .sum()
}

fn timestamp_len(t: &Timestamp) -> usize {
    let mut n = 0;
    if t.seconds != 0 {
        n += uint_field_len(1, t.seconds as u64);
    }
    if t.nanos != 0 {
        n += uint_field_len(2, i64::from(t.nanos) as u64);
    }
    n
}

fn put_timestamp(out: &mut Vec<u8>, field: u32, t: &Timestamp) {
    put_len_header(out, field, timestamp_len(t));
    if t.seconds != 0 {
        put_uint(out, 1, t.seconds as u64);
    }
    if t.nanos != 0 {
        put_uint(out, 2, i64::from(t.nanos) as u64);
    }
}

fn exemplar_len<S: AsRef<str>>(e: &Exemplar<S>) -> usize {
    labels_len(1, &e.labels)
        + double_field_len(2)
        + e.timestamp
            .as_ref()
            .map_or(0, |t| len_field(3, timestamp_len(t)))
}

fn put_exemplar<S: AsRef<str>>(out: &mut Vec<u8>, field: u32, e: &Exemplar<S>) {
    put_len_header(out, field, exemplar_len(e));
    put_labels(out, 1, &e.labels);
    put_double(out, 2, e.value);
    if let Some(t) = &e.timestamp {
        put_timestamp(out, 3, t);
    }
}

fn counter_len<S: AsRef<str>>(c: &Counter<S>) -> usize {
    double_field_len(1)
        + c.exemplar
            .as_ref()
            .map_or(0, |e| len_field(2, exemplar_len(e)))
        + c.created
            .as_ref()
            .map_or(0, |t| len_field(3, timestamp_len(t)))
}

fn summary_len(s: &Summary) -> usize {
    uint_field_len(1, s.sample_count)
        + double_field_len(2)
        + s.quantiles.len() * len_field(3, 2 * double_field_len(1))
        + s.created
            .as_ref()
            .map_or(0, |t| len_field(4, timestamp_len(t)))
}

fn bucket_len<S: AsRef<str>>(b: &Bucket<S>) -> usize {
    b.cumulative_count.map_or(0, |c| uint_field_len(1, c))
        + double_field_len(2)
        + b.exemplar
            .as_ref()
            .map_or(0, |e| len_field(3, exemplar_len(e)))
        + b.cumulative_count_float.map_or(0, |_| double_field_len(4))
}

fn span_len(s: &BucketSpan) -> usize {
    uint_field_len(1, zigzag32(s.offset)) + uint_field_len(2, u64::from(s.length))
}

fn spans_len(field: u32, spans: &[BucketSpan]) -> usize {
    spans.iter().map(|s| len_field(field, span_len(s))).sum()
}

fn put_spans(out: &mut Vec<u8>, field: u32, spans: &[BucketSpan]) {
    for s in spans {
        put_len_header(out, field, span_len(s));
        put_uint(out, 1, zigzag32(s.offset));
        put_uint(out, 2, u64::from(s.length));
    }
}

fn histogram_len<S: AsRef<str>>(h: &Histogram<S>) -> usize {
    let mut n = h.sample_count.map_or(0, |c| uint_field_len(1, c))
        + h.sample_sum.map_or(0, |_| double_field_len(2))
        + h.buckets
            .iter()
            .map(|b| len_field(3, bucket_len(b)))
            .sum::<usize>()
        + h.sample_count_float.map_or(0, |_| double_field_len(4))
        + h.schema.map_or(0, |s| uint_field_len(5, zigzag32(s)))
        + h.zero_threshold.map_or(0, |_| double_field_len(6))
        + h.zero_count.map_or(0, |c| uint_field_len(7, c))
        + h.zero_count_float.map_or(0, |_| double_field_len(8))
        + spans_len(9, &h.negative_spans)
        + h.negative_deltas
            .iter()
            .map(|&d| uint_field_len(10, zigzag64(d)))
            .sum::<usize>()
        + h.negative_counts.len() * double_field_len(11)
        + spans_len(12, &h.positive_spans)
        + h.positive_deltas
            .iter()
            .map(|&d| uint_field_len(13, zigzag64(d)))
            .sum::<usize>()
        + h.positive_counts.len() * double_field_len(14);
    n += h
        .created
        .as_ref()
        .map_or(0, |t| len_field(15, timestamp_len(t)));
    n += h
        .exemplars
        .iter()
        .map(|e| len_field(16, exemplar_len(e)))
        .sum::<usize>();
    n
}

fn put_histogram<S: AsRef<str>>(out: &mut Vec<u8>, h: &Histogram<S>) {
    if let Some(c) = h.sample_count {
        put_uint(out, 1, c);
    }
    if let Some(s) = h.sample_sum {
        put_double(out, 2, s);
    }
    for b in &h.buckets {
        put_len_header(out, 3, bucket_len(b));
        if let Some(c) = b.cumulative_count {
            put_uint(out, 1, c);
        }
        put_double(out, 2, b.upper_bound);
        if let Some(e) = &b.exemplar {
            put_exemplar(out, 3, e);
        }
        if let Some(f) = b.cumulative_count_float {
            put_double(out, 4, f);
        }
    }
    if let Some(f) = h.sample_count_float {
        put_double(out, 4, f);
    }
    if let Some(s) = h.schema {
        put_uint(out, 5, zigzag32(s));
    }
    if let Some(z) = h.zero_threshold {
        put_double(out, 6, z);
    }
    if let Some(z) = h.zero_count {
        put_uint(out, 7, z);
    }
    if let Some(z) = h.zero_count_float {
        put_double(out, 8, z);
    }
    put_spans(out, 9, &h.negative_spans);
    for &d in &h.negative_deltas {
        put_uint(out, 10, zigzag64(d));
    }
    for &c in &h.negative_counts {
        put_double(out, 11, c);
    }
    put_spans(out, 12, &h.positive_spans);
    for &d in &h.positive_deltas {
        put_uint(out, 13, zigzag64(d));
    }
    for &c in &h.positive_counts {
        put_double(out, 14, c);
    }
    if let Some(t) = &h.created {
        put_timestamp(out, 15, t);
    }
    for e in &h.exemplars {
        put_exemplar(out, 16, e);
    }
}

fn metric_len<L: AsRef<str>, V: AsRef<str>>(
    labels: &[LabelPair<L>],
    value: &Value<V>,
    ts: Option<i64>,
) -> usize {
    labels_len(1, labels)
        + match value {
            Value::Gauge(_) => len_field(2, double_field_len(1)),
            Value::Counter(c) => len_field(3, counter_len(c)),
            Value::Summary(s) => len_field(4, summary_len(s)),
            Value::Untyped(_) => len_field(5, double_field_len(1)),
            Value::Histogram(h) => len_field(7, histogram_len(h)),
            Value::Missing => 0,
        }
        + ts.map_or(0, |t| uint_field_len(6, t as u64))
}

/// The encoded size of `metric` as field 4 of a `MetricFamily`.
pub fn metric_field_len<S: AsRef<str>>(metric: &Metric<S>) -> usize {
    len_field(
        4,
        metric_len(&metric.labels, &metric.value, metric.timestamp_ms),
    )
}

/// Appends `metric` as field 4 of a `MetricFamily` (tag, length, message).
pub fn encode_metric_field<S: AsRef<str>>(out: &mut Vec<u8>, metric: &Metric<S>) {
    encode_metric_field_parts(out, &metric.labels, &metric.value, metric.timestamp_ms);
}

/// [`encode_metric_field`] with the metric given as its parts. Returns
/// where in `out` the encoded label pairs are: with the metric name, they
/// identify the series.
pub fn encode_metric_field_parts<L: AsRef<str>, V: AsRef<str>>(
    out: &mut Vec<u8>,
    labels: &[LabelPair<L>],
    value: &Value<V>,
    timestamp_ms: Option<i64>,
) -> std::ops::Range<usize> {
    put_len_header(out, 4, metric_len(labels, value, timestamp_ms));
    let labels_start = out.len();
    put_labels(out, 1, labels);
    let labels_end = out.len();
    match value {
        Value::Gauge(v) => {
            put_len_header(out, 2, double_field_len(1));
            put_double(out, 1, *v);
        }
        Value::Counter(c) => {
            put_len_header(out, 3, counter_len(c));
            put_double(out, 1, c.value);
            if let Some(e) = &c.exemplar {
                put_exemplar(out, 2, e);
            }
            if let Some(t) = &c.created {
                put_timestamp(out, 3, t);
            }
        }
        Value::Summary(s) => {
            put_len_header(out, 4, summary_len(s));
            put_uint(out, 1, s.sample_count);
            put_double(out, 2, s.sample_sum);
            for q in &s.quantiles {
                put_len_header(out, 3, 2 * double_field_len(1));
                put_double(out, 1, q.quantile);
                put_double(out, 2, q.value);
            }
            if let Some(t) = &s.created {
                put_timestamp(out, 4, t);
            }
        }
        Value::Untyped(v) => {
            put_len_header(out, 5, double_field_len(1));
            put_double(out, 1, *v);
        }
        Value::Histogram(_) | Value::Missing => {}
    }
    // Field 6 (the timestamp) precedes field 7 (the histogram).
    if let Some(t) = timestamp_ms {
        put_uint(out, 6, t as u64);
    }
    if let Value::Histogram(h) = value {
        put_len_header(out, 7, histogram_len(h));
        put_histogram(out, h);
    }
    labels_start..labels_end
}

/// The encoded size of the family fields other than the metrics.
pub fn family_header_len(name: &str, help: Option<&str>, metric_type: MetricType) -> usize {
    str_field_len(1, name)
        + help.map_or(0, |h| str_field_len(2, h))
        + uint_field_len(3, metric_type as u64)
}

/// Appends the `MetricFamily` fields that precede the metrics: name, help
/// (when present) and type.
pub fn encode_family_header(
    out: &mut Vec<u8>,
    name: &str,
    help: Option<&str>,
    metric_type: MetricType,
) {
    put_str(out, 1, name);
    if let Some(help) = help {
        put_str(out, 2, help);
    }
    put_uint(out, 3, metric_type as u64);
}

/// Appends a varint, e.g. the length prefix of a delimited message.
pub fn encode_varint(out: &mut Vec<u8>, v: u64) {
    put_varint(out, v);
}

/// Appends one family as a length-prefixed `MetricFamily` message.
pub fn encode_protobuf_family<S: AsRef<str>>(out: &mut Vec<u8>, family: &MetricFamily<S>) {
    let help = family.help.as_ref().map(AsRef::as_ref);
    let name = family.name.as_ref();
    let unit_len = family
        .unit
        .as_ref()
        .map_or(0, |u| str_field_len(5, u.as_ref()));
    let len = family_header_len(name, help, family.metric_type)
        + family.metrics.iter().map(metric_field_len).sum::<usize>()
        + unit_len;
    out.reserve(len + 10);
    put_varint(out, len as u64);
    encode_family_header(out, name, help, family.metric_type);
    for m in &family.metrics {
        encode_metric_field(out, m);
    }
    if let Some(unit) = &family.unit {
        put_str(out, 5, unit.as_ref());
    }
}

/// Appends every family as length-prefixed `MetricFamily` messages.
pub fn encode_protobuf_delimited<S: AsRef<str>>(out: &mut Vec<u8>, families: &[MetricFamily<S>]) {
    for family in families {
        encode_protobuf_family(out, family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn delimited_decoding_stops_beyond_the_series_limit() {
        let family = sample_family();
        let mut body = Vec::new();
        encode_protobuf_delimited(&mut body, &[family.clone(), family.clone()]);
        // The second family of the same name replaces the first: one series.
        assert_eq!(
            decode_protobuf_delimited_at_most(&body, 1).unwrap().len(),
            1
        );
        let mut other = family;
        other.name = "other".into();
        let mut body = Vec::new();
        encode_protobuf_delimited(&mut body, &[sample_family(), other]);
        assert_eq!(
            decode_protobuf_delimited_at_most(&body, 1).unwrap_err(),
            Error::TooManySeries { limit: 1 }
        );
    }

    fn sample_family() -> MetricFamily {
        MetricFamily {
            name: "h".into(),
            help: Some("help".into()),
            metric_type: MetricType::Histogram,
            unit: Some("seconds".into()),
            metrics: vec![Metric {
                labels: vec![LabelPair {
                    name: "a".into(),
                    value: "ü".into(),
                }],
                value: Value::Histogram(Box::new(Histogram {
                    sample_count: Some(300),
                    sample_sum: Some(-2.5),
                    buckets: vec![Bucket {
                        cumulative_count: Some(2),
                        upper_bound: 0.5,
                        exemplar: Some(Box::new(Exemplar {
                            labels: vec![LabelPair {
                                name: "trace".into(),
                                value: "x".into(),
                            }],
                            value: 0.25,
                            timestamp: Some(Timestamp {
                                seconds: -3,
                                nanos: 7,
                            }),
                        })),
                        ..Bucket::default()
                    }],
                    schema: Some(-2),
                    zero_threshold: Some(1e-9),
                    zero_count: Some(1),
                    positive_spans: vec![BucketSpan {
                        offset: -1,
                        length: 2,
                    }],
                    positive_deltas: vec![3, -2],
                    negative_counts: vec![1.5],
                    created: Some(Timestamp {
                        seconds: 5,
                        nanos: 0,
                    }),
                    ..Histogram::default()
                })),
                timestamp_ms: Some(-1),
            }],
        }
    }

    #[test]
    fn encoding_matches_prost() {
        let family = sample_family();
        let mut ours = Vec::new();
        encode_protobuf_family(&mut ours, &family);
        let decoded = pb::MetricFamily::decode_length_delimited(ours.as_slice()).unwrap();
        let mut theirs = Vec::new();
        decoded.encode_length_delimited(&mut theirs).unwrap();
        assert_eq!(ours, theirs, "byte-identical to prost's encoding");
        assert_eq!(decode_protobuf_delimited(&ours).unwrap(), vec![family]);
    }

    #[test]
    fn truncation_is_unexpected_eof() {
        let mut wire = Vec::new();
        encode_protobuf_family(&mut wire, &sample_family());
        for cut in 1..wire.len() {
            let err = decode_protobuf_delimited(&wire[..cut]).unwrap_err();
            assert_eq!(err.to_string(), "unexpected EOF", "cut at {cut}");
        }
    }

    #[test]
    fn later_family_of_the_same_name_wins() {
        let mut a = sample_family();
        a.metric_type = MetricType::Gauge;
        a.metrics = vec![Metric {
            labels: vec![],
            value: Value::Gauge(1.0),
            timestamp_ms: None,
        }];
        let mut b = a.clone();
        b.metrics[0].value = Value::Gauge(2.0);
        let mut wire = Vec::new();
        encode_protobuf_delimited(&mut wire, &[a, b.clone()]);
        assert_eq!(decode_protobuf_delimited(&wire).unwrap(), vec![b]);
    }

    #[test]
    fn many_families_with_repeated_names_keep_first_position_and_last_content() {
        let mut wire = Vec::new();
        for round in 0..3 {
            for i in 0..2000 {
                let family = MetricFamily {
                    name: format!("f{i}"),
                    help: None,
                    metric_type: MetricType::Gauge,
                    unit: None,
                    metrics: vec![Metric {
                        labels: vec![],
                        value: Value::Gauge(f64::from(round)),
                        timestamp_ms: None,
                    }],
                };
                encode_protobuf_family(&mut wire, &family);
            }
        }
        let decoded = decode_protobuf_delimited(&wire).unwrap();
        assert_eq!(decoded.len(), 2000);
        assert_eq!(decoded[1234].name, "f1234");
        assert!(decoded
            .iter()
            .all(|f| matches!(f.metrics[0].value, Value::Gauge(v) if v == 2.0)));
    }

    #[test]
    fn an_unknown_type_number_reads_as_counter_like_go() {
        let pb = pb::MetricFamily {
            name: Some("c".into()),
            r#type: Some(42),
            metric: vec![pb::Metric {
                counter: Some(pb::Counter {
                    value: Some(3.0),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let family = decode_family(&pb.encode_to_vec()).unwrap();
        assert_eq!(family.metric_type, MetricType::Counter);
        assert!(matches!(family.metrics[0].value, Value::Counter(ref c) if c.value == 3.0));
    }

    #[test]
    fn keeps_a_mismatched_value_visible() {
        let pb = pb::MetricFamily {
            name: Some("g".into()),
            r#type: Some(1),
            metric: vec![pb::Metric {
                counter: Some(pb::Counter {
                    value: Some(1.0),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let family = decode_family(&pb.encode_to_vec()).unwrap();
        assert!(!family.metrics[0].value.matches(MetricType::Gauge));
        assert!(matches!(family.metrics[0].value, Value::Counter(_)));
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }
}
