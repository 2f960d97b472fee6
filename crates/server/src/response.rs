//! Responses shaped as Go's `net/http` writes them: `http.Error`'s text
//! bodies, bare status lines, `http.Redirect`, and HTML escaping. Clients
//! and conformance tests compare these byte for byte.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::router::{clean_path, escape_path};

/// A text response as Go's `http.Error` writes it: the message and a
/// newline, `text/plain; charset=utf-8`, `X-Content-Type-Options: nosniff`.
pub(crate) fn http_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    text_response(status, format!("{message}\n"))
}

/// A text body with the headers of Go's `http.Error`.
pub(crate) fn text_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// A text body written with `w.Write` (no `nosniff`, no newline added).
pub(crate) fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A status without a body or content type.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut().remove(http::header::CONTENT_TYPE);
    r
}

/// A JSON body.
pub(crate) fn json(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Adds an `Allow` header.
pub(crate) fn with_allow(mut response: Response, allow: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, v);
    }
    response
}

/// A redirect as Go's `http.Redirect` writes it.
pub(crate) fn redirect(code: u16, path: &str, query: Option<&str>, method: &Method) -> Response {
    let mut location = clean_path(&escape_path(path));
    if path.ends_with('/') && !location.ends_with('/') {
        location.push('/');
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(q);
    }
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    let mut response = if method == Method::GET || method == Method::HEAD {
        let text = status.canonical_reason().unwrap_or("");
        let mut r = (
            status,
            format!("<a href=\"{}\">{text}</a>.\n\n", html_escape(&location)),
        )
            .into_response();
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    } else {
        empty(status)
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(http::header::LOCATION, v);
    }
    response
}

/// Escapes text for HTML (`&<>"'`), as Go's `html.EscapeString` does.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_error_has_go_headers_and_newline() {
        let r = http_error(StatusCode::NOT_FOUND, "404 page not found");
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let r = plain(StatusCode::OK, "OK");
        assert!(r.headers().get("x-content-type-options").is_none());
        assert!(empty(StatusCode::ACCEPTED).headers().is_empty());
    }

    #[test]
    fn redirects_escape_and_keep_the_query() {
        let r = redirect(301, "/a b/", Some("x=1"), &Method::GET);
        assert_eq!(r.headers()["location"], "/a%20b/?x=1");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let r = redirect(307, "/p", None, &Method::PUT);
        assert_eq!(r.headers()["location"], "/p");
        assert!(r.headers().get("content-type").is_none());
        assert_eq!(
            html_escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"
        );
    }
}
