//! The open connections and what each is doing, so that when the process
//! runs out of file descriptors the idle keep-alive connections are closed
//! first (oldest first) and accepting can go on; and each connection's
//! idle timeout.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Every open connection's activity.
pub(crate) struct Connections {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    epoch: Instant,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
        }
    }
}

/// What one connection did last.
struct Activity {
    /// When bytes last moved (or the connection opened), in milliseconds
    /// since the registry's `epoch`.
    last: AtomicU64,
    epoch: Instant,
    /// Whether the last bytes that moved were read: a request is being
    /// received or handled. Otherwise the connection waits for its next
    /// request (or its first): idle.
    reading: AtomicBool,
    /// Set to close the connection.
    shed: AtomicBool,
    waker: AtomicWaker,
}

impl Activity {
    fn moved(&self, reading: bool) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
        self.reading.store(reading, Ordering::Relaxed);
    }
}

impl Connections {
    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.open.lock().len()
    }

    /// Closes the older half of the idle connections (at least one, when
    /// any is idle); returns how many.
    pub(crate) fn shed_idle(&self) -> usize {
        let open = self.open.lock();
        let mut idle: Vec<(u64, &Arc<Activity>)> = open
            .values()
            .filter(|a| !a.reading.load(Ordering::Relaxed) && !a.shed.load(Ordering::Relaxed))
            .map(|a| (a.last.load(Ordering::Relaxed), a))
            .collect();
        idle.sort_by_key(|(last, _)| *last);
        let count = idle.len().div_ceil(2);
        for (_, activity) in idle.into_iter().take(count) {
            activity.shed.store(true, Ordering::Relaxed);
            activity.waker.wake();
        }
        count
    }

    /// Wraps a new connection's stream: tracked while it lives, closed
    /// after `idle_timeout` without traffic or when shed.
    pub(crate) fn track<T>(self: &Arc<Self>, inner: T, idle_timeout: Duration) -> Tracked<T> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            last: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            epoch: self.epoch,
            reading: AtomicBool::new(false),
            shed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        self.open.lock().insert(id, activity.clone());
        Tracked {
            inner,
            timeout: idle_timeout,
            deadline: Box::pin(tokio::time::sleep(idle_timeout)),
            activity,
            registry: self.clone(),
            id,
        }
    }
}

/// A connection's stream, tracked in [`Connections`].
pub(crate) struct Tracked<T> {
    inner: T,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    activity: Arc<Activity>,
    registry: Arc<Connections>,
    id: u64,
}

impl<T> Drop for Tracked<T> {
    fn drop(&mut self) {
        self.registry.open.lock().remove(&self.id);
    }
}

impl<T> Tracked<T> {
    fn moved(&mut self, reading: bool) {
        self.activity.moved(reading);
        self.deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + self.timeout);
    }

    /// Notes a write's bytes, or while it waits, whether to close.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.moved(false);
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending => match self.closing(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            other => other,
        }
    }

    /// Why the connection must close now, if it must; registers to be
    /// woken when shed.
    fn closing(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        self.activity.waker.register(cx.waker());
        if self.activity.shed.load(Ordering::Relaxed) {
            return Some(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "idle connection closed: out of file descriptors",
            ));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Some(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection idle for too long",
            ));
        }
        None
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.activity.shed.load(Ordering::Relaxed) {
            if let Some(e) = self.closing(cx) {
                return Poll::Ready(Err(e));
            }
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved(true);
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.closing(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        self.after_write(cx, written)
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
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_older_half_of_idle_connections_is_shed_and_busy_ones_kept() {
        let registry = Arc::new(Connections::default());
        let mut streams = Vec::new();
        for _ in 0..4 {
            let (a, _b) = tokio::io::duplex(64);
            streams.push((registry.track(a, Duration::from_secs(60)), _b));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // The last one is receiving a request.
        streams[3].0.activity.moved(true);
        assert_eq!(registry.len(), 4);
        assert_eq!(registry.shed_idle(), 2);
        let shed: Vec<bool> = streams
            .iter()
            .map(|(s, _)| s.activity.shed.load(Ordering::Relaxed))
            .collect();
        assert_eq!(shed, [true, true, false, false]);
        let mut buf = [0u8; 1];
        let err = tokio::io::AsyncReadExt::read(&mut streams[0].0, &mut buf)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
        streams.truncate(2);
        assert_eq!(registry.len(), 2);
    }
}
