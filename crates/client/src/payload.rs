//! What a push sends: an exposition body with its content type, and the
//! optional `Content-Encoding` applied to it.

use std::fmt;
use std::io::Write as _;
use std::str::FromStr;

use bytes::Bytes;
use exposition::MetricFamily;

use crate::Error;

/// The `Content-Type` of text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = exposition::TEXT_CONTENT_TYPE;
/// The `Content-Type` of varint-delimited `io.prometheus.client.MetricFamily`
/// protobuf.
pub const PROTOBUF_CONTENT_TYPE: &str = exposition::PROTOBUF_CONTENT_TYPE;

/// The body of a push: exposition bytes and their format.
///
/// Registries and metric families are pushed as delimited protobuf, which
/// keeps every family's type exactly (text would turn an OpenMetrics-style
/// `x_total` counter into an untyped family); raw bytes are pushed as given.
///
/// ```
/// use pushgateway_client::Payload;
/// let text = Payload::text("# TYPE jobs_done counter\njobs_done 42\n");
/// assert_eq!(text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
///
/// let families = exposition::parse_text(b"# TYPE jobs_done counter\njobs_done 42\n")?;
/// let proto = Payload::from_families(&families);
/// assert!(proto.content_type().starts_with("application/vnd.google.protobuf"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    body: Bytes,
    content_type: &'static str,
}

impl Payload {
    /// Text format 0.0.4, pushed as-is (the gateway validates it).
    pub fn text(body: impl Into<Bytes>) -> Payload {
        Payload {
            body: body.into(),
            content_type: TEXT_CONTENT_TYPE,
        }
    }

    /// Varint-delimited `io.prometheus.client.MetricFamily` messages,
    /// pushed as-is.
    pub fn protobuf(body: impl Into<Bytes>) -> Payload {
        Payload {
            body: body.into(),
            content_type: PROTOBUF_CONTENT_TYPE,
        }
    }

    /// Metric families of the [`exposition`] data model, encoded as
    /// delimited protobuf. Families without metrics are left out.
    pub fn from_families<S: AsRef<str>>(families: &[MetricFamily<S>]) -> Payload {
        let mut body = Vec::new();
        for family in families.iter().filter(|f| !f.metrics.is_empty()) {
            exposition::encode_protobuf_family(&mut body, family);
        }
        Payload::protobuf(body)
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The `Content-Type` the body is sent with.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    pub(crate) fn bytes(&self) -> Bytes {
        self.body.clone()
    }
}

/// The `Content-Encoding` of pushed bodies.
///
/// Debian's Go Pushgateway 1.5.1 understands only gzip; Go 1.6+ and this
/// workspace's gateway also take snappy (framed format); 1.5.1 reads a
/// snappy body as text and answers 400. As in Python's `prometheus_client`,
/// a client with compression refuses `delete`
/// ([`Error::CompressionNotSupported`](crate::Error::CompressionNotSupported)).
///
/// ```
/// use pushgateway_client::Compression;
/// assert_eq!("GZip".parse::<Compression>()?, Compression::Gzip);
/// assert_eq!(Compression::Snappy.to_string(), "snappy");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// No compression (the default).
    #[default]
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// `Content-Encoding: snappy`, the framed (stream) format.
    Snappy,
}

impl Compression {
    /// The `Content-Encoding` header value, `None` for no compression.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Snappy => Some("snappy"),
        }
    }

    /// Compresses `body`.
    pub(crate) fn apply(self, body: Bytes) -> Result<Bytes, Error> {
        let encode_err = |e: std::io::Error| Error::Encode(format!("compressing with {self}: {e}"));
        match self {
            Compression::None => Ok(body),
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&body).map_err(encode_err)?;
                Ok(enc.finish().map_err(encode_err)?.into())
            }
            Compression::Snappy => {
                let mut enc = snap::write::FrameEncoder::new(Vec::new());
                enc.write_all(&body).map_err(encode_err)?;
                let out = enc.into_inner().map_err(|e| encode_err(e.into_error()))?;
                Ok(out.into())
            }
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value().unwrap_or("none"))
    }
}

/// Parses `none`, `gzip` or `snappy`, ignoring case.
impl FromStr for Compression {
    type Err = Error;

    fn from_str(s: &str) -> Result<Compression, Error> {
        match s.to_ascii_lowercase().as_str() {
            "" | "none" | "identity" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            _ => Err(Error::Config(format!(
                "unknown compression {s:?} (expected gzip, snappy or none)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn gzip_round_trips() {
        let body = Bytes::from_static(b"x 1\n");
        let packed = Compression::Gzip.apply(body.clone()).unwrap();
        assert_ne!(packed, body);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn snappy_is_the_framed_format() {
        let body = Bytes::from(b"x 1\n".repeat(100));
        let packed = Compression::Snappy.apply(body.clone()).unwrap();
        // The stream identifier chunk opens every framed snappy stream.
        assert_eq!(&packed[..10], b"\xff\x06\x00\x00sNaPpY");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn no_compression_keeps_the_body() {
        let body = Bytes::from_static(b"x 1\n");
        assert_eq!(Compression::None.apply(body.clone()).unwrap(), body);
    }

    #[test]
    fn compression_parses_case_insensitively() {
        assert_eq!(
            "SNAPPY".parse::<Compression>().unwrap(),
            Compression::Snappy
        );
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        assert!(matches!("br".parse::<Compression>(), Err(Error::Config(_))));
    }

    #[test]
    fn families_are_encoded_as_delimited_protobuf_without_empty_ones() {
        let mut families = exposition::parse_text(b"# TYPE a gauge\na 1\n# TYPE b counter\nb 2\n")
            .unwrap()
            .into_iter()
            .map(|f| f.into_owned())
            .collect::<Vec<_>>();
        families[0].metrics.clear();
        let payload = Payload::from_families(&families);
        assert_eq!(payload.content_type(), PROTOBUF_CONTENT_TYPE);
        let back = exposition::decode_protobuf_delimited(payload.body()).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name, "b");
        assert_eq!(back[0].metric_type, exposition::MetricType::Counter);
    }
}
