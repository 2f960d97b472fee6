//! Persistence through the store's seam: snapshots round trip, the journal
//! replays to the live state after a kill, and damage is told apart from a
//! torn tail.

use std::path::Path;

use store::{
    OnCorruption, PersistError, PersistMode, Persistence, PersistenceOptions, PushMode, Store,
    StoreOptions,
};

use crate::util::{key, push_durably, push_text, scrape, segments};

fn open(
    file: &Path,
    mode: PersistMode,
    on_corruption: OnCorruption,
) -> Result<(Persistence, store::LoadReport), PersistError> {
    Persistence::open(
        PersistenceOptions {
            file: file.to_path_buf(),
            mode,
            on_corruption,
        },
        StoreOptions::default(),
    )
}

fn durable(file: &Path) -> (Persistence, store::LoadReport) {
    open(file, PersistMode::Durable, OnCorruption::Refuse).expect("opens")
}

/// Push times and failure times of every group, to compare stores.
fn times(store: &Store) -> Vec<(String, i64, i64)> {
    store
        .snapshot()
        .groups()
        .iter()
        .map(|g| {
            (
                g.key().to_string(),
                g.push_time().as_nanos(),
                g.failure_time().as_nanos(),
            )
        })
        .collect()
}

/// A mix of every kind of write: replaces, merges, a histogram and a
/// summary, refused pushes (recorded failures), deletes and a wipe.
fn workload(store: &Store) {
    let wait = |r: Result<store::Ticket, store::Rejected>| {
        let ticket = r.unwrap_or_else(|refused| refused.recorded);
        store.wait(ticket).unwrap();
    };
    let hist =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    let summary =
        "# HELP s A summary.\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 3\ns_count 2\n";
    for round in 0..3i64 {
        for g in 0..20 {
            let k = key(&[("job", "batch"), ("instance", &format!("i{g}"))]);
            let at = round * 100 + g + 1;
            wait(push_text(
                store,
                &k,
                &format!("x{{path=\"/v/{g}\"}} {at}\n"),
                PushMode::Replace,
                at,
            ));
            wait(push_text(store, &k, hist, PushMode::Merge, at));
            if g % 3 == 0 {
                wait(push_text(store, &k, summary, PushMode::Merge, at));
            }
            if g % 5 == 0 {
                // Refused: a type change; records a failure.
                wait(push_text(
                    store,
                    &k,
                    "# TYPE x gauge\nx 1\n",
                    PushMode::Merge,
                    at,
                ));
            }
            if g % 7 == 0 {
                store.wait(store.delete(k).unwrap()).unwrap();
            }
        }
        if round == 1 {
            store.wait(store.wipe().unwrap()).unwrap();
        }
    }
    // A failed push that creates its group.
    wait(push_text(
        store,
        &key(&[("job", "only_failed")]),
        "x 1 5\n",
        PushMode::Replace,
        999,
    ));
}

#[test]
fn replay_after_a_kill_equals_the_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let (live, _) = durable(&file);
    workload(&live.store());
    let (expected, expected_times) = (scrape(&live.store()), times(&live.store()));
    assert!(expected.contains("push_failure_time_seconds{instance=\"\",job=\"only_failed\"}"));
    // No snapshot, no close: as after kill -9.
    std::mem::forget(live);
    assert!(!file.exists(), "only the journal holds the writes");
    let (restarted, report) = durable(&file);
    assert!(report.replayed > 100, "{report:?}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(scrape(&restarted.store()), expected);
    assert_eq!(times(&restarted.store()), expected_times);
}

#[test]
fn snapshots_round_trip_in_both_modes() {
    for mode in [PersistMode::Durable, PersistMode::Snapshot] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.data");
        let (first, _) = open(&file, mode, OnCorruption::Refuse).unwrap();
        workload(&first.store());
        let (expected, expected_times) = (scrape(&first.store()), times(&first.store()));
        first.close().unwrap();
        assert!(
            segments(&file).len() <= 1,
            "a snapshot drops the journal it covers"
        );
        let (second, report) = open(&file, mode, OnCorruption::Refuse).unwrap();
        assert_eq!(report.replayed, 0, "{mode:?}");
        assert_eq!(scrape(&second.store()), expected, "{mode:?}");
        assert_eq!(times(&second.store()), expected_times, "{mode:?}");
        // Writes after the snapshot replay over it.
        let k = key(&[("job", "after")]);
        push_durably(&second.store(), &k, "late 1\n", PushMode::Replace, 5000);
        let expected = scrape(&second.store());
        match mode {
            PersistMode::Durable => std::mem::forget(second),
            PersistMode::Snapshot => second.close().unwrap(),
        }
        let (third, _) = open(&file, mode, OnCorruption::Refuse).unwrap();
        assert_eq!(scrape(&third.store()), expected, "{mode:?}");
    }
}

#[test]
fn a_torn_tail_is_cut_and_damage_in_the_middle_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let (live, _) = durable(&file);
    for i in 0..5 {
        let k = key(&[("job", &format!("j{i}"))]);
        push_durably(&live.store(), &k, "x 1\n", PushMode::Replace, i + 1);
    }
    std::mem::forget(live);
    let segment = segments(&file).pop().unwrap();
    let data = std::fs::read(&segment).unwrap();

    // The last write cut short by a crash: dropped, and cut off the file.
    std::fs::write(&segment, &data[..data.len() - 3]).unwrap();
    let (restarted, report) = durable(&file);
    assert_eq!(restarted.store().group_count(), 4);
    assert!(
        report.warnings.iter().any(|w| w.contains("torn write")),
        "{:?}",
        report.warnings
    );
    std::mem::forget(restarted);

    // A flipped byte in an earlier record, with intact records after it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let wal = {
        let mut name = file.file_name().unwrap().to_os_string();
        name.push(".wal-0000000000000001");
        file.with_file_name(name)
    };
    let mut damaged = data.clone();
    damaged[20] ^= 0xff;
    std::fs::write(&wal, &damaged).unwrap();
    let refused = open(&file, PersistMode::Durable, OnCorruption::Refuse)
        .err()
        .unwrap();
    let message = refused.to_string();
    assert!(
        message.contains("wal-0000000000000001") && message.contains("corrupt at byte"),
        "{message}"
    );
    let (kept, report) = open(&file, PersistMode::Durable, OnCorruption::KeepReadable).unwrap();
    assert!(kept.store().group_count() < 5);
    assert!(!report.warnings.is_empty());
}
