//! Log lines as the Go Pushgateway 1.11 writes them, in both formats:
//! `ts` (UTC, milliseconds), `level` (lower case), `caller`, `msg`, then the
//! event's fields; Go's start-up, refusal, persistence and shutdown lines
//! with Go's messages, levels and keys.

use std::collections::BTreeSet;

use crate::gateway::{Gateway, Log};
use crate::wire::Conn;

/// Runs a gateway in `format`: a good push, a refused one, a clean stop
/// (which persists); answers its log lines.
fn session(format: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("--persistence.file={}", dir.path().join("p.data").display());
    let (gw, log): (Gateway, Log) =
        Gateway::start_logged(&[], &[&format!("--log.format={format}"), &file]);
    let mut conn = Conn::open(gw.port).unwrap();
    assert_eq!(
        conn.request("PUT", "/metrics/job/a", "m 1\n").unwrap().0,
        200
    );
    assert_eq!(
        conn.request("PUT", "/metrics/job/a", "m 1 1234\n")
            .unwrap()
            .0,
        400
    );
    drop(conn);
    gw.stop();
    let lines = log.lock().unwrap().clone();
    lines
}

/// A logfmt line's keys in order, and its values.
fn logfmt(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut end = 0;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            (&quoted[..end], quoted[end + 1..].trim_start())
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (&after[..end], after[end..].trim_start())
        };
        out.push((key.trim().to_string(), value.to_string()));
        rest = next;
    }
    out
}

fn find<'a>(lines: &'a [Vec<(String, String)>], msg: &str) -> &'a Vec<(String, String)> {
    lines
        .iter()
        .find(|l| l.iter().any(|(k, v)| k == "msg" && v == msg))
        .unwrap_or_else(|| panic!("no line with msg={msg:?}: {lines:?}"))
}

fn keys(line: &[(String, String)]) -> Vec<&str> {
    line.iter().map(|(k, _)| k.as_str()).collect()
}

fn value<'a>(line: &'a [(String, String)], key: &str) -> &'a str {
    line.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

fn check_common(lines: &[Vec<(String, String)>]) {
    for line in lines {
        assert_eq!(
            &keys(line)[..4],
            ["ts", "level", "caller", "msg"],
            "{line:?}"
        );
        let ts = value(line, "ts");
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");
        assert!(["debug", "info", "warn", "error"].contains(&value(line, "level")));
        let caller = value(line, "caller");
        let (file, line_no) = caller.rsplit_once(':').unwrap();
        assert!(
            file.ends_with(".rs") && line_no.parse::<u32>().is_ok(),
            "{caller}"
        );
    }
    let start = find(lines, "starting pushgateway");
    assert!(
        value(start, "version").starts_with("(version="),
        "{start:?}"
    );
    assert!(value(find(lines, "Build context"), "build_context").starts_with("(go="));
    let listening = find(lines, "Listening on");
    assert!(value(listening, "address").starts_with("127.0.0.1:"));
    let tls = find(lines, "TLS is disabled.");
    assert_eq!(value(tls, "http2"), "false");
    // The refused push: Go's message, level and keys (promslog writes the
    // `source` Go logs as `logged_source`).
    let refused = find(
        lines,
        "pushed metrics are invalid or inconsistent with existing metrics",
    );
    assert_eq!(value(refused, "level"), "error");
    assert_eq!(
        keys(refused).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "ts",
            "level",
            "caller",
            "msg",
            "method",
            "logged_source",
            "err"
        ]),
        "{refused:?}"
    );
    assert_eq!(value(refused, "method"), "PUT");
    assert!(value(refused, "err").contains("timestamps"));
    find(lines, "received SIGINT/SIGTERM; exiting gracefully...");
    find(lines, "HTTP server stopped");
    assert!(value(find(lines, "metrics persisted"), "file").ends_with("p.data"));
}

#[test]
fn logfmt_has_go_s_keys_and_lines() {
    let lines: Vec<Vec<(String, String)>> = session("logfmt").iter().map(|l| logfmt(l)).collect();
    check_common(&lines);
}

#[test]
fn json_has_go_s_keys_in_order() {
    let raw = session("json");
    let lines: Vec<Vec<(String, String)>> = raw
        .iter()
        .map(|l| {
            let doc: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            let object = doc.as_object().unwrap();
            // Key order as written (serde_json's map sorts), found by
            // position of each `"key":` in the line.
            let mut keyed: Vec<(usize, String, String)> = object
                .iter()
                .map(|(k, v)| {
                    let at = l.find(&format!("\"{k}\":")).unwrap();
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (at, k.clone(), text)
                })
                .collect();
            keyed.sort();
            keyed.into_iter().map(|(_, k, v)| (k, v)).collect()
        })
        .collect();
    check_common(&lines);
    // Booleans stay booleans.
    let tls = raw.iter().find(|l| l.contains("TLS is disabled.")).unwrap();
    assert!(tls.contains("\"http2\":false"), "{tls}");
}

fn logfmt_lines(lines: &[String]) -> Vec<Vec<(String, String)>> {
    lines.iter().map(|l| logfmt(l)).collect()
}

#[test]
fn a_damaged_persistence_file_is_logged_as_go_logs_one_it_cannot_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.data");
    std::fs::write(&path, [b"PGWSNAP1".as_slice(), &[0xA5; 4096]].concat()).unwrap();
    let file = format!("--persistence.file={}", path.display());
    // Without --persistence.ignore-corrupt the gateway refuses to start...
    let stderr = Gateway::refuse(&[&file]);
    let lines: Vec<String> = stderr.lines().map(str::to_string).collect();
    let lines = logfmt_lines(&lines);
    let refused = find(&lines, "could not load persisted metrics");
    assert_eq!(value(refused, "level"), "error");
    assert!(!value(refused, "err").is_empty());
    // ...with it, it starts with what is readable and says so the same way.
    let (gw, log) = Gateway::start_logged(&[], &[&file, "--persistence.ignore-corrupt"]);
    gw.stop();
    let lines = logfmt_lines(&log.lock().unwrap());
    let kept = find(&lines, "could not load persisted metrics");
    assert_eq!(value(kept, "level"), "error");
    assert!(value(kept, "file").ends_with("p.data"), "{kept:?}");
    assert!(!value(kept, "err").is_empty());
}

#[test]
fn a_failed_snapshot_is_logged_as_go_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let file = format!("--persistence.file={}", data.join("p.data").display());
    let (gw, log) = Gateway::start_logged(
        &[],
        &[
            &file,
            "--persistence.mode=snapshot",
            "--persistence.interval=100ms",
        ],
    );
    // The folder goes away under the running gateway: the next snapshot
    // cannot be written.
    std::fs::remove_dir_all(&data).unwrap();
    let mut conn = Conn::open(gw.port).unwrap();
    assert_eq!(
        conn.request("PUT", "/metrics/job/a", "m 1\n").unwrap().0,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("error persisting metrics"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(conn);
    // With the folder back, the final snapshot is written.
    std::fs::create_dir(&data).unwrap();
    gw.stop();
    assert!(data.join("p.data").exists());
    let lines = logfmt_lines(&log.lock().unwrap());
    let failed = find(&lines, "error persisting metrics");
    assert_eq!(value(failed, "level"), "error");
    assert!(!value(failed, "err").is_empty());
}
