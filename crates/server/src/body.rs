//! Request bodies: reading them within the size limit and the read
//! timeout, `Content-Encoding` (gzip, snappy), the protobuf/text choice by
//! `Content-Type`, and parsing, with the size limits applied while
//! decompressing (a small body cannot inflate without bound).

use std::borrow::Cow;
use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use exposition::{MetricFamily, NameValidation, ParseOptions};
use http::HeaderMap;

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

/// A request body: already read (the Go gateway reads a gzip header before
/// routing), or still to read.
pub(crate) enum BodySource {
    Read(Bytes),
    Pending(Body),
}

impl BodySource {
    /// The whole body, read within `limit` bytes and `timeout`.
    pub(crate) async fn bytes(
        self,
        headers: &HeaderMap,
        limit: u64,
        timeout: Duration,
    ) -> Result<Bytes, BodyError> {
        match self {
            BodySource::Read(b) => Ok(b),
            BodySource::Pending(body) => read_body(body, headers, limit, timeout).await,
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: u64,
    read_timeout: Duration,
) -> Result<Bytes, BodyError> {
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
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match tokio::time::timeout(read_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large);
                }
                // The connection's idle timeout cut the body off.
                if s.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                {
                    return Err(BodyError::Timeout);
                }
                source = s.source();
            }
            Err(BodyError::Malformed("unexpected EOF".into()))
        }
    }
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
}

impl BodyError {
    /// The flag of the limit that refused the body, if a limit did.
    pub(crate) fn limit_flag(&self) -> Option<&'static str> {
        match self {
            BodyError::TooLarge { flag, .. } => Some(flag),
            BodyError::Timeout => Some("web.read-timeout"),
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

/// Decompresses a body, refusing more than `limit` bytes of output.
///
/// Two passes keep memory exact: the first inflates into nothing, only
/// counting (and stops at the limit, so a compression bomb costs time
/// bounded by the limit and no memory); the second fills a buffer of
/// exactly the counted size.
pub(crate) fn decompress(
    body: &[u8],
    encoding: ContentEncoding,
    limit: u64,
) -> Result<Cow<'_, [u8]>, BodyError> {
    let too_large = BodyError::TooLarge {
        what: "decompressed body",
        limit,
        flag: "push.max-decompressed-size",
    };
    if encoding == ContentEncoding::Identity {
        return if body.len() as u64 > limit {
            Err(too_large)
        } else {
            Ok(Cow::Borrowed(body))
        };
    }
    if encoding == ContentEncoding::Gzip {
        if let Some(e) = gzip_header_error(body) {
            return Err(BodyError::Malformed(e.into()));
        }
    }
    let reader = |body| -> Box<dyn Read + '_> {
        match encoding {
            ContentEncoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
            ContentEncoding::Snappy | ContentEncoding::Identity => {
                Box::new(snap::read::FrameDecoder::new(body))
            }
        }
    };
    let counted = std::io::copy(
        &mut reader(body).take(limit.saturating_add(1)),
        &mut std::io::sink(),
    )
    .map_err(|e| BodyError::Malformed(decompression_message(encoding, &e)))?;
    if counted > limit {
        return Err(too_large);
    }
    let mut out = Vec::with_capacity(counted as usize);
    reader(body)
        .take(counted)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Malformed(decompression_message(encoding, &e)))?;
    Ok(Cow::Owned(out))
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

/// Parses a (decompressed) body.
pub(crate) fn parse(
    body: &[u8],
    format: BodyFormat,
    names: NameValidation,
) -> Result<Families<'_>, exposition::Error> {
    match format {
        BodyFormat::Protobuf => exposition::decode_protobuf_delimited(body).map(Families::Protobuf),
        BodyFormat::Text => {
            exposition::parse_text_with(body, ParseOptions { names }).map(Families::Text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
            &*decompress(&two, ContentEncoding::Gzip, 1000).unwrap(),
            b"a 1\nb 2\n"
        );
        assert_eq!(
            decompress(b"", ContentEncoding::Gzip, 10),
            Err(BodyError::Malformed("EOF".into()))
        );
        assert_eq!(
            decompress(b"not gzip at all", ContentEncoding::Gzip, 10),
            Err(BodyError::Malformed("gzip: invalid header".into()))
        );
        let full = gzip(b"m 1\n");
        assert_eq!(
            decompress(&full[..full.len() - 4], ContentEncoding::Gzip, 100),
            Err(BodyError::Malformed("unexpected EOF".into()))
        );
    }

    #[test]
    fn stops_inflating_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            decompress(&bomb, ContentEncoding::Gzip, 1 << 20),
            Err(BodyError::TooLarge { .. })
        ));
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(&vec![b'a'; 10 << 20]).unwrap();
        let framed = framed.into_inner().unwrap();
        assert!(matches!(
            decompress(&framed, ContentEncoding::Snappy, 1 << 20),
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
