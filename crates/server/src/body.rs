//! Request bodies: reading them within the size limit and the read
//! timeout, `Content-Encoding` (gzip, snappy), the protobuf/text choice by
//! `Content-Type`, and parsing, with the size limits applied while
//! decompressing (a small body cannot inflate without bound) and every byte
//! held reserved in the in-flight budget first. Decompressed text keeps
//! only what the parser reads: plain comment lines become empty lines
//! (line numbers stay right), so comments cost nothing to hold.

use std::borrow::Cow;
use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use exposition::{MetricFamily, NameValidation, ParseOptions};
use http::HeaderMap;
use http_body_util::BodyExt;

use crate::inflight::{BudgetError, InflightBudget, Reservation};
use crate::limits::Shape;

/// The compression of a request body, as the Go gateway recognises it
/// (case-insensitively; anything else is treated as uncompressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentEncoding {
    Identity,
    Gzip,
    Snappy,
}

impl ContentEncoding {
    pub(crate) fn from_headers(headers: &HeaderMap) -> ContentEncoding {
        let value = headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok());
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("gzip") => ContentEncoding::Gzip,
            Some("snappy") => ContentEncoding::Snappy,
            _ => ContentEncoding::Identity,
        }
    }

    /// How large a body can get once decompressed (deflate inflates at most
    /// about 1032 times, snappy about 22 times), for deciding where to
    /// parse it.
    pub(crate) fn inflated_upper_bound(self, len: usize) -> usize {
        match self {
            ContentEncoding::Gzip => len.saturating_mul(1032),
            ContentEncoding::Snappy => len.saturating_mul(22),
            ContentEncoding::Identity => len,
        }
    }
}

/// The format of a push body, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// Text format 0.0.4 (anything that is not delimited protobuf, as Go
    /// decides it).
    Text,
    /// Varint-delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
}

impl BodyFormat {
    pub(crate) fn from_headers(headers: &HeaderMap) -> BodyFormat {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if is_protobuf(content_type) {
            BodyFormat::Protobuf
        } else {
            BodyFormat::Text
        }
    }
}

/// A body read into memory, with its bytes reserved in the budget.
pub(crate) struct HeldBody {
    pub(crate) bytes: Bytes,
    pub(crate) reservation: Reservation,
}

/// A request body: already read (the Go gateway reads a gzip header before
/// routing), or still to read.
pub(crate) enum BodySource {
    Read(HeldBody),
    Pending(Body),
}

impl BodySource {
    /// The whole body, read within `limit` bytes and `timeout`.
    pub(crate) async fn read(
        self,
        headers: &HeaderMap,
        limit: u64,
        timeout: Duration,
        budget: &Arc<InflightBudget>,
    ) -> Result<HeldBody, BodyError> {
        match self {
            BodySource::Read(b) => Ok(b),
            BodySource::Pending(body) => read_body(body, headers, limit, timeout, budget).await,
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes; every byte is
/// reserved in `budget` before it is held (a declared length up front).
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: u64,
    read_timeout: Duration,
    budget: &Arc<InflightBudget>,
) -> Result<HeldBody, BodyError> {
    let too_large = BodyError::TooLarge {
        what: "request body",
        limit,
        flag: "push.max-body-size",
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large);
    }
    let mut reservation = budget.empty();
    if let Some(n) = declared {
        reservation.grow_to(n).await?;
    }
    let reading = async {
        let mut body = body;
        // One frame (the usual case) is kept as it came, without a copy.
        let mut first: Option<Bytes> = None;
        let mut more: Option<BytesMut> = None;
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| read_error(&e))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            total += data.len() as u64;
            if total > limit {
                return Err(too_large.clone());
            }
            reservation.grow_to(total).await?;
            match (&mut first, &mut more) {
                (None, _) => first = Some(data),
                (Some(head), None) => {
                    let mut buf =
                        BytesMut::with_capacity(declared.map_or(total, |d| d.max(total)) as usize);
                    buf.extend_from_slice(head);
                    buf.extend_from_slice(&data);
                    more = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&data),
            }
        }
        Ok(match more {
            Some(buf) => buf.freeze(),
            None => first.unwrap_or_default(),
        })
    };
    match within(read_timeout, reading).await {
        None => Err(BodyError::Timeout),
        Some(Ok(bytes)) => Ok(HeldBody { bytes, reservation }),
        Some(Err(e)) => Err(e),
    }
}

/// `work`'s output, or `None` when it takes longer than `limit`. The timer
/// is armed only once `work` has to wait: a small body has usually arrived
/// with its headers, and then costs no timer at all.
async fn within<F: Future>(limit: Duration, work: F) -> Option<F::Output> {
    let mut work = std::pin::pin!(work);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(out) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(out));
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// What a failed body read means for the client.
fn read_error(e: &axum::Error) -> BodyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // The connection's idle timeout cut the body off.
        if s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return BodyError::Timeout;
        }
        source = s.source();
    }
    BodyError::Malformed("unexpected EOF".into())
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body is larger than a limit (413).
    #[error("{what} exceeds the limit of {limit} bytes (--{flag})")]
    TooLarge {
        what: &'static str,
        limit: u64,
        flag: &'static str,
    },
    /// The body is malformed (400); worded as Go words it.
    #[error("{0}")]
    Malformed(String),
    /// The body did not arrive within `--web.read-timeout` (408).
    #[error("request body not received within the read timeout (--web.read-timeout)")]
    Timeout,
    /// Requests in flight hold the memory budget (503, retry).
    #[error("{0}")]
    Busy(BudgetError),
}

impl From<BudgetError> for BodyError {
    fn from(e: BudgetError) -> BodyError {
        match e {
            BudgetError::TooLarge { limit, .. } => BodyError::TooLarge {
                what: "memory the request would hold",
                limit,
                flag: "push.max-inflight-size",
            },
            busy @ BudgetError::Busy { .. } => BodyError::Busy(busy),
        }
    }
}

impl BodyError {
    /// The flag of the limit that refused the body, if a limit did.
    pub(crate) fn limit_flag(&self) -> Option<&'static str> {
        match self {
            BodyError::TooLarge { flag, .. } => Some(flag),
            BodyError::Timeout => Some("web.read-timeout"),
            BodyError::Busy(_) => Some("push.max-inflight-size"),
            BodyError::Malformed(_) => None,
        }
    }
}

/// What Go's `gzip.NewReader` says about a body's header, if anything is
/// wrong with it: the Go gateway checks this before routing, so even a
/// bodiless `GET` with `Content-Encoding: gzip` is a 400.
pub(crate) fn gzip_header_error(body: &[u8]) -> Option<&'static str> {
    match body {
        [] => Some("EOF"),
        [0x1f, 0x8b, 8, ..] if body.len() >= 10 => None,
        _ if body.len() < 10 && body.starts_with(&[0x1f, 0x8b, 8][..body.len().min(3)]) => {
            Some("unexpected EOF")
        }
        _ => Some("gzip: invalid header"),
    }
}

/// Decompresses a body, refusing more than `limit` bytes of output, and
/// reserves what it keeps in `reservation` before holding it. Text keeps
/// only what the parser reads (see [`CommentFilter`]).
///
/// A body that could inflate beyond the limit is read twice: the first
/// pass only counts (so a compression bomb costs time bounded by the limit
/// and no memory), the second fills a buffer of exactly the size kept.
pub(crate) fn decompress<'a>(
    body: &'a [u8],
    encoding: ContentEncoding,
    format: BodyFormat,
    limit: u64,
    reservation: &mut Reservation,
) -> Result<Cow<'a, [u8]>, BodyError> {
    let too_large = BodyError::TooLarge {
        what: "decompressed body",
        limit,
        flag: "push.max-decompressed-size",
    };
    match encoding {
        ContentEncoding::Identity => {
            return if body.len() as u64 > limit {
                Err(too_large)
            } else {
                Ok(Cow::Borrowed(body))
            };
        }
        ContentEncoding::Gzip => {
            if let Some(e) = gzip_header_error(body) {
                return Err(BodyError::Malformed(e.into()));
            }
        }
        ContentEncoding::Snappy => {}
    }
    let held_before = reservation.held();
    let counted = if encoding.inflated_upper_bound(body.len()) as u64 > limit {
        let mut scratch = Vec::new();
        let (inflated, kept) = inflate(
            body,
            encoding,
            format,
            &mut |chunk, filter| {
                match filter {
                    Some(f) => f.feed(chunk, &mut scratch),
                    None => scratch.extend_from_slice(chunk),
                }
                let kept = scratch.len();
                scratch.clear();
                Ok(kept as u64)
            },
            limit,
        )?;
        if inflated > limit {
            return Err(too_large);
        }
        reservation.grow_to_blocking(held_before + kept)?;
        Some(kept)
    } else {
        None
    };
    let mut out = Vec::with_capacity(counted.unwrap_or(0) as usize);
    let (inflated, _) = inflate(
        body,
        encoding,
        format,
        &mut |chunk, filter| {
            let before = out.len();
            match filter {
                Some(f) => f.feed(chunk, &mut out),
                None => out.extend_from_slice(chunk),
            }
            if counted.is_none() {
                reservation.grow_to_blocking(held_before + out.capacity() as u64)?;
            }
            Ok((out.len() - before) as u64)
        },
        limit,
    )?;
    if inflated > limit {
        return Err(too_large);
    }
    Ok(Cow::Owned(out))
}

/// Takes each inflated chunk (through the filter, for text); answers the
/// bytes it kept.
type InflateSink<'s> =
    dyn FnMut(&[u8], Option<&mut CommentFilter>) -> Result<u64, BudgetError> + 's;

/// Inflates `body` chunk by chunk into `sink` (through a comment filter
/// for text), stopping once more than `limit` bytes came out; answers the
/// bytes inflated and the bytes the sink kept.
fn inflate(
    body: &[u8],
    encoding: ContentEncoding,
    format: BodyFormat,
    sink: &mut InflateSink<'_>,
    limit: u64,
) -> Result<(u64, u64), BodyError> {
    let mut reader: Box<dyn Read + '_> = match encoding {
        ContentEncoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        ContentEncoding::Snappy | ContentEncoding::Identity => {
            Box::new(snap::read::FrameDecoder::new(body))
        }
    };
    let mut filter = (format == BodyFormat::Text).then(CommentFilter::default);
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut inflated, mut kept) = (0u64, 0u64);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BodyError::Malformed(decompression_message(encoding, &e))),
        };
        inflated += n as u64;
        if inflated > limit {
            return Ok((inflated, kept));
        }
        kept += sink(&chunk[..n], filter.as_mut())?;
    }
    if let Some(f) = filter {
        let mut tail = Vec::new();
        f.finish(&mut tail);
        if !tail.is_empty() {
            kept += sink(&tail, None)?;
        }
    }
    Ok((inflated, kept))
}

/// Drops the comment lines the text parser ignores (everything but
/// `# HELP` and `# TYPE`, with Go's optional blanks), keeping their
/// newline so that line numbers in errors stay those of the body; works
/// across chunk boundaries.
#[derive(Default)]
pub(crate) struct CommentFilter {
    state: LineState,
    /// The start of a line not yet decided.
    pending: Vec<u8>,
    /// Bytes of the token after `#` so far.
    token: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// Blanks at the start of a line so far.
    #[default]
    Start,
    /// `#` and blanks so far.
    AfterHash,
    /// `#`, blanks and the first bytes of a token.
    Token,
    /// `#`, blanks and `HELP` or `TYPE`: kept if the token ends here.
    Matched,
    /// Passing the line through.
    Keep,
    /// Dropping the line (its newline is kept).
    Drop,
}

/// A line start longer than this undecided is kept (it is no plain comment
/// worth the bookkeeping).
const MAX_PENDING: usize = 256;

impl CommentFilter {
    pub(crate) fn feed(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        while !data.is_empty() {
            match self.state {
                LineState::Keep => match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        out.extend_from_slice(&data[..=i]);
                        data = &data[i + 1..];
                        self.state = LineState::Start;
                    }
                    None => {
                        out.extend_from_slice(data);
                        return;
                    }
                },
                LineState::Drop => match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        out.push(b'\n');
                        data = &data[i + 1..];
                        self.state = LineState::Start;
                    }
                    None => return,
                },
                state => {
                    let b = data[0];
                    data = &data[1..];
                    self.step(state, b, out);
                }
            }
        }
    }

    /// One byte of an undecided line start.
    fn step(&mut self, state: LineState, b: u8, out: &mut Vec<u8>) {
        let blank = b == b' ' || b == b'\t';
        if b == b'\n' {
            if state == LineState::Start {
                out.extend_from_slice(&self.pending);
            }
            out.push(b'\n');
            self.pending.clear();
            self.state = LineState::Start;
            return;
        }
        self.pending.push(b);
        self.state = match state {
            LineState::Start if blank => LineState::Start,
            LineState::Start if b == b'#' => LineState::AfterHash,
            LineState::AfterHash if blank => LineState::AfterHash,
            LineState::AfterHash | LineState::Token if !blank => {
                self.token += 1;
                let token = &self.pending[self.pending.len() - self.token..];
                if token == b"HELP" || token == b"TYPE" {
                    LineState::Matched
                } else if b"HELP".starts_with(token) || b"TYPE".starts_with(token) {
                    LineState::Token
                } else {
                    LineState::Drop
                }
            }
            // HELP or TYPE as a whole token.
            LineState::Matched if blank => LineState::Keep,
            // A token that ended before it was HELP or TYPE, or went on.
            LineState::Token | LineState::Matched => LineState::Drop,
            _ => LineState::Keep,
        };
        if self.pending.len() > MAX_PENDING
            && matches!(self.state, LineState::Start | LineState::AfterHash)
        {
            self.state = LineState::Keep;
        }
        match self.state {
            LineState::Keep => out.append(&mut self.pending),
            LineState::Drop => self.pending.clear(),
            _ => {}
        }
        if !matches!(
            self.state,
            LineState::AfterHash | LineState::Token | LineState::Matched
        ) {
            self.token = 0;
        }
    }

    /// The end of the body: an undecided start of a last line without
    /// newline is blanks (kept) or a comment (dropped).
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        if self.state == LineState::Start {
            out.extend_from_slice(&self.pending);
        }
    }
}

fn decompression_message(encoding: ContentEncoding, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "unexpected EOF".into();
    }
    let text = e.to_string();
    match encoding {
        ContentEncoding::Gzip if text.contains("header") => "gzip: invalid header".into(),
        ContentEncoding::Gzip if text.contains("checksum") => "gzip: invalid checksum".into(),
        ContentEncoding::Gzip => "flate: corrupt input".into(),
        _ => "snappy: corrupt input".into(),
    }
}

/// Whether a `Content-Type` names delimited protobuf, as the Go gateway
/// decides it (media type and both parameters, any order; a malformed
/// header means text).
fn is_protobuf(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let Some((media, params)) = parse_media_type(ct) else {
        return false;
    };
    media == "application/vnd.google.protobuf"
        && params
            .iter()
            .any(|(k, v)| k == "encoding" && v == "delimited")
        && params
            .iter()
            .any(|(k, v)| k == "proto" && v == "io.prometheus.client.MetricFamily")
}

/// A simplified `mime.ParseMediaType`: lower-cased type and parameter
/// names, quoted values, duplicate or malformed parameters rejected.
fn parse_media_type(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut parts = value.split(';');
    let media = parts.next()?.trim().to_ascii_lowercase();
    if media.is_empty() || !media.contains('/') {
        return None;
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(v)
            .to_string();
        if k.is_empty() || params.iter().any(|(existing, _)| *existing == k) {
            return None;
        }
        params.push((k, v));
    }
    Some((media, params))
}

/// Families parsed from a push body.
pub(crate) enum Families<'a> {
    /// From the text format, borrowing from the body.
    Text(Vec<MetricFamily<Cow<'a, str>>>),
    /// From delimited protobuf.
    Protobuf(Vec<MetricFamily>),
}

impl Families<'_> {
    /// What the limits look at: series count, the largest label count a
    /// series will have once the grouping labels (`grouping`, their names)
    /// are added, and the longest label value.
    pub(crate) fn shape(&self, grouping: &[&str]) -> Shape {
        fn measure<S: AsRef<str>>(families: &[MetricFamily<S>], grouping: &[&str]) -> Shape {
            let mut series = 0u64;
            let mut labels = 0u64;
            let mut value = 0u64;
            for f in families {
                series += f.metrics.len() as u64;
                for m in &f.metrics {
                    // Grouping labels are forced onto every series.
                    let own = m
                        .labels
                        .iter()
                        .filter(|l| !grouping.contains(&l.name.as_ref()))
                        .count();
                    labels = labels.max((own + grouping.len()) as u64);
                    for l in &m.labels {
                        value = value.max(l.value.as_ref().len() as u64);
                    }
                }
            }
            Shape {
                series,
                labels,
                longest_value: value,
            }
        }
        match self {
            Families::Text(f) => measure(f, grouping),
            Families::Protobuf(f) => measure(f, grouping),
        }
    }
}

/// Parses a (decompressed) body, stopping at the first series beyond
/// `max_series`.
pub(crate) fn parse(
    body: &[u8],
    format: BodyFormat,
    names: NameValidation,
    max_series: u64,
) -> Result<Families<'_>, exposition::Error> {
    match format {
        BodyFormat::Protobuf => {
            exposition::decode_protobuf_delimited_at_most(body, max_series).map(Families::Protobuf)
        }
        BodyFormat::Text => exposition::parse_text_with(
            body,
            ParseOptions {
                names,
                max_series: Some(max_series),
            },
        )
        .map(Families::Text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decompress_text(
        body: &[u8],
        encoding: ContentEncoding,
        limit: u64,
    ) -> Result<Vec<u8>, BodyError> {
        let budget = InflightBudget::new(1 << 30);
        let mut reservation = budget.empty();
        decompress(body, encoding, BodyFormat::Text, limit, &mut reservation).map(Cow::into_owned)
    }

    fn filtered(chunks: &[&[u8]]) -> String {
        let mut filter = CommentFilter::default();
        let mut out = Vec::new();
        for c in chunks {
            filter.feed(c, &mut out);
        }
        filter.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_comments_are_dropped_keeping_their_lines() {
        let body = "# a comment\n# HELP m Help.\n\t#TYPE m gauge\n  # HELPER no\nm 1\n#\n#  TYPO\n# TYPE\n  \nm{a=\"#\"} 2\n# last";
        let expected = "\n# HELP m Help.\n\t#TYPE m gauge\n\nm 1\n\n\n\n  \nm{a=\"#\"} 2\n";
        assert_eq!(filtered(&[body.as_bytes()]), expected);
        // The same cut at every byte, across chunks.
        for cut in 0..body.len() {
            let (a, b) = body.as_bytes().split_at(cut);
            assert_eq!(filtered(&[a, b]), expected, "cut at {cut}");
        }
        // What the parser says is the same, line numbers included.
        let broken = "# c\n# c\nm{ 1\n";
        let err = |text: &[u8]| exposition::parse_text(text).unwrap_err().to_string();
        assert_eq!(
            err(filtered(&[broken.as_bytes()]).as_bytes()),
            err(broken.as_bytes())
        );
    }

    #[test]
    fn comments_cost_nothing_to_hold_once_inflated() {
        let mut text = Vec::new();
        for i in 0..100_000 {
            writeln!(
                text,
                "# comment line {i} with some padding to make it long enough"
            )
            .unwrap();
        }
        text.extend_from_slice(b"m 1\n");
        let out = decompress_text(&gzip(&text), ContentEncoding::Gzip, 1 << 30).unwrap();
        assert_eq!(out.len(), 100_000 + 4);
        assert_eq!(exposition::parse_text(&out).unwrap()[0].name, "m");
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_multi_member_and_errors() {
        let mut two = gzip(b"a 1\n");
        two.extend(gzip(b"b 2\n"));
        assert_eq!(
            decompress_text(&two, ContentEncoding::Gzip, 1000).unwrap(),
            b"a 1\nb 2\n"
        );
        assert_eq!(
            decompress_text(b"", ContentEncoding::Gzip, 10),
            Err(BodyError::Malformed("EOF".into()))
        );
        assert_eq!(
            decompress_text(b"not gzip at all", ContentEncoding::Gzip, 10),
            Err(BodyError::Malformed("gzip: invalid header".into()))
        );
        let full = gzip(b"m 1\n");
        assert_eq!(
            decompress_text(&full[..full.len() - 4], ContentEncoding::Gzip, 100),
            Err(BodyError::Malformed("unexpected EOF".into()))
        );
    }

    #[test]
    fn stops_inflating_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            decompress_text(&bomb, ContentEncoding::Gzip, 1 << 20),
            Err(BodyError::TooLarge { .. })
        ));
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(&vec![b'a'; 10 << 20]).unwrap();
        let framed = framed.into_inner().unwrap();
        assert!(matches!(
            decompress_text(&framed, ContentEncoding::Snappy, 1 << 20),
            Err(BodyError::TooLarge { .. })
        ));
    }

    #[test]
    fn recognises_protobuf_like_go() {
        let pb = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
        assert!(is_protobuf(Some(pb)));
        assert!(is_protobuf(Some(
            "Application/Vnd.Google.Protobuf;encoding=delimited;proto=\"io.prometheus.client.MetricFamily\""
        )));
        assert!(!is_protobuf(Some(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"
        )));
        assert!(!is_protobuf(Some(&format!("{pb}; encoding=text"))));
        assert!(!is_protobuf(Some("text/plain; version=0.0.4")));
        assert!(!is_protobuf(None));
    }

    #[test]
    fn encodings_match_case_insensitively() {
        let of = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static(v),
            );
            ContentEncoding::from_headers(&h)
        };
        assert_eq!(of("GZIP"), ContentEncoding::Gzip);
        assert_eq!(of("Snappy"), ContentEncoding::Snappy);
        assert_eq!(of("deflate"), ContentEncoding::Identity);
        assert_eq!(
            ContentEncoding::from_headers(&HeaderMap::new()),
            ContentEncoding::Identity
        );
    }
}
