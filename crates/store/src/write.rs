//! The writes a store applies, and where they come from.
//!
//! Every change to a store is one [`Write`]: a push, a recorded failure, a
//! delete, a wipe, an expiry, or a group restored from a snapshot. The same values are
//! what change logs encode and replay, so a log never needs to know more
//! than this module says.

use std::sync::Arc;
use std::time::Duration;

use crate::family::StoredFamily;
use crate::key::GroupingKey;
use crate::time::PushTime;

/// How a push treats the families already in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// `PUT`: the group's families are replaced by the pushed ones.
    Replace,
    /// `POST`: only families with the pushed names are replaced.
    Merge,
}

/// How long a group lives after its last successful push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifetime {
    /// Until it is deleted (the Go gateway's only behaviour).
    #[default]
    Forever,
    /// Until this long after its last successful push (never zero).
    For(Duration),
}

impl Lifetime {
    /// A lifetime of `ttl`, where zero means forever.
    pub fn from_ttl(ttl: Duration) -> Lifetime {
        if ttl.is_zero() {
            Lifetime::Forever
        } else {
            Lifetime::For(ttl)
        }
    }

    /// The TTL (zero for forever).
    pub fn ttl(self) -> Duration {
        match self {
            Lifetime::Forever => Duration::ZERO,
            Lifetime::For(ttl) => ttl,
        }
    }

    /// When a group given this lifetime at `at` expires.
    pub fn deadline(self, at: PushTime) -> Option<PushTime> {
        match self {
            Lifetime::Forever => None,
            Lifetime::For(ttl) => Some(at.saturating_add(ttl)),
        }
    }
}

/// Whether a selective delete deletes or only says what it would delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// List the selected groups; change nothing.
    DryRun,
    /// Delete them.
    Delete,
}

/// Where a write comes from, which decides what the store does besides
/// applying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made here (a request): fenced by the change log's health, checked
    /// against the store's limits, and appended to the change log.
    Local,
    /// Read back from a change log or snapshot (start-up, replication):
    /// already durable, so never appended again, and accepted whatever the
    /// limits are now (refusing it would lose acknowledged data).
    Log,
}

/// A change to the store.
#[derive(Debug, Clone)]
pub enum Write {
    /// Store prepared families in a group.
    Push {
        /// The group.
        key: GroupingKey,
        /// The pushed families, prepared, without the push-time gauges.
        families: Vec<Arc<StoredFamily>>,
        /// Replace the group (PUT) or only same-name families (POST).
        mode: PushMode,
        /// When the push arrived.
        at: PushTime,
        /// How long the group lives from now on.
        lifetime: Lifetime,
    },
    /// Record a failed push in a group's `push_failure_time_seconds`.
    Fail {
        /// The group.
        key: GroupingKey,
        /// When the push arrived.
        at: PushTime,
        /// How long the group lives if this creates it (a failure never
        /// changes an existing group's lifetime).
        lifetime: Lifetime,
    },
    /// Delete a group.
    Delete {
        /// The group.
        key: GroupingKey,
    },
    /// Delete a group unless a push (successful or not) reached it after
    /// `last_push`, the time of its last push when it was selected.
    DeleteUnchanged {
        /// The group.
        key: GroupingKey,
        /// Its last push, successful or not, when it was selected.
        last_push: PushTime,
    },
    /// Delete every group.
    Wipe,
    /// Remove a group whose lifetime ended at `deadline` (nothing happens
    /// if a push has renewed it since).
    Expire {
        /// The group.
        key: GroupingKey,
        /// The deadline it expired at.
        deadline: PushTime,
    },
    /// Install a group as it was persisted.
    Restore(GroupImage),
}

/// A whole group as snapshots keep it.
#[derive(Debug, Clone)]
pub struct GroupImage {
    /// The group.
    pub key: GroupingKey,
    /// Its families, prepared, push-time gauges included.
    pub families: Vec<Arc<StoredFamily>>,
    /// When its last successful push was (zero: never).
    pub push_time: PushTime,
    /// When its last failed push was (zero: never).
    pub failure_time: PushTime,
    /// How long it lives after its last successful push.
    pub lifetime: Lifetime,
    /// When it expires (`None`: never).
    pub expires_at: Option<PushTime>,
}

impl Write {
    /// What kind of write this is, for messages.
    pub fn kind(&self) -> WriteKind {
        match self {
            Write::Push { .. } => WriteKind::Push,
            Write::Fail { .. } => WriteKind::Fail,
            Write::Delete { .. } | Write::DeleteUnchanged { .. } => WriteKind::Delete,
            Write::Wipe => WriteKind::Wipe,
            Write::Expire { .. } => WriteKind::Expire,
            Write::Restore(_) => WriteKind::Restore,
        }
    }
}

/// The kinds of [`Write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// [`Write::Push`].
    Push,
    /// [`Write::Fail`].
    Fail,
    /// [`Write::Delete`].
    Delete,
    /// [`Write::Wipe`].
    Wipe,
    /// [`Write::Expire`].
    Expire,
    /// [`Write::Restore`].
    Restore,
}

impl std::fmt::Display for WriteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WriteKind::Push => "push",
            WriteKind::Fail => "failed push",
            WriteKind::Delete => "delete",
            WriteKind::Wipe => "wipe",
            WriteKind::Expire => "expiry",
            WriteKind::Restore => "restore",
        })
    }
}
