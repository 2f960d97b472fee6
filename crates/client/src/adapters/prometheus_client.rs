//! Pushing a `prometheus-client` registry as client_model protobuf.
//!
//! Its text encoder writes OpenMetrics, where a counter is a family `x`
//! with samples `x_total`; the gateway's text parser would store those as
//! an untyped family `x_total`. The crate's Prometheus protobuf encoder
//! instead gives client_model families with the `_total` (and `_info`)
//! suffix in the name and the right type, and has no `_created` samples
//! or `# EOF` marker to deal with, so that is what is pushed.

use crate::{Error, Payload};

impl Payload {
    /// Everything in `registry`, as delimited protobuf: counters arrive as
    /// COUNTER families named `<name>_total`, info metrics as gauges named
    /// `<name>_info`. Families without metrics are left out.
    ///
    /// ```
    /// # let gateway = pushgateway_client::__doctest::FakeGateway::start();
    /// # let url = gateway.url();
    /// use prometheus_client::metrics::counter::Counter;
    /// use prometheus_client::registry::Registry;
    /// use pushgateway_client::{BlockingClient, GroupingKey, Payload};
    ///
    /// let mut registry = Registry::default();
    /// let processed: Counter = Counter::default();
    /// registry.register("records_processed", "Records processed", processed.clone());
    /// processed.inc_by(1234);
    ///
    /// let client = BlockingClient::new(url)?;
    /// client.push(&GroupingKey::new("import"), &Payload::from_prometheus_client(&registry)?)?;
    /// # let families = exposition::decode_protobuf_delimited(&gateway.requests()[0].body)?;
    /// # assert_eq!(families[0].name, "records_processed_total");
    /// # assert_eq!(families[0].metric_type, exposition::MetricType::Counter);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_prometheus_client(
        registry: &prometheus_client::registry::Registry,
    ) -> Result<Payload, Error> {
        let bytes = prometheus_client::encoding::prometheus_protobuf::encode_to_vec(registry)
            .map_err(|e| Error::Encode(e.to_string()))?;
        // Decoding through the exposition model drops empty families and
        // checks what the encoder produced before the gateway sees it.
        let families = exposition::decode_protobuf_delimited(&bytes)
            .map_err(|e| Error::Encode(e.to_string()))?;
        Ok(Payload::from_families(&families))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::MetricType;
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::metrics::info::Info;
    use prometheus_client::registry::Registry;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Method {
        method: String,
    }

    #[test]
    fn counters_are_counter_families_named_total() {
        let mut registry = Registry::default();
        let requests = Family::<Method, Counter>::default();
        let unused = Family::<Method, Gauge>::default();
        let temperature: Gauge = Gauge::default();
        let latency = Histogram::new([0.1, 1.0]);
        registry.register("requests", "Requests", requests.clone());
        registry.register("unused", "Unused", unused);
        registry.register("temperature", "Temperature", temperature.clone());
        registry.register("latency_seconds", "Latency", latency.clone());
        registry.register("build", "Build", Info::new(vec![("version", "1.2")]));
        requests
            .get_or_create(&Method {
                method: "GET".into(),
            })
            .inc_by(3);
        temperature.set(-2);
        latency.observe(0.5);

        let payload = Payload::from_prometheus_client(&registry).unwrap();
        let families = exposition::decode_protobuf_delimited(payload.body()).unwrap();
        let kinds: Vec<(&str, MetricType)> = families
            .iter()
            .map(|f| (f.name.as_str(), f.metric_type))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("requests_total", MetricType::Counter),
                ("temperature", MetricType::Gauge),
                ("latency_seconds", MetricType::Histogram),
                ("build_info", MetricType::Gauge),
            ]
        );
        let mut text = Vec::new();
        exposition::encode_text(&mut text, &families[..1]).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{method=\"GET\"} 3\n"
        );
    }
}
