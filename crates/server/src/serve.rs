//! Listening and serving: every `--web.listen-address`, HTTP/1.1 and
//! HTTP/2, timeouts against slow clients, and graceful shutdown on
//! SIGINT, SIGTERM or `/-/quit`.

use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::app::{app, AppState};

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
    let config = state.config().clone();
    let router = app(state.clone());
    let graceful = std::sync::Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
    let mut quit = state.quit_requested();
    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::new();
    for listener in listeners {
        let router = router.clone();
        let mut stop = stop_tx.subscribe();
        let graceful = graceful.clone();
        let config = config.clone();
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
                let service = TowerToHyperService::new(router.clone());
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(config.read_header_timeout);
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watcher().watch(connection);
                tokio::spawn(async move {
                    if let Err(e) = connection.await {
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
    let Ok(graceful) = std::sync::Arc::try_unwrap(graceful) else {
        return;
    };
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("connections still open after 30s; closing them"),
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
