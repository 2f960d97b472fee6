//! Registries of the `prometheus` and `prometheus-client` crates arrive
//! with their families' types.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use pushgateway_client::{Client, GroupingKey, Payload};

use crate::util::{family_type, samples, Gateway};

both!(a_prometheus_registry, |kind| {
    let gw = Gateway::start(kind);
    let registry = prometheus::Registry::new();
    let counter = prometheus::IntCounter::new("records_total", "Records.").unwrap();
    let gauge = prometheus::Gauge::new("queue_depth", "Depth.").unwrap();
    let histogram = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
        "batch_seconds",
        "Duration.",
    ))
    .unwrap();
    registry.register(Box::new(counter.clone())).unwrap();
    registry.register(Box::new(gauge.clone())).unwrap();
    registry.register(Box::new(histogram.clone())).unwrap();
    counter.inc_by(5);
    gauge.set(2.0);
    histogram.observe(0.3);
    let client = Client::new(gw.url()).unwrap();
    client
        .push(
            &GroupingKey::new("rust"),
            &Payload::from_prometheus(&registry),
        )
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "rust")]);
    assert_eq!(family_type(&group, "records_total"), "COUNTER");
    assert_eq!(samples(&group, "records_total")[0].1, "5");
    assert_eq!(family_type(&group, "queue_depth"), "GAUGE");
    assert_eq!(family_type(&group, "batch_seconds"), "HISTOGRAM");
});

both!(a_prometheus_client_registry_with_total_counters, |kind| {
    let gw = Gateway::start(kind);
    let mut registry = prometheus_client::registry::Registry::default();
    let processed: Counter = Counter::default();
    let latency = Histogram::new([0.5, 1.0]);
    registry.register("records_processed", "Records processed", processed.clone());
    registry.register("latency_seconds", "Latency", latency.clone());
    registry.register("build", "Build", Info::new(vec![("version", "1.2.3")]));
    processed.inc_by(41);
    processed.inc();
    latency.observe(0.7);
    let client = Client::new(gw.url()).unwrap();
    client
        .push(
            &GroupingKey::new("rust"),
            &Payload::from_prometheus_client(&registry).unwrap(),
        )
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "rust")]);
    assert_eq!(family_type(&group, "records_processed_total"), "COUNTER");
    assert_eq!(samples(&group, "records_processed_total")[0].1, "42");
    assert!(group.get("records_processed").is_none(), "{group:#}");
    assert_eq!(family_type(&group, "latency_seconds"), "HISTOGRAM");
    assert_eq!(family_type(&group, "build_info"), "GAUGE");
    assert_eq!(samples(&group, "build_info")[0].0["version"], "1.2.3");
    let scrape = gw.scrape();
    assert!(
        scrape.contains("# TYPE records_processed_total counter\n"),
        "{scrape}"
    );
    assert!(!scrape.contains("_created"), "{scrape}");
});
