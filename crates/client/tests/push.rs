//! push (PUT), push_add (POST) and delete (DELETE), with text and protobuf
//! payloads.

use pushgateway_client::{Client, GroupingKey, Payload};

use crate::util::{family_type, labels, samples, Gateway};

fn families(text: &str) -> Vec<exposition::MetricFamily> {
    exposition::parse_text(text.as_bytes())
        .expect("valid text")
        .into_iter()
        .map(|f| f.into_owned())
        .collect()
}

both!(push_replaces_the_whole_group, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let key = GroupingKey::new("j").label("instance", "i1");
    client
        .push(&key, &Payload::text("a 1\nb 2\n"))
        .await
        .unwrap();
    client.push(&key, &Payload::text("a 3\n")).await.unwrap();
    let group = gw.expect_group(&[("job", "j"), ("instance", "i1")]);
    assert_eq!(
        samples(&group, "a"),
        vec![(labels(&[("instance", "i1"), ("job", "j")]), "3".to_owned())]
    );
    assert!(group.get("b").is_none(), "{group:#}");
});

both!(push_add_replaces_only_the_pushed_names, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let key = GroupingKey::new("j");
    client
        .push(&key, &Payload::text("a 1\nb 2\n"))
        .await
        .unwrap();
    client
        .push_add(&key, &Payload::text("a 3\n"))
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "j")]);
    assert_eq!(samples(&group, "a")[0].1, "3");
    assert_eq!(samples(&group, "b")[0].1, "2");
});

both!(delete_removes_only_that_group, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let one = GroupingKey::new("j").label("instance", "1");
    let two = GroupingKey::new("j").label("instance", "2");
    client.push(&one, &Payload::text("a 1\n")).await.unwrap();
    client.push(&two, &Payload::text("a 2\n")).await.unwrap();
    client.delete(&one).await.unwrap();
    assert!(gw.group(&[("job", "j"), ("instance", "1")]).is_none());
    gw.expect_group(&[("job", "j"), ("instance", "2")]);
});

both!(families_arrive_with_their_types, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let payload = Payload::from_families(&families(
        "# TYPE c counter\nc{x=\"1\"} 5\n\
         # TYPE g gauge\n# HELP g A gauge.\ng -2.5\n\
         # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n\
         # TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 4\ns_count 3\n\
         u 7\n",
    ));
    client
        .push(&GroupingKey::new("typed"), &payload)
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "typed")]);
    assert_eq!(family_type(&group, "c"), "COUNTER");
    assert_eq!(family_type(&group, "g"), "GAUGE");
    assert_eq!(family_type(&group, "h"), "HISTOGRAM");
    assert_eq!(family_type(&group, "s"), "SUMMARY");
    assert_eq!(family_type(&group, "u"), "UNTYPED");
    assert_eq!(group["g"]["help"], "A gauge.");
    assert_eq!(samples(&group, "g")[0].1, "-2.5");
    assert_eq!(group["h"]["metrics"][0]["count"], "2");
    let scrape = gw.scrape();
    assert!(
        scrape.contains("h_bucket{instance=\"\",job=\"typed\",le=\"1\"} 1\n"),
        "{scrape}"
    );
    assert!(
        scrape.contains("s{instance=\"\",job=\"typed\",quantile=\"0.5\"} 1\n"),
        "{scrape}"
    );
});

both!(raw_protobuf_is_pushed_as_is, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let mut body = Vec::new();
    exposition::encode_protobuf_delimited(&mut body, &families("# TYPE raw gauge\nraw 42\n"));
    client
        .push(&GroupingKey::new("raw"), &Payload::protobuf(body))
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "raw")]);
    assert_eq!(family_type(&group, "raw"), "GAUGE");
    assert_eq!(samples(&group, "raw")[0].1, "42");
});
