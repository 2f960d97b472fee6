//! Group TTLs against the real binary and real time (TTLs of 1–3 s):
//! expiry on time and never early, renewal by a push, the header over the
//! default, `0` as never, the cap, restarts, the expired counter, and the
//! JSON, UI and flag surface.

use std::time::{Duration, Instant};

use crate::gateway::Gateway;
use crate::util::{app, send};
use crate::wire::{get, Conn};

/// How late an expiry may be seen: the ~1 s the gateway allows itself,
/// plus a slow machine's scheduling.
const LATE: Duration = Duration::from_millis(2500);

fn push(port: u16, job: &str, ttl: Option<&str>) -> Instant {
    let sent = Instant::now();
    let headers: Vec<(&str, &str)> = ttl.map(|t| ("Pushgateway-TTL", t)).into_iter().collect();
    let reply = Conn::open(port)
        .unwrap()
        .exchange_with("PUT", &format!("/metrics/job/{job}"), &headers, b"m 1\n")
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    sent
}

fn present(port: u16, job: &str) -> bool {
    get(port, "/metrics").contains(&format!("m{{instance=\"\",job=\"{job}\"}} 1"))
}

/// Waits until `job` is gone; answers when it was first seen gone.
fn gone_at(port: u16, job: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        if !present(port, job) {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "{job} did not expire");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

#[test]
fn a_group_expires_on_time_never_early_and_a_push_renews_it() {
    let gw = Gateway::start(&["--push.default-ttl=2s"]);
    let first = push(gw.port, "batch", None);
    sleep_until(first + Duration::from_millis(1700));
    assert!(present(gw.port, "batch"), "expired early");
    let renewed = push(gw.port, "batch", None);
    sleep_until(first + Duration::from_millis(2600));
    assert!(
        present(gw.port, "batch"),
        "the push at 1.7 s did not renew it"
    );
    let gone = gone_at(gw.port, "batch", Duration::from_secs(2) + LATE);
    assert!(gone >= renewed + Duration::from_secs(2), "expired early");
    assert!(
        gone <= renewed + Duration::from_secs(2) + LATE,
        "expired late"
    );
}

#[test]
fn the_header_overrides_the_default_and_zero_never_expires() {
    let gw = Gateway::start(&["--push.default-ttl=1s"]);
    let start = push(gw.port, "default", None);
    push(gw.port, "longer", Some("3s"));
    push(gw.port, "never", Some("0"));
    // A failed push creates a group that lives by the default.
    let failed = Conn::open(gw.port)
        .unwrap()
        .request("PUT", "/metrics/job/failed", "m 1 1234\n")
        .unwrap();
    assert_eq!(failed.0, 400);
    gone_at(gw.port, "default", Duration::from_secs(1) + LATE);
    let api = get(gw.port, "/api/v1/metrics");
    assert!(!api.contains("\"failed\""), "{api}");
    assert!(present(gw.port, "longer") && present(gw.port, "never"));
    let gone = gone_at(gw.port, "longer", Duration::from_secs(3) + LATE);
    assert!(gone >= start + Duration::from_secs(3));
    sleep_until(start + Duration::from_millis(4500));
    assert!(present(gw.port, "never"));
}

#[test]
fn deadlines_survive_a_restart_and_groups_expired_while_down_stay_gone() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("--persistence.file={}", dir.path().join("p.data").display());
    let gw = Gateway::start(&[&file]);
    let start = push(gw.port, "short", Some("1s"));
    push(gw.port, "long", Some("3s"));
    push(gw.port, "kept", None);
    // Down hard, for longer than the short TTL.
    let mut gw = gw;
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    sleep_until(start + Duration::from_millis(1500));
    let gw = Gateway::start(&[&file]);
    // Gone before the first request is served; the other keeps its
    // remaining TTL.
    assert!(!present(gw.port, "short"), "expired while down, yet served");
    assert!(present(gw.port, "long") && present(gw.port, "kept"));
    let gone = gone_at(gw.port, "long", Duration::from_secs(3) + LATE);
    assert!(gone >= start + Duration::from_secs(3), "expired early");
    assert!(present(gw.port, "kept"));
    gw.stop();
}

fn expired_total(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix("pushgateway_groups_expired_total "))
        .map(|v| v.parse().unwrap())
}

#[test]
fn the_expired_counter_appears_only_once_ttls_are_in_use() {
    let plain = Gateway::start(&[]);
    push(plain.port, "a", None);
    assert_eq!(expired_total(&get(plain.port, "/metrics")), None);
    // A push asking for a TTL turns it on.
    push(plain.port, "b", Some("1s"));
    assert_eq!(expired_total(&get(plain.port, "/metrics")), Some(0.0));
    gone_at(plain.port, "b", Duration::from_secs(1) + LATE);
    assert_eq!(expired_total(&get(plain.port, "/metrics")), Some(1.0));
    let configured = Gateway::start(&["--push.default-ttl=1h"]);
    let text = get(configured.port, "/metrics");
    assert_eq!(expired_total(&text), Some(0.0));
    assert!(text.contains("# TYPE pushgateway_groups_expired_total counter"));
}

#[tokio::test]
async fn ttls_over_the_cap_and_malformed_headers_are_refused_naming_why() {
    let (_, app) = app(&["--push.default-ttl=30m", "--push.max-ttl=1h"]);
    let put = |ttl: &'static str| {
        let app = app.clone();
        async move {
            let headers: Vec<(&str, &str)> = [("Pushgateway-TTL", ttl)]
                .into_iter()
                .filter(|_| !ttl.is_empty())
                .collect();
            send(&app, "PUT", "/metrics/job/a", "m 1\n", &headers).await
        }
    };
    assert_eq!(put("").await.status, 200);
    assert_eq!(put("45m").await.status, 200);
    let over = put("2h").await;
    assert_eq!(over.status, 400);
    assert!(over.body.contains("--push.max-ttl"), "{}", over.body);
    let never = put("0").await;
    assert_eq!(never.status, 400);
    assert!(never.body.contains("never expire"), "{}", never.body);
    let bad = put("soon").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Pushgateway-TTL"), "{}", bad.body);
    // Nothing refused was stored: the group keeps the 45m push.
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert!(api.contains("\"ttl_seconds\":2700"), "{api}");
    let metrics = send(&app, "GET", "/metrics", "", &[]).await.body;
    assert!(metrics.contains("pushgateway_limit_refusals_total{limit=\"push.max-ttl\"} 2"));
}

#[test]
fn a_default_over_the_cap_stops_start_up() {
    let stderr = Gateway::refuse(&["--push.default-ttl=2h", "--push.max-ttl=1h"]);
    assert!(
        stderr.contains("--push.default-ttl=2h0m0s is over --push.max-ttl=1h0m0s"),
        "{stderr}"
    );
    // Never expiring is over any cap.
    let stderr = Gateway::refuse(&["--push.max-ttl=1h"]);
    assert!(stderr.contains("0 (never expire)"), "{stderr}");
    let stderr = Gateway::refuse(&["--push.default-ttl=soon"]);
    assert!(stderr.contains("--push.default-ttl"), "{stderr}");
}

#[tokio::test]
async fn the_json_api_shows_ttl_and_deadline_in_both_duration_syntaxes() {
    for (flag, header, seconds) in [
        ("--push.default-ttl=1.5h", None, 5400),
        ("--metric.timetolive=90m", None, 5400),
        ("--push.default-ttl=0", Some("2d"), 172_800),
        ("--push.default-ttl=0", Some("1h30m"), 5400),
    ] {
        let (_, app) = app(&[flag]);
        let headers: Vec<(&str, &str)> =
            header.map(|h| ("Pushgateway-TTL", h)).into_iter().collect();
        let before = store::PushTime::now();
        let reply = send(&app, "PUT", "/metrics/job/a", "m 1\n", &headers).await;
        assert_eq!(reply.status, 200, "{flag} {header:?}");
        let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
        let doc: serde_json::Value = serde_json::from_str(&api).unwrap();
        let group = &doc["data"][0];
        assert_eq!(group["ttl_seconds"], seconds, "{flag} {header:?}: {api}");
        let expires = group["expires_at"].as_str().unwrap();
        assert!(expires.ends_with('Z'), "{expires}");
        let year = (before.as_nanos() / 1_000_000_000 + seconds) / 31_556_952 + 1970;
        assert!(expires.starts_with(&year.to_string()), "{expires}");
        // The web UI says when.
        let page = send(&app, "GET", "/", "", &[]).await.body;
        assert!(page.contains("expires in "), "{flag} {header:?}");
    }
    // Without a TTL, neither the JSON nor the page mention one.
    let (_, app) = app(&[]);
    send(&app, "PUT", "/metrics/job/a", "m 1\n", &[]).await;
    let api = send(&app, "GET", "/api/v1/metrics", "", &[]).await.body;
    assert!(
        !api.contains("ttl_seconds") && !api.contains("expires_at"),
        "{api}"
    );
    assert!(!send(&app, "GET", "/", "", &[])
        .await
        .body
        .contains("expires in"));
}

#[tokio::test]
async fn the_expired_counters_name_is_the_gateways_even_before_ttls_are_used() {
    // A push's header can turn the counter on at any time, so a pushed
    // family of that name and another type is refused from the start.
    let (_, app) = app(&[]);
    let reply = send(
        &app,
        "PUT",
        "/metrics/job/a",
        "# TYPE pushgateway_groups_expired_total gauge\npushgateway_groups_expired_total 1\n",
        &[],
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
}
