//! The orderings client_golang imposes before exposition: label pairs by
//! name, metrics by label count and then label values position by position
//! (`internal.MetricSorter`), families by name.

use std::cmp::Ordering;

use crate::model::{LabelPair, Metric, MetricFamily};

/// Sorts label pairs by name (stable, as Go's sort of distinct names is).
pub fn sort_labels<S: AsRef<str>>(labels: &mut [LabelPair<S>]) {
    labels.sort_by(|a, b| compare_str(a.name.as_ref(), b.name.as_ref()));
}

/// Go's metric order: fewer labels first, then label values compared
/// position by position (labels are expected sorted by name), then metrics
/// with a timestamp before those without, earlier timestamps first.
pub fn compare_metrics<S: AsRef<str>, T: AsRef<str>>(a: &Metric<S>, b: &Metric<T>) -> Ordering {
    compare_label_values(&a.labels, &b.labels).then_with(|| {
        match (a.timestamp_ms, b.timestamp_ms) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    })
}

/// The label part of [`compare_metrics`]: label count, then values.
pub fn compare_label_values<S: AsRef<str>, T: AsRef<str>>(
    a: &[LabelPair<S>],
    b: &[LabelPair<T>],
) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        a.iter()
            .zip(b)
            .map(|(x, y)| compare_str(x.value.as_ref(), y.value.as_ref()))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

/// String order, quick for the cases sorting labels and metrics meets most:
/// the very same string (grouping labels are shared by every metric of a
/// push) and strings that differ in their first byte.
#[inline]
pub fn compare_str(a: &str, b: &str) -> Ordering {
    if std::ptr::eq(a, b) {
        return Ordering::Equal;
    }
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Sorts the metrics of a family in Go's order.
pub fn sort_metrics<S: AsRef<str>>(metrics: &mut [Metric<S>]) {
    metrics.sort_by(compare_metrics);
}

/// Sorts label pairs in every metric, metrics within each family, drops
/// empty families and sorts families by name: what Go's
/// `NormalizeMetricFamilies` plus label sorting yields.
pub fn normalize<S: AsRef<str>>(families: &mut Vec<MetricFamily<S>>) {
    families.retain(|f| !f.metrics.is_empty());
    for family in families.iter_mut() {
        for metric in &mut family.metrics {
            sort_labels(&mut metric.labels);
        }
        sort_metrics(&mut family.metrics);
    }
    families.sort_by(|a, b| a.name.as_ref().cmp(b.name.as_ref()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn metric(labels: &[(&str, &str)], ts: Option<i64>) -> Metric<&'static str> {
        Metric {
            labels: labels
                .iter()
                .map(|&(n, v)| LabelPair {
                    name: Box::leak(n.to_string().into_boxed_str()) as &str,
                    value: Box::leak(v.to_string().into_boxed_str()) as &str,
                })
                .collect(),
            value: Value::Gauge(1.0),
            timestamp_ms: ts,
        }
    }

    #[test]
    fn orders_like_go() {
        let mut ms = vec![
            metric(&[("a", "2"), ("b", "1")], None),
            metric(&[("a", "1")], None),
            metric(&[("a", "1"), ("b", "2")], None),
            metric(&[("a", "1"), ("b", "2")], Some(5)),
            metric(&[("a", "1"), ("b", "1")], None),
        ];
        sort_metrics(&mut ms);
        let got: Vec<_> = ms
            .iter()
            .map(|m| {
                (
                    m.labels
                        .iter()
                        .map(|l| l.value)
                        .collect::<Vec<_>>()
                        .join(","),
                    m.timestamp_ms,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("1".into(), None),
                ("1,1".into(), None),
                ("1,2".into(), Some(5)),
                ("1,2".into(), None),
                ("2,1".into(), None)
            ]
        );
    }
}
