//! `GET /metrics`: the merged exposition of every group plus the
//! gateway's own metrics, streamed from pre-encoded bytes in the format
//! the `Accept` header asks for, gzip-compressed on request.

use std::io::Write;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use exposition::{Format, Offer};
use store::{ConsistencyCheck, Encoding};
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::state::AppState;

/// Size of the pieces a scrape is streamed in.
const CHUNK: usize = 256 * 1024;

/// Whether `Accept-Encoding` allows gzip (a `gzip` coding without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or("").trim();
            let q_zero = pieces.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            coding.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// Collects output into chunks and sends them to the response body,
/// gzip-compressing on the way when asked to.
struct ChunkSink {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    plain: Vec<u8>,
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    closed: bool,
}

impl ChunkSink {
    fn new(tx: mpsc::Sender<Result<Bytes, std::io::Error>>, gzip: bool) -> ChunkSink {
        ChunkSink {
            tx,
            plain: Vec::with_capacity(CHUNK),
            gzip: gzip.then(|| {
                flate2::write::GzEncoder::new(
                    Vec::with_capacity(CHUNK),
                    flate2::Compression::fast(),
                )
            }),
            closed: false,
        }
    }

    fn send(&mut self, data: Vec<u8>) {
        if !self.closed && !data.is_empty() && self.tx.blocking_send(Ok(Bytes::from(data))).is_err()
        {
            // The client went away; stop producing.
            self.closed = true;
        }
    }

    fn write(&mut self, piece: &[u8]) {
        if self.closed {
            return;
        }
        match &mut self.gzip {
            Some(encoder) => {
                // Writing into a Vec cannot fail.
                let _ = encoder.write_all(piece);
                if encoder.get_ref().len() >= CHUNK {
                    let out = std::mem::replace(encoder.get_mut(), Vec::with_capacity(CHUNK));
                    self.send(out);
                }
            }
            None => {
                if self.plain.len() + piece.len() > CHUNK && !self.plain.is_empty() {
                    let out = std::mem::replace(&mut self.plain, Vec::with_capacity(CHUNK));
                    self.send(out);
                }
                if piece.len() >= CHUNK {
                    self.send(piece.to_vec());
                } else {
                    self.plain.extend_from_slice(piece);
                }
            }
        }
    }

    fn finish(mut self) {
        match self.gzip.take() {
            Some(encoder) => {
                let out = encoder.finish().unwrap_or_default();
                self.send(out);
            }
            None => {
                let out = std::mem::take(&mut self.plain);
                self.send(out);
            }
        }
    }
}

/// Handles a scrape: negotiates the format, then streams the exposition
/// from a blocking thread.
pub(crate) fn scrape(state: &AppState, headers: &HeaderMap) -> Result<Response, AppError> {
    let accept = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = exposition::negotiate(accept, Offer::TextAndProtobuf);
    let encoding = match format {
        Format::Text => Encoding::Text,
        Format::Protobuf => Encoding::Protobuf,
        // Not offered, so never negotiated; say so rather than answer in
        // another format under its name.
        Format::OpenMetrics => return Err(AppError::Internal("OpenMetrics output is not enabled")),
    };
    let escaping = exposition::requested_escaping(accept).unwrap_or("underscores");
    let gzip = accepts_gzip(headers);
    let snapshot = state.store().snapshot();
    if state.config().consistency == ConsistencyCheck::Off {
        let own_types = crate::own::own_family_types(state.config());
        snapshot
            .check_consistency(&own_types)
            .map_err(AppError::Inconsistent)?;
    }
    let own = state.own().families(
        state.persistence_health(),
        state.expired_groups(),
        crate::own::Authorization::of(state.config()),
    );
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut sink = ChunkSink::new(tx, gzip);
        snapshot.write_exposition(&own, encoding, &mut |piece| sink.write(piece));
        sink.finish();
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Body::from_stream(stream).into_response();
    let content_type = format!("{}; escaping={escaping}", format.content_type());
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    if gzip {
        response.headers_mut().insert(
            http::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, GZIP"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
    }
}
