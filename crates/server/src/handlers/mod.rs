//! The handlers, by area: pushes and deletes of groups, the JSON API, the
//! admin API, and the lifecycle endpoints. Scrapes and the web UI have
//! modules of their own; routing, authentication and turning errors into
//! responses are the dispatcher's (`routes`).

pub(crate) mod admin;
pub(crate) mod api;
pub(crate) mod lifecycle;
pub(crate) mod push;

use store::{Store, Ticket, WriteError, WriteKind};

use crate::error::AppError;

/// Waits until a store write of `kind` is durable and visible: the end of
/// every write handler, which answers only then.
pub(crate) async fn durable(
    store: &Store,
    stored: Result<Ticket, WriteError>,
    kind: WriteKind,
) -> Result<(), AppError> {
    let ticket = stored.map_err(|e| AppError::from_write(kind, e))?;
    store
        .durable(ticket)
        .await
        .map_err(|source| AppError::NotPersisted { kind, source })
}
