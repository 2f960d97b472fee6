//! Pushes and deletes of a group: `PUT`, `POST` and `DELETE` on
//! `/metrics/job/<job>{/<label>/<value>}`.
//!
//! A push is read, decompressed, parsed, checked against the per-push
//! limits and handed to the store; the answer waits until the store's
//! change log says the write is durable. Large bodies are parsed on a
//! blocking thread so that they never stall the async workers.

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use store::{
    ConsistencyCheck, GroupingKey, PushMode, PushTime, Rejected, Ticket, WriteError, WriteKind,
};

use crate::body::{self, BodyFormat, BodySource, ContentEncoding, Families};
use crate::context::RequestContext;
use crate::error::AppError;
use crate::grouping::{grouping_key, JobEncoding};
use crate::response::empty;
use crate::state::AppState;

/// Pushes whose body may inflate beyond this are parsed off the async
/// worker threads.
const INLINE_PUSH_LIMIT: usize = 64 * 1024;

/// One push, read and ready to parse.
struct PushRequest {
    key: GroupingKey,
    body: Bytes,
    encoding: ContentEncoding,
    format: BodyFormat,
    mode: PushMode,
    at: PushTime,
}

/// `PUT` (replace) or `POST` (merge) of a group.
pub(crate) async fn push(
    state: &AppState,
    context: &RequestContext,
    body: BodySource,
    mode: PushMode,
    job: JobEncoding,
) -> Result<Response, AppError> {
    let config = state.config();
    let key = grouping_key(
        context.param("job"),
        job,
        context.param("labels"),
        config.names,
    )?;
    let body = body
        .bytes(
            &context.headers,
            config.limits.max_body_size,
            config.read_timeout,
        )
        .await?;
    let request = PushRequest {
        key,
        encoding: context.encoding,
        format: BodyFormat::from_headers(&context.headers),
        mode,
        at: PushTime::now(),
        body,
    };
    let inline = context.encoding.inflated_upper_bound(request.body.len()) <= INLINE_PUSH_LIMIT;
    let stored = if inline {
        store_push(state, request)?
    } else {
        let state = state.clone();
        tokio::task::spawn_blocking(move || store_push(&state, request))
            .await
            .map_err(|_| AppError::Internal("the thread storing a push failed"))??
    };
    let answer = match config.consistency {
        ConsistencyCheck::OnPush => StatusCode::OK,
        ConsistencyCheck::Off => StatusCode::ACCEPTED,
    };
    let store = state.store();
    let Rejected { error, recorded } = match stored {
        Ok(stored) => {
            super::durable(store, Ok(stored), WriteKind::Push).await?;
            return Ok(empty(answer));
        }
        Err(rejected) => rejected,
    };
    // The refusal stands whatever becomes of its record; waiting for the
    // record lets the client read the failure time back.
    if let Err(e) = store.durable(recorded).await {
        tracing::debug!(err = %e.detail(), "the record of a refused push was not persisted");
    }
    match error {
        // Without the check the Go gateway accepts before it looks.
        WriteError::Rejected(_) | WriteError::Timestamps
            if config.consistency == ConsistencyCheck::Off =>
        {
            Ok(empty(answer))
        }
        e => Err(AppError::from_write(WriteKind::Push, e)),
    }
}

/// Decompresses, parses, checks limits and stores one push (synchronous;
/// large pushes run it on a blocking thread). A request problem is an
/// `AppError`; what the store says is left to the caller.
fn store_push(
    state: &AppState,
    request: PushRequest,
) -> Result<Result<Ticket, Rejected>, AppError> {
    let config = state.config();
    let limits = config.limits;
    let decoded = body::decompress(
        &request.body,
        request.encoding,
        limits.max_decompressed_size,
    )?;
    let families = body::parse(&decoded, request.format, config.names)?;
    let grouping: Vec<&str> = request.key.labels().map(|(n, _)| n).collect();
    limits.check(families.shape(&grouping), &request.key)?;
    let store = state.store();
    let (key, mode, at) = (request.key, request.mode, request.at);
    Ok(match &families {
        Families::Text(f) => store.push(key, f, mode, at),
        Families::Protobuf(f) => store.push(key, f, mode, at),
    })
}

/// `DELETE` of a group, durably before answering.
pub(crate) async fn delete(
    state: &AppState,
    context: &RequestContext,
    job: JobEncoding,
) -> Result<Response, AppError> {
    let key = grouping_key(
        context.param("job"),
        job,
        context.param("labels"),
        state.config().names,
    )?;
    let store = state.store();
    super::durable(store, store.delete(key), WriteKind::Delete).await?;
    Ok(empty(StatusCode::ACCEPTED))
}
