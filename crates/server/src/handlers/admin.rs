//! The admin API (`--web.enable-admin-api`): `PUT /api/v1/admin/wipe`.

use axum::http::StatusCode;
use axum::response::Response;
use store::WriteKind;

use crate::error::AppError;
use crate::response::empty;
use crate::state::AppState;

/// Deletes every group, durably before answering.
pub(crate) async fn wipe(state: &AppState) -> Result<Response, AppError> {
    let failed = |e| AppError::from_write(WriteKind::Wipe, e);
    let ticket = state.store().wipe().map_err(failed)?;
    ticket
        .durable()
        .await
        .map_err(|source| AppError::NotPersisted {
            kind: WriteKind::Wipe,
            source,
        })?;
    Ok(empty(StatusCode::ACCEPTED))
}
