//! `pushgw gauges`: JSON lines, one push per group.

use crate::cli::pushgw;
use crate::util::{family_type, samples, Gateway};

const LINES: &str = r#"{"value": 120, "labels": {"table": "users", "instance": "w1"}}
{"value": 7, "labels": {"table": "orders", "instance": "w2"}}

{"value": "3.5", "labels": {"table": "events", "instance": "w1"}}
"#;

both!(one_push_per_group_by_value, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&[
        "gauges",
        "--job",
        "etl",
        "-g",
        "env=a/b",
        "--name",
        "table_rows",
        "--help-text",
        "Rows.",
        "--group-by",
        "instance",
    ])
    .at(&gw)
    .stdin(LINES)
    .success();
    assert_eq!(gw.groups().len(), 2);
    let w1 = gw.expect_group(&[("job", "etl"), ("env", "a/b"), ("instance", "w1")]);
    assert_eq!(family_type(&w1, "table_rows"), "GAUGE");
    let mut values: Vec<String> = samples(&w1, "table_rows")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    values.sort();
    assert_eq!(values, ["120", "3.5"]);
    let w2 = gw.expect_group(&[("job", "etl"), ("env", "a/b"), ("instance", "w2")]);
    assert_eq!(samples(&w2, "table_rows")[0].0["table"], "orders");
});

both!(add_keeps_other_metrics_of_each_group, |kind| {
    let gw = Gateway::start(kind);
    pushgw(&[
        "gauge",
        "-j",
        "etl",
        "-g",
        "instance=w1",
        "-n",
        "other",
        "1",
    ])
    .at(&gw)
    .success();
    let file = gw.dir().join("rows.jsonl");
    std::fs::write(&file, LINES).unwrap();
    pushgw(&[
        "gauges",
        "-j",
        "etl",
        "-n",
        "table_rows",
        "--group-by",
        "instance",
        "--add",
        file.to_str().unwrap(),
    ])
    .at(&gw)
    .success();
    let w1 = gw.expect_group(&[("job", "etl"), ("instance", "w1")]);
    assert_eq!(samples(&w1, "other")[0].1, "1");
    assert_eq!(samples(&w1, "table_rows").len(), 2);
});

both!(bad_lines_exit_2_naming_the_line_and_push_nothing, |kind| {
    let gw = Gateway::start(kind);
    let out = pushgw(&[
        "gauges",
        "-j",
        "etl",
        "-n",
        "rows",
        "--group-by",
        "instance",
    ])
    .at(&gw)
    .stdin("{\"value\": 1, \"labels\": {\"instance\": \"w1\"}}\n{\"value\": oops}\n")
    .fails_with(2);
    assert!(
        out.stderr.contains("line 2: invalid JSON"),
        "{}",
        out.stderr
    );
    let out = pushgw(&[
        "gauges",
        "-j",
        "etl",
        "-n",
        "rows",
        "--group-by",
        "instance",
    ])
    .at(&gw)
    .stdin("{\"value\": 1, \"labels\": {\"instance\": \"w1\"}}\n{\"value\": 2, \"labels\": {}}\n")
    .fails_with(2);
    assert!(
        out.stderr
            .contains("line 2: no label \"instance\", which --group-by needs"),
        "{}",
        out.stderr
    );
    // The same labels twice: caught before anything is pushed, naming the
    // lines (the gateway would refuse the second group only after the
    // first was pushed).
    let out = pushgw(&["gauges", "-j", "etl", "-n", "rows"])
        .at(&gw)
        .stdin("{\"value\": 1, \"labels\": {\"t\": \"a\"}}\n{\"value\": 2, \"labels\": {\"t\": \"b\"}}\n{\"value\": 3, \"labels\": {\"t\": \"a\"}}\n")
        .fails_with(2);
    assert!(
        out.stderr.contains("line 3: the same labels as line 1"),
        "{}",
        out.stderr
    );
    assert!(gw.groups().is_empty());
});
