//! The crate's one error type.

use std::time::Duration;

/// A boxed error from a transport, a TLS library or an encoder.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when talking to a Pushgateway.
///
/// Variants carry the offending value. [`Error::status`] and [`Error::body`]
/// give the gateway's answer when there was one, and [`Error::is_retryable`]
/// says whether the client's retry policy would try again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gateway URL does not parse or is not `http`/`https`.
    #[error("invalid gateway URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The job name is empty; the gateway requires one.
    #[error("the job name must not be empty")]
    EmptyJob,
    /// A grouping or metric label name is not allowed.
    #[error("invalid label name {name:?}: {reason}")]
    InvalidLabelName {
        /// The label name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A metric name does not match `^[a-zA-Z_:][a-zA-Z0-9_:]*$`.
    #[error("invalid metric name {name:?}: must match ^[a-zA-Z_:][a-zA-Z0-9_:]*$")]
    InvalidMetricName {
        /// The metric name as given.
        name: String,
    },
    /// A gauge sample lacks one of the labels the grouping key is made of.
    #[error("gauge sample {} has no label {label:?}, which is one of the group-by labels", index + 1)]
    MissingGroupLabel {
        /// The sample's position (0-based) in the order samples were added;
        /// the message counts from 1.
        index: usize,
        /// The missing label name.
        label: String,
    },
    /// Two gauge samples have the same labels: the same series twice.
    #[error("gauge samples {} and {} have the same labels; a group holds each series once", first + 1, second + 1)]
    DuplicateSample {
        /// The first sample's position (0-based); the message counts from 1.
        first: usize,
        /// The repeating sample's position (0-based).
        second: usize,
    },
    /// An HTTP header name or value given to the builder is invalid.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// A certificate, key or other TLS setting could not be used.
    #[error("TLS configuration: {message}")]
    Tls {
        /// What was wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The builder's settings contradict each other (for example TLS files
    /// together with a custom transport, which does its own TLS).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// A file could not be read, or a local address could not be found.
    #[error("{context}")]
    Io {
        /// What was being done, with the path when there is one.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Metrics could not be encoded for the push.
    #[error("encoding metrics: {0}")]
    Encode(String),
    /// `delete` was called on a client configured with compression. As in
    /// Python's `prometheus_client`, compression is refused for `DELETE`
    /// (which has no body) rather than silently dropped: delete with a
    /// client built without compression. Nothing was sent.
    #[error("compression is not supported for DELETE requests; delete with a client built without compression")]
    CompressionNotSupported,
    /// The connection to the gateway could not be made (refused, DNS,
    /// TLS handshake). Retried when retries are on. The message includes
    /// the causes.
    #[error("cannot connect to the pushgateway: {0}")]
    Connect(BoxError),
    /// The TLS handshake failed because a certificate was refused: the
    /// gateway's (unknown CA, wrong name, expired) or the client's (none
    /// given, or not trusted by the gateway). Never retried, since it would
    /// fail the same way again. The message includes the causes.
    #[error("cannot connect to the pushgateway: TLS certificate refused: {0}")]
    Certificate(BoxError),
    /// The request did not complete within the configured timeout.
    #[error("the pushgateway did not answer within {0:?}")]
    Timeout(Duration),
    /// The request failed after the connection was made. The message
    /// includes the causes.
    #[error("request to the pushgateway failed: {0}")]
    Transport(BoxError),
    /// The gateway answered with a redirect, which is not followed unless
    /// the client was built with `follow_redirects(true)`.
    #[error("the pushgateway answered {} {}; redirects are not followed unless enabled", status_line(*.status), redirect_target(location.as_deref()))]
    Redirect {
        /// The HTTP status (3xx).
        status: u16,
        /// The `Location` header, if any.
        location: Option<String>,
    },
    /// With `follow_redirects(true)`, the gateway answered a `PUT`, `POST` or
    /// `DELETE` with 301, 302 or 303. HTTP clients repeat those as a `GET`
    /// without body, so following one would report success with nothing
    /// pushed; only 307 and 308, which keep the method and body, are
    /// followed for these methods.
    #[error("the pushgateway answered the {method} with {} {}; not followed, since it would be repeated as a GET without body (only 307 and 308 keep the method and body)", status_line(*.status), redirect_target(location.as_deref()))]
    MethodChangingRedirect {
        /// The method of the redirected request.
        method: String,
        /// The HTTP status (301, 302 or 303).
        status: u16,
        /// The `Location` header, if any.
        location: Option<String>,
    },
    /// The gateway answered with an error status. `body` is its message,
    /// for example `pushed metrics are invalid or inconsistent with existing
    /// metrics: ...` for a refused push.
    #[error("the pushgateway answered {}: {body}", status_line(*.status))]
    Status {
        /// The HTTP status (4xx or 5xx).
        status: u16,
        /// The response body, as text, without the trailing newline.
        body: String,
    },
}

impl Error {
    /// The HTTP status the gateway answered with, for [`Error::Status`],
    /// [`Error::Redirect`] and [`Error::MethodChangingRedirect`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. }
            | Error::Redirect { status, .. }
            | Error::MethodChangingRedirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The gateway's message, for [`Error::Status`].
    pub fn body(&self) -> Option<&str> {
        match self {
            Error::Status { body, .. } => Some(body),
            _ => None,
        }
    }

    /// Whether the retry policy retries after this error: connection
    /// failures (except refused certificates) and 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect(_) => true,
            Error::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Whether the request never got an answer from the gateway (connection
    /// failure, timeout or broken transfer), as opposed to a refusal.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::Connect(_) | Error::Certificate(_) | Error::Timeout(_) | Error::Transport(_)
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn tls(message: impl Into<String>, source: impl Into<Option<BoxError>>) -> Error {
        Error::Tls {
            message: message.into(),
            source: source.into(),
        }
    }
}

/// `redirecting to "LOCATION"`, or that there was none.
fn redirect_target(location: Option<&str>) -> String {
    match location {
        Some(location) => format!("redirecting to {location:?}"),
        None => "without a Location".to_owned(),
    }
}

fn status_line(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_error_displays_status_and_body() {
        let e = Error::Status {
            status: 400,
            body: "pushed metrics are invalid".into(),
        };
        assert_eq!(
            e.to_string(),
            "the pushgateway answered 400 Bad Request: pushed metrics are invalid"
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.body(), Some("pushed metrics are invalid"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn redirect_errors_name_status_and_location() {
        let e = Error::Redirect {
            status: 307,
            location: Some("/elsewhere".into()),
        };
        assert_eq!(
            e.to_string(),
            "the pushgateway answered 307 Temporary Redirect redirecting to \"/elsewhere\"; \
             redirects are not followed unless enabled"
        );
        let e = Error::MethodChangingRedirect {
            method: "PUT".into(),
            status: 301,
            location: None,
        };
        assert!(
            e.to_string().starts_with(
                "the pushgateway answered the PUT with 301 Moved Permanently without a Location; \
                 not followed"
            ),
            "{e}"
        );
        assert_eq!(e.status(), Some(301));
    }

    #[test]
    fn retryable_errors_are_connect_and_5xx() {
        let connect = Error::Connect("refused".into());
        assert!(connect.is_retryable());
        assert!(connect.is_unreachable());
        let unavailable = Error::Status {
            status: 503,
            body: String::new(),
        };
        assert!(unavailable.is_retryable());
        assert!(!Error::Timeout(Duration::from_secs(1)).is_retryable());
        assert!(!Error::EmptyJob.is_retryable());
        let certificate = Error::Certificate("invalid peer certificate: UnknownIssuer".into());
        assert!(!certificate.is_retryable());
        assert!(certificate.is_unreachable());
        assert!(!Error::CompressionNotSupported.is_retryable());
    }
}
