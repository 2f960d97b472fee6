//! The change-log seam: where every write the store applies goes, in the
//! order it was applied, and how the writer learns that it is durable.
//!
//! The store hands each locally made write to a [`ChangeLog`] (the file
//! journal, [`MemoryLog`], later a replicated log) and gets a [`Ticket`]
//! back, which the request handler awaits before it answers. How and when
//! records become durable is the log's business; it reports that through
//! the [`Progress`] its tickets watch. A log that can no longer make writes
//! durable says so in [`ChangeLog::check`], and the store then refuses
//! further writes before applying them.
//!
//! Writes read back from a log (start-up replay, replication) are applied
//! with [`Origin::Log`](crate::Origin::Log) and never appended again.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use crate::write::Write;

/// A place in a change log: the number of the last record it covers
/// (0 before the first record).
pub type Position = u64;

/// A write encoded for one log, made before the store's lock is taken.
/// What the bytes mean is up to the log that made them.
#[derive(Debug, Default)]
pub struct Record(Vec<u8>);

impl Record {
    /// A record carrying `bytes`.
    pub fn new(bytes: Vec<u8>) -> Record {
        Record(bytes)
    }

    /// The encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Why a change log cannot take or keep a write. The message names the
/// problem (for instance the operating system's error), never a file path:
/// it may be shown to clients. [`LogError::detail`] has the rest, for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Writing or syncing failed; `reason` is what the system said.
    #[error("{reason}")]
    Write {
        /// The system's description (`No space left on device (os error 28)`).
        reason: String,
        /// Where it happened (a file, a server), for the operator's log.
        location: String,
    },
    /// The log was closed (the gateway is shutting down).
    #[error("the change log is closed")]
    Closed,
}

impl LogError {
    /// The error with where it happened, for the gateway's own log.
    pub fn detail(&self) -> String {
        match self {
            LogError::Write { reason, location } => format!("{location}: {reason}"),
            LogError::Closed => self.to_string(),
        }
    }
}

/// Where every applied write goes.
///
/// The store calls [`encode`](ChangeLog::encode) before it takes its write
/// lock, then, with the lock held and in apply order,
/// [`check`](ChangeLog::check) and [`append`](ChangeLog::append);
/// `append` must not block on I/O. [`checkpoint`](ChangeLog::checkpoint)
/// is called with the lock held at the moment a snapshot copies the store;
/// once that snapshot is durable, [`compact`](ChangeLog::compact) may drop
/// what it covers.
pub trait ChangeLog: Send + Sync {
    /// Encodes a write for this log (the costly part, done outside the lock).
    fn encode(&self, write: &Write) -> Record;

    /// Appends an encoded write; the ticket resolves once it is durable.
    fn append(&self, record: Record) -> Ticket;

    /// Whether the log can take writes now. An error fences the store: the
    /// write being made, and every later one, is refused before it is
    /// applied.
    fn check(&self) -> Result<(), LogError>;

    /// Marks where a snapshot copies the store: returns the position of the
    /// last record the snapshot reflects.
    fn checkpoint(&self) -> Position;

    /// Drops records up to `through`, which a durable snapshot now holds.
    fn compact(&self, through: Position);
}

/// A log that keeps nothing: every write is "durable" at once. For a
/// gateway without persistence, and for snapshot-only persistence (whose
/// snapshots then reflect the position the log was opened at).
#[derive(Debug, Default)]
pub struct MemoryLog {
    position: Position,
}

impl MemoryLog {
    /// A log that reports `position` at every checkpoint.
    pub fn at(position: Position) -> MemoryLog {
        MemoryLog { position }
    }
}

impl ChangeLog for MemoryLog {
    fn encode(&self, _write: &Write) -> Record {
        Record::default()
    }

    fn append(&self, _record: Record) -> Ticket {
        Ticket::done()
    }

    fn check(&self) -> Result<(), LogError> {
        Ok(())
    }

    fn checkpoint(&self) -> Position {
        self.position
    }

    fn compact(&self, _through: Position) {}
}

/// How far a log has made its records durable, and whether it stopped:
/// what a log reports and its tickets wait on.
///
/// A failure does not undo what was durable before it: a ticket at or
/// before [`Progress::durable_through`] resolves as durable even after the
/// log failed, so that a write that reached the disk is never answered as
/// refused (a restart would bring it back).
#[derive(Debug)]
pub struct Progress {
    state: Mutex<Flushed>,
    changed: Condvar,
    watch: watch::Sender<Flushed>,
}

/// What a [`Progress`] knows.
#[derive(Debug, Clone)]
struct Flushed {
    /// Every record up to here is durable.
    through: Position,
    /// Set once records after `through` may never become durable.
    failure: Option<LogError>,
}

impl Flushed {
    /// The outcome for the record at `position`, once there is one.
    fn outcome(&self, position: Position) -> Option<Result<(), LogError>> {
        if self.through >= position {
            Some(Ok(()))
        } else {
            self.failure.clone().map(Err)
        }
    }
}

impl Progress {
    /// Progress with everything up to `position` durable.
    pub fn new(position: Position) -> Arc<Progress> {
        let start = Flushed {
            through: position,
            failure: None,
        };
        let (watch, _) = watch::channel(start.clone());
        Arc::new(Progress {
            state: Mutex::new(start),
            changed: Condvar::new(),
            watch,
        })
    }

    /// Reports that every record up to `position` is durable.
    pub fn flushed(&self, position: Position) {
        self.report(|state| state.through = state.through.max(position));
    }

    /// Reports that records after the last flushed position may never
    /// become durable.
    pub fn failed(&self, error: LogError) {
        self.report(|state| state.failure = Some(error));
    }

    /// Every record up to this position is durable.
    pub fn durable_through(&self) -> Position {
        self.state.lock().through
    }

    /// Waits until a position after `position` is durable, the log fails,
    /// or `timeout` passes; returns how far the log is, or why it stopped.
    pub fn wait_past(
        &self,
        position: Position,
        timeout: std::time::Duration,
    ) -> Result<Position, LogError> {
        let mut state = self.state.lock();
        if state.through <= position && state.failure.is_none() {
            let _ = self.changed.wait_for(&mut state, timeout);
        }
        match &state.failure {
            Some(e) => Err(e.clone()),
            None => Ok(state.through),
        }
    }

    fn report(&self, change: impl FnOnce(&mut Flushed)) {
        let mut state = self.state.lock();
        change(&mut state);
        let now = state.clone();
        drop(state);
        self.changed.notify_all();
        let _previous = self.watch.send_replace(now);
    }
}

/// What a write hands back: a way to wait until the change is durable.
#[must_use = "a change is durable only once its ticket has been waited on"]
#[derive(Debug)]
pub struct Ticket {
    state: TicketState,
}

#[derive(Debug)]
enum TicketState {
    Durable,
    Failed(LogError),
    Pending {
        position: Position,
        progress: Arc<Progress>,
    },
}

impl Ticket {
    /// A ticket for a change that is already durable (or never will be
    /// more durable than it is: nothing is persisted).
    pub fn done() -> Ticket {
        Ticket {
            state: TicketState::Durable,
        }
    }

    /// A ticket for a change the log could not take.
    pub fn failed(error: LogError) -> Ticket {
        Ticket {
            state: TicketState::Failed(error),
        }
    }

    /// A ticket for the record at `position`, resolved by `progress`.
    pub fn pending(position: Position, progress: Arc<Progress>) -> Ticket {
        Ticket {
            state: TicketState::Pending { position, progress },
        }
    }

    /// The position of the record this ticket waits for, if it waits.
    pub fn pending_position(&self) -> Option<Position> {
        match &self.state {
            TicketState::Pending { position, .. } => Some(*position),
            _ => None,
        }
    }

    /// Whether the log refused the record outright.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, TicketState::Failed(_))
    }

    /// Waits until the change is durable.
    pub async fn durable(self) -> Result<(), LogError> {
        match self.state {
            TicketState::Durable => Ok(()),
            TicketState::Failed(e) => Err(e),
            TicketState::Pending { position, progress } => {
                let mut rx = progress.watch.subscribe();
                let state = rx
                    .wait_for(|state| state.outcome(position).is_some())
                    .await
                    .map_err(|_| LogError::Closed)?;
                state.outcome(position).unwrap_or(Err(LogError::Closed))
            }
        }
    }

    /// Blocks until the change is durable.
    pub fn wait(self) -> Result<(), LogError> {
        match self.state {
            TicketState::Durable => Ok(()),
            TicketState::Failed(e) => Err(e),
            TicketState::Pending { position, progress } => {
                let mut state = progress.state.lock();
                loop {
                    if let Some(outcome) = state.outcome(position) {
                        return outcome;
                    }
                    progress.changed.wait(&mut state);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_resolve_when_their_position_is_flushed() {
        let progress = Progress::new(3);
        assert_eq!(Ticket::pending(3, progress.clone()).wait(), Ok(()));
        let waiter = {
            let progress = progress.clone();
            std::thread::spawn(move || Ticket::pending(5, progress).wait())
        };
        progress.flushed(4);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished(), "position 5 is not flushed yet");
        progress.flushed(5);
        assert_eq!(waiter.join().unwrap(), Ok(()));
    }

    #[test]
    fn a_failure_resolves_every_waiting_ticket_with_the_error() {
        let progress = Progress::new(0);
        let error = LogError::Write {
            reason: "No space left on device (os error 28)".into(),
            location: "/var/lib/x.wal".into(),
        };
        let waiter = {
            let progress = progress.clone();
            std::thread::spawn(move || Ticket::pending(1, progress).wait())
        };
        progress.failed(error.clone());
        assert_eq!(waiter.join().unwrap(), Err(error.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outcome = runtime.block_on(Ticket::pending(2, progress).durable());
        assert_eq!(outcome, Err(error.clone()));
        assert!(
            !error.to_string().contains("/var/lib"),
            "no path for clients"
        );
        assert!(error.detail().contains("/var/lib/x.wal"));
    }

    #[test]
    fn what_was_durable_before_a_failure_stays_durable() {
        let progress = Progress::new(0);
        progress.flushed(2);
        progress.failed(LogError::Closed);
        assert_eq!(Ticket::pending(2, progress.clone()).wait(), Ok(()));
        assert_eq!(
            Ticket::pending(3, progress.clone()).wait(),
            Err(LogError::Closed)
        );
        assert_eq!(progress.durable_through(), 2);
    }
}
