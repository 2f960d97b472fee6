//! Request lines longer than the HTTP library takes. The `http` crate's
//! `Uri` holds at most 65,534 bytes, and hyper answers a longer request
//! target with a bare 414; the Go gateway reads request heads up to
//! 1 MiB + 4 KiB (net/http's `DefaultMaxHeaderBytes` and its slack), so a
//! 64 KiB grouping value in the URL works there.
//!
//! [`LongTargets`] sits between a connection and hyper's HTTP/1 parser and
//! watches the request framing as the bytes go by (heads, `Content-Length`
//! and chunked bodies, pipelined requests). Bytes pass through untouched,
//! except the request line of a target too long for `Uri`: that line is
//! rewritten to the [`PLACEHOLDER`] target, and the real target is carried
//! in a header whose name is random per process (so no client can set it).
//! [`take_long_target`] gives the handlers the real target back. HTTP/2,
//! upgrades and anything unparsable pass through as they are, for hyper to
//! handle.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a request head may hold, as Go reads it.
pub(crate) const MAX_HEAD: usize = (1 << 20) + 4096;

/// The longest request target `http::Uri` takes.
const URI_LIMIT: usize = 65_534;

/// What the carrying header says of a head too large to read.
pub(crate) const HEAD_TOO_LARGE: &str = "head-too-large";

/// The target a long request line is rewritten to.
pub(crate) const PLACEHOLDER: &str = "/-/long-request-target";

/// The header carrying a long target: random per process.
pub(crate) fn header_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        // The standard library seeds each `RandomState` from the system's
        // randomness (a 128-bit key): hashes under it no client can guess.
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new();
        format!(
            "x-pushgateway-target-{:016x}{:016x}",
            seed.hash_one(0u8),
            seed.hash_one(1u8)
        )
    })
}

/// The real target of a request whose line was rewritten (path and query,
/// as sent), removing the carrying header; `None` for every other request.
pub(crate) fn take_long_target(parts: &mut http::request::Parts) -> Option<String> {
    if parts.uri.path() != PLACEHOLDER {
        return None;
    }
    let value = parts.headers.remove(header_name())?;
    Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// Where the reader is in the request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// At the start of a request line: bytes are held back until the line
    /// is whole (or known to be short).
    Line,
    /// In the rest of a head, which is copied aside to find its end and
    /// its framing.
    Head,
    /// In a body of this many more bytes.
    Body(u64),
    /// In a chunked body.
    Chunked(Chunk),
    /// Not HTTP/1 framing we follow (HTTP/2, an upgrade, a malformed
    /// head): everything passes through.
    Through,
    /// A head too large was replaced; nothing more is read.
    Ended,
}

/// Where the reader is in a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In a chunk-size line; the size so far, and whether past digits.
    Size(u64, bool),
    /// In chunk data, this many more bytes.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// In trailer lines; whether the current line is empty so far.
    Trailer(bool),
}

/// A connection's reading side with long request lines made readable.
pub(crate) struct LongTargets<S> {
    inner: S,
    phase: Phase,
    /// Bytes held back (a request line not yet whole) or ready to hand out.
    held: Vec<u8>,
    /// How much of `held` was handed out.
    given: usize,
    /// Whether `held` is ready to hand out (else still being collected).
    ready: bool,
    /// The current head, copied aside as it passes.
    head: Vec<u8>,
    /// Whether the writing side was shut down.
    shut: bool,
    /// Until when a closing connection reads what the client still sends.
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How much was read and dropped while closing.
    drained: usize,
}

/// How long, and how much, a connection closing after a head too large
/// reads and drops.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
const LINGER_BYTES: usize = 8 << 20;

impl<S> LongTargets<S> {
    pub(crate) fn new(inner: S) -> LongTargets<S> {
        LongTargets {
            inner,
            phase: Phase::Line,
            held: Vec::new(),
            given: 0,
            ready: false,
            head: Vec::new(),
            shut: false,
            linger: None,
            drained: 0,
        }
    }

    /// Follows the framing over `bytes`, which pass to hyper as they are
    /// (the request line has been dealt with already). When a request ends
    /// within them and another starts, stops there and answers the offset
    /// of the new request, whose line the caller looks at.
    fn observe(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            match self.phase {
                Phase::Through | Phase::Ended => return None,
                Phase::Line => return Some(at),
                Phase::Head if self.head.is_empty() => {
                    // Usually the whole head is in one read: no copy.
                    match head_end(rest, 0) {
                        Some(end) => {
                            self.phase = end_of_head(framing(&rest[..end]));
                            at += end;
                        }
                        None => {
                            self.head.extend_from_slice(rest);
                            if self.head.len() > MAX_HEAD {
                                self.phase = Phase::Through;
                            }
                            return None;
                        }
                    }
                }
                Phase::Head => {
                    let before = self.head.len();
                    self.head.extend_from_slice(rest);
                    match head_end(&self.head, before) {
                        Some(end) => {
                            at += end - before;
                            self.phase = end_of_head(framing(&self.head[..end]));
                            self.head.clear();
                        }
                        None => {
                            if self.head.len() > MAX_HEAD {
                                self.phase = Phase::Through;
                            }
                            return None;
                        }
                    }
                }
                Phase::Body(n) => {
                    let take = (rest.len() as u64).min(n);
                    at += take as usize;
                    self.phase = if n == take {
                        Phase::Line
                    } else {
                        Phase::Body(n - take)
                    };
                }
                Phase::Chunked(chunk) => {
                    let (used, next) = chunked(chunk, rest);
                    at += used;
                    self.phase = next;
                }
            }
        }
        None
    }

    /// A request starts at `next` in what was just read (behind another):
    /// followed on while request lines are whole and short; from the first
    /// that is not, the bytes are taken back out of `buf` and held.
    fn hold_from(&mut self, buf: &mut ReadBuf<'_>, before: usize, mut next: usize) {
        loop {
            let rest = &buf.filled()[before + next..];
            if memchr::memchr(b'\n', rest).is_some_and(|end| end <= URI_LIMIT) {
                self.phase = Phase::Head;
                match self.observe(rest) {
                    Some(more) => next += more,
                    None => return,
                }
            } else {
                self.phase = Phase::Line;
                self.held.extend_from_slice(rest);
                buf.set_filled(before + next);
                if memchr::memchr(b'\n', &self.held).is_some() {
                    self.release_line();
                }
                return;
            }
        }
    }

    /// Decides on a held-back request line once it is whole (or too long
    /// to wait for): handed out as is, or rewritten.
    fn release_line(&mut self) {
        self.ready = true;
        self.given = 0;
        let line_end = memchr::memchr(b'\n', &self.held).filter(|&end| end < MAX_HEAD);
        let Some(line_end) = line_end else {
            // Longer than any head may be: in its place, a request that
            // the gateway answers with Go's 431, and then the end.
            self.held = format!(
                "GET {PLACEHOLDER} HTTP/1.1\r\nHost: -\r\n{}: {HEAD_TOO_LARGE}\r\n\r\n",
                header_name()
            )
            .into_bytes();
            self.phase = Phase::Ended;
            return;
        };
        let held = std::mem::take(&mut self.held);
        let (line, rest) = held.split_at(line_end + 1);
        if line.starts_with(b"PRI * HTTP/2") {
            self.held = held;
            self.phase = Phase::Through;
            return;
        }
        let mut out = rewrite(&line[..line_end]).unwrap_or_else(|| line.to_vec());
        out.extend_from_slice(rest);
        // Follow the framing of what is handed out (rare: a copy is fine).
        self.phase = Phase::Head;
        self.head.clear();
        let handed = out.clone();
        self.held = out;
        let mut from = 0;
        // Requests pipelined behind it in what was held pass as they are.
        while let Some(next) = self.observe(&handed[from..]) {
            from += next;
            self.phase = Phase::Head;
        }
    }
}

/// The end of a head (just past its blank line) in `head`, looking from
/// a little before `from` (the blank line may straddle reads).
fn head_end(head: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut i = start;
    while let Some(at) = memchr::memchr(b'\n', &head[i..]) {
        let nl = i + at;
        // "\n\n" or "\n\r\n" ends the head.
        if nl >= 1 && head[nl - 1] == b'\n' {
            return Some(nl + 1);
        }
        if nl >= 2 && head[nl - 1] == b'\r' && head[nl - 2] == b'\n' {
            return Some(nl + 1);
        }
        i = nl + 1;
    }
    None
}

/// The phase after a head: a request without a body is over at once.
fn end_of_head(framing: Phase) -> Phase {
    match framing {
        Phase::Body(0) => Phase::Line,
        other => other,
    }
}

/// How the body of the request whose head this is is framed.
fn framing(head: &[u8]) -> Phase {
    let Ok(text) = std::str::from_utf8(head) else {
        return Phase::Through;
    };
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let request_line = lines.next().unwrap_or("");
    let method = request_line.split(' ').next().unwrap_or("");
    if method == "CONNECT" || method == "PRI" {
        return Phase::Through;
    }
    let mut length: Option<u64> = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return if value.to_ascii_lowercase().contains("chunked") {
                Phase::Chunked(Chunk::Size(0, false))
            } else {
                Phase::Through
            };
        }
        if name.eq_ignore_ascii_case("upgrade") {
            return Phase::Through;
        }
        if name.eq_ignore_ascii_case("content-length") {
            match value.parse::<u64>() {
                Ok(n) if length.is_none_or(|l| l == n) => length = Some(n),
                _ => return Phase::Through,
            }
        }
    }
    Phase::Body(length.unwrap_or(0))
}

/// Follows a chunked body over `bytes`: how many belong to it, and the
/// phase after them.
fn chunked(mut chunk: Chunk, bytes: &[u8]) -> (usize, Phase) {
    let mut i = 0;
    while i < bytes.len() {
        match chunk {
            Chunk::Size(size, digits_done) => {
                let b = bytes[i];
                i += 1;
                chunk = match b {
                    b'\n' if size == 0 => Chunk::Trailer(true),
                    b'\n' => Chunk::Data(size),
                    _ if digits_done => Chunk::Size(size, true),
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        let digit = u64::from((b as char).to_digit(16).unwrap_or(0));
                        match size.checked_mul(16).and_then(|s| s.checked_add(digit)) {
                            Some(s) => Chunk::Size(s, false),
                            None => return (i, Phase::Through),
                        }
                    }
                    // Extensions, spaces or the CR: the size is complete.
                    _ => Chunk::Size(size, true),
                };
            }
            Chunk::Data(n) => {
                let take = ((bytes.len() - i) as u64).min(n);
                i += take as usize;
                chunk = if take == n {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(n - take)
                };
            }
            Chunk::DataEnd => {
                let b = bytes[i];
                i += 1;
                if b == b'\n' {
                    chunk = Chunk::Size(0, false);
                }
            }
            Chunk::Trailer(empty) => {
                let b = bytes[i];
                i += 1;
                chunk = match b {
                    b'\n' if empty => return (i, Phase::Line),
                    b'\n' => Chunk::Trailer(true),
                    b'\r' => Chunk::Trailer(empty),
                    _ => Chunk::Trailer(false),
                };
            }
        }
    }
    (i, Phase::Chunked(chunk))
}

/// The request line with its target moved into the carrying header, when
/// the target is too long for `Uri`; `None` to keep the line as it is.
fn rewrite(line: &[u8]) -> Option<Vec<u8>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = memchr::memchr(b' ', line)?;
    let last = memchr::memrchr(b' ', line)?;
    if last <= first + 1 {
        return None;
    }
    let (method, target, version) = (&line[..first], &line[first + 1..last], &line[last + 1..]);
    if target.len() <= URI_LIMIT
        || !version.starts_with(b"HTTP/1.")
        || !target.starts_with(b"/")
        || target.iter().any(|&b| b < 0x21 || b == 0x7f)
    {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + 128);
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(PLACEHOLDER.as_bytes());
    out.push(b' ');
    out.extend_from_slice(version);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(header_name().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(target);
    out.extend_from_slice(b"\r\n");
    Some(out)
}

impl<S: AsyncRead + Unpin> AsyncRead for LongTargets<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.ready {
                if this.given < this.held.len() {
                    let n = buf.remaining().min(this.held.len() - this.given);
                    buf.put_slice(&this.held[this.given..this.given + n]);
                    this.given += n;
                    return Poll::Ready(Ok(()));
                }
                this.held.clear();
                this.given = 0;
                this.ready = false;
            }
            if this.phase == Phase::Ended {
                // Nothing more to read until the answer is written and the
                // connection closes (an end of stream now would make hyper
                // drop the request unanswered).
                return Poll::Pending;
            }
            let before = buf.filled().len();
            let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
            if !matches!(polled, Poll::Ready(Ok(()))) {
                return polled;
            }
            let fresh = &buf.filled()[before..];
            if this.phase != Phase::Line {
                // Past the request line: bytes pass, followed; another
                // request may start in this read (pipelined).
                if let Some(next) = this.observe(fresh) {
                    this.hold_from(buf, before, next);
                }
                return Poll::Ready(Ok(()));
            }
            if fresh.is_empty() {
                // End of stream: hand out whatever was held back.
                if this.held.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.phase = Phase::Through;
                this.ready = true;
                continue;
            }
            if this.held.is_empty()
                && memchr::memchr(b'\n', fresh).is_some_and(|end| end <= URI_LIMIT)
            {
                // The usual case: a short request line, whole in this read.
                this.phase = Phase::Head;
                if let Some(next) = this.observe(fresh) {
                    this.hold_from(buf, before, next);
                }
                return Poll::Ready(Ok(()));
            }
            // A long line, or one not whole yet: hold it back.
            this.held.extend_from_slice(fresh);
            buf.set_filled(before);
            if memchr::memchr(b'\n', &this.held).is_some() || this.held.len() > MAX_HEAD {
                this.release_line();
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for LongTargets<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// After a head too large (answered, then closed), what the client
    /// still sends is read and dropped for a moment, as Go's lingering
    /// close does: closing with unread bytes would make the kernel reset
    /// the connection, and the client could lose the answer.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if !this.shut {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.shut = true;
        }
        if this.phase != Phase::Ended {
            return Poll::Ready(Ok(()));
        }
        let deadline = this
            .linger
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let mut read = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                    this.drained += read.filled().len();
                    if this.drained > LINGER_BYTES {
                        return Poll::Ready(Ok(()));
                    }
                }
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    /// A reader that yields `data` in pieces of `piece` bytes.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        piece: usize,
    }

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let n = self
                .piece
                .min(self.data.len() - self.at)
                .min(buf.remaining());
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    fn through(data: &[u8], piece: usize) -> Vec<u8> {
        let reader = Pieces {
            data: data.to_vec(),
            at: 0,
            piece,
        };
        let mut out = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(LongTargets::new(reader).read_to_end(&mut out))
            .unwrap();
        out
    }

    fn requests() -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(
            b"PUT /metrics/job/a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nm 1\n\r\n\r\nx",
        );
        r.extend_from_slice(
            b"POST /metrics/job/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        r.extend_from_slice(b"4;ext=1\r\nm 2\n\r\n6\r\n\r\n\r\n\r\n\r\n0\r\nTrailer: t\r\n\r\n");
        r.extend_from_slice(b"GET /metrics HTTP/1.1\nHost: x\n\n");
        r
    }

    #[test]
    fn ordinary_requests_pass_unchanged_however_they_are_split() {
        let data = requests();
        for piece in [1, 2, 3, 7, 16, 64, 100_000] {
            assert_eq!(through(&data, piece), data, "pieces of {piece}");
        }
    }

    fn long_request(value_len: usize) -> (Vec<u8>, String) {
        let target = format!("/metrics/job/j/path/{}?x=1", "v".repeat(value_len));
        let request = format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nm 1\n");
        (request.into_bytes(), target)
    }

    #[test]
    fn a_long_request_line_is_rewritten_and_the_rest_follows() {
        let (long, target) = long_request(70_000);
        let mut data = requests();
        data.extend_from_slice(&long);
        data.extend_from_slice(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
        let want = {
            let mut w = requests();
            w.extend_from_slice(
                format!(
                    "PUT {PLACEHOLDER} HTTP/1.1\r\n{}: {target}\r\nHost: x\r\nContent-Length: 4\r\n\r\nm 1\n",
                    header_name()
                )
                .as_bytes(),
            );
            w.extend_from_slice(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n");
            w
        };
        // Whole requests per read, as clients send them, and torn ones.
        for piece in [65_536, 4096, 1000] {
            let got = through(&data, piece);
            assert_eq!(got.len(), want.len(), "pieces of {piece}");
            assert!(got == want, "pieces of {piece}");
        }
    }

    #[test]
    fn targets_the_library_takes_are_left_alone() {
        let (request, _) = long_request(65_000);
        assert_eq!(through(&request, 8192), request);
    }

    #[test]
    fn http2_and_bodies_that_look_like_requests_pass() {
        let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        h2.extend_from_slice(&[0u8; 100]);
        h2.extend_from_slice(format!("GET /{} HTTP/1.1\r\n", "v".repeat(70_000)).as_bytes());
        assert_eq!(through(&h2, 4096), h2);
        let body = format!("GET /{} HTTP/1.1\r\n", "v".repeat(70_000));
        let request = format!(
            "PUT /metrics/job/a HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(through(request.as_bytes(), 4096), request.as_bytes());
    }

    #[test]
    fn the_real_target_comes_back_only_with_the_secret_header() {
        let request = http::Request::builder()
            .uri(PLACEHOLDER)
            .header(header_name(), "/metrics/job/x")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        assert_eq!(
            take_long_target(&mut parts).as_deref(),
            Some("/metrics/job/x")
        );
        assert!(parts.headers.get(header_name()).is_none());
        let request = http::Request::builder()
            .uri("/metrics/job/y")
            .header(header_name(), "/api/v1/admin/wipe")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        assert_eq!(take_long_target(&mut parts), None);
    }
}
