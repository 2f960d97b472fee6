//! `/-/healthy`, `/-/ready` and `/-/quit`.

use axum::http::StatusCode;
use axum::response::Response;

use crate::authorization::Role;
use crate::context::RequestContext;
use crate::error::AppError;
use crate::response::plain;
use crate::state::AppState;

/// `GET /-/healthy`.
pub(crate) fn healthy() -> Response {
    plain(StatusCode::OK, "OK")
}

/// `GET /-/ready`: not ready while writes are refused because they cannot
/// be persisted (scrapes and reads are served all the while).
pub(crate) fn ready(state: &AppState) -> Result<Response, AppError> {
    state
        .store()
        .writable()
        .map_err(|source| AppError::NotReady { source })?;
    Ok(plain(StatusCode::OK, "OK"))
}

/// `PUT`/`POST /-/quit`: asks the server to stop, with
/// `--web.enable-lifecycle` (and, under `--web.auth-config`, the admin
/// right, checked after Go's own answer).
pub(crate) fn quit(state: &AppState, context: &RequestContext) -> Result<Response, AppError> {
    if !state.config().enable_lifecycle {
        return Err(AppError::LifecycleDisabled);
    }
    context.note_target(|| "the gateway".into());
    context.access.require(Role::Admin)?;
    state.request_quit();
    Ok(plain(StatusCode::OK, "Requesting termination... Goodbye!"))
}
