//! Push, scrape and API behaviour that the conformance cases cannot show:
//! where we differ from Go on purpose, what only the current Go gateway
//! (1.11) does, and what Debian's 1.5.1 lacks (snappy, UTF-8 names).

use std::io::Write;

use crate::util::{app, pushed_lines, send};

const PROTOBUF: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn protobuf_body(families: &[exposition::MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    exposition::encode_protobuf_delimited(&mut out, families);
    out
}

fn gauge_family(name: &str, value: f64) -> exposition::MetricFamily {
    exposition::MetricFamily {
        name: name.into(),
        help: None,
        metric_type: exposition::MetricType::Gauge,
        unit: None,
        metrics: vec![exposition::Metric {
            labels: vec![],
            value: exposition::Value::Gauge(value),
            timestamp_ms: None,
        }],
    }
}

/// Go bug 2: a push refused because its push-time gauges would duplicate
/// another group's creates that group anyway, and every later push and
/// scrape fails. Ours refuses the push and stays consistent.
#[tokio::test]
async fn a_refused_push_never_poisons_the_store() {
    let (_, app) = app(&[]);
    assert_eq!(
        send(&app, "PUT", "/metrics/job/a", "m 1\n", &[])
            .await
            .status,
        200
    );
    let r = send(&app, "PUT", "/metrics/job/a/instance/", "n 1\n", &[]).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("was collected before with the same name and label values"),
        "{}",
        r.body
    );
    assert_eq!(send(&app, "GET", "/metrics", "", &[]).await.status, 200);
    assert_eq!(
        send(&app, "PUT", "/metrics/job/b", "m 2\n", &[])
            .await
            .status,
        200
    );
    let api: serde_json::Value =
        serde_json::from_str(&send(&app, "GET", "/api/v1/metrics", "", &[]).await.body).unwrap();
    let groups: Vec<&serde_json::Value> = api["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["labels"])
        .collect();
    assert_eq!(
        groups,
        vec![
            &serde_json::json!({"job": "a"}),
            &serde_json::json!({"job": "b"})
        ]
    );
}

#[tokio::test]
async fn base64_values_that_are_not_utf8_are_refused_cleanly() {
    let (_, app) = app(&[]);
    let r = send(&app, "PUT", "/metrics/job/j/l@base64/_-8", "m 1\n", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("not valid UTF-8"), "{}", r.body);
    assert_eq!(
        send(&app, "PUT", "/metrics/job/j", "m 1\n", &[])
            .await
            .status,
        200
    );
    assert_eq!(send(&app, "GET", "/metrics", "", &[]).await.status, 200);
}

#[tokio::test]
async fn conflicting_help_has_a_deterministic_winner() {
    let (_, app) = app(&[]);
    send(&app, "PUT", "/metrics/job/b", "# HELP m from b\nm 1\n", &[]).await;
    send(&app, "PUT", "/metrics/job/c", "# HELP m from c\nm 1\n", &[]).await;
    send(&app, "PUT", "/metrics/job/a", "# HELP m from a\nm 1\n", &[]).await;
    let text = send(&app, "GET", "/metrics", "", &[]).await.body;
    assert!(text.contains("# HELP m from a\n"), "{text}");
}

#[tokio::test]
async fn the_gateway_owns_the_push_time_gauges() {
    let (_, app) = app(&[]);
    let r = send(
        &app,
        "PUT",
        "/metrics/job/a",
        "push_time_seconds 5\npush_failure_time_seconds 7\nm 1\n",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let lines = pushed_lines(&send(&app, "GET", "/metrics", "", &[]).await.body);
    assert_eq!(
        lines,
        vec![
            "m{instance=\"\",job=\"a\"} 1",
            "push_failure_time_seconds{instance=\"\",job=\"a\"} zero",
            "push_time_seconds{instance=\"\",job=\"a\"} set",
        ]
    );
}

#[tokio::test]
async fn invalid_or_empty_names_in_protobuf_pushes_are_refused() {
    let (_, app) = app(&[]);
    for name in ["foo-bar", "", "1abc"] {
        let body = protobuf_body(&[gauge_family(name, 1.0)]);
        let r = send(
            &app,
            "PUT",
            "/metrics/job/pb",
            body,
            &[("content-type", PROTOBUF)],
        )
        .await;
        assert_eq!(r.status, 400, "{name:?}");
        assert!(r.body.contains("invalid metric name"), "{}", r.body);
    }
    let body = protobuf_body(&[gauge_family("fine_name", 1.0)]);
    assert_eq!(
        send(
            &app,
            "PUT",
            "/metrics/job/pb",
            body,
            &[("content-type", PROTOBUF)]
        )
        .await
        .status,
        200
    );
}

/// An empty protobuf family still claims its name's type. Go's answer to
/// this sequence depends on its map order: sometimes 400 as here, sometimes
/// 200, after which every scrape fails with 500. Ours always refuses.
#[tokio::test]
async fn an_empty_protobuf_family_claims_its_type() {
    let (_, app) = app(&[]);
    let mut empty = gauge_family("ef", 0.0);
    empty.metrics.clear();
    let r = send(
        &app,
        "PUT",
        "/metrics/job/a",
        protobuf_body(&[empty]),
        &[("content-type", PROTOBUF)],
    )
    .await;
    assert_eq!(r.status, 200);
    let mut counter = gauge_family("ef", 1.0);
    counter.metric_type = exposition::MetricType::Counter;
    counter.metrics[0].value = exposition::Value::Counter(exposition::Counter {
        value: 1.0,
        ..Default::default()
    });
    let r = send(
        &app,
        "PUT",
        "/metrics/job/b",
        protobuf_body(&[counter]),
        &[("content-type", PROTOBUF)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("collected metric \"ef\"") && r.body.contains("is not a GAUGE"),
        "{}",
        r.body
    );
    let scrape = send(&app, "GET", "/metrics", "", &[]).await;
    assert_eq!(scrape.status, 200);
    assert!(
        !scrape.body.contains("\nef"),
        "an empty family is not exposed"
    );
}

/// The text parser follows the current Go parser (1.11), not 1.5.1's.
#[tokio::test]
async fn text_pushes_follow_the_current_go_parser() {
    let (_, app) = app(&[]);
    let r = send(
        &app,
        "PUT",
        "/metrics/job/j",
        "# TYPE gh gauge_histogram\ngh_bucket{le=\"1\"} 1\ngh_bucket{le=\"+Inf\"} 2\ngh_sum 3\ngh_count 2\n\
         # TYPE fh histogram\nfh_bucket{le=\"1\"} 1.5\nfh_count 2.5\nfh_sum 1\n# HELP q with \\\"quotes\\\"\nq 1\n",
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = send(&app, "GET", "/metrics", "", &[]).await.body;
    assert!(
        text.contains("# TYPE gh histogram\ngh_bucket{instance=\"\",job=\"j\",le=\"1\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("fh_bucket{instance=\"\",job=\"j\",le=\"1\"} 1.5\n"),
        "{text}"
    );
    assert!(
        text.contains("fh_bucket{instance=\"\",job=\"j\",le=\"+Inf\"} 2.5\n"),
        "{text}"
    );
    assert!(text.contains("# HELP q with \"quotes\"\n"), "{text}");
    let r = send(
        &app,
        "PUT",
        "/metrics/job/k",
        "# TYPE h histogram\nh_count -1.5\n",
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        "text format parsing error in line 2: negative count for histogram \"h\"\n"
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn encodings_beyond_debian_1_5_1() {
    let (_, app) = app(&[]);
    let mut framed = snap::write::FrameEncoder::new(Vec::new());
    framed.write_all(b"snappy_pushed 7\n").unwrap();
    let framed = framed.into_inner().unwrap();
    assert_eq!(
        send(
            &app,
            "PUT",
            "/metrics/job/s",
            framed,
            &[("content-encoding", "snappy")]
        )
        .await
        .status,
        200
    );
    assert_eq!(
        send(
            &app,
            "PUT",
            "/metrics/job/g",
            gzip(b"gzip_upper 3\n"),
            &[("content-encoding", "GZIP")]
        )
        .await
        .status,
        200
    );
    let text = send(&app, "GET", "/metrics", "", &[]).await.body;
    assert!(text.contains("snappy_pushed{instance=\"\",job=\"s\"} 7"));
    assert!(text.contains("gzip_upper{instance=\"\",job=\"g\"} 3"));
    // A body whose gzip trailer is cut off is refused, not half-trusted.
    let whole = gzip(b"a 1\nb 2\n");
    let r = send(
        &app,
        "PUT",
        "/metrics/job/t",
        whole[..whole.len() - 6].to_vec(),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (400, "unexpected EOF\n")
    );
    let r = send(
        &app,
        "PUT",
        "/metrics/job/t",
        b"\x1f\x8b\x08\x00garbage-follows".to_vec(),
        &[("content-encoding", "gzip")],
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn unchecked_pushes_answer_202_and_an_inconsistent_store_fails_scrapes() {
    let (_, app) = app(&["--push.disable-consistency-check"]);
    assert_eq!(
        send(&app, "PUT", "/metrics/job/a", "# TYPE x gauge\nx 1\n", &[])
            .await
            .status,
        202
    );
    assert_eq!(
        send(
            &app,
            "PUT",
            "/metrics/job/b",
            "# TYPE x counter\nx 1\n",
            &[]
        )
        .await
        .status,
        202
    );
    assert_eq!(
        send(&app, "PUT", "/metrics/job/c", "y 1 5\n", &[])
            .await
            .status,
        202
    );
    let r = send(&app, "GET", "/metrics", "", &[]).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .starts_with("An error has occurred while serving metrics:\n\n"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("gathered metric family x has type"),
        "{}",
        r.body
    );
    assert_eq!(
        send(&app, "GET", "/api/v1/metrics", "", &[]).await.status,
        200
    );
    // The timestamped push was dropped, its failure recorded.
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert!(
        api.contains("\"labels\":{\"job\":\"c\"},\"last_push_successful\":false"),
        "{api}"
    );
    assert_eq!(
        send(&app, "DELETE", "/metrics/job/b", "", &[]).await.status,
        202
    );
    assert_eq!(send(&app, "GET", "/metrics", "", &[]).await.status, 200);
}

#[tokio::test]
async fn utf8_names_only_with_the_flag() {
    let body = "{\"my.metric\",\"dotted.label\"=\"v\"} 42\n";
    let (_, plain) = app(&[]);
    assert_eq!(
        send(&plain, "PUT", "/metrics/job/u", body, &[])
            .await
            .status,
        400
    );
    assert_eq!(
        send(
            &plain,
            "PUT",
            "/metrics/job/u/U__foo_2e_bar/x",
            "m 1\n",
            &[]
        )
        .await
        .status,
        200
    );
    let (_, utf8) = app(&["--push.enable-utf8-names"]);
    assert_eq!(
        send(&utf8, "PUT", "/metrics/job/u", body, &[]).await.status,
        200
    );
    assert_eq!(
        send(
            &utf8,
            "PUT",
            "/metrics/job/example/U__foo_2e_bar@base64/YmF6",
            "m 1\n",
            &[]
        )
        .await
        .status,
        200
    );
    let api = send(&utf8, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert!(api.contains("\"foo.bar\":\"baz\""), "{api}");
    assert!(api.contains("\"my.metric\""), "{api}");
}

#[tokio::test]
async fn scrapes_negotiate_protobuf_and_gzip() {
    let (_, app) = app(&[]);
    send(
        &app,
        "PUT",
        "/metrics/job/a/x/2",
        "# TYPE m counter\nm{k=\"z\"} 1\n",
        &[],
    )
    .await;
    send(
        &app,
        "PUT",
        "/metrics/job/b/x/1",
        "# TYPE m counter\nm{k=\"a\"} 2\n",
        &[],
    )
    .await;
    let text = send(&app, "GET", "/metrics", "", &[]).await;
    assert_eq!(
        text.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
    );
    let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3";
    let response = crate::util::send_raw(
        &app,
        "GET",
        "/metrics",
        &[("accept", accept), ("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(response.headers["content-encoding"], "gzip");
    assert!(response.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with(PROTOBUF));
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&response.body[..]),
        &mut decoded,
    )
    .unwrap();
    let families = exposition::decode_protobuf_delimited(&decoded).unwrap();
    let m = families.iter().find(|f| f.name == "m").unwrap();
    // Go orders metrics by label values position by position: instance, job, k, x.
    let jobs: Vec<&str> = m
        .metrics
        .iter()
        .map(|m| m.labels[1].value.as_str())
        .collect();
    assert_eq!(jobs, vec!["a", "b"]);
    let mut reencoded = Vec::new();
    exposition::encode_text(&mut reencoded, &families).unwrap();
    let reencoded = String::from_utf8(reencoded).unwrap();
    for line in pushed_lines(&text.body) {
        if !line.starts_with("push_") {
            assert!(
                reencoded.contains(&line),
                "{line} missing from protobuf scrape"
            );
        }
    }
}

/// Series of one family from different groups interleave in Go's order
/// (label values position by position), not group by group.
#[tokio::test]
async fn metrics_of_different_groups_are_merged_in_go_order() {
    let (_, app) = app(&[]);
    send(
        &app,
        "PUT",
        "/metrics/job/j/instance/i1",
        "m{a=\"1\"} 1\nm{a=\"3\"} 3\n",
        &[],
    )
    .await;
    send(
        &app,
        "PUT",
        "/metrics/job/j/instance/i2",
        "m{a=\"2\"} 2\nm{a=\"4\"} 4\n",
        &[],
    )
    .await;
    send(&app, "PUT", "/metrics/job/j/instance/i0", "m 0\n", &[]).await;
    let lines: Vec<String> = pushed_lines(&send(&app, "GET", "/metrics", "", &[]).await.body)
        .into_iter()
        .filter(|l| l.starts_with("m{"))
        .collect();
    assert_eq!(
        lines,
        vec![
            "m{instance=\"i0\",job=\"j\"} 0",
            "m{a=\"1\",instance=\"i1\",job=\"j\"} 1",
            "m{a=\"2\",instance=\"i2\",job=\"j\"} 2",
            "m{a=\"3\",instance=\"i1\",job=\"j\"} 3",
            "m{a=\"4\",instance=\"i2\",job=\"j\"} 4",
        ]
    );
}

#[tokio::test]
async fn own_metrics_count_requests_and_pushes() {
    let (_, app) = app(&[]);
    send(&app, "PUT", "/metrics/job/a", "m 1\n", &[]).await;
    send(&app, "PUT", "/metrics/job/a", "m{", &[]).await;
    send(&app, "GET", "/-/healthy", "", &[]).await;
    let text = send(&app, "GET", "/metrics", "", &[]).await.body;
    for expected in [
        "pushgateway_http_requests_total{code=\"200\",handler=\"push\",method=\"put\"} 1",
        "pushgateway_http_requests_total{code=\"400\",handler=\"push\",method=\"put\"} 1",
        "pushgateway_http_requests_total{code=\"200\",handler=\"healthy\",method=\"get\"} 1",
        "pushgateway_http_push_duration_seconds_count{method=\"put\"} 2",
        "# TYPE pushgateway_build_info gauge",
        "# TYPE process_start_time_seconds gauge",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    // Pushing an own metric name with another type is refused.
    let r = send(
        &app,
        "PUT",
        "/metrics/job/b",
        "# TYPE pushgateway_build_info counter\npushgateway_build_info 1\n",
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains(
        "gathered metric family pushgateway_build_info has type COUNTER but should have GAUGE"
    ));
}

#[tokio::test]
async fn timestamps_are_refused_and_recorded_as_a_failure() {
    let (_, app) = app(&[]);
    send(&app, "PUT", "/metrics/job/t", "ok 1\n", &[]).await;
    let r = send(&app, "POST", "/metrics/job/t", "m 1 0\n", &[]).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body, "pushed metrics are invalid or inconsistent with existing metrics: pushed metrics must not have timestamps\n");
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert!(api.contains("\"last_push_successful\":false"), "{api}");
    assert!(api.contains("\"ok\""), "old data kept: {api}");
}

#[tokio::test]
async fn lifecycle_quit_requests_shutdown() {
    let (state, app) = app(&["--web.enable-lifecycle"]);
    let mut quit = state.quit_requested();
    let r = send(&app, "POST", "/-/quit", "", &[]).await;
    assert_eq!(
        (r.status.as_u16(), r.body.as_str()),
        (200, "Requesting termination... Goodbye!")
    );
    assert!(*quit.borrow_and_update());
}
