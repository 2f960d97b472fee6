//! Property tests: what the encoders write, the parsers read back unchanged.

use exposition::{
    decode_protobuf_delimited, encode_protobuf_delimited, encode_text, parse_text, Bucket,
    BucketSpan, Counter, Exemplar, Histogram, LabelPair, Metric, MetricFamily, MetricType,
    Quantile, Summary, Timestamp, Value,
};
use proptest::collection::{btree_set, vec};
use proptest::option;
use proptest::prelude::*;

use crate::util::{same_families, without_negative_zero};

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
        2 => -1e6..1e6f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
        1 => Just(1.0),
    ]
}

/// Metric names that cannot be mistaken for another family's suffix.
fn family_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}".prop_filter("no magic suffix", |n| {
        !(n.ends_with("_count") || n.ends_with("_sum") || n.ends_with("_bucket"))
    })
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("not reserved", |n| {
        n != "__name__" && n != "quantile" && n != "le"
    })
}

/// Any text, including quotes, backslashes, newlines and non-ASCII.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{0,6}", ".{0,12}", Just("\\\"\n{}=,# ".to_string()),]
}

fn help() -> impl Strategy<Value = Option<String>> {
    // HELP text cannot start with a blank (the parser skips it) or be empty
    // (an empty HELP line is indistinguishable from none).
    option::of(".{1,20}".prop_filter("no leading blank", |h| !h.starts_with([' ', '\t'])))
}

fn label_sets() -> impl Strategy<Value = Vec<Vec<LabelPair>>> {
    // Distinct label sets (summaries and histograms merge equal ones).
    btree_set(vec((label_name(), label_value()), 0..4), 1..5).prop_map(|sets| {
        sets.into_iter()
            .map(|pairs| {
                let mut seen = std::collections::BTreeMap::new();
                for (n, v) in pairs {
                    seen.entry(n).or_insert(v);
                }
                seen.into_iter()
                    .map(|(name, value)| LabelPair { name, value })
                    .collect()
            })
            .collect::<std::collections::BTreeSet<Vec<LabelPair>>>()
            .into_iter()
            .collect()
    })
}

fn text_value(t: MetricType) -> BoxedStrategy<Value> {
    match t {
        MetricType::Counter => float()
            .prop_map(|v| {
                Value::Counter(Counter {
                    value: v,
                    ..Counter::default()
                })
            })
            .boxed(),
        MetricType::Gauge => float().prop_map(Value::Gauge).boxed(),
        MetricType::Untyped => float().prop_map(Value::Untyped).boxed(),
        // A NaN quantile rank is dropped by the parser (Go does the same).
        MetricType::Summary => (
            0..1u64 << 53,
            float(),
            vec(
                (float().prop_filter("rank", |q| !q.is_nan()), float()),
                0..4,
            ),
        )
            .prop_map(|(count, sum, qs)| {
                Value::Summary(Summary {
                    sample_count: count,
                    sample_sum: sum,
                    quantiles: qs
                        .into_iter()
                        .map(|(quantile, value)| Quantile { quantile, value })
                        .collect(),
                    created: None,
                })
            })
            .boxed(),
        _ => (
            btree_set(-1_000_000i64..1_000_000, 0..5),
            vec(0..1u64 << 40, 5),
            0..1u64 << 40,
            float(),
        )
            .prop_map(|(bounds, counts, extra, sum)| {
                let mut buckets: Vec<Bucket> = bounds
                    .into_iter()
                    .zip(counts)
                    .map(|(b, c)| Bucket {
                        cumulative_count: Some(c),
                        upper_bound: b as f64 / 8.0,
                        ..Bucket::default()
                    })
                    .collect();
                let total = buckets
                    .iter()
                    .map(|b| b.cumulative_count.unwrap_or(0))
                    .max()
                    .unwrap_or(0)
                    + extra;
                buckets.push(Bucket {
                    cumulative_count: Some(total),
                    upper_bound: f64::INFINITY,
                    ..Bucket::default()
                });
                Value::Histogram(Box::new(Histogram {
                    sample_count: Some(total),
                    sample_sum: Some(sum),
                    buckets,
                    ..Histogram::default()
                }))
            })
            .boxed(),
    }
}

fn text_family() -> impl Strategy<Value = MetricFamily> {
    let kind = prop_oneof![
        Just(MetricType::Counter),
        Just(MetricType::Gauge),
        Just(MetricType::Untyped),
        Just(MetricType::Summary),
        Just(MetricType::Histogram),
    ];
    (
        family_name(),
        help(),
        kind,
        label_sets(),
        option::of(any::<i64>()),
    )
        .prop_flat_map(|(name, help, kind, sets, ts)| {
            let n = sets.len();
            (vec(text_value(kind), n), Just((name, help, kind, sets, ts))).prop_map(
                |(values, (name, help, kind, sets, ts))| MetricFamily {
                    name,
                    help,
                    metric_type: kind,
                    unit: None,
                    metrics: sets
                        .into_iter()
                        .zip(values)
                        .map(|(labels, value)| Metric {
                            labels,
                            value,
                            timestamp_ms: ts,
                        })
                        .collect(),
                },
            )
        })
}

fn unique_by_name(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut seen = std::collections::HashSet::new();
    families
        .into_iter()
        .filter(|f| seen.insert(f.name.clone()))
        .collect()
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (any::<i64>(), 0..1_000_000_000i32).prop_map(|(seconds, nanos)| Timestamp { seconds, nanos })
}

fn exemplar() -> impl Strategy<Value = Exemplar> {
    (
        vec((label_name(), label_value()), 0..3),
        float(),
        option::of(timestamp()),
    )
        .prop_map(|(labels, value, ts)| Exemplar {
            labels: labels
                .into_iter()
                .map(|(name, value)| LabelPair { name, value })
                .collect(),
            value,
            timestamp: ts,
        })
}

/// Every value shape the protobuf schema allows, native histograms included.
fn proto_value() -> impl Strategy<Value = Value> {
    let spans = || {
        vec(
            (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| BucketSpan { offset, length }),
            0..3,
        )
    };
    prop_oneof![
        (float(), option::of(exemplar()), option::of(timestamp())).prop_map(
            |(value, e, created)| Value::Counter(Counter {
                value,
                exemplar: e.map(Box::new),
                created
            })
        ),
        float().prop_map(Value::Gauge),
        float().prop_map(Value::Untyped),
        (
            any::<u64>(),
            float(),
            vec((float(), float()), 0..3),
            option::of(timestamp())
        )
            .prop_map(
                |(sample_count, sample_sum, qs, created)| Value::Summary(Summary {
                    sample_count,
                    sample_sum,
                    quantiles: qs
                        .into_iter()
                        .map(|(quantile, value)| Quantile { quantile, value })
                        .collect(),
                    created,
                })
            ),
        (
            (
                option::of(any::<u64>()),
                option::of(float()),
                option::of(float())
            ),
            vec(
                (
                    option::of(any::<u64>()),
                    option::of(float()),
                    float(),
                    option::of(exemplar())
                ),
                0..3
            ),
            (
                option::of(any::<i32>()),
                option::of(float()),
                option::of(any::<u64>()),
                option::of(float())
            ),
            (spans(), vec(any::<i64>(), 0..3), vec(float(), 0..3)),
            (spans(), vec(any::<i64>(), 0..3), vec(float(), 0..3)),
            (option::of(timestamp()), vec(exemplar(), 0..2)),
        )
            .prop_map(|(counts, buckets, zero, neg, pos, (created, exemplars))| {
                Value::Histogram(Box::new(Histogram {
                    sample_count: counts.0,
                    sample_count_float: counts.1,
                    sample_sum: counts.2,
                    buckets: buckets
                        .into_iter()
                        .map(|(c, cf, ub, e)| Bucket {
                            cumulative_count: c,
                            cumulative_count_float: cf,
                            upper_bound: ub,
                            exemplar: e.map(Box::new),
                        })
                        .collect(),
                    created,
                    schema: zero.0,
                    zero_threshold: zero.1,
                    zero_count: zero.2,
                    zero_count_float: zero.3,
                    negative_spans: neg.0,
                    negative_deltas: neg.1,
                    negative_counts: neg.2,
                    positive_spans: pos.0,
                    positive_deltas: pos.1,
                    positive_counts: pos.2,
                    exemplars,
                }))
            }),
        Just(Value::Missing),
    ]
}

fn proto_family() -> impl Strategy<Value = MetricFamily> {
    let kind = (0..6i32).prop_map(|n| MetricType::from_i32(n).unwrap_or_default());
    (
        ".{0,10}",
        option::of(".{0,10}"),
        kind,
        option::of(".{0,5}"),
        vec(
            (
                vec((".{0,5}", ".{0,5}"), 0..3),
                proto_value(),
                option::of(any::<i64>()),
            ),
            0..4,
        ),
    )
        .prop_map(|(name, help, metric_type, unit, metrics)| MetricFamily {
            name,
            help,
            metric_type,
            unit,
            metrics: metrics
                .into_iter()
                .map(|(labels, value, ts)| {
                    // A metric's value is kept for its family type, so only
                    // generate values that match it (or none).
                    let value = if value.matches(metric_type) || matches!(value, Value::Missing) {
                        value
                    } else {
                        Value::Missing
                    };
                    Metric {
                        labels: labels
                            .into_iter()
                            .map(|(name, value)| LabelPair { name, value })
                            .collect(),
                        value,
                        timestamp_ms: ts,
                    }
                })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_roundtrip(families in vec(text_family(), 1..5)) {
        let families = unique_by_name(families);
        let mut text = Vec::new();
        encode_text(&mut text, &families).unwrap();
        let parsed: Vec<MetricFamily> = parse_text(&text)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&text)))
            .into_iter()
            .map(|f| f.into_owned())
            .collect();
        prop_assert!(same_families(&parsed, &without_negative_zero(&families)), "text:\n{}\nparsed: {parsed:#?}", String::from_utf8_lossy(&text));
    }

    #[test]
    fn protobuf_roundtrip(families in vec(proto_family(), 0..4)) {
        let families = unique_by_name(families);
        let mut wire = Vec::new();
        encode_protobuf_delimited(&mut wire, &families);
        let decoded = decode_protobuf_delimited(&wire).unwrap();
        prop_assert!(same_families(&decoded, &families));
    }

    #[test]
    fn text_parser_never_panics(input in vec(any::<u8>(), 0..200)) {
        let _ = parse_text(&input);
    }

    #[test]
    fn protobuf_decoder_never_panics(input in vec(any::<u8>(), 0..200)) {
        let _ = decode_protobuf_delimited(&input);
    }
}
