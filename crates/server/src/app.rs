//! The HTTP application: shared state, routing of every request through
//! the Go-compatible routers, and the handlers.
//!
//! [`app`] builds an axum `Router` with a single fallback that does all
//! routing itself (axum's router cannot express Go's redirect and 405
//! behaviour); tests drive it with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use store::{PushError, PushTime, Store, StoreOptions};
use tokio::sync::watch;

use crate::auth::BasicAuth;
use crate::body::{self, BodyError, Encoding, Families};
use crate::flags::Config;
use crate::grouping::grouping_key;
use crate::own::OwnMetrics;
use crate::router::{clean_path, escape_path, percent_decode, Decision, Params, Router};
use crate::webconfig::{WebConfigError, WebConfigHandle};

/// A handler of the main router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Healthy,
    Ready,
    Metrics,
    /// PUT (`replace`) or POST.
    Push {
        replace: bool,
        job_base64: bool,
    },
    Delete {
        job_base64: bool,
    },
    Static,
    Status,
    Index,
    Pprof,
    Quit,
    QuitGet,
}

/// A handler of the API router (mounted at `<prefix>/api/v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiRoute {
    Options,
    Status,
    Metrics,
    Wipe,
}

struct Inner {
    config: Config,
    web: Option<Arc<WebConfigHandle>>,
    auth: BasicAuth,
    store: Arc<Store>,
    own: OwnMetrics,
    started: PushTime,
    main: Router<Route>,
    api: Router<ApiRoute>,
    api_root: String,
    shutdown: watch::Sender<bool>,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl AppState {
    /// State for a configuration, with a fresh in-memory store. Fails when
    /// `--web.config.file` names an invalid file.
    pub fn new(config: Config) -> Result<AppState, WebConfigError> {
        let store = Arc::new(Store::new(store_options(&config)));
        AppState::with_store(config, store)
    }

    /// State around an existing store (restored from disk, for example).
    pub fn with_store(config: Config, store: Arc<Store>) -> Result<AppState, WebConfigError> {
        let web = if config.web_config_file.is_empty() {
            None
        } else {
            Some(Arc::new(WebConfigHandle::open(&config.web_config_file)?))
        };
        let (shutdown, _) = watch::channel(false);
        let p = config.route_prefix.clone();
        let mut main = Router::new();
        main.add("GET", &format!("{p}/-/healthy"), Route::Healthy);
        main.add("GET", &format!("{p}/-/ready"), Route::Ready);
        main.add(
            "GET",
            &join_path(&p, &config.telemetry_path),
            Route::Metrics,
        );
        for (suffix, job_base64) in [("", false), ("@base64", true)] {
            for tail in ["/*labels", ""] {
                let path = format!("{p}/metrics/job{suffix}/:job{tail}");
                main.add(
                    "PUT",
                    &path,
                    Route::Push {
                        replace: true,
                        job_base64,
                    },
                );
                main.add(
                    "POST",
                    &path,
                    Route::Push {
                        replace: false,
                        job_base64,
                    },
                );
                main.add("DELETE", &path, Route::Delete { job_base64 });
            }
        }
        main.add("GET", &format!("{p}/static/*filepath"), Route::Static);
        main.add("GET", &format!("{p}/status"), Route::Status);
        main.add("GET", &format!("{p}/"), Route::Index);
        main.add("GET", &format!("{p}/debug/pprof/*pprof"), Route::Pprof);
        main.add("PUT", &format!("{p}/-/quit"), Route::Quit);
        main.add("POST", &format!("{p}/-/quit"), Route::Quit);
        main.add("GET", "/-/quit", Route::QuitGet);
        let mut api = Router::new();
        api.add("OPTIONS", "/*path", ApiRoute::Options);
        api.add("GET", "/status", ApiRoute::Status);
        api.add("GET", "/metrics", ApiRoute::Metrics);
        if config.enable_admin_api {
            api.add("PUT", "/admin/wipe", ApiRoute::Wipe);
        }
        let api_root = format!("{p}/api/v1");
        Ok(AppState {
            inner: Arc::new(Inner {
                config,
                web,
                auth: BasicAuth::new(),
                store,
                own: OwnMetrics::new(),
                started: PushTime::now(),
                main,
                api,
                api_root,
                shutdown,
            }),
        })
    }

    /// The TLS configuration to accept connections with, if the web config
    /// turns TLS on (decided at start, as exporter-toolkit does; the
    /// certificate itself follows the file).
    pub fn tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.inner.web.as_ref()?.current().ok()?.tls.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// A handle on the store that outlives the state.
    pub fn store_handle(&self) -> Arc<Store> {
        self.inner.store.clone()
    }

    pub(crate) fn own(&self) -> &OwnMetrics {
        &self.inner.own
    }

    pub(crate) fn started(&self) -> PushTime {
        self.inner.started
    }

    /// Resolves when `/-/quit` asked the gateway to stop.
    pub fn quit_requested(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}

/// The store options a configuration implies.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        skip_consistency_check: config.push_disable_consistency_check,
        names: store::NameRules {
            utf8: config.push_enable_utf8_names,
        },
        own_families: crate::own::own_family_types(),
    }
}

/// Go's `path.Join` for the telemetry path: joined and cleaned.
pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    let joined = format!("{prefix}/{path}");
    let cleaned = clean_path(&joined);
    if cleaned.len() > 1 {
        cleaned.trim_end_matches('/').to_string()
    } else {
        cleaned
    }
}

/// The application: every request goes through [`dispatch`].
pub fn app(state: AppState) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(state)
}

/// A text response as Go's `http.Error` writes it.
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

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    text_response(status, format!("{message}\n"))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "404 page not found")
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn empty(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut().remove(http::header::CONTENT_TYPE);
    r
}

/// A redirect as Go's `http.Redirect` writes it.
fn redirect(code: u16, path: &str, query: Option<&str>, method: &Method) -> Response {
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

fn with_allow(mut response: Response, allow: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(http::header::ALLOW, v);
    }
    response
}

fn param<'a>(params: &'a Params, name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Reads a whole body, refusing more than `limit` bytes.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: u64,
    read_timeout: std::time::Duration,
) -> Result<Bytes, BodyError> {
    let too_large = BodyError::TooLarge {
        what: "request body",
        limit,
        flag: "push.max-body-size",
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large);
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match tokio::time::timeout(read_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large);
                }
                // The connection's idle timeout cut the body off.
                if s.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
                {
                    return Err(BodyError::Timeout);
                }
                source = s.source();
            }
            Err(BodyError::Malformed("unexpected EOF".into()))
        }
    }
}

/// Handles one request: the web config's rate limit, basic auth and extra
/// headers around [`route_request`]. This is the whole of the HTTP surface.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let Some(web) = &state.inner.web else {
        return route_request(&state, request).await;
    };
    let active = match web.current() {
        Ok(a) => a,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    let limited = active.limiter.as_ref().is_some_and(|l| !l.lock().allow());
    let mut response = if limited {
        error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
    } else if needs_auth(&state, &active, request.uri().path()) {
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if state.inner.auth.check(&active, authorization).await {
            route_request(&state, request).await
        } else {
            let mut r = error(StatusCode::UNAUTHORIZED, "Unauthorized");
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic"),
            );
            r
        }
    } else {
        route_request(&state, request).await
    };
    for (name, value) in &active.config.http_server_config.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

fn needs_auth(state: &AppState, active: &crate::webconfig::Active, path: &str) -> bool {
    if active.config.basic_auth_users.is_empty() {
        return false;
    }
    let config = state.config();
    if config.unauthenticated_health {
        let p = &config.route_prefix;
        if path == format!("{p}/-/healthy") || path == format!("{p}/-/ready") {
            return false;
        }
    }
    true
}

/// Routes one request through the Go-compatible routers.
async fn route_request(state: &AppState, request: Request) -> Response {
    let state = state.clone();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let raw_path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let Ok(path) = percent_decode(&raw_path) else {
        return plain(StatusCode::BAD_REQUEST, "400 Bad Request");
    };
    // Go's ServeMux: clean paths, and `/api/v1` → `/api/v1/`.
    let cleaned = clean_path(&path);
    let api_root = &state.inner.api_root;
    if cleaned == *api_root {
        return redirect(301, &format!("{api_root}/"), query.as_deref(), &method);
    }
    if cleaned != path {
        return redirect(301, &cleaned, query.as_deref(), &method);
    }
    if let Some(rest) = path
        .strip_prefix(api_root.as_str())
        .filter(|r| r.starts_with('/'))
    {
        return api(&state, &method, rest, query.as_deref(), api_root).await;
    }

    // The main router sits behind Go's body decoding, which reads a gzip
    // header before routing.
    let headers = parts.headers;
    let encoding = Encoding::from_header(
        headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let limits = state.config().limits;
    let body_source = if encoding == Encoding::Gzip {
        let bytes = match read_body(
            body,
            &headers,
            limits.max_body_size,
            state.config().read_timeout,
        )
        .await
        {
            Ok(b) => b,
            Err(e) => return body_error(&state, e),
        };
        if let Some(e) = body::gzip_header_error(&bytes) {
            return error(StatusCode::BAD_REQUEST, e);
        }
        BodySource::Read(bytes)
    } else {
        BodySource::Pending(body)
    };

    match state.inner.main.route(method.as_str(), &path) {
        Decision::Handle(route, params) => {
            handle(
                &state,
                route,
                &method,
                &params,
                &parts.uri,
                &headers,
                body_source,
                encoding,
            )
            .await
        }
        Decision::Redirect(code, to) => redirect(code, &to, query.as_deref(), &method),
        Decision::MethodNotAllowed(allow) => with_allow(
            error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            &allow,
        ),
        Decision::Options(allow) => with_allow(empty(StatusCode::OK), &allow),
        Decision::NotFound => not_found(),
    }
}

enum BodySource {
    Read(Bytes),
    Pending(Body),
}

impl BodySource {
    async fn bytes(
        self,
        headers: &HeaderMap,
        limit: u64,
        timeout: std::time::Duration,
    ) -> Result<Bytes, BodyError> {
        match self {
            BodySource::Read(b) => Ok(b),
            BodySource::Pending(body) => read_body(body, headers, limit, timeout).await,
        }
    }
}

fn body_error(state: &AppState, e: BodyError) -> Response {
    match e {
        BodyError::TooLarge { flag, .. } => {
            state.own().count_refusal(flag);
            error(StatusCode::PAYLOAD_TOO_LARGE, e)
        }
        BodyError::Malformed(_) => error(StatusCode::BAD_REQUEST, e),
        BodyError::Timeout => {
            state.own().count_refusal("web.read-timeout");
            error(StatusCode::REQUEST_TIMEOUT, e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    state: &AppState,
    route: Route,
    method: &Method,
    params: &Params,
    uri: &http::Uri,
    headers: &HeaderMap,
    body: BodySource,
    encoding: Encoding,
) -> Response {
    let own = state.own();
    match route {
        Route::Healthy | Route::Ready => {
            let name = if route == Route::Healthy {
                "healthy"
            } else {
                "ready"
            };
            own.count_request(name, 200, method.as_str());
            plain(StatusCode::OK, "OK")
        }
        Route::Metrics => crate::scrape::scrape(state.clone(), headers.clone()).await,
        Route::Push {
            replace,
            job_base64,
        } => {
            let started = Instant::now();
            let response = push(state, replace, job_base64, params, headers, body, encoding).await;
            let code = response.status().as_u16();
            own.count_request("push", code, method.as_str());
            own.observe_push(
                method.as_str(),
                started.elapsed().as_secs_f64(),
                approximate_request_size(method, uri, headers),
            );
            response
        }
        Route::Delete { job_base64 } => {
            let response = match grouping_key(
                param(params, "job"),
                job_base64,
                param(params, "labels"),
                state.config().push_enable_utf8_names,
            ) {
                Ok(key) => match state.store().delete(key).durable().await {
                    Ok(()) => empty(StatusCode::ACCEPTED),
                    Err(e) => error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("the delete could not be persisted: {e}"),
                    ),
                },
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            };
            own.count_request("delete", response.status().as_u16(), method.as_str());
            response
        }
        Route::Static => {
            let response = crate::ui::static_asset(param(params, "filepath"));
            own.count_request("static", response.status().as_u16(), method.as_str());
            response
        }
        Route::Status | Route::Index => {
            let page = if route == Route::Status {
                crate::ui::status_page(state)
            } else {
                crate::ui::index_page(state, uri.query())
            };
            own.count_request("status", 200, method.as_str());
            page
        }
        Route::Pprof => not_found(),
        Route::Quit => {
            if state.config().enable_lifecycle {
                let _ = state.inner.shutdown.send(true);
                plain(StatusCode::OK, "Requesting termination... Goodbye!")
            } else {
                plain(StatusCode::FORBIDDEN, "Lifecycle API is not enabled.")
            }
        }
        Route::QuitGet => plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only POST or PUT requests allowed.",
        ),
    }
}

/// Go's `computeApproximateRequestSize`, for the push size summary.
fn approximate_request_size(method: &Method, uri: &http::Uri, headers: &HeaderMap) -> u64 {
    let mut size = uri.to_string().len() + method.as_str().len() + "HTTP/1.1".len();
    for (name, value) in headers {
        size += name.as_str().len() + value.len();
    }
    let content_length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    (size + content_length) as u64
}

/// Pushes above this size are parsed off the async worker threads.
const INLINE_PUSH_LIMIT: usize = 64 * 1024;

/// Why a push failed, and the status it answers with.
enum PushFailure {
    /// URL, body or parse problem: 400 (413 for size limits) in any mode.
    Request(Box<Response>),
    /// Refused by the store.
    Store(PushError),
}

async fn push(
    state: &AppState,
    replace: bool,
    job_base64: bool,
    params: &Params,
    headers: &HeaderMap,
    body: BodySource,
    encoding: Encoding,
) -> Response {
    let config = state.config();
    let key = match grouping_key(
        param(params, "job"),
        job_base64,
        param(params, "labels"),
        config.push_enable_utf8_names,
    ) {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let bytes = match body
        .bytes(headers, config.limits.max_body_size, config.read_timeout)
        .await
    {
        Ok(b) => b,
        Err(e) => return body_error(state, e),
    };
    let protobuf = body::is_protobuf(
        headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let at = PushTime::now();
    let work_state = state.clone();
    let off_worker = decompressed_upper_bound(bytes.len(), encoding) > INLINE_PUSH_LIMIT;
    let work = move || push_bytes(&work_state, key, &bytes, encoding, protobuf, replace, at);
    let result = if off_worker {
        match tokio::task::spawn_blocking(work).await {
            Ok(r) => r,
            Err(_) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error while storing the push",
                )
            }
        }
    } else {
        work()
    };
    let checked = !config.push_disable_consistency_check;
    let result = match result {
        Ok(receipt) => match receipt.durable().await {
            Ok(()) => Ok(()),
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the push could not be persisted: {e}"),
                )
            }
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) if checked => empty(StatusCode::OK),
        Ok(()) => empty(StatusCode::ACCEPTED),
        Err(PushFailure::Request(response)) => *response,
        Err(PushFailure::Store(_)) if !checked => empty(StatusCode::ACCEPTED),
        Err(PushFailure::Store(e)) => error(
            StatusCode::BAD_REQUEST,
            format!("pushed metrics are invalid or inconsistent with existing metrics: {e}"),
        ),
    }
}

/// How large a body can get once decompressed (deflate inflates at most
/// about 1032 times, snappy about 22 times), for deciding where to parse it.
fn decompressed_upper_bound(len: usize, encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gzip => len.saturating_mul(1032),
        Encoding::Snappy => len.saturating_mul(22),
        Encoding::Identity => len,
    }
}

/// Decompresses, parses, checks limits and stores one push (synchronous;
/// large pushes run it on a blocking thread).
fn push_bytes(
    state: &AppState,
    key: store::GroupingKey,
    raw: &[u8],
    encoding: Encoding,
    protobuf: bool,
    replace: bool,
    at: PushTime,
) -> Result<store::Receipt, PushFailure> {
    let config = state.config();
    let limits = config.limits;
    let decoded = body::decompress(raw, encoding, limits.max_decompressed_size)
        .map_err(|e| PushFailure::Request(Box::new(body_error(state, e))))?;
    let families = body::parse(&decoded, protobuf, config.push_enable_utf8_names)
        .map_err(|e| PushFailure::Request(Box::new(error(StatusCode::BAD_REQUEST, e))))?;
    let grouping: Vec<&str> = key.labels().map(|(n, _)| n).collect();
    let (series, labels, value_len) = families.shape(&grouping);
    let key_value_len = key.labels().map(|(_, v)| v.len() as u64).max().unwrap_or(0);
    let refuse = |status: StatusCode, flag: &'static str, what: String| {
        state.own().count_refusal(flag);
        PushFailure::Request(Box::new(error(status, format!("{what} (--{flag})"))))
    };
    if series > limits.max_series {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "push.max-series",
            format!(
                "push has {series} series, more than the limit of {}",
                limits.max_series
            ),
        ));
    }
    if labels > limits.max_labels {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "push.max-labels",
            format!(
                "a series has {labels} labels, more than the limit of {}",
                limits.max_labels
            ),
        ));
    }
    if value_len.max(key_value_len) > limits.max_label_value_length {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "push.max-label-value-length",
            format!(
                "a label value is {} bytes long, more than the limit of {}",
                value_len.max(key_value_len),
                limits.max_label_value_length
            ),
        ));
    }
    let store = state.store();
    if store.group(&key).is_none() && store.group_count() as u64 >= limits.max_groups {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "push.max-groups",
            format!("the gateway holds {} groups, the limit", limits.max_groups),
        ));
    }
    let result = match &families {
        Families::Text(f) => store.push(key, f, replace, at),
        Families::Protobuf(f) => store.push(key, f, replace, at),
    };
    result.map_err(PushFailure::Store)
}

async fn api(
    state: &AppState,
    method: &Method,
    rest: &str,
    query: Option<&str>,
    api_root: &str,
) -> Response {
    let cors = |mut r: Response| {
        for (k, v) in crate::api::CORS_HEADERS {
            r.headers_mut().insert(k, HeaderValue::from_static(v));
        }
        r
    };
    let json = |body: String| {
        let mut r = (StatusCode::OK, body).into_response();
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    };
    let own = state.own();
    match state.inner.api.route(method.as_str(), rest) {
        Decision::Handle(ApiRoute::Options, _) => {
            own.count_request("api/v1/options", 200, method.as_str());
            cors(empty(StatusCode::OK))
        }
        Decision::Handle(ApiRoute::Status, _) => {
            own.count_request("api/v1/status", 200, method.as_str());
            cors(json(crate::api::status(state.config(), state.started())))
        }
        Decision::Handle(ApiRoute::Metrics, _) => {
            own.count_request("api/v1/metrics", 200, method.as_str());
            let snapshot = state.store().snapshot();
            let body = tokio::task::spawn_blocking(move || crate::api::metrics(&snapshot))
                .await
                .unwrap_or_default();
            cors(json(body))
        }
        Decision::Handle(ApiRoute::Wipe, _) => {
            let durable = state.store().wipe().durable().await;
            own.count_request("wipe", 202, method.as_str());
            match durable {
                Ok(()) => empty(StatusCode::ACCEPTED),
                Err(e) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the wipe could not be persisted: {e}"),
                ),
            }
        }
        // The Go gateway's API router drops the mount point from its
        // redirects (a bug); ours keep it.
        Decision::Redirect(code, to) => redirect(code, &format!("{api_root}{to}"), query, method),
        Decision::MethodNotAllowed(allow) => with_allow(
            error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            &allow,
        ),
        Decision::Options(allow) => with_allow(empty(StatusCode::OK), &allow),
        Decision::NotFound => not_found(),
    }
}
