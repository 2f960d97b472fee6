//! Deleting groups by selector and age, through the one write path.

use store::{
    DeleteMode, Origin, PushMode, PushTime, Selector, Store, StoreOptions, Write, WriteError,
};

use crate::util::{key, push_durably};

const SECOND: i64 = 1_000_000_000;

fn jobs(store: &Store) -> Vec<String> {
    store
        .snapshot()
        .groups()
        .iter()
        .map(|g| g.key().to_string())
        .collect()
}

fn selectors(texts: &[&str]) -> Vec<Selector> {
    texts.iter().map(|t| Selector::parse(t).unwrap()).collect()
}

fn filled() -> Store {
    let store = Store::new(StoreOptions::default());
    for (job, instance, t) in [
        ("etl-daily", "db1", 10),
        ("etl-daily", "db2", 20),
        ("etl-hourly", "db1", 30),
        ("backup", "db1", 40),
    ] {
        let k = key(&[("job", job), ("instance", instance)]);
        push_durably(&store, &k, "m 1\n", PushMode::Replace, t * SECOND);
    }
    store
}

#[test]
fn a_dry_run_lists_and_a_delete_deletes_the_union() {
    let store = filled();
    let union = selectors(&[r#"{job=~"etl-.*",instance!="db1"}"#, r#"{job="backup"}"#]);
    let (listed, tickets) = store
        .delete_matching(&union, None, DeleteMode::DryRun)
        .unwrap();
    assert!(tickets.is_empty());
    let listed: Vec<String> = listed.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            r#"{instance="db1",job="backup"}"#,
            r#"{instance="db2",job="etl-daily"}"#
        ]
    );
    assert_eq!(jobs(&store).len(), 4, "a dry run changes nothing");
    let (deleted, tickets) = store
        .delete_matching(&union, None, DeleteMode::Delete)
        .unwrap();
    for ticket in tickets {
        store.wait(ticket).unwrap();
    }
    assert_eq!(deleted.len(), 2);
    assert_eq!(
        jobs(&store),
        [
            r#"{instance="db1",job="etl-daily"}"#,
            r#"{instance="db1",job="etl-hourly"}"#
        ]
    );
}

#[test]
fn older_than_counts_failed_pushes_and_a_push_since_selection_keeps_the_group() {
    let store = filled();
    // A failed push at 35 s makes etl-daily/db1 recent.
    let families = exposition::parse_text(b"m 1 1234\n").unwrap();
    let k = key(&[("job", "etl-daily"), ("instance", "db1")]);
    let refused = store
        .push(
            k.clone(),
            &families,
            PushMode::Replace,
            PushTime::from_nanos(35 * SECOND),
        )
        .unwrap_err();
    store.wait(refused.recorded).unwrap();
    let etl = selectors(&[r#"{job=~"etl-.*"}"#]);
    let (listed, _) = store
        .delete_matching(
            &etl,
            Some(PushTime::from_nanos(31 * SECOND)),
            DeleteMode::DryRun,
        )
        .unwrap();
    let listed: Vec<String> = listed.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            r#"{instance="db1",job="etl-hourly"}"#,
            r#"{instance="db2",job="etl-daily"}"#
        ]
    );
    // The conditional delete of a group pushed to since it was selected
    // is refused, and nothing changes.
    let hourly = key(&[("job", "etl-hourly"), ("instance", "db1")]);
    push_durably(&store, &hourly, "m 2\n", PushMode::Replace, 50 * SECOND);
    let stale = Write::DeleteUnchanged {
        key: hourly.clone(),
        last_push: PushTime::from_nanos(30 * SECOND),
    };
    assert_eq!(
        store.apply(stale, Origin::Local).unwrap_err(),
        WriteError::Changed
    );
    assert!(store.group(&hourly).is_some());
    // Nor is one gone since it was selected reported as deleted.
    let gone = Write::DeleteUnchanged {
        key: key(&[("job", "never-pushed")]),
        last_push: PushTime::from_nanos(30 * SECOND),
    };
    assert_eq!(
        store.apply(gone, Origin::Local).unwrap_err(),
        WriteError::Changed
    );
    let (deleted, tickets) = store
        .delete_matching(
            &etl,
            Some(PushTime::from_nanos(31 * SECOND)),
            DeleteMode::Delete,
        )
        .unwrap();
    for ticket in tickets {
        store.wait(ticket).unwrap();
    }
    let deleted: Vec<String> = deleted.iter().map(ToString::to_string).collect();
    assert_eq!(deleted, [r#"{instance="db2",job="etl-daily"}"#]);
    assert_eq!(jobs(&store).len(), 3);
}
