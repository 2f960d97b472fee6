//! `--ttl` on pushes, `list --match` and `delete --match` against our
//! gateway (the Go gateway has neither TTLs nor selectors).

use crate::cli::pushgw;
use crate::util::{Gateway, Kind, Options};

fn ttl_of(gw: &Gateway, job: &str) -> serde_json::Value {
    gw.expect_group(&[("job", job)])["ttl_seconds"].clone()
}

#[test]
fn ttl_on_every_kind_of_push() {
    let gw = Gateway::start(Kind::Ours);
    pushgw(&["push", "-j", "pushed", "--ttl", "90s"])
        .at(&gw)
        .stdin("m 1\n")
        .success();
    pushgw(&["gauge", "-j", "gauged", "-n", "g", "--ttl", "2d", "1"])
        .at(&gw)
        .success();
    pushgw(&["gauges", "-j", "many", "-n", "gs", "--ttl", "1h30m"])
        .at(&gw)
        .stdin("{\"value\": 1, \"labels\": {\"t\": \"a\"}}\n")
        .success();
    pushgw(&["run", "-j", "ran", "--ttl", "1.5h", "--", "true"])
        .at(&gw)
        .success();
    pushgw(&["push", "-j", "plain"])
        .at(&gw)
        .stdin("m 1\n")
        .success();
    assert_eq!(ttl_of(&gw, "pushed"), 90);
    assert_eq!(ttl_of(&gw, "gauged"), 172_800);
    assert_eq!(ttl_of(&gw, "many"), 5400);
    assert_eq!(ttl_of(&gw, "ran"), 5400);
    assert_eq!(ttl_of(&gw, "plain"), serde_json::Value::Null);
    // Refused before anything is read (so no input is given: it would
    // meet a closed pipe).
    let out = pushgw(&["push", "-j", "x", "--ttl", "soon"])
        .at(&gw)
        .output();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("not a duration"), "{}", out.stderr);
}

#[test]
fn list_and_delete_by_selector() {
    let gw = Gateway::start_with(
        Kind::Ours,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    for job in ["etl-daily", "etl-hourly", "backup"] {
        pushgw(&["gauge", "-j", job, "-g", "host=db1", "-n", "m", "1"])
            .at(&gw)
            .success();
    }
    let etl = r#"{job=~"etl-.*"}"#;
    let listed = pushgw(&["list", "--match", etl]).at(&gw).success().stdout;
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(
        listed.contains("etl-daily") && !listed.contains("backup"),
        "{listed}"
    );
    let dry = pushgw(&["delete", "--match", etl, "--dry-run"])
        .at(&gw)
        .success();
    assert_eq!(
        dry.stdout,
        "would delete {host=\"db1\",job=\"etl-daily\"}\nwould delete {host=\"db1\",job=\"etl-hourly\"}\n"
    );
    assert_eq!(gw.groups().len(), 3);
    let young = pushgw(&["delete", "--match", etl, "--older-than", "1h", "--yes"])
        .at(&gw)
        .success();
    assert_eq!(
        young.stdout,
        format!("no groups selected on {}\n", gw.url())
    );
    let deleted = pushgw(&["delete", "--match", etl, "--match", r#"{job="nothing"}"#])
        .at(&gw)
        .success();
    assert_eq!(deleted.stdout.lines().count(), 2, "{}", deleted.stdout);
    assert!(deleted
        .stdout
        .starts_with("deleted {host=\"db1\",job=\"etl-daily\"}"));
    assert_eq!(gw.groups().len(), 1);
    // A bad selector is the gateway's refusal; a group and a selector
    // together are a usage error.
    let bad = pushgw(&["delete", "--match", "{}"]).at(&gw).fails_with(3);
    assert!(
        bad.stderr.contains("does not match the empty value"),
        "{}",
        bad.stderr
    );
    pushgw(&["delete", "--match", etl, "-g", "host=db1"])
        .at(&gw)
        .fails_with(2);
    // --older-than and --dry-run mean nothing without --match.
    let alone = pushgw(&["delete", "-j", "backup", "--dry-run"])
        .at(&gw)
        .output();
    assert_eq!(alone.code, 2, "{alone:#?}");
    assert!(alone.stderr.contains("--match"), "{}", alone.stderr);
    assert_eq!(gw.groups().len(), 1);
}

#[test]
fn delete_by_selector_without_the_admin_api_exits_3() {
    let gw = Gateway::start(Kind::Ours);
    pushgw(&["gauge", "-j", "a", "-n", "m", "1"])
        .at(&gw)
        .success();
    let out = pushgw(&["delete", "--match", r#"{job="a"}"#])
        .at(&gw)
        .fails_with(3);
    assert!(
        out.stderr.contains("--web.enable-admin-api"),
        "{}",
        out.stderr
    );
    assert_eq!(gw.groups().len(), 1);
}
