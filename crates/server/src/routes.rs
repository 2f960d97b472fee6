//! The HTTP surface: the route table and the dispatcher every request goes
//! through.
//!
//! [`app`] builds an axum `Router` with a single fallback that does all
//! routing itself (axum's router cannot express Go's redirect and 405
//! behaviour); tests drive it with `tower::ServiceExt::oneshot`. The
//! dispatcher applies the web config (rate limit, authentication, extra
//! headers), routes through the Go-compatible routers, builds the
//! [`RequestContext`], calls the handler, and turns an [`AppError`] into
//! its response after reporting it. The gateway's request metrics are
//! counted here, by route.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use store::PushMode;

use crate::audit;
use crate::auth::Principal;
use crate::authorization::{Access, Policy, Role};
use crate::body::{self, BodySource, ContentEncoding};
use crate::context::{ConnectionInfo, LongTarget, RequestContext};
use crate::error::AppError;
use crate::flags::Config;
use crate::grouping::JobEncoding;
use crate::handlers::{admin, api, lifecycle, push};
use crate::response::{empty, redirect, with_allow};
use crate::router::{clean_path, is_clean, join_path, percent_decode, Decision, Params, Router};
use crate::state::AppState;
use crate::webconfig::Active;

/// A handler of the main router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Healthy,
    Ready,
    Metrics,
    Push(PushMode, JobEncoding),
    Delete(JobEncoding),
    Static,
    Status,
    Index,
    Pprof,
    Quit,
    QuitGet,
}

impl Route {
    /// The role the route needs under `--web.auth-config`. Pushes and
    /// deletes check the group's scope themselves; `/-/quit` checks after
    /// Go's own answer for a disabled lifecycle API.
    fn needs(self) -> Option<Role> {
        match self {
            Route::Metrics | Route::Static | Route::Status | Route::Index => Some(Role::Read),
            Route::Push(..) | Route::Delete(_) => Some(Role::Push),
            Route::Healthy | Route::Ready | Route::Pprof | Route::Quit | Route::QuitGet => None,
        }
    }

    /// The `handler` label of `pushgateway_http_requests_total`, for the
    /// routes Go instruments.
    fn instrumented_as(self) -> Option<&'static str> {
        Some(match self {
            Route::Healthy => "healthy",
            Route::Ready => "ready",
            Route::Push(..) => "push",
            Route::Delete(_) => "delete",
            Route::Static => "static",
            Route::Status | Route::Index => "status",
            Route::Metrics | Route::Pprof | Route::Quit | Route::QuitGet => return None,
        })
    }
}

/// A handler of the API router (mounted at `<prefix>/api/v1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiRoute {
    Options,
    Status,
    Metrics,
    Wipe,
    DeleteGroups,
}

impl ApiRoute {
    /// The role the route needs under `--web.auth-config`.
    fn needs(self) -> Option<Role> {
        match self {
            ApiRoute::Options | ApiRoute::Status | ApiRoute::Metrics => Some(Role::Read),
            ApiRoute::Wipe | ApiRoute::DeleteGroups => Some(Role::Admin),
        }
    }

    fn instrumented_as(self) -> &'static str {
        match self {
            ApiRoute::Options => "api/v1/options",
            ApiRoute::Status => "api/v1/status",
            ApiRoute::Metrics => "api/v1/metrics",
            ApiRoute::Wipe => "wipe",
            ApiRoute::DeleteGroups => "delete_groups",
        }
    }
}

/// The Go gateway's route tables, under the configured prefix.
struct RouteTable {
    main: Router<Route>,
    api: Router<ApiRoute>,
    api_root: String,
}

impl RouteTable {
    fn new(config: &Config) -> RouteTable {
        let p = &config.route_prefix;
        let mut main = Router::new();
        main.add("GET", &format!("{p}/-/healthy"), Route::Healthy);
        main.add("GET", &format!("{p}/-/ready"), Route::Ready);
        main.add("GET", &join_path(p, &config.telemetry_path), Route::Metrics);
        for (suffix, job) in [("", JobEncoding::Plain), ("@base64", JobEncoding::Base64)] {
            for tail in ["/*labels", ""] {
                let path = format!("{p}/metrics/job{suffix}/:job{tail}");
                main.add("PUT", &path, Route::Push(PushMode::Replace, job));
                main.add("POST", &path, Route::Push(PushMode::Merge, job));
                main.add("DELETE", &path, Route::Delete(job));
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
            api.add("DELETE", "/admin/groups", ApiRoute::DeleteGroups);
        }
        RouteTable {
            main,
            api,
            api_root: format!("{p}/api/v1"),
        }
    }
}

/// What the dispatcher holds: the shared state and the route table.
#[derive(Clone)]
struct App {
    state: AppState,
    routes: Arc<RouteTable>,
}

/// The application: every request goes through the dispatcher.
pub fn app(state: AppState) -> axum::Router {
    let routes = Arc::new(RouteTable::new(state.config()));
    axum::Router::new()
        .fallback(dispatch)
        .with_state(App { state, routes })
}

/// Handles one request: the web config's rate limit, authentication and
/// extra headers around the routing; with `--web.auth-config`, the
/// principal's rate, the refusal counter and the audit line too.
async fn dispatch(State(app): State<App>, request: Request) -> Response {
    let certificate = request
        .extensions()
        .get::<ConnectionInfo>()
        .and_then(|c| c.certificate_subject.clone());
    let policy = app.state.policy().map(|p| p.current());
    let active = match app.state.web() {
        None if policy.is_none() => {
            let principal = Principal::of_connection(certificate.as_deref());
            return route(&app, request, principal, Access::Unrestricted)
                .await
                .0;
        }
        None => None,
        Some(web) => match web.current() {
            Ok(active) => Some(active),
            Err(_) => return AppError::WebConfigInvalid.into_response(),
        },
    };
    let authorization = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (path, _) = LongTarget::path_and_query(request.extensions(), request.uri());
    let audit = policy.is_some().then(|| audit::Request::of(&request, path));
    let admitted = admit(
        &app.state,
        active.as_deref(),
        policy,
        path,
        authorization.as_deref(),
        certificate.as_deref(),
    )
    .await;
    let (mut response, access, target) = match admitted {
        Ok((principal, access)) => match access.take_request() {
            Ok(()) => {
                let (response, target) = route(&app, request, principal, access.clone()).await;
                (response, Some(access), target)
            }
            Err(e) => (AppError::from(e).into_response(), Some(access), None),
        },
        Err(e) => (e.into_response(), None, None),
    };
    if let Some(audit) = audit {
        audit.finish(app.state.own(), access.as_ref(), target, &response);
    }
    if let Some(active) = active {
        for (name, value) in &active.config.http_server_config.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(n, v);
            }
        }
    }
    response
}

/// Who the request is from and what it may do, or why it may not be
/// served at all.
async fn admit(
    state: &AppState,
    active: Option<&Active>,
    policy: Option<Arc<Policy>>,
    path: &str,
    authorization: Option<&str>,
    certificate: Option<&str>,
) -> Result<(Principal, Access), AppError> {
    if let Some(limiter) = active.and_then(|a| a.limiter.as_ref()) {
        if !limiter.lock().allow() {
            return Err(AppError::TooManyRequests);
        }
    }
    let Some(policy) = policy else {
        let Some(active) = active.filter(|a| needs_password(state, a, path)) else {
            return Ok((Principal::of_connection(certificate), Access::Unrestricted));
        };
        let principal = state
            .auth()
            .authenticate(active, authorization)
            .await
            .ok_or(AppError::Unauthorized)?;
        return Ok((principal, Access::Unrestricted));
    };
    if is_open_probe(state, path) {
        let principal = Principal::of_connection(certificate);
        return Ok((principal.clone(), Access::under(policy, principal)));
    }
    let principal = match authorization {
        Some(header) => match crate::auth::parse_bearer(header) {
            Some(token) => policy.token(token),
            None => match active {
                Some(active) => state.auth().authenticate(active, Some(header)).await,
                None => None,
            },
        }
        .ok_or(AppError::Unauthorized)?,
        None => Principal::of_connection(certificate),
    };
    if principal == Principal::Anonymous && !policy.anonymous_has_rights() {
        return Err(AppError::Unauthorized);
    }
    let access = Access::under(policy, principal.clone());
    Ok((principal, access))
}

/// Whether `path` is a probe that `--web.unauthenticated-health` opens.
fn is_open_probe(state: &AppState, path: &str) -> bool {
    let config = state.config();
    config.unauthenticated_health
        && path
            .strip_prefix(config.route_prefix.as_str())
            .is_some_and(|rest| rest == "/-/healthy" || rest == "/-/ready")
}

fn needs_password(state: &AppState, active: &Active, path: &str) -> bool {
    !active.config.basic_auth_users.is_empty() && !is_open_probe(state, path)
}

/// Where the routers send a request.
enum Target {
    /// Answered by the routing itself (a redirect, 404, 405, `OPTIONS`).
    Answer(Response),
    /// A handler, with the route's parameters.
    Handle(Handler, Params),
}

/// A handler of either router.
enum Handler {
    Api(ApiRoute),
    /// A main-router handler, with the request body.
    Main(Route, BodySource),
}

/// Routes one request through the Go-compatible routers; with the
/// response, what a write handler said it wrote to, for the audit log.
async fn route(
    app: &App,
    request: Request,
    principal: Principal,
    access: Access,
) -> (Response, Option<String>) {
    let state = &app.state;
    let (parts, body) = request.into_parts();
    let encoding = ContentEncoding::from_headers(&parts.headers);
    let (handler, params) = match resolve(app, &parts, body, encoding).await {
        Target::Answer(response) => return (response, None),
        Target::Handle(handler, params) => (handler, params),
    };
    let context = RequestContext {
        peer: parts.extensions.get::<ConnectionInfo>().map(|c| c.peer),
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        params,
        encoding,
        principal,
        access,
        target: std::sync::OnceLock::new(),
    };
    let response = match handler {
        Handler::Api(route) => serve_api(state, &context, route).await,
        Handler::Main(route, body) => serve_main(state, &context, route, body).await,
    };
    (response, context.target.into_inner())
}

/// Decides where a request goes: Go's `ServeMux` in front (clean paths,
/// `/api/v1` → `/api/v1/`), then the API or the main router; the main
/// router sits behind Go's body decoding, which reads a gzip header first.
async fn resolve(
    app: &App,
    parts: &http::request::Parts,
    body: axum::body::Body,
    encoding: ContentEncoding,
) -> Target {
    let state = &app.state;
    let method = &parts.method;
    let (raw_path, query) = LongTarget::path_and_query(&parts.extensions, &parts.uri);
    let Ok(path) = percent_decode(raw_path) else {
        return Target::Answer(AppError::BadPath.into_response());
    };
    let api_root = &app.routes.api_root;
    let cleaned = if is_clean(&path) {
        std::borrow::Cow::Borrowed(&*path)
    } else {
        std::borrow::Cow::Owned(clean_path(&path))
    };
    if *cleaned == **api_root {
        return Target::Answer(redirect(301, &format!("{api_root}/"), query, method));
    }
    if *cleaned != *path {
        return Target::Answer(redirect(301, &cleaned, query, method));
    }
    if let Some(rest) = path
        .strip_prefix(api_root.as_str())
        .filter(|r| r.starts_with('/'))
    {
        return match app.routes.api.route(method.as_str(), rest) {
            Decision::Handle(route, params) => Target::Handle(Handler::Api(route), params),
            // The Go gateway's API router drops the mount point from its
            // redirects (a bug); ours keep it.
            Decision::Redirect(code, to) => {
                Target::Answer(redirect(code, &format!("{api_root}{to}"), query, method))
            }
            other => Target::Answer(undecided(other)),
        };
    }
    let body = if encoding == ContentEncoding::Gzip {
        let config = state.config();
        let read = body::read_body(
            body,
            &parts.headers,
            config.limits.max_body_size,
            config.read_timeout,
            state.inflight(),
        )
        .await;
        let checked = read.and_then(|held| match body::gzip_header_error(&held.bytes) {
            Some(e) => Err(body::BodyError::Malformed(e.into())),
            None => Ok(held),
        });
        match checked {
            Ok(held) => BodySource::Read(held),
            Err(e) => {
                let e = AppError::Body(e);
                if let Some(flag) = e.limit_flag() {
                    state.own().count_refusal(flag);
                }
                return Target::Answer(e.into_response());
            }
        }
    } else {
        BodySource::Pending(body)
    };
    match app.routes.main.route(method.as_str(), &path) {
        Decision::Handle(route, params) => Target::Handle(Handler::Main(route, body), params),
        Decision::Redirect(code, to) => Target::Answer(redirect(code, &to, query, method)),
        other => Target::Answer(undecided(other)),
    }
}

/// Calls an API handler; counts the request.
async fn serve_api(state: &AppState, context: &RequestContext, route: ApiRoute) -> Response {
    let result = match route.needs() {
        Some(role) => context.access.require(role).map_err(AppError::from),
        None => Ok(()),
    };
    let result = match result {
        Err(e) => Err(e),
        Ok(()) => match route {
            ApiRoute::Options => Ok(api::options()),
            ApiRoute::Status => Ok(api::status(state)),
            ApiRoute::Metrics => api::metrics(state, context).await,
            ApiRoute::Wipe => admin::wipe(state, context).await,
            ApiRoute::DeleteGroups => admin::delete_groups(state, context).await,
        },
    };
    let response = api::with_cors(respond(state, context, result));
    state.own().count_request(
        route.instrumented_as(),
        response.status().as_u16(),
        context.method.as_str(),
    );
    response
}

/// Calls a main handler; counts the request, and times and sizes pushes.
async fn serve_main(
    state: &AppState,
    context: &RequestContext,
    route: Route,
    body: BodySource,
) -> Response {
    let started = Instant::now();
    let allowed = match route.needs() {
        Some(role) => context.access.require(role).map_err(AppError::from),
        None => Ok(()),
    };
    let result = match allowed {
        Err(e) => Err(e),
        Ok(()) => serve_route(state, context, route, body).await,
    };
    let response = respond(state, context, result);
    let own = state.own();
    if let Some(handler) = route.instrumented_as() {
        own.count_request(handler, response.status().as_u16(), context.method.as_str());
    }
    if let Route::Push(..) = route {
        own.observe_push(
            context.method.as_str(),
            started.elapsed().as_secs_f64(),
            context.approximate_size(),
        );
    }
    response
}

/// The main router's handlers.
async fn serve_route(
    state: &AppState,
    context: &RequestContext,
    route: Route,
    body: BodySource,
) -> Result<Response, AppError> {
    match route {
        Route::Healthy => Ok(lifecycle::healthy()),
        Route::Ready => lifecycle::ready(state),
        Route::Metrics => crate::scrape::scrape(state, &context.headers),
        Route::Push(mode, job) => push::push(state, context, body, mode, job).await,
        Route::Delete(job) => push::delete(state, context, job).await,
        Route::Static => Ok(crate::ui::static_asset(context.param("filepath"))),
        Route::Status => Ok(crate::ui::status_page(state, context)),
        Route::Index => Ok(crate::ui::index_page(state, context)),
        Route::Pprof => Err(AppError::NotFound),
        Route::Quit => lifecycle::quit(state, context),
        Route::QuitGet => Err(AppError::QuitNeedsPost),
    }
}

/// A handler's result as the response, reporting an error first.
fn respond(
    state: &AppState,
    context: &RequestContext,
    result: Result<Response, AppError>,
) -> Response {
    result.unwrap_or_else(|e| {
        e.report(state.own(), context);
        e.into_response()
    })
}

/// The answer of a router that found no handler.
fn undecided<T>(decision: Decision<T>) -> Response {
    match decision {
        Decision::MethodNotAllowed(allow) => AppError::MethodNotAllowed { allow }.into_response(),
        Decision::Options(allow) => with_allow(empty(http::StatusCode::OK), &allow),
        Decision::Handle(..) | Decision::Redirect(..) | Decision::NotFound => {
            AppError::NotFound.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn state(args: &[String]) -> AppState {
        let config = match crate::flags::parse(args.iter().cloned()) {
            Ok(crate::flags::Parsed::Run(c)) => *c,
            other => panic!("{other:?}"),
        };
        AppState::new(config).unwrap()
    }

    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    #[tokio::test]
    async fn authentication_yields_who_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yml");
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        std::fs::write(&file, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
        let with_users = state(&[
            format!("--web.config.file={}", file.display()),
            "--web.unauthenticated-health".into(),
        ]);
        let web = with_users.web().unwrap().current().unwrap();
        let alice = basic("alice", "s3cret");
        let who = admit(
            &with_users,
            Some(&web),
            None,
            "/metrics",
            Some(&alice),
            None,
        )
        .await;
        assert_eq!(who.unwrap().0, Principal::User("alice".into()));
        let wrong = basic("alice", "guess");
        let refused = admit(
            &with_users,
            Some(&web),
            None,
            "/metrics",
            Some(&wrong),
            None,
        )
        .await;
        assert!(matches!(refused, Err(AppError::Unauthorized)));
        assert!(matches!(
            admit(&with_users, Some(&web), None, "/metrics", None, None).await,
            Err(AppError::Unauthorized)
        ));
        // Open probes carry no credentials; a client certificate still says
        // who is there.
        let probe = admit(
            &with_users,
            Some(&web),
            None,
            "/-/ready",
            None,
            Some("CN=lb"),
        )
        .await;
        assert_eq!(probe.unwrap().0, Principal::Certificate("CN=lb".into()));

        std::fs::write(&file, "tls_server_config: {}\n").unwrap();
        let without_users = state(&[format!("--web.config.file={}", file.display())]);
        let web = without_users.web().unwrap().current().unwrap();
        let anonymous = admit(&without_users, Some(&web), None, "/metrics", None, None).await;
        assert_eq!(anonymous.unwrap().0, Principal::Anonymous);
    }
}
