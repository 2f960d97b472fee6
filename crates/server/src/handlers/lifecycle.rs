//! `/-/healthy`, `/-/ready` and `/-/quit`.

use axum::http::StatusCode;
use axum::response::Response;

use crate::error::AppError;
use crate::response::plain;
use crate::state::AppState;

/// `GET /-/healthy` and `GET /-/ready`.
pub(crate) fn ok() -> Response {
    plain(StatusCode::OK, "OK")
}

/// `PUT`/`POST /-/quit`: asks the server to stop, with
/// `--web.enable-lifecycle`.
pub(crate) fn quit(state: &AppState) -> Result<Response, AppError> {
    if !state.config().enable_lifecycle {
        return Err(AppError::LifecycleDisabled);
    }
    state.request_quit();
    Ok(plain(StatusCode::OK, "Requesting termination... Goodbye!"))
}
