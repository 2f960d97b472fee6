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
