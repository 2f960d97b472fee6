//! Pushing a `prometheus` crate registry: its gathered client_model
//! families converted into the [`exposition`] model and sent as protobuf.

use exposition::{
    Bucket, Counter, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary,
    Value,
};
use prometheus::proto;

use crate::Payload;

impl Payload {
    /// Everything `registry` gathers, as delimited protobuf.
    ///
    /// This mirrors Python's "batch job with a custom registry" example:
    ///
    /// ```
    /// # let gateway = pushgateway_client::__doctest::FakeGateway::start();
    /// # let url = gateway.url();
    /// use prometheus::{Gauge, Registry};
    /// use pushgateway_client::{BlockingClient, GroupingKey, Payload};
    ///
    /// let registry = Registry::new();
    /// let last_success = Gauge::new(
    ///     "job_last_success_unixtime",
    ///     "Last time a batch job successfully finished",
    /// )?;
    /// registry.register(Box::new(last_success.clone()))?;
    ///
    /// // ... the batch job runs ...
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    /// last_success.set(now.as_secs_f64());
    ///
    /// let client = BlockingClient::new(url)?;
    /// client.push(&GroupingKey::new("batchA"), &Payload::from_prometheus(&registry))?;
    /// # let request = &gateway.requests()[0];
    /// # let families = exposition::decode_protobuf_delimited(&request.body)?;
    /// # assert_eq!(families[0].name, "job_last_success_unixtime");
    /// # assert_eq!(families[0].metric_type, exposition::MetricType::Gauge);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_prometheus(registry: &prometheus::Registry) -> Payload {
        Payload::from_prometheus_families(&registry.gather())
    }

    /// Families gathered from the `prometheus` crate, as delimited protobuf;
    /// `Payload::from_prometheus_families(&prometheus::gather())` pushes
    /// the default registry.
    pub fn from_prometheus_families(families: &[proto::MetricFamily]) -> Payload {
        let converted: Vec<MetricFamily> = families.iter().map(convert_family).collect();
        Payload::from_families(&converted)
    }
}

fn convert_family(family: &proto::MetricFamily) -> MetricFamily {
    let metric_type = family
        .type_
        .and_then(|t| MetricType::from_i32(t.value()))
        .unwrap_or(MetricType::Counter);
    MetricFamily {
        name: family.name.clone().unwrap_or_default(),
        help: family.help.clone(),
        metric_type,
        unit: None,
        metrics: family
            .metric
            .iter()
            .map(|m| convert_metric(m, metric_type))
            .collect(),
    }
}

fn convert_metric(metric: &proto::Metric, metric_type: MetricType) -> Metric {
    let value = match metric_type {
        MetricType::Counter => metric.counter.as_ref().map(|c| {
            Value::Counter(Counter {
                value: c.value.unwrap_or(0.0),
                exemplar: None,
                created: None,
            })
        }),
        MetricType::Gauge => metric
            .gauge
            .as_ref()
            .map(|g| Value::Gauge(g.value.unwrap_or(0.0))),
        MetricType::Untyped => metric
            .untyped
            .as_ref()
            .map(|u| Value::Untyped(u.value.unwrap_or(0.0))),
        MetricType::Summary => metric.summary.as_ref().map(|s| {
            Value::Summary(Summary {
                sample_count: s.sample_count.unwrap_or(0),
                sample_sum: s.sample_sum.unwrap_or(0.0),
                quantiles: s
                    .quantile
                    .iter()
                    .map(|q| Quantile {
                        quantile: q.quantile.unwrap_or(0.0),
                        value: q.value.unwrap_or(0.0),
                    })
                    .collect(),
                created: None,
            })
        }),
        MetricType::Histogram | MetricType::GaugeHistogram => metric.histogram.as_ref().map(|h| {
            Value::Histogram(Box::new(Histogram {
                sample_count: Some(h.sample_count.unwrap_or(0)),
                sample_sum: Some(h.sample_sum.unwrap_or(0.0)),
                buckets: h
                    .bucket
                    .iter()
                    .map(|b| Bucket {
                        cumulative_count: Some(b.cumulative_count.unwrap_or(0)),
                        upper_bound: b.upper_bound.unwrap_or(f64::INFINITY),
                        ..Bucket::default()
                    })
                    .collect(),
                ..Histogram::default()
            }))
        }),
    };
    Metric {
        labels: metric
            .label
            .iter()
            .map(|l| LabelPair {
                name: l.name.clone().unwrap_or_default(),
                value: l.value.clone().unwrap_or_default(),
            })
            .collect(),
        value: value.unwrap_or(Value::Missing),
        timestamp_ms: metric.timestamp_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_kind_survives_the_conversion() {
        let registry = prometheus::Registry::new();
        let counter = prometheus::IntCounterVec::new(
            prometheus::Opts::new("requests_total", "Requests."),
            &["code"],
        )
        .unwrap();
        let gauge = prometheus::Gauge::new("temperature", "Temperature.").unwrap();
        let histogram = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("latency_seconds", "Latency.").buckets(vec![0.1, 1.0]),
        )
        .unwrap();
        let empty =
            prometheus::GaugeVec::new(prometheus::Opts::new("unused", "Unused."), &["a"]).unwrap();
        registry.register(Box::new(counter.clone())).unwrap();
        registry.register(Box::new(gauge.clone())).unwrap();
        registry.register(Box::new(histogram.clone())).unwrap();
        registry.register(Box::new(empty)).unwrap();
        counter.with_label_values(&["200"]).inc_by(3);
        gauge.set(-1.5);
        histogram.observe(0.5);

        let payload = Payload::from_prometheus(&registry);
        let families = exposition::decode_protobuf_delimited(payload.body()).unwrap();
        let mut text = Vec::new();
        exposition::encode_text(&mut text, &families).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "# HELP latency_seconds Latency.\n\
             # TYPE latency_seconds histogram\n\
             latency_seconds_bucket{le=\"0.1\"} 0\n\
             latency_seconds_bucket{le=\"1\"} 1\n\
             latency_seconds_bucket{le=\"+Inf\"} 1\n\
             latency_seconds_sum 0.5\n\
             latency_seconds_count 1\n\
             # HELP requests_total Requests.\n\
             # TYPE requests_total counter\n\
             requests_total{code=\"200\"} 3\n\
             # HELP temperature Temperature.\n\
             # TYPE temperature gauge\n\
             temperature -1.5\n"
        );
    }
}
