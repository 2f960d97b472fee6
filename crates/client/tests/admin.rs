//! Listing groups (`/api/v1/metrics`) and the admin wipe.

use pushgateway_client::{Client, GroupingKey, Payload};

use crate::util::{Gateway, Options};

both!(groups_lists_labels_push_times_and_failures, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    assert!(client.groups().await.unwrap().is_empty());
    let good = GroupingKey::new("good").label("path", "/srv");
    let bad = GroupingKey::new("bad");
    client
        .push(&good, &Payload::text("# TYPE x counter\nx 1\ny 2\n"))
        .await
        .unwrap();
    client.push(&bad, &Payload::text("z 1\n")).await.unwrap();
    client
        .push_add(&bad, &Payload::text("# TYPE x gauge\nx 1\n"))
        .await
        .unwrap_err();
    let groups = client.groups().await.unwrap();
    assert_eq!(groups.len(), 2, "{groups:#?}");
    let good_status = groups
        .iter()
        .find(|g| g.labels.get("job").map(String::as_str) == Some("good"))
        .unwrap();
    assert_eq!(
        good_status.labels.get("path").map(String::as_str),
        Some("/srv")
    );
    assert!(good_status.last_push_successful);
    assert!(good_status.last_push_time.unwrap() > 1.6e9);
    assert_eq!(good_status.last_failure_time, None);
    assert_eq!(good_status.metric_names, ["x", "y"]);
    let bad_status = groups
        .iter()
        .find(|g| g.labels.get("job").map(String::as_str) == Some("bad"))
        .unwrap();
    assert!(!bad_status.last_push_successful);
    assert!(bad_status.last_failure_time.unwrap() > 1.6e9);
    assert_eq!(bad_status.metric_names, ["z"]);
});

both!(wipe_deletes_every_group, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    let client = Client::new(gw.url()).unwrap();
    for job in ["a", "b", "c"] {
        client
            .push(&GroupingKey::new(job), &Payload::text("x 1\n"))
            .await
            .unwrap();
    }
    assert_eq!(gw.groups().len(), 3);
    client.wipe().await.unwrap();
    assert!(gw.groups().is_empty());
});

both!(wipe_without_the_admin_api_is_refused, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    client
        .push(&GroupingKey::new("a"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    let err = client.wipe().await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert_eq!(gw.groups().len(), 1);
});
