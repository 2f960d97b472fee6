//! Grouping keys with awkward values reach the gateway unchanged.

use pushgateway_client::{instance_ip_grouping_key, Client, GroupingKey, Payload};

use crate::util::Gateway;

both!(awkward_values_arrive_intact, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let values = [
        ("slash", "/var/tmp/"),
        ("space", "a b  c"),
        ("empty", ""),
        ("unicode", "Grüße ☃ 日本"),
        ("percent", "50%+x=y&z?#"),
        ("dots", ".."),
        ("dot", "."),
        ("at", "a@base64"),
    ];
    let key = GroupingKey::new("nightly/backup run").labels(values);
    client.push(&key, &Payload::text("ok 1\n")).await.unwrap();
    let mut expected = vec![("job", "nightly/backup run")];
    expected.extend(values);
    let group = gw.expect_group(&expected);
    assert_eq!(group["ok"]["metrics"][0]["labels"]["slash"], "/var/tmp/");
});

both!(
    a_job_with_only_an_empty_label_and_slashes_can_be_deleted,
    |kind| {
        let gw = Gateway::start(kind);
        let client = Client::new(gw.url()).unwrap();
        let key = GroupingKey::new("a/b").label("region", "");
        client.push(&key, &Payload::text("x 1\n")).await.unwrap();
        gw.expect_group(&[("job", "a/b"), ("region", "")]);
        client.delete(&key).await.unwrap();
        assert!(gw.groups().is_empty(), "{:#?}", gw.groups());
    }
);

both!(instance_ip_grouping_key_names_a_group, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let labels = instance_ip_grouping_key().unwrap();
    let ip = labels["instance"].clone();
    client
        .push(
            &GroupingKey::new("ip").labels(labels),
            &Payload::text("x 1\n"),
        )
        .await
        .unwrap();
    gw.expect_group(&[("job", "ip"), ("instance", &ip)]);
});
