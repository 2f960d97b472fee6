//! The web UI: server-rendered pages for groups and status, and their
//! assets, embedded in the binary.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::{html_escape, AppState};

fn html(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// `GET /`: the groups.
pub(crate) fn index_page(state: &AppState) -> Response {
    let snapshot = state.store().snapshot();
    let mut out = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Pushgateway</title></head><body><h1>Pushgateway</h1><ul>");
    for group in snapshot.groups() {
        let labels: Vec<String> = group
            .key()
            .labels()
            .map(|(n, v)| format!("{}=\"{}\"", html_escape(n), html_escape(v)))
            .collect();
        out.push_str(&format!("<li>{}</li>", labels.join(", ")));
    }
    out.push_str("</ul></body></html>");
    html(out)
}

/// `GET /status`: build information, start time and flags.
pub(crate) fn status_page(state: &AppState) -> Response {
    let mut out = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Pushgateway status</title></head><body><h1>Status</h1><table>");
    for (k, v) in crate::api::build_information() {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(&v)
        ));
    }
    for (k, v) in &state.config().flag_values {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(v)
        ));
    }
    out.push_str("</table></body></html>");
    html(out)
}

/// `GET /static/*filepath`.
pub(crate) fn static_asset(_path: &str) -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}
