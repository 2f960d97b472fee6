//! Long request lines, side by side with Debian's Go gateway: a grouping
//! value of 64 KiB in the URL is accepted (the HTTP library alone would
//! answer a bare 414), values up to Go's 1 MiB + 4 KiB head when
//! `--push.max-label-value-length` allows them, Go's 431 beyond; a value
//! over the flag's limit gets the 400 naming it, never a 414.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::gateway::{free_port, go_binary, Gateway};

/// The Go gateway on a free port; killed when dropped.
struct Go(Child, u16);

impl Go {
    fn start() -> Go {
        let port = free_port();
        let child = Command::new(go_binary())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's prometheus-pushgateway runs");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Go gateway not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Go(child, port)
    }
}

impl Drop for Go {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `PUT /metrics/job/long/path/<value>` on `stream`; the status and body.
fn put_long(stream: &mut TcpStream, value_len: usize) -> (u16, String) {
    let head = format!(
        "PUT /metrics/job/long/path/{} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nm 1\n",
        "v".repeat(value_len)
    );
    // A client may be cut off mid-send by the answer to a head too large.
    let _ = stream.write_all(head.as_bytes());
    read_reply(stream)
}

fn read_reply(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                let status = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                return (status, body[..length].to_string());
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return (0, format!("no answer: {:?}", String::from_utf8_lossy(&raw)))
            }
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
    }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn a_64_kib_grouping_value_is_accepted_as_go_accepts_it() {
    let go = Go::start();
    let ours = Gateway::start(&["--persistence.file="]);
    for port in [go.1, ours.port] {
        let mut conn = connect(port);
        let (status, body) = put_long(&mut conn, 65_536);
        assert_eq!(status, 200, "{port}: {body}");
        // The connection carries on.
        conn.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_reply(&mut conn).0, 200, "{port}");
        let page = crate::wire::get(port, "/metrics");
        assert!(
            page.contains(&format!("path=\"{}\"", "v".repeat(65_536))),
            "{port}"
        );
    }
}

#[test]
fn up_to_go_s_head_limit_with_the_flag_raised_and_go_s_431_beyond() {
    let go = Go::start();
    let ours = Gateway::start(&["--persistence.file=", "--push.max-label-value-length=2MiB"]);
    for (len, want) in [(1_000_000, 200), (1_100_000, 431), (4_000_000, 431)] {
        let go_status = put_long(&mut connect(go.1), len).0;
        let (ours_status, body) = put_long(&mut connect(ours.port), len);
        assert_eq!(go_status, want, "Go at {len}");
        assert_eq!(ours_status, want, "ours at {len}: {body}");
        if want == 431 {
            assert_eq!(body, "431 Request Header Fields Too Large");
        }
    }
    // And still serving.
    let mut conn = connect(ours.port);
    conn.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_reply(&mut conn).0, 200);
}

#[test]
fn a_value_over_the_flag_gets_the_named_refusal_never_a_414() {
    let ours = Gateway::start(&["--persistence.file="]);
    for len in [65_537, 70_000, 1_000_000] {
        let (status, body) = put_long(&mut connect(ours.port), len);
        assert_eq!(status, 400, "{len}: {body}");
        assert!(
            body.contains("--push.max-label-value-length"),
            "{len}: {body}"
        );
    }
}
