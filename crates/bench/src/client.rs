//! A minimal keep-alive HTTP/1.1 client: enough to drive a gateway at full
//! speed without the load generator becoming the bottleneck.

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One connection, reused for every request.
pub(crate) struct Conn {
    stream: BufReader<TcpStream>,
    request: Vec<u8>,
}

/// A response: its status and body length (the body is discarded).
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) len: usize,
}

impl Conn {
    pub(crate) async fn open(port: u16) -> Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .context("connect")?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::with_capacity(1 << 16, stream),
            request: Vec::with_capacity(4096),
        })
    }

    /// Sends a request and reads the whole response.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        self.exchange(method, path, headers, body, None).await
    }

    /// Sends a bodiless request and answers the response body as text.
    pub(crate) async fn send_text(&mut self, method: &str, path: &str) -> Result<String> {
        let mut kept = Vec::new();
        self.exchange(method, path, &[], b"", Some(&mut kept))
            .await?;
        Ok(String::from_utf8_lossy(&kept).into_owned())
    }

    /// Sends a request and reads the response, its body into `keep` if
    /// given (else discarded).
    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        mut keep: Option<&mut Vec<u8>>,
    ) -> Result<Response> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
        for (k, v) in headers {
            self.request
                .extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        self.request.extend_from_slice(b"\r\n");
        self.request.extend_from_slice(body);
        self.stream.get_mut().write_all(&self.request).await?;
        let mut line = String::new();
        if self.stream.read_line(&mut line).await? == 0 {
            bail!("connection closed");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length: Option<usize> = None;
        let mut chunked = false;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().ok();
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut len = 0usize;
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16).context("chunk size")?;
                if size == 0 {
                    line.clear();
                    self.stream.read_line(&mut line).await?;
                    break;
                }
                len += size;
                self.body(size, keep.as_deref_mut()).await?;
                let mut crlf = [0u8; 2];
                self.stream.read_exact(&mut crlf).await?;
            }
        } else if let Some(n) = length {
            len = n;
            self.body(n, keep).await?;
        }
        Ok(Response { status, len })
    }

    /// Reads `n` body bytes into `keep`, or discards them.
    async fn body(&mut self, n: usize, keep: Option<&mut Vec<u8>>) -> Result<()> {
        let mut body = (&mut self.stream).take(n as u64);
        match keep {
            Some(out) => {
                body.read_to_end(out).await?;
            }
            None => {
                tokio::io::copy(&mut body, &mut tokio::io::sink()).await?;
            }
        }
        Ok(())
    }
}
