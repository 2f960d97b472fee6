//! Memory held by requests in flight, against the real binary: comment
//! lines cost nothing to hold once inflated, `--push.max-series` stops the
//! parser at the first series beyond it, and `--push.max-inflight-size`
//! bounds what all requests hold together (503 with `Retry-After` after a
//! second's wait; 413 for what could never fit).

use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gateway::Gateway;
use crate::wire::{get, Conn, Reply};

const MIB: u64 = 1 << 20;

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text).unwrap();
    e.finish().unwrap()
}

/// One heavy test at a time: they measure memory and time.
static HEAVY: Mutex<()> = Mutex::new(());

fn gzip_push(port: u16, job: &str, body: &[u8]) -> Reply {
    // A loaded machine inflates slowly; the answer still comes.
    Conn::open_waiting(port, Duration::from_secs(300))
        .unwrap()
        .exchange_with(
            "PUT",
            &format!("/metrics/job/{job}"),
            &[("Content-Encoding", "gzip")],
            body,
        )
        .unwrap()
}

fn still_serving(port: u16) {
    let mut conn = Conn::open(port).unwrap();
    assert_eq!(conn.request("GET", "/-/healthy", "").unwrap().0, 200);
    let (status, _) = conn
        .request("PUT", "/metrics/job/after", "after 1\n")
        .unwrap();
    assert_eq!(status, 200);
    assert!(get(port, "/metrics").contains("after{instance=\"\",job=\"after\"} 1"));
}

#[test]
fn ten_concurrent_pushes_inflating_to_200_mb_of_comments_stay_under_512_mib() {
    let _one = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = Vec::with_capacity(201 << 20);
    let line = b"# a comment line that a batch job wrote, padded out to about eighty bytes.\n";
    while text.len() < 200 << 20 {
        text.extend_from_slice(line);
    }
    text.extend_from_slice(b"# TYPE kept gauge\nkept 1\n");
    let body = gzip(&text);
    drop(text);
    assert!(body.len() < 4 << 20, "{} bytes", body.len());
    let gw = Gateway::start(&[]);
    let port = gw.port;
    let pushes: Vec<_> = (0..10)
        .map(|n| {
            let body = body.clone();
            std::thread::spawn(move || gzip_push(port, &format!("comments{n}"), &body).status)
        })
        .collect();
    for push in pushes {
        assert_eq!(push.join().unwrap(), 200);
    }
    let peak = gw.peak_rss();
    assert!(peak < 512 * MIB, "peak RSS {} MiB", peak / MIB);
    let scrape = get(port, "/metrics");
    assert!(scrape.contains("kept{instance=\"\",job=\"comments9\"} 1"));
    still_serving(port);
}

#[test]
fn three_million_series_over_max_series_are_refused_within_a_second() {
    let _one = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = Vec::with_capacity(64 << 20);
    for i in 0..3_000_000u32 {
        writeln!(text, "s{{i=\"{i}\"}} 1").unwrap();
    }
    let body = gzip(&text);
    drop(text);
    let gw = Gateway::start(&["--push.max-series=100000"]);
    // The gateway's CPU time per refusal: what a push costs it, which the
    // other tests running beside this one do not stretch (wall-clock
    // time, printed too, does stretch on a busy machine).
    for n in 0..3 {
        let (cpu_before, started) = (gw.cpu_time(), Instant::now());
        let reply = gzip_push(gw.port, &format!("huge{n}"), &body);
        let (cpu, wall) = (gw.cpu_time() - cpu_before, started.elapsed());
        eprintln!("refusal {n}: {cpu:?} of CPU, {wall:?} wall-clock");
        assert_eq!(reply.status, 413, "{}", reply.body);
        assert_eq!(
            reply.body,
            "push has more than 100000 series, the limit (--push.max-series)\n"
        );
        assert!(
            cpu < Duration::from_secs(1),
            "refusal {n} took {cpu:?} of CPU"
        );
    }
    let peak = gw.peak_rss();
    assert!(peak < 256 * MIB, "peak RSS {} MiB", peak / MIB);
    let scrape = get(gw.port, "/metrics");
    assert!(
        scrape.contains("pushgateway_limit_refusals_total{limit=\"push.max-series\"} 3"),
        "{scrape}"
    );
    still_serving(gw.port);
}

#[test]
fn the_inflight_budget_makes_requests_wait_then_refuses_them() {
    let _one = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let gw = Gateway::start(&["--push.max-inflight-size=1MiB"]);
    // A slow client holds 900 KiB of the budget: its declared length.
    let mut slow = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    let held = 900 * 1024;
    write!(
        slow,
        "PUT /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: {held}\r\n\r\nslow 1\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let body = vec![b'\n'; 200 * 1024];
    let started = Instant::now();
    let busy = Conn::open(gw.port)
        .unwrap()
        .exchange("PUT", "/metrics/job/waits", &body)
        .unwrap();
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited first"
    );
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert!(
        busy.body.contains("--push.max-inflight-size"),
        "{}",
        busy.body
    );

    // Declared larger than the whole budget: refused before it is sent.
    let mut never = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    never
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        never,
        "PUT /metrics/job/never HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        2 << 20
    )
    .unwrap();
    let mut answer = [0u8; 512];
    let n = std::io::Read::read(&mut never, &mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("--push.max-inflight-size"), "{answer}");

    // Once the slow push is done, the budget is free again.
    slow.write_all(&vec![b'\n'; held - 7]).unwrap();
    let mut conn = Conn::open(gw.port).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = conn
            .request("PUT", "/metrics/job/waits", &"\n".repeat(200 * 1024))
            .unwrap();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status}");
    }
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = [0u8; 512];
    let n = std::io::Read::read(&mut slow, &mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let scrape = get(gw.port, "/metrics");
    assert!(scrape.contains("slow{instance=\"\",job=\"slow\"} 1"));
    assert!(
        scrape.contains("pushgateway_limit_refusals_total{limit=\"push.max-inflight-size\"} 2"),
        "{scrape}"
    );
}
