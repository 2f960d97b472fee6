//! TTLs on pushes, and listing and deleting groups by selector, against
//! our gateway (the Go gateway has neither: it ignores the TTL header and
//! the match[] parameter).

use std::time::Duration;

use pushgateway_client::{BlockingClient, Client, DeleteMode, GroupingKey, Payload};

use crate::util::{Gateway, Kind, Options};

fn jobs(groups: &[pushgateway_client::GroupStatus]) -> Vec<String> {
    let mut jobs: Vec<String> = groups.iter().map(|g| g.labels["job"].clone()).collect();
    jobs.sort();
    jobs
}

#[tokio::test]
async fn a_client_ttl_rides_on_pushes_and_the_group_expires() {
    let gw = Gateway::start(Kind::Ours);
    let short = Client::builder(gw.url())
        .ttl(Duration::from_secs(1))
        .build()
        .unwrap();
    let plain = Client::new(gw.url()).unwrap();
    short
        .push(&GroupingKey::new("short"), &Payload::text("m 1\n"))
        .await
        .unwrap();
    plain
        .push(&GroupingKey::new("kept"), &Payload::text("m 1\n"))
        .await
        .unwrap();
    let groups = plain.groups().await.unwrap();
    let status = groups.iter().find(|g| g.labels["job"] == "short").unwrap();
    assert_eq!(status.ttl, Some(Duration::from_secs(1)));
    assert!(status
        .expires_at
        .as_deref()
        .is_some_and(|t| t.ends_with('Z')));
    let kept = groups.iter().find(|g| g.labels["job"] == "kept").unwrap();
    assert_eq!((kept.ttl, kept.expires_at.as_deref()), (None, None));
    // The TTL goes with pushes only: a delete through the same client is
    // a plain delete.
    short.delete(&GroupingKey::new("none")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while jobs(&plain.groups().await.unwrap()).contains(&"short".to_string()) {
        assert!(std::time::Instant::now() < deadline, "did not expire");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(jobs(&plain.groups().await.unwrap()), ["kept"]);
}

#[test]
fn groups_and_deletes_by_selector_blocking() {
    let gw = Gateway::start_with(
        Kind::Ours,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    let client = BlockingClient::new(gw.url()).unwrap();
    for job in ["etl-daily", "etl-hourly", "backup"] {
        client
            .push(
                &GroupingKey::new(job).label("path", "/srv/a b"),
                &Payload::text("m 1\n"),
            )
            .unwrap();
    }
    let etl = [r#"{job=~"etl-.*",path="/srv/a b"}"#];
    assert_eq!(
        jobs(&client.groups_matching(&etl).unwrap()),
        ["etl-daily", "etl-hourly"]
    );
    assert_eq!(
        jobs(
            &client
                .groups_matching(&[r#"{job="backup"}"#, r#"{job="etl-daily"}"#])
                .unwrap()
        ),
        ["backup", "etl-daily"]
    );
    let would = client
        .delete_matching(&etl, None, DeleteMode::DryRun)
        .unwrap();
    assert_eq!(would.len(), 2);
    assert_eq!(client.groups().unwrap().len(), 3);
    let young = client
        .delete_matching(&etl, Some(Duration::from_secs(3600)), DeleteMode::Delete)
        .unwrap();
    assert!(young.is_empty());
    let deleted = client
        .delete_matching(&etl, None, DeleteMode::Delete)
        .unwrap();
    assert_eq!(deleted.len(), 2);
    assert_eq!(deleted[0]["path"], "/srv/a b");
    assert_eq!(jobs(&client.groups().unwrap()), ["backup"]);
    // A bad selector is the gateway's 400, with its words.
    let e = client.groups_matching(&["{}"]).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(
        e.body().unwrap().contains("does not match the empty value"),
        "{e}"
    );
}
