//! The workflow helper of Prefect's `PushGaugeToGateway` task, fixed: one
//! gauge family per distinct value of the group-by labels, each pushed into
//! its own group.

use std::collections::BTreeMap;

use exposition::{LabelPair, Metric, MetricFamily, MetricType, Value};

use crate::grouping::check_label_name;
use crate::{Error, GroupingKey, Payload};

/// A gauge and its samples, split into one push per grouping-key value.
///
/// Each sample is a value with labels. The labels named in
/// [`group_by`](Gauges::group_by) become grouping labels: samples are split
/// by their values of those labels, and each part is pushed as one gauge
/// family into its own group (Prefect's task took the grouping key from the
/// first sample only and pushed everything there). The remaining labels
/// stay on the samples.
///
/// ```
/// use pushgateway_client::{Gauges, GroupingKey};
/// let mut gauges = Gauges::new("table_rows", "Rows per table.").group_by(["instance"]);
/// gauges.sample(120.0, [("table", "users"), ("instance", "w1")]);
/// gauges.sample(7.0, [("table", "orders"), ("instance", "w2")]);
/// gauges.sample(3.0, [("table", "events"), ("instance", "w1")]);
///
/// let pushes = gauges.pushes(&GroupingKey::new("etl"))?;
/// let paths: Vec<String> = pushes.iter().map(|(key, _)| key.path()).collect::<Result<_, _>>()?;
/// assert_eq!(paths, ["/metrics/job/etl/instance/w1", "/metrics/job/etl/instance/w2"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gauges {
    name: String,
    help: String,
    group_by: Vec<String>,
    samples: Vec<(f64, BTreeMap<String, String>)>,
}

impl Gauges {
    /// A gauge named `name` with HELP text `help` (empty: no HELP).
    pub fn new(name: impl Into<String>, help: impl Into<String>) -> Gauges {
        Gauges {
            name: name.into(),
            help: help.into(),
            group_by: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// The label names whose values form the grouping key (in addition to
    /// the job and labels of the base key given when pushing).
    pub fn group_by<I, S>(mut self, labels: I) -> Gauges
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.group_by = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a sample.
    pub fn sample<I, K, V>(&mut self, value: f64, labels: I) -> &mut Gauges
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let labels = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.samples.push((value, labels));
        self
    }

    /// The number of samples added.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample was added.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The pushes these gauges make: for each distinct value of the
    /// group-by labels (in order of first appearance), the grouping key
    /// `base` plus those labels, and a payload with one gauge family of
    /// that group's samples.
    pub fn pushes(&self, base: &GroupingKey) -> Result<Vec<(GroupingKey, Payload)>, Error> {
        if !exposition::is_valid_legacy_metric_name(&self.name) {
            return Err(Error::InvalidMetricName {
                name: self.name.clone(),
            });
        }
        for name in &self.group_by {
            check_label_name(name)?;
        }
        // The same labels twice would be the same series twice in one
        // group, which the gateway refuses after the first pushes.
        let mut seen = std::collections::BTreeMap::new();
        for (index, (_, labels)) in self.samples.iter().enumerate() {
            if let Some(&first) = seen.get(labels) {
                return Err(Error::DuplicateSample {
                    first,
                    second: index,
                });
            }
            seen.insert(labels, index);
        }
        let mut groups: Vec<(Vec<&str>, Vec<Metric>)> = Vec::new();
        for (index, (value, labels)) in self.samples.iter().enumerate() {
            let key =
                self.group_by
                    .iter()
                    .map(|name| {
                        labels.get(name).map(String::as_str).ok_or_else(|| {
                            Error::MissingGroupLabel {
                                index,
                                label: name.clone(),
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            let mut metric_labels = Vec::new();
            for (name, value) in labels {
                check_label_name(name)?;
                if !self.group_by.contains(name) {
                    metric_labels.push(LabelPair {
                        name: name.clone(),
                        value: value.clone(),
                    });
                }
            }
            let metric = Metric {
                labels: metric_labels,
                value: Value::Gauge(*value),
                timestamp_ms: None,
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, metrics)) => metrics.push(metric),
                None => groups.push((key, vec![metric])),
            }
        }
        groups
            .into_iter()
            .map(|(values, metrics)| {
                let key = base.clone().labels(
                    self.group_by
                        .iter()
                        .cloned()
                        .zip(values.into_iter().map(str::to_owned)),
                );
                key.validate()?;
                let family = MetricFamily {
                    name: self.name.clone(),
                    help: (!self.help.is_empty()).then(|| self.help.clone()),
                    metric_type: MetricType::Gauge,
                    unit: None,
                    metrics,
                };
                Ok((key, Payload::from_families(&[family])))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(payload: &Payload) -> MetricFamily {
        let mut families = exposition::decode_protobuf_delimited(payload.body()).unwrap();
        assert_eq!(families.len(), 1);
        families.remove(0)
    }

    #[test]
    fn one_push_per_distinct_group_value() {
        let mut gauges = Gauges::new("rows", "Rows.").group_by(["db", "instance"]);
        gauges.sample(1.0, [("db", "a"), ("instance", "w1"), ("table", "t1")]);
        gauges.sample(2.0, [("db", "b"), ("instance", "w1"), ("table", "t1")]);
        gauges.sample(3.0, [("db", "a"), ("instance", "w1"), ("table", "t2")]);
        let pushes = gauges
            .pushes(&GroupingKey::new("etl").label("env", "prod"))
            .unwrap();
        assert_eq!(pushes.len(), 2);
        assert_eq!(
            pushes[0].0,
            GroupingKey::new("etl")
                .label("env", "prod")
                .label("db", "a")
                .label("instance", "w1")
        );
        assert_eq!(pushes[1].0.grouping_labels()["db"], "b");
        let first = decode(&pushes[0].1);
        assert_eq!(first.name, "rows");
        assert_eq!(first.help.as_deref(), Some("Rows."));
        assert_eq!(first.metric_type, MetricType::Gauge);
        let values: Vec<_> = first
            .metrics
            .iter()
            .map(|m| (m.labels.clone(), m.value.clone()))
            .collect();
        assert_eq!(
            values,
            vec![
                (
                    vec![LabelPair {
                        name: "table".into(),
                        value: "t1".into()
                    }],
                    Value::Gauge(1.0)
                ),
                (
                    vec![LabelPair {
                        name: "table".into(),
                        value: "t2".into()
                    }],
                    Value::Gauge(3.0)
                ),
            ]
        );
        assert_eq!(decode(&pushes[1].1).metrics.len(), 1);
    }

    #[test]
    fn no_group_by_is_one_push() {
        let mut gauges = Gauges::new("g", "");
        gauges.sample(1.0, [("a", "1")]).sample(2.0, [("a", "2")]);
        let pushes = gauges.pushes(&GroupingKey::new("j")).unwrap();
        assert_eq!(pushes.len(), 1);
        assert_eq!(pushes[0].0, GroupingKey::new("j"));
        let family = decode(&pushes[0].1);
        assert_eq!(family.help, None);
        assert_eq!(family.metrics.len(), 2);
    }

    #[test]
    fn a_sample_without_a_group_label_is_an_error() {
        let mut gauges = Gauges::new("g", "").group_by(["instance"]);
        gauges
            .sample(1.0, [("instance", "a")])
            .sample(2.0, [("x", "b")]);
        let err = gauges.pushes(&GroupingKey::new("j")).unwrap_err();
        assert!(
            matches!(err, Error::MissingGroupLabel { index: 1, ref label } if label == "instance")
        );
        // Messages count samples from 1, as people do.
        assert!(
            err.to_string().starts_with("gauge sample 2 has no label"),
            "{err}"
        );
    }

    #[test]
    fn the_same_labels_twice_are_refused_before_anything_is_pushed() {
        let mut gauges = Gauges::new("g", "");
        gauges
            .sample(1.0, [("x", "a")])
            .sample(2.0, [("x", "b")])
            .sample(3.0, [("x", "a")]);
        let err = gauges.pushes(&GroupingKey::new("j")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::DuplicateSample {
                    first: 0,
                    second: 2
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "gauge samples 1 and 3 have the same labels; a group holds each series once"
        );
    }

    #[test]
    fn bad_names_are_errors() {
        let mut gauges = Gauges::new("bad-name", "");
        gauges.sample(1.0, [("a", "1")]);
        assert!(matches!(
            gauges.pushes(&GroupingKey::new("j")),
            Err(Error::InvalidMetricName { .. })
        ));
        let mut gauges = Gauges::new("g", "");
        gauges.sample(1.0, [("bad-label", "1")]);
        assert!(matches!(
            gauges.pushes(&GroupingKey::new("j")),
            Err(Error::InvalidLabelName { .. })
        ));
        let mut gauges = Gauges::new("g", "").group_by(["job"]);
        gauges.sample(1.0, [("job", "x")]);
        assert!(matches!(
            gauges.pushes(&GroupingKey::new("j")),
            Err(Error::InvalidLabelName { ref name, .. }) if name == "job"
        ));
    }
}
