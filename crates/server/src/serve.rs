//! Listening and serving: every `--web.listen-address`, HTTP/1.1 and
//! HTTP/2, optional TLS, timeouts against slow clients, and graceful
//! shutdown on SIGINT, SIGTERM or `/-/quit`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::Sleep;

use http::Request;
use hyper::body::Incoming;

use crate::context::ConnectionInfo;
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

/// Binds a Go-style listen address (`:9091` means every interface).
pub async fn bind(address: &str) -> Result<TcpListener, ServeError> {
    let err = |source| ServeError::Bind {
        address: address.to_string(),
        source,
    };
    if let Some(port) = address.strip_prefix(':') {
        // Dual-stack first, IPv4 when IPv6 is unavailable.
        match TcpListener::bind(format!("[::]:{port}")).await {
            Ok(l) => return Ok(l),
            Err(_) => {
                return TcpListener::bind(format!("0.0.0.0:{port}"))
                    .await
                    .map_err(err)
            }
        }
    }
    TcpListener::bind(address).await.map_err(err)
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
    tracing::info!(tls, "serving");
    let mut tasks = Vec::new();
    for listener in listeners {
        let router = router.clone();
        let mut stop = stop_tx.subscribe();
        let graceful = graceful.clone();
        let config = state.config().clone();
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.recv() => break,
                    accepted = listener.accept() => accepted,
                };
                let (stream, peer): (tokio::net::TcpStream, SocketAddr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(err = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let stream = IdleTimeout::new(stream, config.idle_timeout);
                let router = router.clone();
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.read_header_timeout);
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
                tokio::spawn(async move {
                    let result = match acceptor {
                        None => {
                            let service = connection_service(router, peer, None);
                            let connection = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Some(acceptor) => {
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
                            let connection = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service);
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
/// address and client certificate attached to every request.
fn connection_service(
    router: axum::Router,
    peer: SocketAddr,
    certificate_subject: Option<String>,
) -> TowerToHyperService<
    tower::util::MapRequest<
        axum::Router,
        impl FnMut(Request<Incoming>) -> Request<Incoming> + Clone,
    >,
> {
    let info = ConnectionInfo {
        peer,
        certificate_subject,
    };
    let service = tower::ServiceExt::map_request(router, move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(info.clone());
        request
    });
    TowerToHyperService::new(service)
}

/// Closes a connection on which nothing was read or written for a while,
/// so idle keep-alive connections and stalled clients do not pile up.
struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    fn new(inner: T, timeout: Duration) -> IdleTimeout<T> {
        IdleTimeout {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn touch(&mut self) {
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + self.timeout);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
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
