//! Every way a request can fail, as one [`AppError`], and the one place
//! that turns it into a response: Go's status and wording for what Go
//! refuses, a message naming the flag for our limits, and for server-side
//! failures a message that names the problem but no file path.
//!
//! [`AppError::report`] does what goes with a refusal besides the answer:
//! counting it in the gateway's own metrics and logging it at the level
//! the Go gateway logs it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use store::{LogError, Problems, WriteError, WriteKind};

use crate::authorization::{Denied, Refusal};
use crate::body::BodyError;
use crate::context::RequestContext;
use crate::grouping::UrlError;
use crate::lifetime::TtlError;
use crate::limits::LimitError;
use crate::own::OwnMetrics;
use crate::response::{http_error, plain, with_allow};

/// Why a request was not served as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    /// No route (`404 page not found`).
    #[error("404 page not found")]
    NotFound,
    /// The route exists for other methods.
    #[error("Method Not Allowed")]
    MethodNotAllowed {
        /// The `Allow` header.
        allow: String,
    },
    /// A path that cannot be percent-decoded (Go's bare `400 Bad Request`).
    #[error("400 Bad Request")]
    BadPath,
    /// Missing or wrong credentials.
    #[error("Unauthorized")]
    Unauthorized,
    /// Over the web config's rate limit.
    #[error("Too Many Requests")]
    TooManyRequests,
    /// Refused by `--web.auth-config`.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The web config file stopped parsing; requests fail closed.
    #[error("Internal Server Error")]
    WebConfigInvalid,
    /// `/-/quit` without `--web.enable-lifecycle`.
    #[error("Lifecycle API is not enabled.")]
    LifecycleDisabled,
    /// `GET /-/quit`.
    #[error("Only POST or PUT requests allowed.")]
    QuitNeedsPost,
    /// A push or delete URL that names no valid group.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A body that is too large, too slow or malformed.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A body that does not parse.
    #[error(transparent)]
    Parse(#[from] exposition::Error),
    /// A push over a per-push limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// An API request whose parameters are wrong (a bad `match[]`
    /// selector, `older_than`, `dry_run`): answered in Prometheus' API
    /// error shape.
    #[error("{0}")]
    BadData(String),
    /// A push asking for a TTL that is malformed or over `--push.max-ttl`.
    #[error(transparent)]
    Ttl(#[from] TtlError),
    /// A push the store refused as invalid or inconsistent.
    #[error("pushed metrics are invalid or inconsistent with existing metrics: {0}")]
    Rejected(WriteError),
    /// A push that would create a group beyond `--push.max-groups`.
    #[error("the gateway holds {limit} groups, the limit (--push.max-groups)")]
    TooManyGroups {
        /// The limit.
        limit: u64,
    },
    /// `/-/ready` while writes are refused.
    #[error("not ready: writes are refused because they cannot be persisted: {source}")]
    NotReady {
        /// Why (no file path).
        source: LogError,
    },
    /// A write refused because it could not be made durable; nothing of it
    /// is visible. Retry later: the gateway recovers by itself.
    #[error("the {kind} could not be persisted: {source}")]
    NotPersisted {
        /// What was being written.
        kind: WriteKind,
        /// Why (no file path: this is shown to clients).
        source: LogError,
    },
    /// A scrape of a store whose pushes were not checked and which is now
    /// inconsistent (`--push.disable-consistency-check`).
    #[error("An error has occurred while serving metrics:\n\n{0}")]
    Inconsistent(Problems),
    /// A bug or a lost worker thread.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl AppError {
    /// The error of a store write of `kind`.
    pub(crate) fn from_write(kind: WriteKind, e: WriteError) -> AppError {
        match e {
            WriteError::TooManyGroups { limit } => AppError::TooManyGroups { limit },
            WriteError::Log(source) => AppError::NotPersisted { kind, source },
            other => AppError::Rejected(other),
        }
    }

    /// The status the error answers with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed { .. } | AppError::QuitNeedsPost => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            AppError::BadPath
            | AppError::Url(_)
            | AppError::Parse(_)
            | AppError::Rejected(_)
            | AppError::Ttl(_)
            | AppError::BadData(_)
            | AppError::Body(BodyError::Malformed(_)) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized | AppError::Denied(Denied::Unauthenticated) => {
                StatusCode::UNAUTHORIZED
            }
            AppError::TooManyRequests | AppError::Denied(Denied::RateLimited { .. }) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::LifecycleDisabled | AppError::Denied(Denied::Forbidden(_)) => {
                StatusCode::FORBIDDEN
            }
            AppError::Body(BodyError::TooLarge { .. }) | AppError::TooManyGroups { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            AppError::Body(BodyError::Timeout) => StatusCode::REQUEST_TIMEOUT,
            AppError::Limit(e) if e.too_large() => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Limit(_) => StatusCode::BAD_REQUEST,
            AppError::NotPersisted { .. }
            | AppError::NotReady { .. }
            | AppError::Body(BodyError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::WebConfigInvalid | AppError::Inconsistent(_) | AppError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The flag of the limit behind the refusal, if a limit refused it.
    pub(crate) fn limit_flag(&self) -> Option<&'static str> {
        match self {
            AppError::Body(e) => e.limit_flag(),
            AppError::Limit(e) => Some(e.flag()),
            AppError::TooManyGroups { .. } => Some("push.max-groups"),
            AppError::Ttl(TtlError::OverMax { .. }) => Some("push.max-ttl"),
            _ => None,
        }
    }

    /// Counts and logs the refusal of the request in `context`: limits in
    /// `pushgateway_limit_refusals_total`; consistency refusals at error,
    /// with Go's message and keys; bad URLs and bodies at debug, as Go logs
    /// them; server-side failures at error with their detail.
    pub(crate) fn report(&self, own: &OwnMetrics, context: &RequestContext) {
        if let Some(flag) = self.limit_flag() {
            own.count_refusal(flag);
        }
        let source = context.source();
        match self {
            AppError::Rejected(e) => tracing::error!(
                method = context.method.as_str(),
                source = %source,
                err = %e,
                "pushed metrics are invalid or inconsistent with existing metrics"
            ),
            AppError::Url(e) => match e {
                UrlError::JobBase64 { job, .. } | UrlError::JobUtf8 { job, .. } => {
                    tracing::debug!(job = %job, err = %e, "{}", e.log_message())
                }
                UrlError::JobRequired => tracing::debug!("{}", e.log_message()),
                _ => {
                    tracing::debug!(url = context.param("labels"), err = %e, "{}", e.log_message())
                }
            },
            AppError::Parse(e) => {
                tracing::debug!(source = %source, err = %e, "failed to parse text")
            }
            AppError::Body(e) => {
                tracing::debug!(source = %source, err = %e, "failed to read the request body")
            }
            AppError::Limit(_) | AppError::TooManyGroups { .. } | AppError::Ttl(_) => {
                tracing::debug!(source = %source, err = %self, "push refused by a limit")
            }
            AppError::NotPersisted { kind, source: e } => tracing::error!(
                method = context.method.as_str(),
                source = %source,
                principal = %context.principal,
                err = %e.detail(),
                "the {kind} could not be persisted"
            ),
            AppError::Inconsistent(problems) => {
                tracing::error!(err = %problems, "error gathering metrics")
            }
            AppError::Internal(what) => tracing::error!(
                method = context.method.as_str(),
                path = context.uri.path(),
                principal = %context.principal,
                err = what,
                "internal error"
            ),
            _ => {}
        }
    }
}

/// 401 with the `WWW-Authenticate` header, marked as a refusal for the
/// counter of `--web.auth-config`.
fn unauthorized() -> Response {
    let mut r = http_error(StatusCode::UNAUTHORIZED, AppError::Unauthorized);
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic"),
    );
    r.extensions_mut().insert(Refusal::Unauthenticated);
    r
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            AppError::BadPath | AppError::LifecycleDisabled | AppError::QuitNeedsPost => {
                let body = match self {
                    AppError::BadPath => "400 Bad Request",
                    AppError::LifecycleDisabled => "Lifecycle API is not enabled.",
                    _ => "Only POST or PUT requests allowed.",
                };
                plain(status, body)
            }
            AppError::MethodNotAllowed { ref allow } => {
                with_allow(http_error(status, &self), allow)
            }
            AppError::Unauthorized => unauthorized(),
            AppError::Denied(denied) => {
                let refusal = denied.refusal();
                let mut r = match denied {
                    Denied::Unauthenticated => unauthorized(),
                    Denied::RateLimited { retry_after } => {
                        let mut r = http_error(status, &denied);
                        r.headers_mut()
                            .insert(http::header::RETRY_AFTER, HeaderValue::from(retry_after));
                        r
                    }
                    Denied::Forbidden(message) => http_error(status, message),
                };
                r.extensions_mut().insert(refusal);
                r
            }
            AppError::BadData(ref problem) => {
                let mut body =
                    String::from("{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":");
                crate::json::string(&mut body, problem);
                body.push('}');
                let mut r = crate::response::json(body);
                *r.status_mut() = status;
                r
            }
            AppError::NotPersisted { .. }
            | AppError::NotReady { .. }
            | AppError::Body(BodyError::Busy(_)) => {
                let mut r = http_error(status, &self);
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            other => http_error(status, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn body(r: Response) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = runtime
            .block_on(r.into_body().collect())
            .unwrap()
            .to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn server_failures_name_the_problem_but_no_path() {
        let e = AppError::from_write(
            WriteKind::Push,
            WriteError::Log(LogError::Write {
                reason: "writing the journal: No space left on device (os error 28)".into(),
                location: "/var/lib/prometheus/pushgateway.data".into(),
            }),
        );
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = e.into_response();
        assert_eq!(response.headers()["retry-after"], "1");
        let text = body(response);
        assert_eq!(
            text,
            "the push could not be persisted: writing the journal: No space left on device (os error 28)\n"
        );
        assert!(!text.contains("/var/lib"));
    }

    #[test]
    fn go_shaped_answers() {
        let r = AppError::LifecycleDisabled.into_response();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get("x-content-type-options").is_none());
        assert_eq!(body(r), "Lifecycle API is not enabled.");
        let r = AppError::NotFound.into_response();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(body(r), "404 page not found\n");
        let r = AppError::MethodNotAllowed {
            allow: "GET, OPTIONS".into(),
        }
        .into_response();
        assert_eq!(r.headers()["allow"], "GET, OPTIONS");
        let r = AppError::Unauthorized.into_response();
        assert_eq!(r.headers()["www-authenticate"], "Basic");
    }

    #[test]
    fn limits_answer_413_or_400_and_name_their_flag() {
        let groups = AppError::from_write(WriteKind::Push, WriteError::TooManyGroups { limit: 10 });
        assert_eq!(groups.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(groups.limit_flag(), Some("push.max-groups"));
        assert!(groups.to_string().ends_with("(--push.max-groups)"));
        let labels = AppError::Limit(LimitError::Labels { found: 9, limit: 8 });
        assert_eq!(labels.status(), StatusCode::BAD_REQUEST);
        let timeout = AppError::Body(BodyError::Timeout);
        assert_eq!(timeout.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(timeout.limit_flag(), Some("web.read-timeout"));
    }
}
