//! Compressed pushes: gzip everywhere, snappy where the gateway has it (a
//! clear 400 where it does not), and DELETE refused with compression.

use pushgateway_client::__doctest::FakeGateway;
use pushgateway_client::{Client, Compression, Error, GroupingKey, Payload};

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
    let plain = Client::new(gw.url()).unwrap();
    plain.delete(&GroupingKey::new("gz")).await.unwrap();
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
async fn snappy_to_the_go_1_5_1_gateway_is_a_400_with_its_message() {
    // 1.5.1 does not know `Content-Encoding: snappy` and parses the
    // compressed bytes as text.
    let gw = Gateway::start(Kind::Go);
    let client = Client::builder(gw.url())
        .compression(Compression::Snappy)
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("snappy"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Status { status: 400, .. }), "{err:?}");
    assert_eq!(err.status(), Some(400));
    let body = err.body().unwrap();
    assert!(body.contains("text format parsing error"), "{body}");
    assert!(err.to_string().contains(body), "{err}");
    assert!(gw.groups().is_empty());
}

#[tokio::test]
async fn delete_with_compression_is_refused_without_sending() {
    let fake = FakeGateway::start();
    for compression in [Compression::Gzip, Compression::Snappy] {
        let client = Client::builder(fake.url())
            .compression(compression)
            .build()
            .unwrap();
        let err = client.delete(&GroupingKey::new("j")).await.unwrap_err();
        assert!(matches!(err, Error::CompressionNotSupported), "{err:?}");
        assert!(
            err.to_string()
                .contains("compression is not supported for DELETE requests"),
            "{err}"
        );
    }
    let blocking = Client::builder(fake.url())
        .compression(Compression::Gzip)
        .build_blocking()
        .unwrap();
    let err = blocking.delete(&GroupingKey::new("j")).unwrap_err();
    assert!(matches!(err, Error::CompressionNotSupported), "{err:?}");
    assert_eq!(fake.connections(), 0);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn pushes_are_compressed_and_the_rest_is_not() {
    let fake = FakeGateway::start();
    let client = Client::builder(fake.url())
        .compression(Compression::Snappy)
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    client.wipe().await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].header("content-encoding"), Some("snappy"));
    assert_ne!(requests[0].body, b"x 1\n");
    assert_eq!(requests[1].path, "/api/v1/admin/wipe");
    assert_eq!(requests[1].header("content-encoding"), None);
    assert!(requests[1].body.is_empty());
}
