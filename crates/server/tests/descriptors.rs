//! File-descriptor headroom against the real binary: the soft open-files
//! limit is raised to the hard one at start (and logged), so thousands of
//! idle connections leave pushes unaffected; where soft already equals hard,
//! idle keep-alive connections are closed first and the accept failures
//! are logged once per interval, not once per attempt.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::gateway::{Gateway, Log};
use crate::wire::Conn;

const IDLE: usize = 2000;

fn hard_limit() -> u64 {
    let out = Command::new("sh")
        .args(["-c", "ulimit -Hn"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(u64::MAX)
}

/// Lets this test process hold the idle connections it opens.
fn raise_own_limit() {
    let hard = hard_limit();
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status()
        .expect("prlimit runs");
    assert!(status.success());
}

fn open_idle(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connects (the backlog queues it)"))
        .collect()
}

/// One push on a new connection; its status and how long it took.
fn timed_push(port: u16, n: usize) -> (u16, Duration) {
    let start = Instant::now();
    let status = Conn::open(port)
        .and_then(|mut c| c.request("PUT", &format!("/metrics/job/fd{n}"), "pushed 1\n"))
        .map_or(0, |(status, _)| status);
    (status, start.elapsed())
}

fn accept_failures(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("accept failed"))
        .count()
}

#[test]
fn idle_connections_under_a_soft_limit_leave_pushes_answered() {
    let hard = hard_limit();
    if hard < 4096 {
        eprintln!("skipping: the hard open-files limit is {hard}");
        return;
    }
    raise_own_limit();
    let limit = format!("--nofile=1024:{hard}");
    let (gw, log) = Gateway::start_logged(&["prlimit", &limit], &[]);
    let raised = format!("soft={hard} hard={hard} was=1024");
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("open files limit") && l.contains(&raised)),
        "{:?}",
        log.lock().unwrap()
    );
    let _idle = open_idle(gw.port, IDLE);
    let mut times: Vec<Duration> = (0..20)
        .map(|n| {
            let (status, took) = timed_push(gw.port, n);
            assert_eq!(status, 200, "push {n}");
            took
        })
        .collect();
    times.sort();
    // The 19th of 20: one stall of a noisy machine is not the gateway's.
    assert!(
        times[18] < Duration::from_millis(100),
        "push times {times:?}"
    );
    assert_eq!(accept_failures(&log), 0);
}

#[test]
fn with_no_headroom_idle_connections_are_shed_without_a_log_storm() {
    raise_own_limit();
    let (gw, log) = Gateway::start_logged(&["prlimit", "--nofile=1024:1024"], &[]);
    let _idle = open_idle(gw.port, IDLE);
    let started = Instant::now();
    let mut answered = None;
    for n in 0..100 {
        if let (200, _) = timed_push(gw.port, n) {
            answered = Some(started.elapsed());
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no push answered in 20 s"
        );
    }
    let took = answered.expect("a push is answered once idle connections are shed");
    // More idle connections keep coming: the gateway keeps shedding.
    let _more = open_idle(gw.port, IDLE);
    let (status, _) = timed_push(gw.port, 1000);
    assert_eq!(status, 200);
    let failures = accept_failures(&log);
    let elapsed = started.elapsed().as_secs() as usize;
    assert!(
        (1..=2 + elapsed / 10).contains(&failures),
        "{failures} accept-failure lines in {elapsed} s (first push after {took:?})"
    );
    let shed = log.lock().unwrap().iter().any(|l| {
        l.contains("accept failed")
            && l.contains("Too many open files")
            && !l.contains("idle_closed=0")
    });
    assert!(shed, "{:?}", log.lock().unwrap());
}
