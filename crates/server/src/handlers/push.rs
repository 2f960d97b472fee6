//! Pushes and deletes of a group: `PUT`, `POST` and `DELETE` on
//! `/metrics/job/<job>{/<label>/<value>}`.
//!
//! A push is read, decompressed, parsed, checked against the per-push
//! limits and handed to the store; the answer waits until the store's
//! change log says the write is durable. Large bodies are parsed on a
//! blocking thread so that they never stall the async workers.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use store::{
    ConsistencyCheck, GroupingKey, Lifetime, PushMode, PushTime, Rejected, Ticket, WriteError,
    WriteKind,
};

use crate::body::{self, BodyError, BodyFormat, BodySource, ContentEncoding, Families};
use crate::context::RequestContext;
use crate::error::AppError;
use crate::grouping::{grouping_key, JobEncoding};
use crate::inflight::Reservation;
use crate::limits::LimitError;
use crate::response::empty;
use crate::state::AppState;

/// Pushes whose body may inflate beyond this are parsed off the async
/// worker threads.
const INLINE_PUSH_LIMIT: usize = 64 * 1024;

/// Bytes the parsed families of a protobuf push hold per byte of body (an
/// upper estimate: names and values are copied out of the body).
const PARSED_PER_BYTE: usize = 3;

/// Bytes one parsed text sample line holds (text strings are borrowed from
/// the body; a series with a few labels costs about this much).
const PARSED_PER_SAMPLE_LINE: u64 = 192;

/// What parsing `body` will hold, estimated cheaply before parsing.
fn parse_estimate(body: &[u8], format: BodyFormat) -> u64 {
    match format {
        BodyFormat::Protobuf => (body.len() * PARSED_PER_BYTE) as u64,
        BodyFormat::Text => {
            let samples = body
                .split(|&b| b == b'\n')
                .filter(|line| {
                    line.iter()
                        .find(|&&b| b != b' ' && b != b'\t')
                        .is_some_and(|&b| b != b'#')
                })
                .count();
            samples as u64 * PARSED_PER_SAMPLE_LINE
        }
    }
}

/// One push, read and ready to parse.
struct PushRequest {
    key: GroupingKey,
    body: Bytes,
    encoding: ContentEncoding,
    format: BodyFormat,
    mode: PushMode,
    at: PushTime,
    lifetime: Lifetime,
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
    context.note_target(|| key.to_string());
    context.access.require_push_to(&key)?;
    // A TTL the push may not have is refused before its body is read.
    let lifetime = config.ttl.for_push(&context.headers)?;
    let held = body
        .read(
            &context.headers,
            config.limits.max_body_size,
            config.read_timeout,
            state.inflight(),
        )
        .await?;
    // What the push holds in the in-flight budget, given back once the
    // store has what it keeps.
    let mut reservation = held.reservation;
    let request = PushRequest {
        key,
        encoding: context.encoding,
        format: BodyFormat::from_headers(&context.headers),
        mode,
        at: PushTime::now(),
        lifetime,
        body: held.bytes,
    };
    let inflated_bound = context.encoding.inflated_upper_bound(request.body.len());
    let stored = if inflated_bound <= INLINE_PUSH_LIMIT {
        // Small pushes reserve with an async wait, so that no worker
        // thread ever blocks on the budget.
        let decoding = (request.body.len() + 2 * inflated_bound) as u64;
        reservation
            .grow_to(decoding)
            .await
            .map_err(BodyError::from)?;
        let decoded = decode(state, &request, &mut reservation)?;
        let parsing = parse_estimate(&decoded, request.format);
        reservation
            .grow_to(reservation.held() + parsing)
            .await
            .map_err(BodyError::from)?;
        parse_and_store(state, &request, &decoded, reservation)?
    } else {
        let state = state.clone();
        tokio::task::spawn_blocking(move || {
            let decoded = decode(&state, &request, &mut reservation)?;
            let parsing = parse_estimate(&decoded, request.format);
            reservation
                .grow_to_blocking(reservation.held() + parsing)
                .map_err(BodyError::from)?;
            parse_and_store(&state, &request, &decoded, reservation)
        })
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

/// Decompresses a push body (synchronous; the caller has reserved enough
/// for small bodies, large ones reserve as they inflate).
fn decode<'a>(
    state: &AppState,
    request: &'a PushRequest,
    reservation: &mut Reservation,
) -> Result<Cow<'a, [u8]>, AppError> {
    let limits = state.config().limits;
    Ok(body::decompress(
        &request.body,
        request.encoding,
        request.format,
        limits.max_decompressed_size,
        reservation,
    )?)
}

/// Parses, checks limits and stores one push (synchronous). A request
/// problem is an `AppError`; what the store says is left to the caller.
fn parse_and_store(
    state: &AppState,
    request: &PushRequest,
    decoded: &[u8],
    reservation: Reservation,
) -> Result<Result<Ticket, Rejected>, AppError> {
    let config = state.config();
    let limits = config.limits;
    let families = match body::parse(decoded, request.format, config.names, limits.max_series) {
        Ok(families) => families,
        Err(exposition::Error::TooManySeries { limit }) => {
            return Err(LimitError::MoreSeries { limit }.into())
        }
        Err(e) => return Err(e.into()),
    };
    let grouping: Vec<&str> = request.key.labels().map(|(n, _)| n).collect();
    limits.check(families.shape(&grouping), &request.key)?;
    let store = state.store();
    let (key, mode, at, lifetime) = (
        request.key.clone(),
        request.mode,
        request.at,
        request.lifetime,
    );
    let stored = match &families {
        Families::Text(f) => store.push_for(key, f, mode, at, lifetime),
        Families::Protobuf(f) => store.push_for(key, f, mode, at, lifetime),
    };
    // Free the parsed body before its reservation is given back.
    drop(families);
    drop(reservation);
    Ok(stored)
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
    context.note_target(|| key.to_string());
    context.access.require_push_to(&key)?;
    let store = state.store();
    super::durable(store, store.delete(key), WriteKind::Delete).await?;
    Ok(empty(StatusCode::ACCEPTED))
}
