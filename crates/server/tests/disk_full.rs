//! Durable persistence on a disk that fills up, against the real binary on
//! a small tmpfs: writes are refused before they are applied (503 with
//! `Retry-After`), nothing refused is ever visible (before or after a
//! `kill -9`), everything acknowledged survives, `/-/ready` says so, a
//! restart on the full disk serves and refuses, and writes resume by
//! themselves once space returns.
//!
//! Mounting needs root; without it the test says so and returns (the
//! injected-failure test in `refusals` covers the same answers in-process).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::gateway::Gateway;
use crate::wire::{get, Conn, Reply};

/// A tmpfs of `size`, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !mounted.status.success() {
            eprintln!(
                "skipping the tmpfs test: cannot mount ({})",
                String::from_utf8_lossy(&mounted.stderr).trim()
            );
            return None;
        }
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn start(file: &Path) -> Gateway {
    Gateway::start(&[
        &format!("--persistence.file={}", file.display()),
        "--web.enable-admin-api",
    ])
}

fn request(port: u16, method: &str, path: &str, body: &[u8]) -> Reply {
    Conn::open(port)
        .unwrap()
        .exchange(method, path, body)
        .unwrap()
}

/// A push body of about 50 KB for group `n`.
fn body(n: usize) -> Vec<u8> {
    let mut text = String::from("# TYPE filled gauge\n");
    for i in 0..500 {
        text.push_str(&format!(
            "filled{{i=\"{i}\",pad=\"{}\"}} {n}\n",
            "p".repeat(64)
        ));
    }
    text.into_bytes()
}

fn has_group(scrape: &str, job: &str) -> bool {
    scrape.contains(&format!("job=\"{job}\""))
}

fn own_metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn leftover_temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect()
}

fn kill_9(mut gw: Gateway) {
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
}

/// Asserts what a scrape holds: every acknowledged group, no refused one.
fn assert_holds(port: u16, acked: &[String], refused: &[String], when: &str) {
    let scrape = get(port, "/metrics");
    for job in acked {
        assert!(
            has_group(&scrape, job),
            "{when}: acknowledged {job} missing"
        );
    }
    for job in refused {
        assert!(!has_group(&scrape, job), "{when}: refused {job} visible");
    }
}

#[test]
fn a_full_disk_refuses_writes_until_space_returns_and_loses_nothing_acknowledged() {
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let file = disk.path().join("p.data");
    // A snapshot temp file left by an earlier crash is removed at start.
    std::fs::write(disk.path().join("p.data.tmp-4242"), b"half a snapshot").unwrap();
    // Something else fills most of the disk; removing it frees the space.
    let filler = disk.path().join("filler");
    std::fs::write(&filler, vec![0u8; 600 * 1024]).unwrap();

    let gw = start(&file);
    assert!(leftover_temp_files(disk.path()).is_empty());
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for n in 0..30 {
        let job = format!("fill{n}");
        let reply = request(gw.port, "PUT", &format!("/metrics/job/{job}"), &body(n));
        match reply.status {
            200 => acked.push(job),
            503 => {
                assert_eq!(reply.header("retry-after"), Some("1"));
                assert!(
                    reply.body.contains("could not be persisted"),
                    "{}",
                    reply.body
                );
                assert!(
                    reply.body.contains("No space left on device"),
                    "{}",
                    reply.body
                );
                assert!(
                    !reply.body.contains(&*disk.path().to_string_lossy()),
                    "no path: {}",
                    reply.body
                );
                refused.push(job);
            }
            other => panic!("push {n}: {other} {}", reply.body),
        }
    }
    assert!(
        acked.len() >= 2 && refused.len() >= 10,
        "acked {acked:?}, refused {refused:?}"
    );

    // Small writes are refused too, deletes included, and change nothing.
    let small = request(gw.port, "PUT", "/metrics/job/small", b"tiny 1\n");
    assert_eq!(small.status, 503);
    refused.push("small".into());
    let delete = request(
        gw.port,
        "DELETE",
        &format!("/metrics/job/{}", acked[0]),
        b"",
    );
    assert_eq!(delete.status, 503, "{}", delete.body);
    assert_eq!(
        request(gw.port, "PUT", "/api/v1/admin/wipe", b"").status,
        503
    );
    assert_holds(gw.port, &acked, &refused, "while full");
    assert_eq!(request(gw.port, "GET", "/-/ready", b"").status, 503);
    assert_eq!(request(gw.port, "GET", "/-/healthy", b"").status, 200);
    assert_eq!(request(gw.port, "GET", "/api/v1/metrics", b"").status, 200);
    let scrape = get(gw.port, "/metrics");
    assert_eq!(
        own_metric(&scrape, "pushgateway_persistence_writes_refused"),
        1.0
    );
    assert!(own_metric(&scrape, "pushgateway_persistence_failures_total") >= 1.0);
    // Retries run about once a second; their failed snapshots leave nothing.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(leftover_temp_files(disk.path()).is_empty());
    assert!(
        own_metric(
            &get(gw.port, "/metrics"),
            "pushgateway_persistence_failures_total"
        ) >= 2.0
    );

    // A crash and a restart on the still-full disk: what was acknowledged
    // is served, what was refused is not, and writes are still refused.
    kill_9(gw);
    let gw = start(&file);
    assert_holds(gw.port, &acked, &refused, "restarted on the full disk");
    assert_eq!(
        request(gw.port, "PUT", "/metrics/job/small", b"tiny 1\n").status,
        503
    );
    assert_eq!(request(gw.port, "GET", "/-/ready", b"").status, 503);

    // Space returns: writes resume by themselves within 5 s.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    while request(gw.port, "GET", "/-/ready", b"").status != 200 {
        assert!(
            freed.elapsed() < Duration::from_secs(5),
            "not ready 5 s after space returned"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        request(gw.port, "PUT", "/metrics/job/after", b"after 1\n").status,
        200
    );
    let gone = acked.remove(0);
    assert_eq!(
        request(gw.port, "DELETE", &format!("/metrics/job/{gone}"), b"").status,
        202
    );
    acked.push("after".into());
    refused.push(gone);
    let scrape = get(gw.port, "/metrics");
    assert_eq!(
        own_metric(&scrape, "pushgateway_persistence_writes_refused"),
        0.0
    );

    // And all of it holds after one more crash.
    kill_9(gw);
    let gw = start(&file);
    assert_holds(gw.port, &acked, &refused, "restarted after recovery");
    assert_eq!(request(gw.port, "GET", "/-/ready", b"").status, 200);
    gw.stop();
    assert!(leftover_temp_files(disk.path()).is_empty());
}
