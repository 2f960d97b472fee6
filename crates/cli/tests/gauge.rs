//! `pushgw gauge`: one gauge sample.

use crate::cli::pushgw;
use crate::util::{family_type, labels, samples, Gateway, Kind};

both!(a_gauge_with_labels_and_help, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&[
        "gauge",
        "--job",
        "etl",
        "-g",
        "path=/srv/data",
        "-g",
        "shard=",
        "--name",
        "rows_copied",
        "--help-text",
        "Rows copied.",
        "--label",
        "table=users",
        "-1.5",
    ])
    .at(&gw)
    .success();
    let group = gw.expect_group(&[("job", "etl"), ("path", "/srv/data"), ("shard", "")]);
    assert_eq!(family_type(&group, "rows_copied"), "GAUGE");
    assert_eq!(group["rows_copied"]["help"], "Rows copied.");
    assert_eq!(
        samples(&group, "rows_copied"),
        vec![(
            labels(&[
                ("instance", ""),
                ("job", "etl"),
                ("path", "/srv/data"),
                ("shard", ""),
                ("table", "users")
            ]),
            "-1.5".to_owned()
        )]
    );
});

both!(special_values_and_add, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&["gauge", "-j", "j", "-n", "a", "+Inf"])
        .at(&gw)
        .success();
    pushgw(&["gauge", "-j", "j", "-n", "b", "--add", "NaN"])
        .at(&gw)
        .success();
    pushgw(&["gauge", "-j", "j", "-n", "c", "--add", "-Inf"])
        .at(&gw)
        .success();
    let group = gw.expect_group(&[("job", "j")]);
    assert_eq!(samples(&group, "a")[0].1, "+Inf");
    assert_eq!(samples(&group, "b")[0].1, "NaN");
    assert_eq!(samples(&group, "c")[0].1, "-Inf");
});

#[test]
fn bad_input_exits_2_and_pushes_nothing() {
    let gw = Gateway::start(Kind::Ours);
    let cases: &[(&[&str], &str)] = &[
        (&["gauge", "-j", "j", "-n", "x", "12abc"], "is not a number"),
        (
            &["gauge", "-j", "j", "-n", "bad-name", "1"],
            "invalid metric name \"bad-name\"",
        ),
        (
            &["gauge", "-j", "j", "-n", "x", "-l", "bad-label=1", "1"],
            "invalid label name \"bad-label\"",
        ),
        (
            &["gauge", "-j", "j", "-g", "__reserved=1", "-n", "x", "1"],
            "invalid label name \"__reserved\"",
        ),
        (
            &["gauge", "-j", "j", "-g", "nolabel", "-n", "x", "1"],
            "expected LABEL=VALUE",
        ),
        (
            &["gauge", "-j", "", "-n", "x", "1"],
            "the job name must not be empty",
        ),
        (
            &["gauge", "-j", "j", "-g", "a=1", "-g", "a=2", "-n", "x", "1"],
            "grouping label \"a\" is given twice",
        ),
        (
            &[
                "gauge", "-j", "j", "-n", "x", "-l", "table=a", "-l", "table=b", "1",
            ],
            "label \"table\" is given twice",
        ),
        (&["gauge", "-n", "x", "1"], "--job <JOB>"),
    ];
    for (args, message) in cases {
        let out = pushgw(args).at(&gw).output();
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    assert!(gw.groups().is_empty());
}
