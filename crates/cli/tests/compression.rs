//! `--compression`.

use crate::cli::pushgw;
use crate::util::{samples, Gateway, Kind};

both!(gzip, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&["push", "-j", "gz", "--compression", "gzip"])
        .at(&gw)
        .stdin("x 1\n")
        .success();
    pushgw(&["gauge", "-j", "gz", "-n", "y", "--add", "2"])
        .at(&gw)
        .env("PUSHGATEWAY_COMPRESSION", "GZIP")
        .success();
    pushgw(&["delete", "-j", "other", "--compression", "gzip"])
        .at(&gw)
        .success();
    let group = gw.expect_group(&[("job", "gz")]);
    assert_eq!(samples(&group, "x")[0].1, "1");
    assert_eq!(samples(&group, "y")[0].1, "2");
});

#[test]
fn snappy_with_our_gateway() {
    let gw = Gateway::start(Kind::Ours);
    pushgw(&["push", "-j", "sn", "--compression", "snappy"])
        .at(&gw)
        .stdin("x 1\n")
        .success();
    assert_eq!(samples(&gw.expect_group(&[("job", "sn")]), "x")[0].1, "1");
}

#[test]
fn snappy_to_the_go_1_5_1_gateway_exits_3_with_its_message() {
    let gw = Gateway::start(Kind::Go);
    let out = pushgw(&["push", "-j", "sn", "--compression", "snappy"])
        .at(&gw)
        .stdin("x 1\n")
        .fails_with(3);
    assert!(out.stderr.contains("400 Bad Request"), "{}", out.stderr);
    assert!(
        out.stderr.contains("text format parsing error"),
        "{}",
        out.stderr
    );
    // delete ignores the global --compression (and 1.5.1 is fine with that).
    pushgw(&["delete", "-j", "sn", "--compression", "snappy"])
        .at(&gw)
        .success();
}
