//! Request bodies: `Content-Encoding` (gzip, snappy), the protobuf/text
//! choice by `Content-Type`, and parsing, with the size limits applied
//! while decompressing (a small body cannot inflate without bound).

use std::borrow::Cow;
use std::io::Read;

use exposition::{MetricFamily, ParseOptions};

/// The compression of a request body, as the Go gateway recognises it
/// (case-insensitively; anything else is treated as uncompressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    Snappy,
}

impl Encoding {
    pub(crate) fn from_header(value: Option<&str>) -> Encoding {
        match value.map(str::to_ascii_lowercase).as_deref() {
            Some("gzip") => Encoding::Gzip,
            Some("snappy") => Encoding::Snappy,
            _ => Encoding::Identity,
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
    encoding: Encoding,
    limit: u64,
) -> Result<Cow<'_, [u8]>, BodyError> {
    let too_large = BodyError::TooLarge {
        what: "decompressed body",
        limit,
        flag: "push.max-decompressed-size",
    };
    if encoding == Encoding::Identity {
        return if body.len() as u64 > limit {
            Err(too_large)
        } else {
            Ok(Cow::Borrowed(body))
        };
    }
    if encoding == Encoding::Gzip {
        if let Some(e) = gzip_header_error(body) {
            return Err(BodyError::Malformed(e.into()));
        }
    }
    let reader = |body| -> Box<dyn Read + '_> {
        match encoding {
            Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
            _ => Box::new(snap::read::FrameDecoder::new(body)),
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

fn decompression_message(encoding: Encoding, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "unexpected EOF".into();
    }
    let text = e.to_string();
    match encoding {
        Encoding::Gzip if text.contains("header") => "gzip: invalid header".into(),
        Encoding::Gzip if text.contains("checksum") => "gzip: invalid checksum".into(),
        Encoding::Gzip => "flate: corrupt input".into(),
        _ => "snappy: corrupt input".into(),
    }
}

/// Whether a `Content-Type` names delimited protobuf, as the Go gateway
/// decides it (media type and both parameters, any order; a malformed
/// header means text).
pub(crate) fn is_protobuf(content_type: Option<&str>) -> bool {
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
    /// Series count, the largest label count a series will have once the
    /// grouping labels (`grouping`, their names) are added, and the longest
    /// label value, for the limits.
    pub(crate) fn shape(&self, grouping: &[&str]) -> (u64, u64, u64) {
        fn measure<S: AsRef<str>>(
            families: &[MetricFamily<S>],
            grouping: &[&str],
        ) -> (u64, u64, u64) {
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
            (series, labels, value)
        }
        match self {
            Families::Text(f) => measure(f, grouping),
            Families::Protobuf(f) => measure(f, grouping),
        }
    }
}

/// Parses a (decompressed) body.
pub(crate) fn parse(body: &[u8], protobuf: bool, utf8_names: bool) -> Result<Families<'_>, String> {
    if protobuf {
        exposition::decode_protobuf_delimited(body)
            .map(Families::Protobuf)
            .map_err(|e| e.to_string())
    } else {
        exposition::parse_text_with(body, ParseOptions { utf8_names })
            .map(Families::Text)
            .map_err(|e| e.to_string())
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
            &*decompress(&two, Encoding::Gzip, 1000).unwrap(),
            b"a 1\nb 2\n"
        );
        assert_eq!(
            decompress(b"", Encoding::Gzip, 10),
            Err(BodyError::Malformed("EOF".into()))
        );
        assert_eq!(
            decompress(b"not gzip at all", Encoding::Gzip, 10),
            Err(BodyError::Malformed("gzip: invalid header".into()))
        );
        let full = gzip(b"m 1\n");
        assert_eq!(
            decompress(&full[..full.len() - 4], Encoding::Gzip, 100),
            Err(BodyError::Malformed("unexpected EOF".into()))
        );
    }

    #[test]
    fn stops_inflating_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            decompress(&bomb, Encoding::Gzip, 1 << 20),
            Err(BodyError::TooLarge { .. })
        ));
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(&vec![b'a'; 10 << 20]).unwrap();
        let framed = framed.into_inner().unwrap();
        assert!(matches!(
            decompress(&framed, Encoding::Snappy, 1 << 20),
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
        assert_eq!(Encoding::from_header(Some("GZIP")), Encoding::Gzip);
        assert_eq!(Encoding::from_header(Some("Snappy")), Encoding::Snappy);
        assert_eq!(Encoding::from_header(Some("deflate")), Encoding::Identity);
    }
}
