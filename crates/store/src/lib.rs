//! Storage for the Pushgateway: groups of pushed metric families, the
//! consistency rules between them, and the merged scrape output.
//!
//! This crate knows nothing of HTTP. The server crate parses request paths
//! and bodies and hands this crate a [`GroupingKey`] and parsed families;
//! persistence to disk lives here too, behind the same single write path.
//!
//! # Brief overview
//!
//! - [`Store`] holds [`Group`]s by [`GroupingKey`]. Every change is a
//!   [`WriteRequest`] applied by [`Store::apply`]; [`Store::push`],
//!   [`Store::delete`] and [`Store::wipe`] are shorthands.
//! - A push is prepared outside any lock into [`StoredFamily`] values:
//!   labels sanitised as the Go gateway does, metrics sorted in
//!   client_golang's order and pre-encoded for text and protobuf scrapes.
//! - The consistency check (types per name, duplicate series, `_count`/
//!   `_sum`/`_bucket` collisions) runs against an incremental index, so a
//!   push costs O(size of the push), not O(size of the store).
//! - [`Store::snapshot`] gives readers a [`Snapshot`];
//!   [`Snapshot::write_exposition`] streams the merged scrape from the
//!   pre-encoded bytes.
//!
//! ```
//! use store::{GroupingKey, PushTime, Store, StoreOptions};
//! let store = Store::new(StoreOptions::default());
//! let families = exposition::parse_text(b"# TYPE jobs_done counter\njobs_done 3\n")?;
//! store.push(GroupingKey::new([("job", "nightly")]), &families, true, PushTime::from_nanos(1))?.wait()?;
//! let mut out = Vec::new();
//! store.snapshot().write_exposition(&[], exposition::Format::Text, &mut |b| out.extend_from_slice(b));
//! let text = String::from_utf8(out)?;
//! assert!(text.contains("jobs_done{instance=\"\",job=\"nightly\"} 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod family;
mod index;
mod key;
mod persist;
mod scrape;
mod store;
mod time;

pub use family::{NameRules, StoredFamily};
pub use key::GroupingKey;
pub use persist::{LoadReport, PersistError, PersistMode, Persistence, PersistenceOptions};
pub use store::{
    Group, Receipt, Snapshot, Store, StoreOptions, WriteRequest, PUSH_FAILURE_TIME_METRIC,
    PUSH_TIME_METRIC,
};
pub use time::PushTime;

/// The keyed hash used for series identities (SipHash with per-process
/// random keys, so that nobody can craft colliding series).
pub(crate) type SeriesHasher = std::hash::RandomState;

/// Why a push was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// A pushed sample carries a timestamp.
    #[error("pushed metrics must not have timestamps")]
    Timestamps,
    /// The pushed metrics are invalid on their own or inconsistent with the
    /// stored ones; the message lists the problems as Go words them.
    #[error("{0}")]
    Invalid(String),
}
