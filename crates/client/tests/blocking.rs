//! The blocking client, outside and inside Tokio runtimes.

use pushgateway_client::{BlockingClient, GroupingKey, Payload};

use crate::util::{samples, Gateway, Kind};

fn push_and_check(kind: Kind) {
    let gw = Gateway::start(kind);
    let client = BlockingClient::new(gw.url()).unwrap();
    let key = GroupingKey::new("blocking");
    client.push(&key, &Payload::text("x 1\n")).unwrap();
    client.push_add(&key, &Payload::text("y 2\n")).unwrap();
    let group = gw.expect_group(&[("job", "blocking")]);
    assert_eq!(samples(&group, "x")[0].1, "1");
    assert_eq!(samples(&group, "y")[0].1, "2");
    assert_eq!(client.groups().unwrap().len(), 1);
    client.delete(&key).unwrap();
    assert!(gw.groups().is_empty());
}

#[test]
fn outside_a_runtime_go() {
    push_and_check(Kind::Go);
}

#[test]
fn outside_a_runtime_ours() {
    push_and_check(Kind::Ours);
}

both!(inside_a_current_thread_runtime, |kind| {
    push_and_check(kind);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_a_multi_thread_runtime() {
    push_and_check(Kind::Ours);
}

#[test]
fn clones_share_the_worker_and_outlive_the_original() {
    let gw = Gateway::start(Kind::Ours);
    let client = BlockingClient::new(gw.url()).unwrap();
    let clone = client.clone();
    drop(client);
    clone
        .push(&GroupingKey::new("clone"), &Payload::text("x 1\n"))
        .unwrap();
    gw.expect_group(&[("job", "clone")]);
}
