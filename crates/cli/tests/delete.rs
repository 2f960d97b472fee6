//! `pushgw delete`.

use crate::cli::pushgw;
use crate::util::Gateway;

both!(delete_removes_only_that_group, |kind| {
    let gw = Gateway::start(kind);
    for host in ["/dev/sda", ""] {
        pushgw(&["push", "-j", "disk", "-g", &format!("device={host}")])
            .at(&gw)
            .stdin("free_bytes 1\n")
            .success();
    }
    assert_eq!(gw.groups().len(), 2);
    pushgw(&["delete", "-j", "disk", "-g", "device=/dev/sda"])
        .at(&gw)
        .success();
    assert!(gw
        .group(&[("job", "disk"), ("device", "/dev/sda")])
        .is_none());
    gw.expect_group(&[("job", "disk"), ("device", "")]);
    pushgw(&["delete", "-j", "disk", "-g", "device="])
        .at(&gw)
        .success();
    assert!(gw.groups().is_empty());
});
