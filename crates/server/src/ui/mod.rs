//! The web UI: server-rendered pages for groups (`/`) and status
//! (`/status`), and their assets (`/static/…`), embedded in the binary.
//!
//! The groups page lists one page of groups at a time, narrowed by a filter
//! (`?q=`), so it stays fast with tens of thousands of groups; a group's
//! families are rendered only when it is expanded (`?group=<path>`, fetched
//! by the page's script). Everything shown is HTML-escaped: label values and
//! HELP texts are user input. The query parameters live on the `/` route, so
//! the route table stays the Go gateway's.
//!
//! Links follow the Go gateway: the path of `--web.external-url` when one is
//! set, else relative to the page, which works under any route prefix.

mod render;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::context::RequestContext;
use crate::state::AppState;

/// Groups per page of the groups list.
const PAGE_SIZE: usize = 100;

const STYLE_CSS: &str = include_str!("assets/style.css");
const UI_JS: &str = include_str!("assets/ui.js");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

fn with_type(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}

fn html(body: String) -> Response {
    with_type((StatusCode::OK, body), "text/html; charset=utf-8")
}

/// What the query string of `/` asks for.
#[derive(Debug, Default, PartialEq)]
struct IndexQuery {
    /// Filter text: whitespace-separated terms, each matching a grouping
    /// label's `name="value"` (case-insensitive substring).
    filter: String,
    /// 1-based page number.
    page: usize,
    /// Only the list of groups (for the filter box's live updates).
    list_only: bool,
    /// A group's families (the push path of the group, `job@base64/…`).
    group: Option<String>,
}

impl IndexQuery {
    fn parse(query: Option<&str>) -> IndexQuery {
        let mut q = IndexQuery {
            page: 1,
            ..IndexQuery::default()
        };
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "q" => q.filter = v.into_owned(),
                "page" => q.page = v.parse().unwrap_or(1).max(1),
                "list" => q.list_only = true,
                "group" => q.group = Some(v.into_owned()),
                _ => {}
            }
        }
        q
    }
}

/// `GET /`: the groups page, one group's families, or the group list alone.
pub(crate) fn index_page(state: &AppState, context: &RequestContext) -> Response {
    let query = IndexQuery::parse(context.uri.query());
    let snapshot = state.store().snapshot();
    let page = render::Page::new(state, &context.access);
    if let Some(path) = &query.group {
        return match render::group_key_from_path(path, state.config().names) {
            Some(key) => match snapshot.groups().iter().find(|g| *g.key() == key) {
                Some(group) => html(page.group_details(group)),
                None => with_type(
                    (
                        StatusCode::NOT_FOUND,
                        "<p class=\"empty\">This group no longer exists.</p>",
                    ),
                    "text/html; charset=utf-8",
                ),
            },
            None => with_type(
                (StatusCode::BAD_REQUEST, "<p class=\"empty\">Bad group.</p>"),
                "text/html; charset=utf-8",
            ),
        };
    }
    let list = page.group_list(&snapshot, &query.filter, query.page, PAGE_SIZE);
    if query.list_only {
        return html(list);
    }
    html(page.index(&snapshot, &query.filter, &list))
}

/// `GET /status`: build information, start time and flags.
pub(crate) fn status_page(state: &AppState, context: &RequestContext) -> Response {
    html(render::Page::new(state, &context.access).status())
}

/// `GET /static/*filepath`: the embedded assets.
pub(crate) fn static_asset(path: &str) -> Response {
    let (body, content_type) = match path.trim_start_matches('/') {
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        "ui.js" => (UI_JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON_SVG, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    };
    let mut r = with_type((StatusCode::OK, body), content_type);
    // The page links assets with the version in the URL, so they can be
    // cached for long.
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_parsed_like_a_form() {
        let q = IndexQuery::parse(Some("q=job%3Dbackup+db&page=3&list"));
        assert_eq!(q.filter, "job=backup db");
        assert_eq!(q.page, 3);
        assert!(q.list_only);
        assert_eq!(q.group, None);
        let q = IndexQuery::parse(Some("page=0&group=job%40base64%2FYQ"));
        assert_eq!(q.page, 1);
        assert_eq!(q.group.as_deref(), Some("job@base64/YQ"));
        assert_eq!(IndexQuery::parse(None).page, 1);
    }

    #[test]
    fn unknown_assets_are_not_found() {
        assert_eq!(static_asset("/style.css").status(), StatusCode::OK);
        assert_eq!(static_asset("/ui.js").status(), StatusCode::OK);
        assert_eq!(static_asset("/favicon.svg").status(), StatusCode::OK);
        assert_eq!(static_asset("/../x").status(), StatusCode::NOT_FOUND);
    }
}
