//! Group lifetimes: deadlines set by successful pushes (and by the failure
//! that creates a group), expiry through the one write path, and both
//! surviving the journal and snapshots.

use std::path::Path;
use std::time::Duration;

use store::{
    Lifetime, OnCorruption, PersistMode, Persistence, PersistenceOptions, PushMode, PushTime,
    Store, StoreOptions,
};

use crate::util::key;

const SECOND: i64 = 1_000_000_000;

fn ttl(seconds: u64) -> Lifetime {
    Lifetime::For(Duration::from_secs(seconds))
}

fn at(seconds: i64) -> PushTime {
    PushTime::from_nanos(1_700_000_000 * SECOND + seconds * SECOND)
}

/// Pushes `body` into `job` at `t` seconds with `lifetime`, durably.
fn push(store: &Store, job: &str, body: &str, t: i64, lifetime: Lifetime) {
    let families = exposition::parse_text(body.as_bytes()).unwrap();
    let ticket = store
        .push_for(
            key(&[("job", job)]),
            &families,
            PushMode::Replace,
            at(t),
            lifetime,
        )
        .expect("accepted");
    store.wait(ticket).unwrap();
}

/// Expires what is due at `t` seconds, durably; answers the jobs left.
fn expire(store: &Store, t: i64) -> Vec<String> {
    for ticket in store.expire_due(at(t)).unwrap() {
        store.wait(ticket).unwrap();
    }
    jobs(store)
}

fn jobs(store: &Store) -> Vec<String> {
    store
        .snapshot()
        .groups()
        .iter()
        .map(|g| g.key().job().to_string())
        .collect()
}

#[test]
fn a_group_expires_at_its_deadline_never_before_and_a_push_renews_it() {
    let store = Store::new(StoreOptions::default());
    push(&store, "a", "m 1\n", 0, ttl(10));
    push(&store, "forever", "m 1\n", 0, Lifetime::Forever);
    let a = store.group(&key(&[("job", "a")])).unwrap();
    assert_eq!(a.lifetime(), ttl(10));
    assert_eq!(a.expires_at(), Some(at(10)));
    assert_eq!(expire(&store, 9), ["a", "forever"]);
    // Pushed again at 5: lives until 15.
    push(&store, "a", "m 2\n", 5, ttl(10));
    assert_eq!(expire(&store, 10), ["a", "forever"]);
    assert_eq!(store.expired_count(), 0);
    assert_eq!(expire(&store, 15), ["forever"]);
    assert_eq!(store.expired_count(), 1);
    // A push without a lifetime makes a group live forever again.
    push(&store, "b", "m 1\n", 20, ttl(1));
    push(&store, "b", "m 1\n", 20, Lifetime::Forever);
    assert_eq!(expire(&store, 1000), ["b", "forever"]);
    assert!(store.lifetimes_used());
}

#[test]
fn a_group_a_failure_creates_lives_by_the_default_from_its_creation() {
    let store = Store::new(StoreOptions {
        default_lifetime: ttl(30),
        ..StoreOptions::default()
    });
    assert!(store.lifetimes_used());
    // Timestamps are refused; the failure is recorded in a new group.
    let families = exposition::parse_text(b"m 1 1234\n").unwrap();
    let refused = store
        .push(
            key(&[("job", "failed")]),
            &families,
            PushMode::Replace,
            at(0),
        )
        .unwrap_err();
    store.wait(refused.recorded).unwrap();
    let group = store.group(&key(&[("job", "failed")])).unwrap();
    assert_eq!(group.expires_at(), Some(at(30)));
    // A later failure does not renew it.
    let refused = store
        .push(
            key(&[("job", "failed")]),
            &families,
            PushMode::Replace,
            at(20),
        )
        .unwrap_err();
    store.wait(refused.recorded).unwrap();
    assert_eq!(expire(&store, 29), ["failed"]);
    assert!(expire(&store, 30).is_empty());
}

#[test]
fn deletes_and_wipes_take_groups_out_of_the_sweep() {
    let store = Store::new(StoreOptions::default());
    push(&store, "a", "m 1\n", 0, ttl(5));
    push(&store, "b", "m 1\n", 0, ttl(5));
    store
        .wait(store.delete(key(&[("job", "a")])).unwrap())
        .unwrap();
    // Pushed again after the delete: its new deadline counts, not the old.
    push(&store, "a", "m 1\n", 3, ttl(5));
    assert_eq!(expire(&store, 5), ["a"]);
    store.wait(store.wipe().unwrap()).unwrap();
    assert!(store.expire_due(at(100)).unwrap().is_empty());
    assert_eq!(store.expired_count(), 1);
}

fn durable(file: &Path) -> Persistence {
    Persistence::open(
        PersistenceOptions {
            file: file.to_path_buf(),
            mode: PersistMode::Durable,
            on_corruption: OnCorruption::Refuse,
        },
        StoreOptions::default(),
    )
    .expect("opens")
    .0
}

#[test]
fn deadlines_and_expiries_survive_the_journal_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let live = durable(&file);
    push(&live.store(), "short", "m 1\n", 0, ttl(5));
    push(&live.store(), "long", "m 1\n", 0, ttl(50));
    push(&live.store(), "forever", "m 1\n", 0, Lifetime::Forever);
    assert_eq!(expire(&live.store(), 5), ["forever", "long"]);
    // As after kill -9: the journal alone holds the writes, the expiry too
    // (the replayed store does not hold the expired group although nothing
    // swept it).
    std::mem::forget(live);
    let replayed = durable(&file);
    assert_eq!(jobs(&replayed.store()), ["forever", "long"]);
    let long = replayed.store().group(&key(&[("job", "long")])).unwrap();
    assert_eq!(
        (long.lifetime(), long.expires_at()),
        (ttl(50), Some(at(50)))
    );
    // Through a snapshot too.
    replayed.close().unwrap();
    let reopened = durable(&file);
    let long = reopened.store().group(&key(&[("job", "long")])).unwrap();
    assert_eq!(
        (long.lifetime(), long.expires_at()),
        (ttl(50), Some(at(50)))
    );
    let forever = reopened.store().group(&key(&[("job", "forever")])).unwrap();
    assert_eq!(
        (forever.lifetime(), forever.expires_at()),
        (Lifetime::Forever, None)
    );
    assert_eq!(expire(&reopened.store(), 50), ["forever"]);
}

/// Copies a fixture folder (files written by the release before lifetimes)
/// into a temporary one; answers it and the persistence file in it.
fn fixture(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/before-lifetimes")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let file = dir.path().join("p.data");
    (dir, file)
}

#[test]
fn files_written_before_lifetimes_load_with_no_ttls() {
    // Written by the gateway before this change: three pushes (one refused,
    // recorded as a failure), then a clean stop (a snapshot) or kill -9 (a
    // journal only).
    for name in ["snapshot", "journal"] {
        let (_dir, file) = fixture(name);
        let persistence = durable(&file);
        let store = persistence.store();
        let text = crate::util::scrape(&store);
        assert!(
            text.contains(
                "rows{host=\"db1\",instance=\"\",job=\"nightly\",table=\"users\"} 1234\n"
            ),
            "{name}: {text}"
        );
        assert!(
            text.contains("done_total{instance=\"\",job=\"etl\"} 3\n"),
            "{name}"
        );
        assert_eq!(jobs(&store), ["nightly", "etl", "failed"], "{name}");
        for group in store.snapshot().groups() {
            assert_eq!(group.lifetime(), Lifetime::Forever, "{name}");
            assert_eq!(group.expires_at(), None, "{name}");
        }
        let failed = store.group(&key(&[("job", "failed")])).unwrap();
        assert!(!failed.last_push_successful(), "{name}");
        assert!(store.expire_due(PushTime::now()).unwrap().is_empty());
    }
}

#[test]
fn a_write_never_merges_into_an_expired_group_the_sweep_has_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let live = durable(&file);
    let store = live.store();
    push(&store, "a", "# TYPE old gauge\nold 1\n", 0, ttl(10));
    // At 15 s, before any sweep: a POST finds the group gone, not merged.
    let families = exposition::parse_text(b"# TYPE new gauge\nnew 1\n").unwrap();
    let ticket = store
        .push_for(
            key(&[("job", "a")]),
            &families,
            PushMode::Merge,
            at(15),
            ttl(10),
        )
        .unwrap();
    store.wait(ticket).unwrap();
    let group = store.group(&key(&[("job", "a")])).unwrap();
    let names: Vec<&str> = group.families().iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        ["new", "push_failure_time_seconds", "push_time_seconds"]
    );
    assert_eq!(group.expires_at(), Some(at(25)));
    assert_eq!(store.expired_count(), 1);
    // A refused push records its failure in a fresh group the same way.
    push(&store, "b", "# TYPE old gauge\nold 2\n", 0, ttl(10));
    let stamped = exposition::parse_text(b"m 1 1234\n").unwrap();
    let refused = store
        .push_for(
            key(&[("job", "b")]),
            &stamped,
            PushMode::Merge,
            at(15),
            ttl(10),
        )
        .unwrap_err();
    store.wait(refused.recorded).unwrap();
    let b = store.group(&key(&[("job", "b")])).unwrap();
    assert!(b.family("old").is_none());
    assert!(!b.last_push_successful());
    assert_eq!(store.expired_count(), 2);
    // The journal replays to the same state.
    let expected = crate::util::scrape(&store);
    std::mem::forget(live);
    assert_eq!(crate::util::scrape(&durable(&file).store()), expected);
}
