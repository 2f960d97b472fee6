//! With `--web.auth-config`: the audit trail — one line at info for every
//! write (push, failed push, delete, wipe, selective delete, quit) with
//! principal, peer, method, grouping key and status — and the count of
//! requests refused by authorization, by principal and reason. Without the
//! file neither exists, so that the logs and `/metrics` stay Go's.

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use crate::authorization::{Access, Refusal};
use crate::context::ConnectionInfo;
use crate::own::OwnMetrics;

/// What the audit line needs of a request, taken before it is handled.
pub(crate) struct Request {
    method: Method,
    peer: Option<SocketAddr>,
    path: String,
}

impl Request {
    pub(crate) fn of(request: &axum::extract::Request, path: &str) -> Request {
        Request {
            method: request.method().clone(),
            peer: request.extensions().get::<ConnectionInfo>().map(|c| c.peer),
            path: path.to_string(),
        }
    }

    /// Counts a refusal and writes the audit line of a write. `target` is
    /// what the handler said it wrote to; the path when it said nothing
    /// (the request was refused before it was understood).
    pub(crate) fn finish(
        self,
        own: &OwnMetrics,
        access: Option<&Access>,
        target: Option<String>,
        response: &Response,
    ) {
        let name = access.map_or("", Access::name);
        if let Some(refusal) = response.extensions().get::<Refusal>() {
            own.count_principal_refusal(name, refusal.label());
        }
        if !matches!(self.method, Method::PUT | Method::POST | Method::DELETE) {
            return;
        }
        let principal = match (name, access) {
            ("", Some(access)) => access.identity(),
            ("", None) => "unauthenticated".to_string(),
            (name, _) => name.to_string(),
        };
        let status: StatusCode = response.status();
        tracing::info!(
            principal = %principal,
            peer = %self.peer.map(|p| p.to_string()).unwrap_or_default(),
            method = self.method.as_str(),
            group = %target.unwrap_or(self.path),
            status = status.as_u16(),
            "audit"
        );
    }
}
