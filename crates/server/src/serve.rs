//! Listening and serving: every `--web.listen-address` (backlog 4096, as
//! Go) or the sockets systemd passed, HTTP/1.1 and HTTP/2, optional TLS, timeouts against slow clients,
//! headroom when file descriptors run out, and graceful shutdown on
//! SIGINT, SIGTERM or `/-/quit`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use crate::connections::Connections;
use crate::context::ConnectionInfo;
use crate::context::LongTarget;
use crate::long_target::LongTargets;
use crate::routes::app;
use crate::state::AppState;

/// A problem starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listen address could not be bound.
    #[error("listen tcp {address}: {source}")]
    Bind {
        /// The address as given.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Why socket activation yielded no listener.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// No sockets were passed (or they were meant for another process).
    #[error("no socket activation file descriptors found")]
    NoneFound,
    /// A passed descriptor is not a listening TCP socket.
    #[error("socket activation file descriptor {index}: {source}")]
    Unusable {
        /// Which of the passed descriptors (0 is the first, fd 3).
        index: usize,
        /// Why.
        source: std::io::Error,
    },
}

/// The listening sockets systemd passed (`--web.systemd-socket`): the
/// `LISTEN_FDS` descriptors from 3 on, when `LISTEN_PID` names this
/// process, as the Go gateway takes them. Every passed socket is served.
pub fn systemd_listeners() -> Result<Vec<TcpListener>, ActivationError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return Err(ActivationError::NoneFound);
    }
    let mut passed = listenfd::ListenFd::from_env();
    let mut listeners = Vec::new();
    for index in 0..passed.len() {
        let unusable = |source| ActivationError::Unusable { index, source };
        let Some(listener) = passed.take_tcp_listener(index).map_err(unusable)? else {
            continue;
        };
        listener.set_nonblocking(true).map_err(unusable)?;
        listeners.push(TcpListener::from_std(listener).map_err(unusable)?);
    }
    if listeners.is_empty() {
        return Err(ActivationError::NoneFound);
    }
    Ok(listeners)
}

/// Pending connections the kernel queues per listener (Go's value; the
/// kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds a Go-style listen address (`:9091` means every interface).
pub async fn bind(address: &str) -> Result<TcpListener, ServeError> {
    let err = |source| ServeError::Bind {
        address: address.to_string(),
        source,
    };
    if let Some(port) = address.strip_prefix(':') {
        // Dual-stack first, IPv4 when IPv6 is unavailable.
        return match listen_on(&format!("[::]:{port}")).await {
            Ok(l) => Ok(l),
            Err(_) => listen_on(&format!("0.0.0.0:{port}")).await.map_err(err),
        };
    }
    listen_on(address).await.map_err(err)
}

async fn listen_on(address: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(address).await? {
        let socket = if addr.is_ipv6() {
            TcpSocket::new_v6()?
        } else {
            TcpSocket::new_v4()?
        };
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "no address to listen on",
        )
    }))
}

/// Raises the soft limit on open files to the hard limit, as the Go
/// gateway does, and logs both: every connection is a file descriptor, and
/// a common soft limit of 1024 is soon reached.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource};
        let limit = getrlimit(Resource::Nofile);
        let was = limit.current;
        if limit.current != limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                tracing::warn!(err = %e, "cannot raise the open files limit");
            }
        }
        let now = getrlimit(Resource::Nofile);
        let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |v| v.to_string());
        tracing::info!(
            soft = %show(now.current),
            hard = %show(now.maximum),
            was = %show(was),
            "open files limit"
        );
    }
}

/// Whether an accept failed because the process or system is out of file
/// descriptors.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            e.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
            Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Accept failures, logged at most once per interval with how many were
/// not logged, and backed off exponentially.
struct AcceptFailures {
    logged_at: Option<Instant>,
    unlogged: u64,
    backoff: Duration,
}

const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);
const ACCEPT_BACKOFF_START: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

impl AcceptFailures {
    fn new() -> AcceptFailures {
        AcceptFailures {
            logged_at: None,
            unlogged: 0,
            backoff: ACCEPT_BACKOFF_START,
        }
    }

    /// Notes a failure; answers how long to wait before the next accept.
    fn failed(&mut self, e: &std::io::Error, connections: &Connections) -> Duration {
        let shed = if out_of_descriptors(e) {
            connections.shed_idle()
        } else {
            0
        };
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL)
        {
            tracing::warn!(
                err = %e,
                open_connections = connections.len(),
                idle_closed = shed,
                repeated = self.unlogged,
                "accept failed; retrying with backoff (logged at most every 10s)"
            );
            self.logged_at = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(ACCEPT_BACKOFF_MAX);
        wait
    }

    fn accepted(&mut self) {
        self.backoff = ACCEPT_BACKOFF_START;
    }
}

/// Serves `state` on the listeners until a shutdown signal or `/-/quit`,
/// then lets open requests finish (up to 30 s).
pub async fn serve(state: AppState, listeners: Vec<TcpListener>) {
    let router = app(state.clone());
    let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let mut quit = state.quit_requested();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    // Whether TLS is on is decided at start, as exporter-toolkit does; the
    // TLS settings themselves (certificates, client CA, versions, allowed
    // SANs) are taken from the web config as it is at each handshake.
    let tls = state.tls().is_some();
    let http2 = state
        .web()
        .and_then(|w| w.current().ok())
        .is_none_or(|a| a.config.http_server_config.http2);
    for listener in &listeners {
        let address = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(address = %address, "Listening on");
        if tls {
            tracing::info!(http2, address = %address, "TLS is enabled.");
        } else {
            tracing::info!(http2 = false, address = %address, "TLS is disabled.");
        }
    }
    let connections = Arc::new(Connections::default());
    let mut tasks = Vec::new();
    #[cfg(unix)]
    tasks.push(tokio::spawn(reload_on_hangup(
        state.clone(),
        stop_tx.subscribe(),
    )));
    for listener in listeners {
        let router = router.clone();
        let mut stop = stop_tx.subscribe();
        let graceful = graceful.clone();
        let config = state.config().clone();
        let state = state.clone();
        let connections = connections.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = AcceptFailures::new();
            loop {
                let accepted = tokio::select! {
                    _ = stop.recv() => break,
                    accepted = listener.accept() => accepted,
                };
                let (stream, peer): (TcpStream, SocketAddr) = match accepted {
                    Ok(a) => {
                        failures.accepted();
                        a
                    }
                    Err(e) => {
                        let wait = failures.failed(&e, &connections);
                        tokio::select! {
                            _ = stop.recv() => break,
                            _ = tokio::time::sleep(wait) => {}
                        }
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.read_header_timeout)
                    // Heads as long as Go reads them (see `long_target`).
                    .max_buf_size(crate::long_target::MAX_HEAD + 8192);
                builder.http2().timer(TokioTimer::new());
                let watcher = graceful.watcher();
                let acceptor = if tls {
                    match state.tls() {
                        Some(current) => Some(tokio_rustls::TlsAcceptor::from(current)),
                        None => {
                            tracing::warn!(peer = %peer, "web config is invalid or has no TLS; closing the connection");
                            continue;
                        }
                    }
                } else {
                    None
                };
                let handshake_timeout = config.read_header_timeout;
                let idle_timeout = config.idle_timeout;
                let connections = connections.clone();
                tokio::spawn(async move {
                    let result = match acceptor {
                        None => {
                            let stream = LongTargets::new(connections.track(stream, idle_timeout));
                            let service = connection_service(router, peer, None);
                            let connection = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Some(acceptor) => {
                            match tokio::time::timeout(handshake_timeout, speaks_tls(&stream)).await {
                                Ok(Ok(true)) => {}
                                Ok(Ok(false)) => {
                                    refuse_plain_http(stream).await;
                                    return;
                                }
                                Ok(Err(_)) | Err(_) => return,
                            }
                            let stream = connections.track(stream, idle_timeout);
                            let handshake =
                                tokio::time::timeout(handshake_timeout, acceptor.accept(stream))
                                    .await;
                            let stream = match handshake {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(peer = %peer, err = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(peer = %peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let subject = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .and_then(|leaf| crate::tls::subject(leaf));
                            let service = connection_service(router, peer, subject);
                            let connection = builder.serve_connection_with_upgrades(
                                TokioIo::new(LongTargets::new(stream)),
                                service,
                            );
                            watcher.watch(connection.into_owned()).await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(peer = %peer, err = %e, "connection ended with an error");
                    }
                });
            }
        }));
    }
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("received SIGINT/SIGTERM; exiting gracefully..."),
        _ = quit.wait_for(|q| *q) => tracing::warn!("received termination request via web service, exiting gracefully..."),
    }
    let _ = stop_tx.send(());
    for t in tasks {
        let _ = t.await;
    }
    let Ok(graceful) = Arc::try_unwrap(graceful) else {
        return;
    };
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("connections still open after 30s; closing them"),
    }
}

/// The service for one connection: the app, with the connection's peer
/// address and client certificate attached to every request; an HTTP/1.1
/// request without `Host` is refused before it reaches the app, as Go's
/// net/http does.
fn connection_service(
    router: axum::Router,
    peer: SocketAddr,
    certificate_subject: Option<String>,
) -> TowerToHyperService<
    impl tower::Service<
            Request<Incoming>,
            Response = Response<axum::body::Body>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone,
> {
    let info = ConnectionInfo {
        peer,
        certificate_subject,
    };
    let service = tower::service_fn(move |mut request: Request<Incoming>| {
        let router = router.clone();
        let info = info.clone();
        async move {
            if request.version() == Version::HTTP_11
                && !request.headers().contains_key(http::header::HOST)
            {
                return Ok(missing_host());
            }
            request.extensions_mut().insert(info);
            let (mut parts, body) = request.into_parts();
            if let Some(target) = crate::long_target::take_long_target(&mut parts) {
                if target == crate::long_target::HEAD_TOO_LARGE {
                    return Ok(head_too_large());
                }
                parts.extensions.insert(LongTarget(target));
            }
            let request = Request::from_parts(parts, body);
            tower::ServiceExt::oneshot(router, request).await
        }
    });
    TowerToHyperService::new(service)
}

/// Go's answer to a request head over its 1 MiB + 4 KiB.
fn head_too_large() -> Response<axum::body::Body> {
    closing_answer(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "431 Request Header Fields Too Large",
    )
}

/// Go's answer to an HTTP/1.1 request without `Host`.
fn missing_host() -> Response<axum::body::Body> {
    closing_answer(
        StatusCode::BAD_REQUEST,
        "400 Bad Request: missing required Host header",
    )
}

/// A plain-text answer after which the connection closes, as net/http
/// answers requests it will not read further.
fn closing_answer(status: StatusCode, text: &'static str) -> Response<axum::body::Body> {
    let mut response = Response::new(axum::body::Body::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// Whether a connection to the TLS port starts with a TLS handshake record
/// (0x16); waits for its first byte.
async fn speaks_tls(stream: &TcpStream) -> std::io::Result<bool> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    Ok(n == 1 && first[0] == 0x16)
}

/// Plain HTTP on the TLS port gets Go's answer, then the connection closes;
/// anything else that is not TLS is just closed.
async fn refuse_plain_http(mut stream: TcpStream) {
    let mut head = [0u8; 5];
    let mut seen = 0;
    while seen < head.len() {
        match stream.peek(&mut head).await {
            Ok(n) if n > seen => seen = n,
            _ => break,
        }
        if seen < head.len() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    const HTTP_STARTS: [&[u8; 5]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];
    if HTTP_STARTS.iter().any(|start| head == **start) {
        let _ = stream
            .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            .await;
        let _ = stream.shutdown().await;
    }
}

/// SIGHUP (what `systemctl reload` sends under Debian's unit) reloads the
/// web config and its certificates, and the auth config, instead of
/// ending the process.
#[cfg(unix)]
async fn reload_on_hangup(state: AppState, mut stop: tokio::sync::broadcast::Receiver<()>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(err = %e, "cannot handle SIGHUP; it will end the process");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = stop.recv() => return,
            received = hangups.recv() => if received.is_none() { return },
        }
        match (state.web(), state.policy()) {
            (None, None) => tracing::info!("received SIGHUP; no --web.config.file to reload"),
            (web, policy) => {
                if let Some(web) = web {
                    web.reload();
                }
                if let Some(policy) = policy {
                    policy.reload();
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
