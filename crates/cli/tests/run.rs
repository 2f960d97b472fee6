//! `pushgw run`: the command's outcome is pushed, its status kept.

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
