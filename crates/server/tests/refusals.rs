//! What goes with a refusal besides the answer: the log line Go writes for
//! it, the refusal counter, the group limit under concurrent pushes, and
//! 5xx answers that name the problem but no file path.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use server::AppState;
use store::{ChangeLog, LogError, Position, Record, Store, Ticket, Write as StoreWrite};

use crate::gateway::{Gateway, Log};
use crate::util::{app, send};

/// One HTTP/1.1 request on a fresh connection; the status code.
fn request(port: u16, method: &str, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The log lines of a gateway, once it has stopped.
fn logs_of((gateway, log): (Gateway, Log)) -> Vec<String> {
    gateway.stop();
    // The last lines may still be on their way through the pipe.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let lines = log.lock().unwrap().clone();
    lines
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no log line with {needle:?} in {lines:#?}"))
}

#[test]
fn refusals_are_logged_where_and_as_go_logs_them() {
    let gateway = Gateway::start_logged(&[], &["--log.level=debug"]);
    let port = gateway.0.port;
    assert_eq!(
        request(port, "PUT", "/metrics/job/a", "# TYPE x counter\nx 1\n"),
        200
    );
    assert_eq!(
        request(port, "PUT", "/metrics/job/b", "# TYPE x gauge\nx 1\n"),
        400
    );
    assert_eq!(request(port, "PUT", "/metrics/job/a/odd", "x 1\n"), 400);
    assert_eq!(
        request(port, "PUT", "/metrics/job@base64/a.b", "x 1\n"),
        400
    );
    assert_eq!(request(port, "POST", "/metrics/job/c", "x{ 1\n"), 400);
    let lines = logs_of(gateway);

    let consistency = line_with(&lines, "inconsistent with existing metrics");
    assert!(consistency.contains("level=error"), "{consistency}");
    assert!(consistency
        .contains("msg=\"pushed metrics are invalid or inconsistent with existing metrics\""));
    assert!(consistency.contains("method=PUT"), "{consistency}");
    assert!(
        consistency.contains(" logged_source=127.0.0.1:"),
        "{consistency}"
    );
    assert!(
        consistency.contains("err=\"collected metric \\\"x\\\" {"),
        "{consistency}"
    );
    assert!(consistency.contains("is not a COUNTER\""), "{consistency}");

    let url = line_with(&lines, "failed to parse URL");
    assert!(
        url.contains("level=debug") && url.contains("url=/odd"),
        "{url}"
    );
    assert!(
        url.contains("err=\"odd number of components in label string"),
        "{url}"
    );
    let job = line_with(&lines, "invalid base64 encoding in job name\" job=");
    assert!(
        job.contains("level=debug") && job.contains("job=a.b"),
        "{job}"
    );
    let parse = line_with(&lines, "failed to parse text");
    assert!(
        parse.contains("level=debug") && parse.contains("source=127.0.0.1:"),
        "{parse}"
    );
}

#[test]
fn at_the_default_level_only_consistency_refusals_are_logged() {
    let gateway = Gateway::start_logged(&[], &[]);
    let port = gateway.0.port;
    assert_eq!(
        request(port, "PUT", "/metrics/job/a", "# TYPE x counter\nx 1\n"),
        200
    );
    assert_eq!(
        request(port, "PUT", "/metrics/job/b", "# TYPE x gauge\nx 1\n"),
        400
    );
    assert_eq!(request(port, "PUT", "/metrics/job/a/odd", "x 1\n"), 400);
    let lines = logs_of(gateway);
    line_with(&lines, "inconsistent with existing metrics");
    assert!(
        !lines.iter().any(|l| l.contains("failed to parse URL")),
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_group_limit_holds_under_concurrent_pushes_of_new_groups() {
    let (_, app) = app(&["--push.max-groups=10"]);
    let pushes: Vec<_> = (0..64)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                send(&app, "PUT", &format!("/metrics/job/j{i}"), "x 1\n", &[]).await
            })
        })
        .collect();
    let mut accepted = 0;
    for push in pushes {
        let reply = push.await.unwrap();
        match reply.status.as_u16() {
            200 => accepted += 1,
            413 => assert_eq!(
                reply.body,
                "the gateway holds 10 groups, the limit (--push.max-groups)\n"
            ),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(accepted, 10);
    let scrape = send(&app, "GET", "/metrics", "", &[]).await.body;
    assert_eq!(scrape.matches("push_time_seconds{").count(), 10);
    assert!(
        scrape.contains("pushgateway_limit_refusals_total{limit=\"push.max-groups\"} 54\n"),
        "{scrape}"
    );
}

/// A change log whose disk is full.
struct FullDisk;

impl ChangeLog for FullDisk {
    fn encode(&self, _write: &StoreWrite) -> Record {
        Record::default()
    }

    fn append(&self, _record: Record) -> Ticket {
        Ticket::failed(full())
    }

    fn check(&self) -> Result<(), LogError> {
        Err(full())
    }

    fn checkpoint(&self) -> Position {
        0
    }

    fn compact(&self, _through: Position) {}
}

fn full() -> LogError {
    LogError::Write {
        reason: "writing the journal: No space left on device (os error 28)".into(),
        location: "/var/lib/prometheus/pushgateway.data".into(),
    }
}

#[tokio::test]
async fn writes_that_cannot_be_persisted_answer_503_to_retry_without_a_path() {
    let config = match server::flags::parse(["--web.enable-admin-api"]) {
        Ok(server::flags::Parsed::Run(c)) => *c,
        other => panic!("{other:?}"),
    };
    let store = Arc::new(Store::with_change_log(
        server::store_options(&config),
        Arc::new(FullDisk),
    ));
    let state = AppState::with_store(config, store).unwrap();
    let app = server::app(state);
    for (method, path, what) in [
        ("PUT", "/metrics/job/a", "push"),
        ("DELETE", "/metrics/job/a", "delete"),
        ("PUT", "/api/v1/admin/wipe", "wipe"),
    ] {
        let reply = send(&app, method, path, "x 1\n", &[]).await;
        assert_eq!(reply.status, 503, "{method} {path}");
        assert_eq!(reply.headers["retry-after"], "1", "{method} {path}");
        assert_eq!(
            reply.body,
            format!("the {what} could not be persisted: writing the journal: No space left on device (os error 28)\n")
        );
        assert!(!reply.body.contains("/var/lib"));
    }
    let ready = send(&app, "GET", "/-/ready", "", &[]).await;
    assert_eq!(ready.status, 503, "not ready while writes are refused");
    assert!(!ready.body.contains("/var/lib"), "{}", ready.body);
    assert_eq!(send(&app, "GET", "/-/healthy", "", &[]).await.status, 200);
    let scrape = send(&app, "GET", "/metrics", "", &[]).await;
    assert_eq!(scrape.status, 200, "reads keep serving");
    assert!(
        !scrape.body.contains("job=\"a\""),
        "a refused write is never visible"
    );
}
