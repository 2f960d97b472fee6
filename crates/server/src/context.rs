//! What a handler knows about the request it serves: the parts of the
//! request, the route's parameters, the connection it came on and who sent
//! it. Built once by the dispatcher, so handlers take one argument instead
//! of a long list.

use std::net::SocketAddr;

use http::{HeaderMap, Method, Uri};

use crate::auth::Principal;
use crate::authorization::Access;
use crate::body::ContentEncoding;
use crate::router::Params;

/// The connection a request came on; the server attaches it to every
/// request (requests made without a socket, in tests, have none).
#[derive(Debug, Clone)]
pub(crate) struct ConnectionInfo {
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// The subject of the client certificate the TLS handshake verified.
    pub(crate) certificate_subject: Option<String>,
}

/// The request target as sent, when it was too long for `http::Uri` (the
/// request's URI is then a placeholder; see `long_target`).
#[derive(Debug, Clone)]
pub(crate) struct LongTarget(pub(crate) String);

impl LongTarget {
    /// The path and query of a request: from the long target when there is
    /// one, else from the URI.
    pub(crate) fn path_and_query<'a>(
        extensions: &'a http::Extensions,
        uri: &'a http::Uri,
    ) -> (&'a str, Option<&'a str>) {
        match extensions.get::<LongTarget>() {
            Some(LongTarget(target)) => match target.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (target, None),
            },
            None => (uri.path(), uri.query()),
        }
    }
}

/// One request, as the handlers see it.
#[derive(Debug)]
pub(crate) struct RequestContext {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    /// The route's parameters (`job`, `labels`, `filepath`).
    pub(crate) params: Params,
    /// The body's `Content-Encoding`.
    pub(crate) encoding: ContentEncoding,
    /// The client's address, if the request came on a socket.
    pub(crate) peer: Option<SocketAddr>,
    /// Who sent the request.
    pub(crate) principal: Principal,
    /// What they may do.
    pub(crate) access: Access,
    /// What a write handler wrote to (a grouping key, the selectors of a
    /// selective delete), for the audit log; set only under
    /// `--web.auth-config`.
    pub(crate) target: std::sync::OnceLock<String>,
}

impl RequestContext {
    /// A route parameter ("" when absent).
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Notes what the request writes to, for the audit log (only when
    /// there is one).
    pub(crate) fn note_target(&self, target: impl FnOnce() -> String) {
        if self.access.restricted() {
            let _ = self.target.set(target());
        }
    }

    /// The peer address as Go's `r.RemoteAddr` shows it in logs.
    pub(crate) fn source(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }

    /// Go's `computeApproximateRequestSize`, for the push size summary.
    pub(crate) fn approximate_size(&self) -> u64 {
        let uri_len = self.uri.path().len() + self.uri.query().map_or(0, |q| q.len() + 1);
        let mut size = uri_len + self.method.as_str().len() + "HTTP/1.1".len();
        for (name, value) in &self.headers {
            size += name.as_str().len() + value.len();
        }
        let content_length = self
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        (size + content_length) as u64
    }
}
