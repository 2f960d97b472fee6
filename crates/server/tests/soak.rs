//! A soak against the real binary in durable mode (60 s; `SOAK_SECONDS`
//! changes it): writers that push, merge and delete, and writers whose
//! pushes clash (a type clash across groups, duplicate series in a body),
//! while text, protobuf and JSON scrapers check every answer; then a
//! `kill -9` and a restart. Invariants: every scrape parses and is
//! consistent, refused pushes are never visible, a scrape begun after an
//! acknowledgement shows it, values only move forward, and after the
//! restart every acknowledged change is there.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exposition::{MetricType, Value};

use crate::gateway::Gateway;
use crate::wire::{get, Conn};

const PROTOBUF: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

/// What the writers have had acknowledged.
#[derive(Default)]
struct Acked {
    /// The counter's last acknowledged value (PUT into job `counting`).
    counter: AtomicU64,
    /// Merges acknowledged into job `merging` (each adds a family).
    merges: AtomicU64,
    /// The toggling group: its last acknowledged operation (odd: PUT of
    /// that value, even: DELETE).
    toggles: AtomicU64,
    /// Clashing pushes refused (each must be a 400).
    refused: AtomicU64,
}

fn soak_duration() -> Duration {
    let seconds = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(seconds)
}

fn counter_value(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("soak_total{instance=\"\",job=\"counting\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

fn toggled_value(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("toggled{instance=\"\",job=\"toggling\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// What the toggling group holds after its operation `n`.
fn toggled_after(n: u64) -> Option<u64> {
    (n % 2 == 1).then_some(n)
}

fn writers(
    port: u16,
    acked: &Arc<Acked>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    // The counter, replaced by every push.
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let mut value = 0;
        while !s.load(Ordering::Relaxed) {
            value += 1;
            let body = format!("# TYPE soak_total counter\nsoak_total {value}\n");
            let (status, text) = conn.request("PUT", "/metrics/job/counting", &body).unwrap();
            assert_eq!(status, 200, "{text}");
            a.counter.store(value, Ordering::SeqCst);
        }
    }));
    // Merges: each POST adds a family to the group.
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let mut n = 0;
        while !s.load(Ordering::Relaxed) {
            n += 1;
            let body = format!("# TYPE merged_{n} gauge\nmerged_{n}{{i=\"{n}\"}} {n}\n");
            let (status, text) = conn.request("POST", "/metrics/job/merging", &body).unwrap();
            assert_eq!(status, 200, "{text}");
            a.merges.store(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
        }
    }));
    // A group that is pushed and deleted in turn.
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let mut n = 0;
        while !s.load(Ordering::Relaxed) {
            n += 1;
            let (status, text) = if n % 2 == 1 {
                conn.request("PUT", "/metrics/job/toggling", &format!("toggled {n}\n"))
                    .unwrap()
            } else {
                conn.request("DELETE", "/metrics/job/toggling", "").unwrap()
            };
            assert!(status == 200 || status == 202, "{status} {text}");
            a.toggles.store(n, Ordering::SeqCst);
        }
    }));
    // Clashes: the counter's name as a gauge in another group, duplicate
    // series in one body, a summary's `_count` as a family of its own.
    // Every one is a 400 and none is ever visible.
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let clashes = [
            (
                "/metrics/job/clash_type",
                "# TYPE soak_total gauge\nsoak_total 1\n",
            ),
            (
                "/metrics/job/clash_duplicate",
                "dup{a=\"1\"} 1\ndup{a=\"1\"} 2\n",
            ),
            // The summary's _count, pushed as a gauge of its own.
            (
                "/metrics/job/clash_suffix",
                "# TYPE soak_s_count gauge\nsoak_s_count 3\n",
            ),
        ];
        let mut i = 0;
        while !s.load(Ordering::Relaxed) {
            let (path, body) = clashes[i % clashes.len()];
            i += 1;
            let (status, text) = conn.request("PUT", path, body).unwrap();
            assert_eq!(status, 400, "{path}: {text}");
            a.refused.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
        }
    }));
    threads
}

/// Checks one text scrape against what was acknowledged before it began.
fn check_text(text: &str, counter_before: u64, last_seen: &mut u64) {
    let families = exposition::parse_text(text.as_bytes()).expect("the scrape parses");
    for f in &families {
        assert!(
            f.name != "dup" && f.name != "soak_s_count",
            "refused family {} visible",
            f.name
        );
        if f.name == "soak_total" {
            assert_eq!(
                f.metric_type,
                MetricType::Counter,
                "soak_total turned {:?}",
                f.metric_type
            );
        }
    }
    let counter = counter_value(text).unwrap_or(0);
    assert!(
        counter >= counter_before,
        "scrape shows {counter}, {counter_before} was acknowledged before it"
    );
    assert!(
        counter >= *last_seen,
        "the counter went back from {last_seen} to {counter}"
    );
    *last_seen = counter;
}

fn scrapers(
    port: u16,
    acked: &Arc<Acked>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    let mut threads = Vec::new();
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let (mut n, mut last) = (0, 0);
        while !s.load(Ordering::Relaxed) {
            let before = a.counter.load(Ordering::SeqCst);
            let (status, text) = conn.request("GET", "/metrics", "").unwrap();
            assert_eq!(status, 200);
            check_text(&text, before, &mut last);
            n += 1;
        }
        n
    }));
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let mut n = 0;
        let mut last = 0.0;
        while !s.load(Ordering::Relaxed) {
            let before = a.counter.load(Ordering::SeqCst) as f64;
            let reply = conn
                .exchange_with("GET", "/metrics", &[("Accept", PROTOBUF)], b"")
                .unwrap();
            assert_eq!(reply.status, 200);
            let families =
                exposition::decode_protobuf_delimited(&reply.raw).expect("protobuf scrape decodes");
            let counter = families.iter().find(|f| f.name == "soak_total").map(|f| {
                assert_eq!(f.metric_type, MetricType::Counter);
                let m = f
                    .metrics
                    .iter()
                    .find(|m| m.labels.iter().any(|l| l.value == "counting"));
                match m.map(|m| &m.value) {
                    Some(Value::Counter(c)) => c.value,
                    other => panic!("soak_total is {other:?}"),
                }
            });
            assert!(families.iter().all(|f| f.name != "dup"));
            let counter = counter.unwrap_or(0.0);
            assert!(
                counter >= before && counter >= last,
                "protobuf counter {counter}, before {before}, last {last}"
            );
            last = counter;
            n += 1;
        }
        n
    }));
    let (a, s) = (acked.clone(), stop.clone());
    threads.push(std::thread::spawn(move || {
        let mut conn = Conn::open(port).unwrap();
        let mut n = 0;
        while !s.load(Ordering::Relaxed) {
            let merges_before = a.merges.load(Ordering::SeqCst);
            let (status, text) = conn.request("GET", "/api/v1/metrics", "").unwrap();
            assert_eq!(status, 200);
            let json: serde_json::Value =
                serde_json::from_str(&text).expect("the API answers JSON");
            assert_eq!(json["status"], "success");
            let groups = json["data"].as_array().unwrap();
            for g in groups {
                let job = g["labels"]["job"].as_str().unwrap_or("");
                assert!(!job.starts_with("clash_") || g.get("dup").is_none());
                if job == "merging" {
                    let merged = g
                        .as_object()
                        .unwrap()
                        .keys()
                        .filter(|k| k.starts_with("merged_"))
                        .count() as u64;
                    assert!(
                        merged >= merges_before,
                        "API shows {merged} merges, {merges_before} acknowledged"
                    );
                }
            }
            n += 1;
        }
        n
    }));
    threads
}

#[test]
fn a_minute_of_mixed_writers_and_scrapers_then_kill_9_keeps_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("soak.data");
    let persistence = format!("--persistence.file={}", file.display());
    let gw = Gateway::start(&[&persistence, "--persistence.interval=2s"]);
    // What the clashes clash with is there first.
    let mut seed = Conn::open(gw.port).unwrap();
    for (path, body) in [
        (
            "/metrics/job/summary",
            "# TYPE soak_s summary\nsoak_s_sum 1\nsoak_s_count 1\n",
        ),
        (
            "/metrics/job/counting",
            "# TYPE soak_total counter\nsoak_total 0\n",
        ),
    ] {
        assert_eq!(seed.request("PUT", path, body).unwrap().0, 200);
    }
    let acked = Arc::new(Acked::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writing = writers(gw.port, &acked, &stop);
    let scraping = scrapers(gw.port, &acked, &stop);
    let started = Instant::now();
    while started.elapsed() < soak_duration() {
        std::thread::sleep(Duration::from_millis(200));
        // A thread that stopped early broke an invariant: join says which.
        if writing.iter().any(|t| t.is_finished()) || scraping.iter().any(|t| t.is_finished()) {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in writing {
        t.join().expect("writer invariants held");
    }
    let scrapes: u64 = scraping
        .into_iter()
        .map(|t| t.join().expect("scraper invariants held"))
        .sum();
    let counter = acked.counter.load(Ordering::SeqCst);
    let merges = acked.merges.load(Ordering::SeqCst);
    let toggles = acked.toggles.load(Ordering::SeqCst);
    assert!(counter > 100 && scrapes > 100 && acked.refused.load(Ordering::SeqCst) > 100);

    let mut gw = gw;
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    let gw = Gateway::start(&[&persistence]);
    let text = get(gw.port, "/metrics");
    let mut last = 0;
    check_text(&text, counter, &mut last);
    assert_eq!(
        counter_value(&text),
        Some(counter),
        "the last acknowledged counter after kill -9"
    );
    assert_eq!(toggled_value(&text), toggled_after(toggles));
    let merged = (1..=merges)
        .filter(|n| text.contains(&format!("merged_{n}{{i=\"{n}\"")))
        .count() as u64;
    assert_eq!(merged, merges, "every acknowledged merge after kill -9");
    // Refused pushes left only their failure time, as Go does.
    assert!(text.contains("push_failure_time_seconds{instance=\"\",job=\"clash_type\"}"));
    assert!(!text.contains("push_time_seconds{instance=\"\",job=\"clash_type\"} 1"));
    gw.stop();
}
