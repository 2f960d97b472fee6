//! Switching binaries in place: the Go Pushgateway's persistence file
//! (`encoding/gob`) is loaded by ours, which then serves what Go served
//! and carries on in its own format.
//!
//! Needs Debian's `prometheus-pushgateway` (Go, 1.5.1) on `PATH`; the
//! project's test command installs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::gateway::{free_port, go_binary, Gateway};

/// The families pushed below, besides the two push-time gauges.
const PUSHED: &[&str] = &[
    "requests_total",
    "added",
    "lat",
    "rpc",
    "plain",
    "jobs_done",
    "temp",
    "up",
    "hot",
    "v",
    "later",
    "push_time_seconds",
    "push_failure_time_seconds",
];

/// One HTTP/1.0 exchange, so that neither server chunks the body and the
/// end of the connection ends it.
fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn get(port: u16, path: &str) -> String {
    let (status, body) = request(port, "GET", path, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The lines of a text scrape belonging to the pushed families (and the
/// push-time gauges): every family there has a TYPE line before its
/// samples, so each line is attributed to the last one seen.
fn pushed_families(text: &str) -> String {
    let mut current = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
        {
            current = rest.split(' ').next().unwrap_or("").to_string();
        }
        if PUSHED.contains(&current.as_str()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `/api/v1/metrics` as JSON with the groups in label order (each side
/// lists them in its own order).
fn api(port: u16) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&get(port, "/api/v1/metrics")).unwrap();
    if let Some(groups) = v["data"].as_array_mut() {
        groups.sort_by_key(|g| g["labels"].to_string());
    }
    v
}

/// The Go gateway; killed when dropped.
struct GoGateway {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl GoGateway {
    fn start(file: &Path, log: PathBuf) -> GoGateway {
        let port = free_port();
        let child = Command::new(go_binary())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--persistence.file={}", file.display()))
            .arg("--persistence.interval=1s")
            // Go shows push times in the local zone, ours in UTC; pin the
            // zone so the comparison does not depend on the host's.
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the Go gateway starts");
        let go = GoGateway { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok()
                && request(port, "GET", "/-/ready", "").0 == 200
            {
                return go;
            }
            assert!(
                Instant::now() < deadline,
                "Go gateway not ready: {}",
                go.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for GoGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SIGTERM, the clean shutdown after which both gateways have persisted.
fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn push(port: u16, method: &str, path: &str, body: &str, want: u16) {
    let (status, reply) = request(port, method, path, body);
    assert_eq!(status, want, "{method} {path}: {reply}");
}

/// What Go is given: every metric type, escapes, odd values and keys.
fn push_to_go(port: u16) {
    push(
        port,
        "PUT",
        "/metrics/job/alpha/instance/i1",
        concat!(
            "# HELP requests_total Requests \\\\ seen.\\nSecond line.\n",
            "# TYPE requests_total counter\n",
            "requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd ü ☃\"} 42\n",
            "requests_total{code=\"500\",path=\"\"} 1e+21\n",
        ),
        200,
    );
    push(
        port,
        "PUT",
        "/metrics/job/beta/path@base64/L3Zhci90bXA",
        concat!(
            "# HELP lat Latency, \\\\ and \\n inside.\n",
            "# TYPE lat histogram\n",
            "lat_bucket{le=\"0.5\"} 2\n",
            "lat_bucket{le=\"1\"} 3\n",
            "lat_bucket{le=\"+Inf\"} 4\n",
            "lat_sum 2.5\n",
            "lat_count 4\n",
            "# TYPE rpc summary\n",
            "rpc{quantile=\"0.5\"} 0.25\n",
            "rpc{quantile=\"0.99\"} NaN\n",
            "rpc_sum 10\n",
            "rpc_count 7\n",
            "# TYPE plain summary\n",
            "plain_sum 1\n",
            "plain_count 2\n",
            "# TYPE jobs_done counter\n",
            "jobs_done 3\n",
        ),
        200,
    );
    push(
        port,
        "PUT",
        "/metrics/job/gamma/empty@base64/=",
        concat!(
            "temp{room=\"k\"} -Inf\n",
            "# TYPE up gauge\n",
            "up NaN\n",
            "# TYPE hot gauge\n",
            "hot +Inf\n",
            "# TYPE jobs_done counter\n",
            "jobs_done 5\n",
        ),
        200,
    );
    // "a/b/c" and "x y", base64url-encoded.
    push(
        port,
        "PUT",
        "/metrics/job/delta/dir@base64/YS9iL2M=/sp@base64/eCB5",
        "v{kind=\"tab\there\"} -0.5\n",
        200,
    );
    // A POST merges: `added` joins `requests_total` in alpha.
    push(
        port,
        "POST",
        "/metrics/job/alpha/instance/i1",
        "# TYPE added gauge\nadded 7\n",
        200,
    );
    // Refused pushes set push_failure_time_seconds, on an existing group
    // and on a new one (which Go creates with a zero push time).
    push(
        port,
        "POST",
        "/metrics/job/gamma/empty@base64/=",
        "up 1 1234\n",
        400,
    );
    push(port, "PUT", "/metrics/job/failed", "v 1 1234\n", 400);
}

#[test]
fn a_go_persistence_file_is_imported_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let go_file = dir.path().join("go.data");

    let mut go = GoGateway::start(&go_file, dir.path().join("go.log"));
    push_to_go(go.port);
    // Let the 1s persistence interval pass once, as in real use.
    std::thread::sleep(Duration::from_millis(2100));
    let go_metrics = pushed_families(&get(go.port, "/metrics"));
    let go_api = api(go.port);
    terminate(&mut go.child);
    let log = go.log();
    drop(go);
    for family in [
        "requests_total",
        "lat",
        "jobs_done",
        "push_failure_time_seconds",
    ] {
        assert!(
            go_metrics.contains(&format!("# TYPE {family} ")),
            "{family} missing from Go's scrape:\n{go_metrics}\n{log}"
        );
    }
    assert_eq!(go_api["data"].as_array().map(Vec::len), Some(5), "{go_api}");
    let data = std::fs::read(&go_file).unwrap();
    assert!(!data.starts_with(b"PGWSNAP1"));

    // Ours, on a copy of Go's file.
    let file = dir.path().join("pushgateway.data");
    std::fs::copy(&go_file, &file).unwrap();
    let persistence = format!("--persistence.file={}", file.display());
    let mut ours = Gateway::start(&[&persistence, "--persistence.interval=1s"]);
    let our_metrics = pushed_families(&get(ours.port, "/metrics"));
    assert_eq!(
        our_metrics, go_metrics,
        "our scrape of the imported file differs from Go's"
    );
    assert_eq!(
        api(ours.port),
        go_api,
        "our /api/v1/metrics differs from Go's"
    );

    // Carry on: a push, a clean stop, and a start from our own format.
    push(
        ours.port,
        "PUT",
        "/metrics/job/after",
        "# TYPE later gauge\nlater 1\n",
        200,
    );
    let before = (pushed_families(&get(ours.port, "/metrics")), api(ours.port));
    assert!(before.0.contains("later{instance=\"\",job=\"after\"} 1\n"));
    terminate(&mut ours.child);
    let data = std::fs::read(&file).unwrap();
    assert!(
        data.starts_with(b"PGWSNAP1"),
        "the file is in our format after a clean stop"
    );
    let ours = Gateway::start(&[&persistence]);
    let after = (pushed_families(&get(ours.port, "/metrics")), api(ours.port));
    assert_eq!(
        after, before,
        "what was imported and pushed survives a restart"
    );
    // And Go's data is all still there, unchanged.
    let kept: String = go_metrics
        .lines()
        .filter(|l| !after.0.contains(&format!("{l}\n")))
        .collect();
    assert_eq!(kept, "", "lines of Go's scrape missing after the restart");
    drop(ours);

    // The way back: Go's file was kept as it was, and ours is private.
    let backup = dir.path().join("pushgateway.data.go-backup");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        std::fs::read(&go_file).unwrap(),
        "the Go file is kept byte for byte"
    );
    assert_eq!(mode(&file), 0o600, "our persistence file is owner-only");
    assert_eq!(mode(&backup), 0o600, "the backup is owner-only");
    // Go, given the backup, serves what it served before the switch.
    let back = dir.path().join("back.data");
    std::fs::copy(&backup, &back).unwrap();
    let go = GoGateway::start(&back, dir.path().join("go-back.log"));
    assert_eq!(
        pushed_families(&get(go.port, "/metrics")),
        go_metrics,
        "Go reads its kept file again: {}",
        go.log()
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
