//! Stored families: a pushed family after label sanitising, with its
//! metrics sorted in Go's order and pre-encoded for both scrape formats.
//!
//! Preparing a family is where a push spends its time; it happens before
//! the store's lock is taken and costs O(size of the family).

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use exposition::protobuf::{
    decode_family, encode_family_header, encode_metric_field_parts, family_header_len,
};
use exposition::{
    compare_label_values, encode_text_metric_parts, is_valid_legacy_label_name,
    is_valid_legacy_metric_name, LabelPair, Metric, MetricFamily, MetricType, NameValidation,
    Quoting, Value,
};

use crate::key::GroupingKey;
use crate::problem::Problem;
use crate::time::PushTime;

/// The keyed hash used for series identities: foldhash's quality variant
/// with a per-process random seed, so colliding series cannot be crafted
/// without knowing the seed, which never leaves the process. (With 64-bit
/// identities, a chance collision among a million stored series is about
/// one in 10^7 per million pushed series; a keyed cryptographic hash would
/// not change that, only cost four times as much per push.)
pub(crate) type SeriesHasher = foldhash::quality::RandomState;

/// A family as a group stores it.
///
/// The metrics are kept only in encoded form: the text-format sample lines
/// and the protobuf `Metric` fields (field 4 of `MetricFamily`), both in
/// client_golang's metric order, with per-metric offsets so that a scrape
/// can interleave metrics of several groups. The protobuf form is the
/// canonical one: the JSON API and persistence decode it.
pub struct StoredFamily {
    name: Arc<str>,
    help: Option<Arc<str>>,
    metric_type: MetricType,
    pushed_at: PushTime,
    /// Text sample lines, then protobuf metric fields.
    data: Box<[u8]>,
    text_len: u32,
    /// Start of each metric's text, then start of each metric's protobuf.
    offsets: Box<[u32]>,
    /// The series identity of each metric (name and labels), for the
    /// duplicate check.
    hashes: Box<[u64]>,
    /// Whether every name in the family (metric and labels) is legacy-valid,
    /// so the pre-encoded text suits every escaping scheme.
    legacy_names: bool,
}

impl std::fmt::Debug for StoredFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredFamily")
            .field("name", &self.name)
            .field("type", &self.metric_type)
            .field("metrics", &self.len())
            .finish()
    }
}

impl StoredFamily {
    /// The metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The HELP text as pushed (`None` if the push had none).
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The family type.
    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }

    /// When the push that stored this family happened.
    pub fn pushed_at(&self) -> PushTime {
        self.pushed_at
    }

    /// Number of metrics.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the family has no metrics (possible with protobuf pushes).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether all metric and label names are legacy-valid.
    pub fn has_legacy_names(&self) -> bool {
        self.legacy_names
    }

    /// The text sample lines of all metrics.
    pub fn text(&self) -> &[u8] {
        &self.data[..self.text_len as usize]
    }

    /// The protobuf `Metric` fields of all metrics.
    pub fn proto(&self) -> &[u8] {
        &self.data[self.text_len as usize..]
    }

    /// The text lines of metric `i`.
    pub fn metric_text(&self, i: usize) -> &[u8] {
        let n = self.len();
        let start = self.offsets[i] as usize;
        let end = if i + 1 < n {
            self.offsets[i + 1] as usize
        } else {
            self.text_len as usize
        };
        &self.data[start..end]
    }

    /// The protobuf field of metric `i`.
    pub fn metric_proto(&self, i: usize) -> &[u8] {
        let n = self.len();
        let base = self.text_len as usize;
        let start = base + self.offsets[n + i] as usize;
        let end = if i + 1 < n {
            base + self.offsets[n + i + 1] as usize
        } else {
            self.data.len()
        };
        &self.data[start..end]
    }

    /// The series hashes of the metrics.
    pub(crate) fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// This one-sample gauge family with another value, stored at `at`: how
    /// a group's push-time gauges are renewed on each push without
    /// preparing them again (the labels, their encodings and the series
    /// identity stay; only the value changes). `None` if this is not such a
    /// family.
    pub(crate) fn with_gauge_value(&self, value: f64, at: PushTime) -> Option<StoredFamily> {
        if self.metric_type != MetricType::Gauge || self.len() != 1 {
            return None;
        }
        let text = self.text();
        let space = text.iter().rposition(|&b| b == b' ')?;
        let proto = self.proto();
        // The gauge's double is the metric field's last eight bytes.
        let fixed = proto.len().checked_sub(8)?;
        let mut data = Vec::with_capacity(space + 26 + proto.len());
        data.extend_from_slice(&text[..=space]);
        exposition::write_float(&mut data, value);
        data.push(b'\n');
        let text_len = data.len() as u32;
        data.extend_from_slice(&proto[..fixed]);
        data.extend_from_slice(&value.to_le_bytes());
        Some(StoredFamily {
            name: self.name.clone(),
            help: self.help.clone(),
            metric_type: self.metric_type,
            pushed_at: at,
            data: data.into_boxed_slice(),
            text_len,
            offsets: Box::new([0, 0]),
            hashes: self.hashes.clone(),
            legacy_names: self.legacy_names,
        })
    }

    /// The family decoded back into the data model (for the JSON API, the
    /// web UI and persistence).
    pub fn decode(&self) -> MetricFamily {
        let header_len = family_header_len(&self.name, self.help(), self.metric_type);
        let mut message = Vec::with_capacity(header_len + self.proto().len());
        encode_family_header(&mut message, &self.name, self.help(), self.metric_type);
        message.extend_from_slice(self.proto());
        // The bytes were written by our own encoder from valid strings, so
        // decoding cannot fail; an empty family is the harmless fallback.
        decode_family(&message).unwrap_or_else(|_| MetricFamily {
            name: self.name.to_string(),
            help: self.help.as_deref().map(str::to_owned),
            metric_type: self.metric_type,
            unit: None,
            metrics: Vec::new(),
        })
    }
}

/// What a pushed family must satisfy on its own: the name rules, and the
/// reserved `__` prefix for label names.
fn valid_label_name(rules: NameValidation, name: &str) -> bool {
    rules.is_valid_label_name(name) && !name.starts_with("__")
}

/// Scratch space reused across the families of one push.
#[derive(Default)]
pub(crate) struct Scratch<'a> {
    labels: Vec<LabelPair<&'a str>>,
    ranges: Vec<(u32, u32)>,
    order: Vec<u32>,
}

/// Encoding buffers kept by each thread between pushes, so that a push
/// does not grow them from nothing (they are copied out, exactly sized).
#[derive(Default)]
struct Buffers {
    text: Vec<u8>,
    proto: Vec<u8>,
}

/// Larger buffers are not kept after a push: one huge push must not pin
/// its size on every thread.
const KEPT_BUFFER: usize = 1 << 20;

thread_local! {
    static BUFFERS: std::cell::Cell<Buffers> = std::cell::Cell::new(Buffers::default());
}

/// Prepares one pushed family for storage under `key`: sanitises labels
/// (grouping labels forced on, `instance=""` added, sorted by name), checks
/// what the family must satisfy on its own, sorts metrics in Go's order and
/// encodes them. Problems are appended to `errors` in Go's wording; the
/// family is still returned so that all problems of a push are reported.
pub(crate) fn prepare<'a, S: AsRef<str>>(
    family: &'a MetricFamily<S>,
    key: &'a GroupingKey,
    at: PushTime,
    rules: NameValidation,
    hasher: &SeriesHasher,
    scratch: &mut Scratch<'a>,
    errors: &mut Vec<Problem>,
) -> StoredFamily {
    let name = family.name.as_ref();
    if !rules.is_valid_metric_name(name) {
        errors.push(Problem::InvalidMetricName {
            name: name.to_string(),
        });
    }
    scratch.labels.clear();
    scratch.ranges.clear();
    // Every metric gets the grouping labels and maybe `instance`.
    let per_metric = family.metrics.first().map_or(0, |m| m.labels.len()) + key.len() + 1;
    scratch.labels.reserve(family.metrics.len() * per_metric);
    scratch.ranges.reserve(family.metrics.len());
    for metric in &family.metrics {
        let start = scratch.labels.len() as u32;
        sanitize(&metric.labels, key, &mut scratch.labels);
        scratch.ranges.push((start, scratch.labels.len() as u32));
    }
    encode(family, at, Some((rules, hasher, errors)), scratch)
}

impl StoredFamily {
    /// Encodes a family as given (labels sorted by name, metrics in Go's
    /// order) without grouping labels or checks: for the gateway's own
    /// metrics, which are merged into scrapes but never stored.
    pub fn plain<S: AsRef<str>>(family: &MetricFamily<S>, at: PushTime) -> StoredFamily {
        let mut scratch = Scratch::default();
        for metric in &family.metrics {
            let start = scratch.labels.len() as u32;
            scratch
                .labels
                .extend(metric.labels.iter().map(|l| LabelPair {
                    name: l.name.as_ref(),
                    value: l.value.as_ref(),
                }));
            scratch.labels[start as usize..].sort_by(|a, b| a.name.cmp(b.name));
            scratch.ranges.push((start, scratch.labels.len() as u32));
        }
        encode(family, at, None, &mut scratch)
    }
}

/// Sorts and encodes a family whose final label sets are in `scratch`;
/// with `checks`, also checks each metric and computes series hashes.
fn encode<'a, S: AsRef<str>>(
    family: &'a MetricFamily<S>,
    at: PushTime,
    mut checks: Option<(NameValidation, &SeriesHasher, &mut Vec<Problem>)>,
    scratch: &mut Scratch<'a>,
) -> StoredFamily {
    let name = family.name.as_ref();
    let metric_type = family.metric_type;
    let Scratch {
        labels,
        ranges,
        order,
    } = scratch;
    let mut buffers = BUFFERS.take();
    let Buffers { text, proto } = &mut buffers;
    order.clear();
    order.reserve(family.metrics.len());
    order.extend(0..family.metrics.len() as u32);
    let labels_of = |i: u32| {
        let (s, e) = ranges[i as usize];
        &labels[s as usize..e as usize]
    };
    // Clients usually write a family's metrics in order already.
    if !order.is_sorted_by(|&a, &b| compare_label_values(labels_of(a), labels_of(b)).is_le()) {
        order.sort_by(|&a, &b| compare_label_values(labels_of(a), labels_of(b)));
    }

    let legacy_name = is_valid_legacy_metric_name(name);
    let mut legacy_names = legacy_name;
    // Encoded into reused buffers, then copied into one exactly sized
    // allocation: stored families live long, and a grown-then-shrunk
    // buffer keeps its slack in most allocators (about a third of a
    // series' memory).
    text.clear();
    proto.clear();
    let mut offsets = Vec::with_capacity(family.metrics.len() * 2);
    let mut proto_offsets = Vec::with_capacity(family.metrics.len());
    let mut hashes = Vec::with_capacity(family.metrics.len());
    for &i in order.iter() {
        let metric = &family.metrics[i as usize];
        let final_labels = labels_of(i);
        // Under the legacy rules a metric that passes its checks has
        // legacy label names; only otherwise are they looked at again.
        let checked_legacy = match &mut checks {
            Some((rules, _, errors)) => {
                let before = errors.len();
                check_metric(name, metric_type, metric, final_labels, *rules, errors);
                *rules == NameValidation::Legacy && errors.len() == before
            }
            None => false,
        };
        let legacy = legacy_name
            && (checked_legacy
                || final_labels
                    .iter()
                    .all(|l| is_valid_legacy_label_name(l.name)));
        legacy_names &= legacy;
        offsets.push(text.len() as u32);
        proto_offsets.push(proto.len() as u32);
        let quoting = if legacy {
            Quoting::NotNeeded
        } else {
            Quoting::AsNeeded
        };
        // A value of the wrong shape has no text form; the checks report it.
        let _ = encode_text_metric_parts(
            text,
            name,
            metric_type,
            final_labels,
            &metric.value,
            metric.timestamp_ms,
            quoting,
        );
        let encoded_labels =
            encode_metric_field_parts(proto, final_labels, &metric.value, metric.timestamp_ms);
        match &checks {
            Some((_, hasher, _)) => hashes.push(series_hash(hasher, name, &proto[encoded_labels])),
            None => hashes.push(0),
        }
    }
    offsets.extend(proto_offsets);
    let text_len = text.len() as u32;
    let mut data = Vec::with_capacity(text.len() + proto.len());
    data.extend_from_slice(text);
    data.extend_from_slice(proto);
    text.clear();
    proto.clear();
    if text.capacity() > KEPT_BUFFER || proto.capacity() > KEPT_BUFFER {
        buffers = Buffers::default();
    }
    BUFFERS.set(buffers);
    StoredFamily {
        name: Arc::from(name),
        help: family.help.as_ref().map(|h| Arc::from(h.as_ref())),
        metric_type,
        pushed_at: at,
        data: data.into_boxed_slice(),
        text_len,
        offsets: offsets.into_boxed_slice(),
        hashes: hashes.into_boxed_slice(),
        legacy_names,
    }
}

/// Builds the final label set of one pushed metric, as the Go gateway's
/// `sanitizeLabels` does: a body label named like a grouping label takes the
/// grouping value, missing grouping labels are added, `instance=""` is added
/// when there is no instance label, and pairs are sorted by name.
fn sanitize<'a, S: AsRef<str>>(
    body: &'a [LabelPair<S>],
    key: &'a GroupingKey,
    out: &mut Vec<LabelPair<&'a str>>,
) {
    let start = out.len();
    let mut applied = Applied::new(key.len());
    let mut has_instance = false;
    for l in body {
        let name = l.name.as_ref();
        let mut value = l.value.as_ref();
        // Only the first body label of a grouping name takes its value; a
        // repeated name is left for the duplicate-label check to refuse.
        if let Some((i, (_, v))) = key.labels().enumerate().find(|(_, (n, _))| *n == name) {
            if !applied.get(i) {
                value = v;
                applied.set(i);
            }
        }
        has_instance |= name == "instance";
        out.push(LabelPair { name, value });
    }
    for (i, (name, value)) in key.labels().enumerate() {
        if !applied.get(i) {
            has_instance |= name == "instance";
            out.push(LabelPair { name, value });
        }
    }
    if !has_instance {
        out.push(LabelPair {
            name: "instance",
            value: "",
        });
    }
    out[start..].sort_by(|a, b| exposition::compare_str(a.name, b.name));
}

/// Which grouping labels a metric already carries: a bit mask, or a vector
/// for keys of more than 64 labels.
struct Applied {
    mask: u64,
    many: Vec<bool>,
}

impl Applied {
    fn new(n: usize) -> Applied {
        Applied {
            mask: 0,
            many: if n > 64 { vec![false; n] } else { Vec::new() },
        }
    }

    fn get(&self, i: usize) -> bool {
        match self.many.get(i) {
            Some(&b) => b,
            None => i < 64 && self.mask & (1 << i) != 0,
        }
    }

    fn set(&mut self, i: usize) {
        match self.many.get_mut(i) {
            Some(b) => *b = true,
            None => self.mask |= 1 << (i % 64),
        }
    }
}

/// The per-metric part of client_golang's `checkMetricConsistency` that
/// does not depend on other metrics: value shape, label names.
fn check_metric<S: AsRef<str>>(
    name: &str,
    metric_type: MetricType,
    metric: &Metric<S>,
    labels: &[LabelPair<&str>],
    rules: NameValidation,
    errors: &mut Vec<Problem>,
) {
    let describe = || describe_metric(name, labels, &metric.value);
    if !metric.value.matches(metric_type) {
        errors.push(Problem::NotA {
            metric: describe(),
            expected: metric_type,
        });
        return;
    }
    let mut previous = None;
    for l in labels {
        let problem = if previous == Some(l.name) {
            Problem::DuplicateLabel {
                metric: describe(),
                label: l.name.to_string(),
            }
        } else if !valid_label_name(rules, l.name) {
            Problem::InvalidLabelName {
                metric: describe(),
                label: l.name.to_string(),
            }
        } else if metric_type == MetricType::Summary && l.name == "quantile" {
            Problem::QuantileLabel { metric: describe() }
        } else {
            previous = Some(l.name);
            continue;
        };
        errors.push(problem);
        return;
    }
}

/// `collected metric "name" { label:{name:"a" value:"b"} gauge:{value:1} }`:
/// the metric as Go's error messages show it (in the compact protobuf text
/// form, whose exact spacing Go itself varies).
pub(crate) fn describe_metric<S>(
    name: &str,
    labels: &[LabelPair<&str>],
    value: &Value<S>,
) -> String {
    let mut out = format!(
        "collected metric {} {{ ",
        exposition::go_quote(name.as_bytes())
    );
    for l in labels {
        out.push_str(&format!(
            "label:{{name:{} value:{}}} ",
            exposition::go_quote(l.name.as_bytes()),
            exposition::go_quote(l.value.as_bytes())
        ));
    }
    let num = exposition::format_float;
    match value {
        Value::Counter(c) => out.push_str(&format!("counter:{{value:{}}} ", num(c.value))),
        Value::Gauge(v) => out.push_str(&format!("gauge:{{value:{}}} ", num(*v))),
        Value::Untyped(v) => out.push_str(&format!("untyped:{{value:{}}} ", num(*v))),
        Value::Summary(s) => out.push_str(&format!(
            "summary:{{sample_count:{} sample_sum:{}}} ",
            s.sample_count,
            num(s.sample_sum)
        )),
        Value::Histogram(h) => out.push_str(&format!(
            "histogram:{{sample_count:{} sample_sum:{}}} ",
            h.sample_count.unwrap_or(0),
            num(h.sample_sum.unwrap_or(0.0))
        )),
        Value::Missing => {}
    }
    out.push('}');
    out
}

/// The identity of a series: its metric name and its sanitised labels, as
/// their protobuf encoding (length-prefixed, so unambiguous) writes them.
pub(crate) fn series_hash(hasher: &SeriesHasher, name: &str, encoded_labels: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_usize(name.len());
    h.write(name.as_bytes());
    h.write(encoded_labels);
    h.finish()
}

/// Reads the label values of an encoded metric field (as written by
/// [`encode_metric_field_parts`]) without decoding the rest, for ordering
/// metrics of different groups at scrape time.
pub(crate) fn encoded_label_values(field: &[u8]) -> LabelValues<'_> {
    // Skip the field-4 tag and length; the labels are field 1 of the body.
    let body = skip_varint(field).and_then(skip_varint).unwrap_or(&[]);
    LabelValues { rest: body }
}

fn read_varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((v, &b[i + 1..]));
        }
    }
    None
}

fn skip_varint(b: &[u8]) -> Option<&[u8]> {
    read_varint(b).map(|(_, rest)| rest)
}

/// Iterator over the label values of an encoded metric.
pub(crate) struct LabelValues<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for LabelValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Label pairs come first (field 1, length-delimited).
        let (&tag, after_tag) = self.rest.split_first()?;
        if tag != 0x0a {
            return None;
        }
        let (len, body) = read_varint(after_tag)?;
        let len = usize::try_from(len).ok()?;
        let pair = body.get(..len)?;
        self.rest = &body[len..];
        // Within the pair: field 1 (name) then field 2 (value).
        let mut p = pair;
        let mut value: &[u8] = &[];
        while let Some((&t, after)) = p.split_first() {
            let (l, b) = read_varint(after)?;
            let l = usize::try_from(l).ok()?;
            let s = b.get(..l)?;
            if t == 0x12 {
                value = s;
            }
            p = &b[l..];
        }
        Some(value)
    }
}

/// Go's metric order on encoded metrics: label count, then values. One
/// pass over both (scrapes call this for every group's first and last
/// metric of every name).
pub(crate) fn compare_encoded(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut x, mut y) = (encoded_label_values(a), encoded_label_values(b));
    let mut values = Ordering::Equal;
    loop {
        match (x.next(), y.next()) {
            (Some(va), Some(vb)) => {
                if values == Ordering::Equal {
                    values = va.cmp(vb);
                }
            }
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (None, None) => return values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::parse_text;

    fn prepare_text(body: &str, key: &GroupingKey) -> (StoredFamily, Vec<String>) {
        let families = parse_text(body.as_bytes()).unwrap();
        let hasher = SeriesHasher::default();
        let mut errors = Vec::new();
        let mut scratch = Scratch::default();
        let f = prepare(
            &families[0],
            key,
            PushTime::from_nanos(0),
            NameValidation::Legacy,
            &hasher,
            &mut scratch,
            &mut errors,
        );
        (f, errors.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn sanitizes_like_go() {
        let key = GroupingKey::new([("job", "conf")]);
        let (f, errors) = prepare_text("z{job=\"other\",instance=\"i1\",foo=\"bar\"} 1\n", &key);
        assert!(errors.is_empty());
        assert_eq!(f.text(), b"z{foo=\"bar\",instance=\"i1\",job=\"conf\"} 1\n");
        let key = GroupingKey::new([("job", "conf2"), ("foo", "baz")]);
        let (f, _) = prepare_text("z2{job=\"other\",instance=\"i1\",foo=\"bar\"} 1\n", &key);
        assert_eq!(
            f.text(),
            b"z2{foo=\"baz\",instance=\"i1\",job=\"conf2\"} 1\n"
        );
        let key = GroupingKey::new([("job", "j")]);
        let (f, _) = prepare_text("m 1\n", &key);
        assert_eq!(f.text(), b"m{instance=\"\",job=\"j\"} 1\n");
    }

    #[test]
    fn sorts_metrics_and_keeps_offsets() {
        let key = GroupingKey::new([("job", "j")]);
        let (f, errors) = prepare_text("m{a=\"2\"} 2\nm{a=\"1\"} 1\nm{a=\"10\"} 3\n", &key);
        assert!(errors.is_empty());
        assert_eq!(f.len(), 3);
        assert_eq!(f.metric_text(0), b"m{a=\"1\",instance=\"\",job=\"j\"} 1\n");
        assert_eq!(f.metric_text(2), b"m{a=\"2\",instance=\"\",job=\"j\"} 2\n");
        let values: Vec<_> = encoded_label_values(f.metric_proto(1)).collect();
        assert_eq!(values, vec![b"10".as_slice(), b"", b"j"]);
        let decoded = f.decode();
        assert_eq!(decoded.metrics.len(), 3);
        assert_eq!(decoded.metrics[1].labels[0].value, "10");
    }

    #[test]
    fn a_renewed_gauge_equals_one_prepared_anew() {
        let key = GroupingKey::new([("job", "j"), ("path", "/a \"b\"")]);
        let (zero, _) = prepare_text("# HELP g x\n# TYPE g gauge\ng 0\n", &key);
        for value in [
            1.7953455891115928e9,
            0.0,
            -2.5,
            1e-7,
            123456.0,
            f64::INFINITY,
        ] {
            let text = format!(
                "# HELP g x\n# TYPE g gauge\ng {}\n",
                exposition::format_float(value)
            );
            let (fresh, _) = prepare_text(&text, &key);
            let renewed = zero
                .with_gauge_value(value, PushTime::from_nanos(0))
                .unwrap();
            assert_eq!(renewed.text(), fresh.text(), "{value}");
            assert_eq!(renewed.proto(), fresh.proto(), "{value}");
            assert_eq!(renewed.hashes(), zero.hashes());
            assert_eq!(renewed.metric_text(0), fresh.metric_text(0));
            assert_eq!(renewed.metric_proto(0), fresh.metric_proto(0));
        }
        let (two, _) = prepare_text("c{a=\"1\"} 1\nc{a=\"2\"} 2\n", &key);
        assert!(two.with_gauge_value(1.0, PushTime::from_nanos(0)).is_none());
    }

    #[test]
    fn reports_label_problems_in_go_words() {
        let key = GroupingKey::new([("job", "j")]);
        let (_, errors) = prepare_text("# TYPE s summary\ns_count{__x=\"1\"} 1\n", &key);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].ends_with("has a label with an invalid name: __x"),
            "{errors:?}"
        );
    }
}
