//! Storage for the Pushgateway: groups of pushed metric families, the
//! consistency rules between them, the one write path every change takes,
//! and the merged scrape output.
//!
//! This crate knows nothing of HTTP. The server crate parses request paths
//! and bodies and hands this crate a [`GroupingKey`] and parsed families.
//! Where writes go to be made durable is behind the [`ChangeLog`] trait; the
//! file journal and snapshots ([`Persistence`]) are one implementation, kept
//! in their own module, which uses only the store's public surface.
//!
//! # Brief overview
//!
//! - [`Store`] holds [`Group`]s by [`GroupingKey`]. Every change is a
//!   [`Write`] applied by [`Store::apply`]; [`Store::push`],
//!   [`Store::delete`] and [`Store::wipe`] are shorthands for local writes.
//! - A push is prepared outside any lock into [`StoredFamily`] values:
//!   labels sanitised as the Go gateway does, metrics sorted in
//!   client_golang's order and pre-encoded for text and protobuf scrapes.
//! - The consistency check (types per name, duplicate series, `_count`/
//!   `_sum`/`_bucket` collisions) runs against an incremental index, so a
//!   push costs O(size of the push), not O(size of the store); refusals
//!   are [`Problems`] worded as Go words them.
//! - Each local write goes to the store's [`ChangeLog`] in apply order and
//!   yields a [`Ticket`]; readers see the write only once it is durable
//!   ([`Store::durable`] waits for that), a write the log loses is never
//!   seen, and while the log cannot make writes durable the store refuses
//!   them before applying them ([`WriteError::Log`]).
//! - [`Store::snapshot`] gives readers a [`Snapshot`];
//!   [`Snapshot::write_exposition`] streams the merged scrape from the
//!   pre-encoded bytes.
//!
//! ```
//! use store::{Encoding, GroupingKey, PushMode, PushTime, Store, StoreOptions};
//! let store = Store::new(StoreOptions::default());
//! let families = exposition::parse_text(b"# TYPE jobs_done counter\njobs_done 3\n")?;
//! let key = GroupingKey::new([("job", "nightly")]);
//! let ticket = store.push(key, &families, PushMode::Replace, PushTime::from_nanos(1))?;
//! store.wait(ticket)?;
//! let mut out = Vec::new();
//! store.snapshot().write_exposition(&[], Encoding::Text, &mut |b| out.extend_from_slice(b));
//! let text = String::from_utf8(out)?;
//! assert!(text.contains("jobs_done{instance=\"\",job=\"nightly\"} 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod changelog;
mod error;
mod family;
mod index;
mod key;
mod persist;
mod problem;
mod scrape;
mod selector;
mod store;
mod time;
mod write;

pub use changelog::{ChangeLog, LogError, MemoryLog, Position, Progress, Record, Ticket};
pub use error::WriteError;
pub use family::StoredFamily;
pub use key::GroupingKey;
pub use persist::{
    LoadReport, OnCorruption, PersistError, PersistMode, Persistence, PersistenceOptions,
};
pub use problem::{Problem, Problems};
pub use scrape::Encoding;
pub use selector::{MatchOp, Matcher, Selector, SelectorError};
pub use store::{
    ConsistencyCheck, Group, Rejected, Snapshot, Store, StoreOptions, PUSH_FAILURE_TIME_METRIC,
    PUSH_TIME_METRIC,
};
pub use time::PushTime;
pub use write::{DeleteMode, GroupImage, Lifetime, Origin, PushMode, Write, WriteKind};
