//! The crate's error for writes: why the store did not apply one.
//! (Start-up problems of persistence are `PersistError`, in its module.)

use crate::changelog::LogError;
use crate::problem::Problems;

/// Why the store did not apply a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A pushed sample carries a timestamp (the failure is recorded).
    #[error("pushed metrics must not have timestamps")]
    Timestamps,
    /// The pushed metrics are invalid on their own or inconsistent with the
    /// stored ones (the failure is recorded).
    #[error("{0}")]
    Rejected(Problems),
    /// The write would create a group beyond
    /// [`StoreOptions::max_groups`]; nothing changed.
    #[error("the store holds {limit} groups, its limit")]
    TooManyGroups {
        /// The limit.
        limit: u64,
    },
    /// A conditional delete found the group changed since it was
    /// selected (pushed to again); nothing changed.
    #[error("the group was pushed to since it was selected")]
    Changed,
    /// The change log cannot make writes durable; nothing changed.
    #[error("{0}")]
    Log(#[from] LogError),
}
