//! `pushgw push`: exposition text from standard input or a file.

use crate::cli::pushgw;
use crate::util::{family_type, samples, Gateway};

both!(push_from_stdin_with_awkward_grouping_values, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&[
        "push",
        "--job",
        "backup/nightly",
        "-g",
        "path=/var/tmp",
        "-g",
        "region=",
        "-g",
        "who=Zoë K",
    ])
    .at(&gw)
    .stdin("# TYPE backup_size_bytes gauge\nbackup_size_bytes 1.5e9\n")
    .success();
    let group = gw.expect_group(&[
        ("job", "backup/nightly"),
        ("path", "/var/tmp"),
        ("region", ""),
        ("who", "Zoë K"),
    ]);
    assert_eq!(family_type(&group, "backup_size_bytes"), "GAUGE");
    assert_eq!(samples(&group, "backup_size_bytes")[0].1, "1.5e+09");
});

both!(push_replaces_and_push_add_keeps, |kind| {
    let gw = Gateway::start(kind);
    let file = gw.dir().join("metrics.prom");
    std::fs::write(&file, "a 1\nb 2\n").unwrap();
    let file = file.to_str().unwrap();
    pushgw(&["push", "-j", "j", file]).at(&gw).success();
    pushgw(&["push", "-j", "j", "--add", "-"])
        .at(&gw)
        .stdin("a 3\n")
        .success();
    let group = gw.expect_group(&[("job", "j")]);
    assert_eq!(samples(&group, "a")[0].1, "3");
    assert_eq!(samples(&group, "b")[0].1, "2");
    pushgw(&["push", "-j", "j"])
        .at(&gw)
        .stdin("c 4\n")
        .success();
    let group = gw.expect_group(&[("job", "j")]);
    assert!(
        group.get("a").is_none() && group.get("b").is_none(),
        "{group:#}"
    );
});

both!(a_refused_push_exits_3_with_the_gateways_message, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&["push", "-j", "a"])
        .at(&gw)
        .stdin("# TYPE x counter\nx 1\n")
        .success();
    let out = pushgw(&["push", "-j", "b"])
        .at(&gw)
        .stdin("# TYPE x gauge\nx 1\n")
        .fails_with(3);
    assert!(
        out.stderr.contains("pushing to {job=\"b\"}"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("400 Bad Request"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pushed metrics are invalid or inconsistent with existing metrics"),
        "{}",
        out.stderr
    );
    let out = pushgw(&["push", "-j", "c"])
        .at(&gw)
        .stdin("x{ 1\n")
        .fails_with(3);
    assert!(
        out.stderr.contains("text format parsing error in line 1"),
        "{}",
        out.stderr
    );
});

#[test]
fn empty_input_is_refused_before_sending() {
    let out = pushgw(&["push", "-j", "j", "--gateway", "127.0.0.1:1"])
        .stdin("\n")
        .fails_with(2);
    assert!(
        out.stderr.contains("standard input has no metrics"),
        "{}",
        out.stderr
    );
}
