//! `pushgw run`: the command's outcome is pushed, its status kept, also
//! when pushgw is told to stop while the command runs.

use std::io::{BufRead as _, BufReader};
use std::process::Child;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, kill_process_group, Pid, Signal};

use crate::cli::pushgw;
use crate::util::{family_type, samples, Gateway};

fn value(group: &serde_json::Value, name: &str) -> f64 {
    samples(group, name)[0]
        .1
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

both!(success_then_failure_keeps_the_last_success, |kind| {
    let gw = Gateway::start(kind);
    let key = [("job", "cron/backup"), ("host", "")];
    let out = pushgw(&[
        "run",
        "--job",
        "cron/backup",
        "-g",
        "host=",
        "--",
        "sh",
        "-c",
        "echo to-stdout; echo to-stderr >&2",
    ])
    .at(&gw)
    .success();
    assert_eq!(out.stdout, "to-stdout\n");
    assert_eq!(out.stderr, "to-stderr\n");
    let group = gw.expect_group(&key);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 0.0);
    assert_eq!(family_type(&group, "pushgw_run_duration_seconds"), "GAUGE");
    assert!(value(&group, "pushgw_run_duration_seconds") >= 0.0);
    let success = value(&group, "pushgw_run_last_success_timestamp_seconds");
    assert!(success > 1.6e9);
    assert!(group
        .get("pushgw_run_last_failure_timestamp_seconds")
        .is_none());

    let out = pushgw(&[
        "run",
        "-j",
        "cron/backup",
        "-g",
        "host=",
        "--",
        "sh",
        "-c",
        "exit 3",
    ])
    .at(&gw)
    .output();
    assert_eq!(out.code, 3, "{out:#?}");
    let group = gw.expect_group(&key);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 3.0);
    assert_eq!(
        value(&group, "pushgw_run_last_success_timestamp_seconds"),
        success
    );
    assert!(value(&group, "pushgw_run_last_failure_timestamp_seconds") >= success);
});

both!(a_missing_command_is_127_and_pushed, |kind| {
    let gw = Gateway::start(kind);
    let out = pushgw(&["run", "-j", "j", "--", "/nonexistent/command", "--flag"])
        .at(&gw)
        .output();
    assert_eq!(out.code, 127, "{out:#?}");
    assert!(
        out.stderr.contains("cannot run /nonexistent/command"),
        "{}",
        out.stderr
    );
    let group = gw.expect_group(&[("job", "j")]);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 127.0);
});

both!(a_killed_command_is_128_plus_the_signal, |kind| {
    let gw = Gateway::start(kind);
    let out = pushgw(&["run", "-j", "j", "--", "sh", "-c", "kill -TERM $$"])
        .at(&gw)
        .output();
    assert_eq!(out.code, 143, "{out:#?}");
    let group = gw.expect_group(&[("job", "j")]);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 143.0);
});

#[test]
fn a_failed_push_keeps_the_commands_status_unless_asked() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gateway = format!("http://{closed}");
    let out = pushgw(&["run", "--gateway", &gateway, "-j", "j", "--", "true"]).output();
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains("warning: pushing the run's outcome"),
        "{}",
        out.stderr
    );
    let out = pushgw(&[
        "run",
        "--gateway",
        &gateway,
        "-j",
        "j",
        "--",
        "sh",
        "-c",
        "exit 5",
    ])
    .output();
    assert_eq!(out.code, 5, "{out:#?}");
    let out = pushgw(&[
        "run",
        "--gateway",
        &gateway,
        "-j",
        "j",
        "--fail-on-push-error",
        "--",
        "true",
    ])
    .fails_with(4);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
}

#[test]
fn bad_grouping_labels_stop_before_the_command_runs() {
    let marker = tempfile::tempdir().unwrap();
    let file = marker.path().join("ran");
    let out = pushgw(&[
        "run",
        "--gateway",
        "127.0.0.1:1",
        "-j",
        "j",
        "-g",
        "bad-label=1",
        "--",
        "touch",
        file.to_str().unwrap(),
    ])
    .fails_with(2);
    assert!(out.stderr.contains("bad-label"), "{}", out.stderr);
    assert!(!file.exists());
}

/// A command that says when it runs, then sleeps (`exec`, so that the
/// signal reaches `sleep` itself).
const SLEEPER: &[&str] = &["--", "sh", "-c", "echo started; exec sleep 30"];

/// Waits until the command of a `pushgw run` has printed `started`.
fn wait_until_started(child: &mut Child) {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the command's output");
    assert_eq!(line, "started\n");
}

/// Waits for pushgw, failing the test if the command was not stopped.
fn exit_code(mut child: Child, started: Instant) -> Option<i32> {
    let status = child.wait().expect("wait for pushgw");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the command was not stopped"
    );
    status.code()
}

/// Whether the tests run with `signal` ignored (then pushgw and the
/// command inherit that, and the signal cannot stop them).
fn ignored(signal: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (signal - 1)) != 0)
}

both!(sigterm_is_passed_on_and_the_failure_pushed, |kind| {
    let gw = Gateway::start(kind);
    let started = Instant::now();
    let mut args = vec!["run", "-j", "stopped"];
    args.extend_from_slice(SLEEPER);
    let mut child = pushgw(&args).at(&gw).spawn();
    wait_until_started(&mut child);
    kill_process(Pid::from_child(&child), Signal::TERM).expect("SIGTERM to pushgw");
    assert_eq!(
        exit_code(child, started),
        Some(143),
        "pushgw died of the signal"
    );
    let group = gw.expect_group(&[("job", "stopped")]);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 143.0);
    assert!(value(&group, "pushgw_run_last_failure_timestamp_seconds") > 1.6e9);
    assert!(group
        .get("pushgw_run_last_success_timestamp_seconds")
        .is_none());
});

/// Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
#[test]
fn ctrl_c_stops_the_command_and_the_failure_is_pushed() {
    if ignored(2) {
        eprintln!("skipped: SIGINT is ignored in this test run");
        return;
    }
    let gw = Gateway::start(crate::util::Kind::Ours);
    let started = Instant::now();
    let mut args = vec!["run", "-j", "interrupted"];
    args.extend_from_slice(SLEEPER);
    let mut child = pushgw(&args).at(&gw).own_process_group().spawn();
    wait_until_started(&mut child);
    kill_process_group(Pid::from_child(&child), Signal::INT).expect("SIGINT to the group");
    assert_eq!(
        exit_code(child, started),
        Some(130),
        "pushgw died of the signal"
    );
    let group = gw.expect_group(&[("job", "interrupted")]);
    assert_eq!(value(&group, "pushgw_run_exit_code"), 130.0);
}

/// `nohup pushgw run -- CMD`: CMD must still ignore SIGHUP.
#[cfg(target_os = "linux")]
#[test]
fn ignored_signals_stay_ignored_in_the_command() {
    let gw = Gateway::start(crate::util::Kind::Ours);
    let out = std::process::Command::new("nohup")
        .arg(env!("CARGO_BIN_EXE_pushgw"))
        .args(["run", "--gateway", gw.url(), "-j", "j", "--"])
        .args(["grep", "^SigIgn:", "/proc/self/status"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run nohup");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mask = stdout
        .trim()
        .strip_prefix("SigIgn:")
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_ne!(
        mask & 1,
        0,
        "SIGHUP is not ignored in the command: {stdout}"
    );
}
