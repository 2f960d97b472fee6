//! `pushgw wipe`.

use crate::cli::pushgw;
use crate::util::{Gateway, Options};

both!(wipe_deletes_every_group, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    for job in ["a", "b"] {
        pushgw(&["gauge", "-j", job, "-n", "x", "1"])
            .at(&gw)
            .success();
    }
    assert_eq!(gw.groups().len(), 2);
    pushgw(&["wipe"]).at(&gw).success();
    assert!(gw.groups().is_empty());
});

both!(wipe_without_the_admin_api_exits_3, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&["gauge", "-j", "a", "-n", "x", "1"])
        .at(&gw)
        .success();
    let out = pushgw(&["wipe"]).at(&gw).fails_with(3);
    assert!(
        out.stderr.contains("--web.enable-admin-api"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    assert_eq!(gw.groups().len(), 1);
});
