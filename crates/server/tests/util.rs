//! Helpers: build an app from flags and send it requests.

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::flags::{self, Parsed};
use server::AppState;
use tower::ServiceExt;

/// An app configured by command-line flags.
pub(crate) fn app(args: &[&str]) -> (AppState, axum::Router) {
    let config = match flags::parse(args.iter().copied()) {
        Ok(Parsed::Run(c)) => *c,
        other => panic!("bad flags {args:?}: {other:?}"),
    };
    let state = AppState::new(config).expect("valid web config");
    (state.clone(), server::app(state))
}

/// A response, fully read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: String,
}

/// Sends one request.
pub(crate) async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// The pushed series of a text scrape: sample lines that are not the
/// gateway's own metrics, with push-time values reduced to set/zero.
pub(crate) fn pushed_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| !l.starts_with("process_") && !l.starts_with("pushgateway_"))
        .map(|l| {
            if l.starts_with("push_time_seconds") || l.starts_with("push_failure_time_seconds") {
                let (series, value) = l.rsplit_once(' ').unwrap();
                format!("{series} {}", if value == "0" { "zero" } else { "set" })
            } else {
                l.to_string()
            }
        })
        .collect()
}

/// A response with its raw body bytes.
pub(crate) struct RawReply {
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Sends a bodiless request and keeps the body as bytes.
pub(crate) async fn send_raw(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> RawReply {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    RawReply { headers, body }
}
