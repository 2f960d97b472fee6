//! The store's contract, tested through its public surface only: the
//! incremental consistency index against the full check, the change-log
//! seam, and persistence (snapshots, the journal, crashes).

mod changelog;
mod consistency;
mod corruption;
mod lifetime;
mod persistence;
mod selection;
mod util;
