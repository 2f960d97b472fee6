//! Compressed pushes: gzip everywhere, snappy where the gateway has it,
//! and never on DELETE.

use pushgateway_client::__doctest::FakeGateway;
use pushgateway_client::{Client, Compression, GroupingKey, Payload};

use crate::util::{family_type, samples, Gateway, Kind};

both!(gzip_pushes_arrive, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::builder(gw.url())
        .compression(Compression::Gzip)
        .build()
        .unwrap();
    client
        .push(
            &GroupingKey::new("gz"),
            &Payload::text("# TYPE text_metric gauge\ntext_metric 1\n"),
        )
        .await
        .unwrap();
    let families =
        exposition::parse_text(b"# TYPE proto_metric counter\nproto_metric 2\n").unwrap();
    client
        .push_add(&GroupingKey::new("gz"), &Payload::from_families(&families))
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "gz")]);
    assert_eq!(samples(&group, "text_metric")[0].1, "1");
    assert_eq!(family_type(&group, "proto_metric"), "COUNTER");
    client.delete(&GroupingKey::new("gz")).await.unwrap();
    assert!(gw.groups().is_empty());
});

#[tokio::test]
async fn snappy_pushes_arrive_at_our_gateway() {
    let gw = Gateway::start(Kind::Ours);
    let client = Client::builder(gw.url())
        .compression(Compression::Snappy)
        .build()
        .unwrap();
    let body = (0..200)
        .map(|i| format!("m{{i=\"{i}\"}} {i}\n"))
        .collect::<String>();
    client
        .push(&GroupingKey::new("snappy"), &Payload::text(body))
        .await
        .unwrap();
    let group = gw.expect_group(&[("job", "snappy")]);
    assert_eq!(samples(&group, "m").len(), 200);
}

#[tokio::test]
async fn delete_is_never_compressed() {
    let fake = FakeGateway::start();
    let client = Client::builder(fake.url())
        .compression(Compression::Snappy)
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    client.delete(&GroupingKey::new("j")).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].header("content-encoding"), Some("snappy"));
    assert_ne!(requests[0].body, b"x 1\n");
    assert_eq!(requests[1].method, "DELETE");
    assert_eq!(requests[1].header("content-encoding"), None);
    assert!(requests[1].body.is_empty());
}
