//! The change-log seam: what the store hands a log, in which order, and
//! what it does when the log cannot take writes.

use std::sync::Arc;

use parking_lot::Mutex;
use store::{
    ChangeLog, LogError, Origin, Position, Progress, PushMode, Record, Store, StoreOptions, Ticket,
    Write, WriteError, WriteKind,
};

use crate::util::{key, push_text, scrape};

/// A log that remembers the kinds of the writes it was given, can be
/// broken on purpose, and makes writes durable only when told.
struct RecordingLog {
    appended: Mutex<Vec<WriteKind>>,
    broken: Mutex<Option<LogError>>,
    progress: Arc<Progress>,
    compacted: Mutex<Option<Position>>,
}

impl RecordingLog {
    fn new() -> Arc<RecordingLog> {
        Arc::new(RecordingLog {
            appended: Mutex::new(Vec::new()),
            broken: Mutex::new(None),
            progress: Progress::new(0),
            compacted: Mutex::new(None),
        })
    }

    fn kinds(&self) -> Vec<WriteKind> {
        self.appended.lock().clone()
    }
}

fn kind_byte(kind: WriteKind) -> u8 {
    match kind {
        WriteKind::Push => 1,
        WriteKind::Fail => 2,
        WriteKind::Delete => 3,
        WriteKind::Wipe => 4,
        WriteKind::Restore => 5,
        WriteKind::Expire => 6,
    }
}

fn byte_kind(byte: u8) -> WriteKind {
    [
        WriteKind::Push,
        WriteKind::Fail,
        WriteKind::Delete,
        WriteKind::Wipe,
        WriteKind::Restore,
        WriteKind::Expire,
    ][usize::from(byte) - 1]
}

impl ChangeLog for RecordingLog {
    fn encode(&self, write: &Write) -> Record {
        Record::new(vec![kind_byte(write.kind())])
    }

    fn append(&self, record: Record) -> Ticket {
        let mut appended = self.appended.lock();
        appended.push(byte_kind(record.into_bytes()[0]));
        Ticket::pending(appended.len() as Position, self.progress.clone())
    }

    fn check(&self) -> Result<(), LogError> {
        match &*self.broken.lock() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn checkpoint(&self) -> Position {
        self.appended.lock().len() as Position
    }

    fn compact(&self, through: Position) {
        *self.compacted.lock() = Some(through);
    }
}

fn store_on(log: &Arc<RecordingLog>) -> Store {
    Store::with_change_log(StoreOptions::default(), log.clone())
}

#[test]
fn local_writes_reach_the_log_in_apply_order() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let a = key(&[("job", "a")]);
    drop(push_text(&store, &a, "# TYPE x counter\nx 1\n", PushMode::Replace, 1).unwrap());
    // Inconsistent with group a: the log gets the failure, not the push.
    let b = key(&[("job", "b")]);
    let refused = push_text(&store, &b, "# TYPE x gauge\nx 1\n", PushMode::Merge, 2)
        .unwrap_err()
        .error;
    assert!(matches!(refused, WriteError::Rejected(_)));
    // Invalid on its own: the failure too.
    assert_eq!(
        push_text(&store, &a, "x 1 100\n", PushMode::Replace, 3)
            .unwrap_err()
            .error,
        WriteError::Timestamps
    );
    drop(store.delete(a.clone()).unwrap());
    drop(store.wipe().unwrap());
    assert_eq!(
        log.kinds(),
        vec![
            WriteKind::Push,
            WriteKind::Fail,
            WriteKind::Fail,
            WriteKind::Delete,
            WriteKind::Wipe
        ]
    );
    // What comes back from a log is applied but not appended again.
    drop(store.apply(Write::Delete { key: a }, Origin::Log).unwrap());
    assert_eq!(log.kinds().len(), 5);
}

#[test]
fn a_ticket_waits_for_the_log() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let ticket = push_text(&store, &key(&[("job", "a")]), "x 1\n", PushMode::Replace, 1).unwrap();
    let waiter = std::thread::spawn(move || ticket.wait());
    std::thread::sleep(std::time::Duration::from_millis(30));
    assert!(!waiter.is_finished(), "not durable before the log says so");
    log.progress.flushed(1);
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

#[test]
fn a_failing_log_fences_writes_before_they_are_applied() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let a = key(&[("job", "a")]);
    drop(push_text(&store, &a, "x 1\n", PushMode::Replace, 1).unwrap());
    let before = scrape(&store);
    let error = LogError::Write {
        reason: "No space left on device (os error 28)".into(),
        location: "/data/p.wal".into(),
    };
    *log.broken.lock() = Some(error.clone());
    let b = key(&[("job", "b")]);
    let refused = [
        push_text(&store, &a, "x 2\n", PushMode::Replace, 2)
            .map(drop)
            .map_err(|r| r.error),
        push_text(&store, &b, "x 2\n", PushMode::Replace, 2)
            .map(drop)
            .map_err(|r| r.error),
        store.delete(a.clone()).map(drop),
        store.wipe().map(drop),
    ];
    for r in refused {
        assert_eq!(r, Err(WriteError::Log(error.clone())));
    }
    // A push refused as invalid is still refused as invalid, but its
    // failure is not recorded either.
    assert_eq!(
        push_text(&store, &b, "x 1 100\n", PushMode::Replace, 3)
            .unwrap_err()
            .error,
        WriteError::Timestamps
    );
    assert_eq!(scrape(&store), before, "nothing refused is visible");
    assert_eq!(log.kinds(), vec![WriteKind::Push]);
    // A failed ticket reports the log's failure to the waiter.
    log.progress.failed(error.clone());
    *log.broken.lock() = None;
    let late = push_text(&store, &b, "x 1\n", PushMode::Replace, 4).unwrap();
    assert_eq!(late.wait(), Err(error));
}

#[test]
fn writes_are_seen_once_durable_and_never_if_the_log_loses_them() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let a = key(&[("job", "a")]);
    let first = push_text(&store, &a, "# TYPE x counter\nx 1\n", PushMode::Replace, 1).unwrap();
    assert_eq!(scrape(&store), "", "not visible before it is durable");
    // Writers see it already: a clash with it is refused.
    let b = key(&[("job", "b")]);
    let clash = push_text(&store, &b, "# TYPE x gauge\nx 1\n", PushMode::Replace, 2);
    assert!(matches!(clash.unwrap_err().error, WriteError::Rejected(_)));
    log.progress.flushed(1);
    store.wait(first).unwrap();
    assert!(scrape(&store).contains("x{instance=\"\",job=\"a\"} 1\n"));

    // The log loses what follows: it is never shown, and writers forget it.
    let lost = push_text(&store, &a, "# TYPE y gauge\ny 1\n", PushMode::Replace, 3).unwrap();
    let before = scrape(&store);
    log.progress.failed(LogError::Write {
        reason: "No space left on device (os error 28)".into(),
        location: "/data/p.wal".into(),
    });
    assert!(store.wait(lost).is_err());
    store.discard_after(log.progress.durable_through());
    assert_eq!(scrape(&store), before);
    // Group b's failure record came after the push and is lost too, and x
    // is a counter again for writers.
    assert!(store.group(&b).is_none());
    let again = push_text(
        &store,
        &key(&[("job", "c")]),
        "# TYPE y counter\ny 1\n",
        PushMode::Replace,
        4,
    );
    assert!(
        again.is_ok(),
        "y is free again once the lost push is forgotten"
    );
}

#[test]
fn a_checkpoint_holds_only_what_is_durable() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let tickets: Vec<_> = (0..3)
        .map(|i| {
            let k = key(&[("job", &format!("j{i}"))]);
            push_text(&store, &k, "x 1\n", PushMode::Replace, 1).unwrap()
        })
        .collect();
    let (snapshot, position) = store.checkpoint();
    assert_eq!((snapshot.groups().len(), position), (0, 0));
    log.progress.flushed(2);
    store.publish(2);
    let (snapshot, position) = store.checkpoint();
    assert_eq!((snapshot.groups().len(), position), (2, 2));
    log.progress.flushed(3);
    for t in tickets {
        store.wait(t).unwrap();
    }
    let (snapshot, position) = store.checkpoint();
    assert_eq!((snapshot.groups().len(), position), (3, 3));
    store.compact_log(position);
    assert_eq!(*log.compacted.lock(), Some(3));
}

#[test]
fn a_write_durable_before_the_log_failed_is_kept_though_nobody_waited() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let a = key(&[("job", "a")]);
    let b = key(&[("job", "b")]);
    let durable = push_text(&store, &a, "x 1\n", PushMode::Replace, 1).unwrap();
    let lost = push_text(&store, &b, "y 1\n", PushMode::Replace, 2).unwrap();
    // The first record reached the disk, then the log failed; the writer
    // of the first has not come back for its answer yet.
    log.progress.flushed(1);
    log.progress.failed(LogError::Write {
        reason: "Input/output error (os error 5)".into(),
        location: "/data/p.wal".into(),
    });
    store.discard_after(log.progress.durable_through());
    assert_eq!(durable.wait(), Ok(()), "its writer is told it is durable");
    assert!(lost.wait().is_err());
    let shown = scrape(&store);
    assert!(shown.contains("x{instance=\"\",job=\"a\"} 1\n"), "{shown}");
    assert!(!shown.contains("y{"), "{shown}");
    assert!(store.group(&a).is_some());
    assert!(store.group(&b).is_none());
}

#[test]
fn while_the_log_refuses_writes_expired_groups_are_hidden_then_removed_when_it_recovers() {
    let log = RecordingLog::new();
    let store = store_on(&log);
    let now = store::PushTime::now();
    let families = exposition::parse_text(b"x 1\n").unwrap();
    let ttl = store::Lifetime::For(std::time::Duration::from_secs(60));
    // Pushed 2 minutes ago with a TTL of 1: expired by now; the other not.
    let old = key(&[("job", "old")]);
    let fresh = key(&[("job", "fresh")]);
    let past = store::PushTime::from_nanos(now.as_nanos() - 120_000_000_000);
    drop(
        store
            .push_for(old.clone(), &families, PushMode::Replace, past, ttl)
            .unwrap(),
    );
    drop(
        store
            .push_for(fresh.clone(), &families, PushMode::Replace, now, ttl)
            .unwrap(),
    );
    log.progress.flushed(2);
    store.publish(2);
    assert_eq!(
        store.snapshot().groups().len(),
        2,
        "not swept yet: still shown"
    );
    let error = LogError::Write {
        reason: "No space left on device (os error 28)".into(),
        location: "/data/p.wal".into(),
    };
    *log.broken.lock() = Some(error.clone());
    // The sweep cannot remove it: every read leaves it out meanwhile.
    assert_eq!(store.expire_due(now).err(), Some(WriteError::Log(error)));
    let shown: Vec<String> = store
        .snapshot()
        .groups()
        .iter()
        .map(|g| g.key().to_string())
        .collect();
    assert_eq!(shown, [r#"{job="fresh"}"#]);
    assert!(store.group(&old).is_none());
    assert!(!scrape(&store).contains("job=\"old\""));
    // Writes resume: the next sweep removes it through the log.
    *log.broken.lock() = None;
    let tickets = store.expire_due(now).unwrap();
    assert_eq!(tickets.len(), 1);
    log.progress.flushed(3);
    store.publish(3);
    assert_eq!(log.kinds().last(), Some(&WriteKind::Expire));
    assert_eq!(store.snapshot().groups().len(), 1);
    assert_eq!(store.expired_count(), 1);
}
