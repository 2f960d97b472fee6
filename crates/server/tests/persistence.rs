//! Persistence against the real binary: acknowledged pushes and deletes
//! survive SIGKILL at random moments, a clean restart serves identical metrics, a torn
//! journal tail is dropped, a corrupt snapshot stops start-up with the file
//! and offset (or is tolerated on request).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::gateway::Gateway;
use crate::wire::{get, Conn};

/// The pushed part of a scrape (the gateway's own metrics change by themselves).
fn pushed(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.contains("process_") && !l.contains("pushgateway_"))
        .map(str::to_string)
        .collect()
}

/// The value of `counter{worker="w"}` in a scrape.
fn value_of(text: &str, worker: usize) -> Option<u64> {
    let needle = format!("acked{{instance=\"\",job=\"crash\",worker=\"{worker}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

fn config_args(file: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![format!("--persistence.file={}", file.display())];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn start(file: &Path, extra: &[&str]) -> Gateway {
    let args = config_args(file, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Gateway::start(&args)
}

fn pseudo_random(seed: u64) -> u64 {
    let mut x = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    x ^= x >> 31;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (x >> 29)
}

/// The value of `toggled` in a scrape: the toggling worker's group.
fn toggled_value(text: &str) -> Option<u64> {
    let needle = "toggled{instance=\"\",job=\"crash_toggle\"} ";
    text.lines()
        .find_map(|l| l.strip_prefix(needle))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// The toggling worker's group after its operation `n`: odd operations
/// PUT the value `n`, even ones DELETE the group.
fn toggled_after(n: u64) -> Option<u64> {
    (n % 2 == 1).then_some(n)
}

/// Kills the gateway with SIGKILL at random moments while several
/// connections push (PUT and POST) and one alternates PUT and DELETE.
/// After each restart, every worker's state is the one its last
/// acknowledged request left, or the one its request in flight would have
/// left: nothing acknowledged is lost, nothing is made up.
#[test]
fn acknowledged_changes_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushgateway.data");
    const WORKERS: usize = 4;
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} repeats it)");
    let mut acknowledged = [0u64; WORKERS];
    let mut toggles = 0u64;
    for round in 0..8u64 {
        let mut gw = start(&file, &["--persistence.interval=500ms"]);
        let text = get(gw.port, "/metrics");
        for (w, acked) in acknowledged.iter_mut().enumerate() {
            if *acked > 0 {
                let got = value_of(&text, w)
                    .unwrap_or_else(|| panic!("seed {seed} round {round}: worker {w} lost"));
                assert!(
                    got == *acked || got == *acked + 1,
                    "seed {seed} round {round}: worker {w} has {got}, acknowledged {acked}"
                );
                *acked = got;
            }
        }
        let observed = toggled_value(&text);
        assert!(
            observed == toggled_after(toggles) || observed == toggled_after(toggles + 1),
            "seed {seed} round {round}: toggled group is {observed:?} after operation {toggles} was acknowledged"
        );
        if observed != toggled_after(toggles) {
            toggles += 1;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(acknowledged));
        let mut threads: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (stop, acks, port) = (stop.clone(), acks.clone(), gw.port);
                std::thread::spawn(move || {
                    let mut value = acks.lock().unwrap()[w];
                    let Ok(mut conn) = Conn::open(port) else { return };
                    // Odd workers push-add: the value family is replaced,
                    // the filler families pile up.
                    let method = if w % 2 == 0 { "PUT" } else { "POST" };
                    while !stop.load(Ordering::Relaxed) {
                        value += 1;
                        let body = format!("# TYPE acked gauge\nacked{{worker=\"{w}\"}} {value}\nfiller_{}{{worker=\"{w}\"}} 1\n", value % 50);
                        match conn.request(method, &format!("/metrics/job/crash/worker/{w}"), &body) {
                            Ok((200, _)) => acks.lock().unwrap()[w] = value,
                            Ok((status, body)) => panic!("push answered {status}: {body}"),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        let toggled = Arc::new(Mutex::new(toggles));
        {
            let (stop, toggled, port) = (stop.clone(), toggled.clone(), gw.port);
            threads.push(std::thread::spawn(move || {
                let Ok(mut conn) = Conn::open(port) else {
                    return;
                };
                let mut n = *toggled.lock().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let answer = if n % 2 == 1 {
                        conn.request(
                            "PUT",
                            "/metrics/job/crash_toggle",
                            &format!("toggled {n}\n"),
                        )
                    } else {
                        conn.request("DELETE", "/metrics/job/crash_toggle", "")
                    };
                    match answer {
                        Ok((200 | 202, _)) => *toggled.lock().unwrap() = n,
                        Ok((status, body)) => panic!("toggle answered {status}: {body}"),
                        Err(_) => return,
                    }
                }
            }));
        }
        let run_for = Duration::from_millis(100 + pseudo_random(seed ^ round) % 900);
        std::thread::sleep(run_for);
        // SIGKILL while requests are in flight.
        gw.child.kill().unwrap();
        gw.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        acknowledged = *acks.lock().unwrap();
        toggles = *toggled.lock().unwrap();
        assert!(
            acknowledged.iter().all(|&a| a > 0) && toggles > 0,
            "seed {seed} round {round}: no requests got through"
        );
    }
    let gw = start(&file, &[]);
    let text = get(gw.port, "/metrics");
    for (w, &acked) in acknowledged.iter().enumerate() {
        let got = value_of(&text, w).unwrap();
        assert!(got == acked || got == acked + 1, "seed {seed}: worker {w}");
    }
    let observed = toggled_value(&text);
    assert!(observed == toggled_after(toggles) || observed == toggled_after(toggles + 1));
}

#[test]
fn a_clean_restart_serves_identical_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let gw = start(&file, &[]);
    let mut conn = Conn::open(gw.port).unwrap();
    let bodies = [
        ("/metrics/job/a/instance/x", "# HELP h A histogram.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 4.5\nh_count 3\n"),
        ("/metrics/job/b/path@base64/L3Zhci90bXA", "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\nweird{v=\"a\\\"b\\\\c\\nd ü\"} NaN\n"),
        ("/metrics/job/c/empty@base64/=", "g -Inf\n"),
    ];
    for (path, body) in bodies {
        assert_eq!(conn.request("PUT", path, body).unwrap().0, 200);
    }
    assert_eq!(
        conn.request("POST", "/metrics/job/a/instance/x", "extra 1\n")
            .unwrap()
            .0,
        200
    );
    assert_eq!(
        conn.request("PUT", "/metrics/job/c/empty@base64/=", "g 1 5\n")
            .unwrap()
            .0,
        400
    );
    assert_eq!(
        conn.request("DELETE", "/metrics/job/b/path@base64/L3Zhci90bXA", "")
            .unwrap()
            .0,
        202
    );
    let before = (
        pushed(&get(gw.port, "/metrics")),
        get(gw.port, "/api/v1/metrics"),
    );
    drop(conn);
    // SIGTERM: a clean shutdown writes the snapshot.
    gw.stop();
    // Every file the gateway wrote (snapshot, journal) is owner-only, as
    // the Go gateway's file is: pushed metrics may be sensitive.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?}", entry.file_name());
    }
    let segments: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(file.exists(), "snapshot written: {segments:?}");
    let gw = start(&file, &[]);
    let after = (
        pushed(&get(gw.port, "/metrics")),
        get(gw.port, "/api/v1/metrics"),
    );
    assert_eq!(before, after);
}

fn push_some(port: u16, n: usize) {
    let mut conn = Conn::open(port).unwrap();
    for i in 0..n {
        let (status, _) = conn
            .request(
                "PUT",
                &format!("/metrics/job/j{i}"),
                &format!("v{{i=\"{i}\"}} {i}\n"),
            )
            .unwrap();
        assert_eq!(status, 200);
    }
}

#[test]
fn a_torn_journal_tail_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let mut gw = start(&file, &[]);
    push_some(gw.port, 20);
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    // A crash in the middle of a write leaves a partial record behind.
    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".wal-"))
        .max()
        .unwrap();
    let mut data = std::fs::read(&segment).unwrap();
    data.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'p', b'a', b'r']);
    std::fs::write(&segment, &data).unwrap();
    let gw = start(&file, &[]);
    let text = get(gw.port, "/metrics");
    for i in 0..20 {
        assert!(
            text.contains(&format!("v{{i=\"{i}\",instance=\"\",job=\"j{i}\"}} {i}")),
            "push {i} lost"
        );
    }
    // And later pushes are journaled after the cut.
    push_some(gw.port, 21);
}

fn write_snapshot_and_stop(file: &Path) {
    let gw = start(file, &[]);
    push_some(gw.port, 30);
    gw.stop();
}

#[test]
fn a_corrupt_snapshot_stops_start_up_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    write_snapshot_and_stop(&file);
    let mut data = std::fs::read(&file).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x40;
    std::fs::write(&file, &data).unwrap();
    let args = config_args(&file, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = Gateway::refuse(&args);
    assert!(
        err.contains("pg.data") && err.contains("corrupt at byte"),
        "{err}"
    );
    assert!(err.contains("--persistence.ignore-corrupt"), "{err}");
    // Starting anyway keeps every group but the damaged one.
    let gw = start(&file, &["--persistence.ignore-corrupt"]);
    let text = get(gw.port, "/metrics");
    let kept = (0..30)
        .filter(|i| text.contains(&format!("v{{i=\"{i}\",instance=\"\",job=\"j{i}\"}} {i}")))
        .count();
    assert_eq!(kept, 29, "{text}");
}

#[test]
fn a_truncated_snapshot_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    write_snapshot_and_stop(&file);
    let data = std::fs::read(&file).unwrap();
    std::fs::write(&file, &data[..data.len() - 3]).unwrap();
    let args = config_args(&file, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = Gateway::refuse(&args);
    assert!(
        err.contains("corrupt at byte") && err.contains("(truncated)"),
        "{err}"
    );
}

/// Groups, journal and expected scrape written by the previous release:
/// a snapshot from a clean stop, then a journal from a run killed with -9.
#[test]
fn files_written_by_the_previous_release_load() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous-release");
    let dir = tempfile::tempdir().unwrap();
    for name in ["pushgateway.data", "pushgateway.data.wal-0000000000000005"] {
        std::fs::copy(fixture.join(name), dir.path().join(name)).unwrap();
    }
    let gw = start(&dir.path().join("pushgateway.data"), &[]);
    let own = |l: &str| {
        let name = l
            .strip_prefix("# HELP ")
            .or_else(|| l.strip_prefix("# TYPE "))
            .unwrap_or(l);
        ["go_", "process_", "pushgateway_"]
            .iter()
            .any(|p| name.starts_with(p))
    };
    let text = get(gw.port, "/metrics");
    let served: Vec<&str> = text.lines().filter(|l| !own(l)).collect();
    let expected = std::fs::read_to_string(fixture.join("metrics.txt")).unwrap();
    assert_eq!(served, expected.lines().collect::<Vec<_>>());
}

#[test]
fn snapshot_mode_keeps_only_what_was_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let mut gw = start(
        &file,
        &["--persistence.mode=snapshot", "--persistence.interval=1h"],
    );
    push_some(gw.port, 3);
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    assert!(!file.exists(), "nothing written before the interval");
    let gw = start(&file, &["--persistence.mode=snapshot"]);
    assert!(!get(gw.port, "/metrics").contains("v{i=\"0\""));
    push_some(gw.port, 3);
    gw.stop();
    let gw = start(&file, &["--persistence.mode=snapshot"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !get(gw.port, "/metrics").contains("v{i=\"2\",instance=\"\",job=\"j2\"} 2") {
        assert!(
            Instant::now() < deadline,
            "snapshot taken at shutdown was not restored"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The newest journal segment next to `file`.
fn last_segment(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".wal-"))
        .max()
        .expect("a journal segment")
}

#[test]
fn a_hole_of_zeros_after_a_crash_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let mut gw = start(&file, &[]);
    push_some(gw.port, 10);
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    // A file extended by the crash before its data reached the disk.
    let segment = last_segment(dir.path());
    let mut data = std::fs::read(&segment).unwrap();
    data.extend_from_slice(&[0; 4096]);
    std::fs::write(&segment, &data).unwrap();
    let gw = start(&file, &[]);
    let text = get(gw.port, "/metrics");
    for i in 0..10 {
        assert!(text.contains(&format!("v{{i=\"{i}\",instance=\"\",job=\"j{i}\"}} {i}")));
    }
}

#[test]
fn damage_before_intact_records_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let mut gw = start(&file, &[]);
    push_some(gw.port, 20);
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    let segment = last_segment(dir.path());
    let mut data = std::fs::read(&segment).unwrap();
    // Inside the first record's payload: 19 acknowledged pushes follow.
    data[20] ^= 0x55;
    std::fs::write(&segment, &data).unwrap();
    let args = config_args(&file, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = Gateway::refuse(&args);
    assert!(
        err.contains(".wal-") && err.contains("corrupt at byte"),
        "{err}"
    );
    // Starting anyway keeps a copy of the damaged segment.
    let _gw = start(&file, &["--persistence.ignore-corrupt"]);
    let copies: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
}

#[test]
fn switching_to_snapshot_mode_folds_the_journal_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let mut gw = start(&file, &["--persistence.interval=1h"]);
    let mut conn = Conn::open(gw.port).unwrap();
    assert_eq!(
        conn.request("PUT", "/metrics/job/g", "v 1\n").unwrap().0,
        200
    );
    assert_eq!(
        conn.request("PUT", "/metrics/job/h", "w 1\n").unwrap().0,
        200
    );
    drop(conn);
    gw.child.kill().unwrap();
    gw.child.wait().unwrap();
    // Snapshot mode on the durable run's files: the journal is loaded...
    let snapshot_mode = ["--persistence.mode=snapshot", "--persistence.interval=1h"];
    let gw = start(&file, &snapshot_mode);
    let text = get(gw.port, "/metrics");
    assert!(text.contains("v{instance=\"\",job=\"g\"} 1"), "{text}");
    let mut conn = Conn::open(gw.port).unwrap();
    assert_eq!(
        conn.request("PUT", "/metrics/job/g", "v 2\n").unwrap().0,
        200
    );
    assert_eq!(conn.request("DELETE", "/metrics/job/h", "").unwrap().0, 202);
    drop(conn);
    gw.stop();
    // ...and not replayed again over the newer snapshot.
    for flags in [&snapshot_mode[..], &[][..]] {
        let gw = start(&file, flags);
        let text = get(gw.port, "/metrics");
        assert!(
            text.contains("v{instance=\"\",job=\"g\"} 2"),
            "{flags:?}: {text}"
        );
        assert!(!text.contains("job=\"h\""), "{flags:?}: {text}");
        gw.stop();
    }
}

#[test]
fn random_bytes_as_the_snapshot_start_empty_with_the_flag_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.data");
    let noise: Vec<u8> = (0..50_000u64)
        .map(|i| (pseudo_random(i) >> 7) as u8)
        .collect();
    std::fs::write(&file, &noise).unwrap();
    let args = config_args(&file, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = Gateway::refuse(&args);
    assert!(err.contains("not a pushgateway persistence file"), "{err}");
    let gw = start(&file, &["--persistence.ignore-corrupt"]);
    assert!(pushed(&get(gw.port, "/metrics"))
        .iter()
        .all(|l| !l.contains("job=")));
    let (status, _) = Conn::open(gw.port)
        .unwrap()
        .request("PUT", "/metrics/job/fresh", "f 1\n")
        .unwrap();
    assert_eq!(status, 200);
    gw.stop();
    // The fresh snapshot replaced the noise, which is kept aside.
    let gw = start(&file, &[]);
    assert!(get(gw.port, "/metrics").contains("f{instance=\"\",job=\"fresh\"} 1"));
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).unwrap(), noise);
}
