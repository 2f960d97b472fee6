//! The Prefect-style gauge helper: one push per grouping-key value.

use pushgateway_client::{Client, Gauges, GroupingKey, Payload};

use crate::util::{family_type, labels, samples, Gateway};

fn table_rows() -> Gauges {
    let mut gauges = Gauges::new("table_rows", "Rows per table.").group_by(["instance"]);
    gauges.sample(120.0, [("table", "users"), ("instance", "w1")]);
    gauges.sample(7.0, [("table", "orders"), ("instance", "w2")]);
    gauges.sample(3.5, [("table", "events"), ("instance", "w1")]);
    gauges
}

both!(one_gauge_family_per_group, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let pushes = client
        .push_gauges(&GroupingKey::new("etl").label("env", "prod"), &table_rows())
        .await
        .unwrap();
    assert_eq!(pushes, 2);
    assert_eq!(gw.groups().len(), 2);
    let w1 = gw.expect_group(&[("job", "etl"), ("env", "prod"), ("instance", "w1")]);
    assert_eq!(family_type(&w1, "table_rows"), "GAUGE");
    assert_eq!(w1["table_rows"]["help"], "Rows per table.");
    let mut got = samples(&w1, "table_rows");
    got.sort_by_key(|(l, _)| l["table"].as_str().unwrap_or_default().to_owned());
    let base = [("env", "prod"), ("instance", "w1"), ("job", "etl")];
    let with_table = |t| {
        let mut l = base.to_vec();
        l.push(("table", t));
        labels(&l)
    };
    assert_eq!(
        got,
        vec![
            (with_table("events"), "3.5".to_owned()),
            (with_table("users"), "120".to_owned()),
        ]
    );
    let w2 = gw.expect_group(&[("job", "etl"), ("env", "prod"), ("instance", "w2")]);
    assert_eq!(samples(&w2, "table_rows")[0].1, "7");
});

both!(push_add_gauges_keep_other_metrics, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let w1 = GroupingKey::new("etl").label("instance", "w1");
    client.push(&w1, &Payload::text("other 1\n")).await.unwrap();
    client
        .push_add_gauges(&GroupingKey::new("etl"), &table_rows())
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "etl"), ("instance", "w1")]);
    assert_eq!(samples(&group, "other")[0].1, "1");
    assert_eq!(samples(&group, "table_rows").len(), 2);
    client
        .push_gauges(&GroupingKey::new("etl"), &table_rows())
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "etl"), ("instance", "w1")]);
    assert!(
        group.get("other").is_none(),
        "PUT replaces the group: {group:#}"
    );
});
