//! A stand-in gateway for the documentation examples and the tests of this
//! crate and `pushgw`: it answers 200 to every request (or follows a
//! script) and records what it got. Not part of the API: it exists only
//! with the `fake-gateway` feature, which the crate's own dev-dependency
//! turns on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request the fake gateway received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed if it was).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One scripted answer: status and extra headers.
pub type Answer = (u16, Vec<(String, String)>);

/// A gateway that answers `200 OK` to everything (or follows a script), on
/// 127.0.0.1.
#[derive(Debug, Clone)]
pub struct FakeGateway {
    url: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    connections: Arc<AtomicUsize>,
}

/// What the fake does with a connection.
enum Mode {
    /// Reads a request and answers it (over TLS with this config).
    Answer(Option<Arc<rustls::ServerConfig>>),
    /// Closes the connection at once, before any TLS or HTTP.
    HangUp,
}

impl FakeGateway {
    /// Starts a plain HTTP fake.
    pub fn start() -> FakeGateway {
        FakeGateway::serve(Mode::Answer(None), Vec::new())
    }

    /// Starts a listener that accepts every connection and closes it at
    /// once, without reading or answering: a TLS handshake with it fails
    /// (a connection error), plain HTTP gets no answer.
    pub fn start_hanging_up() -> FakeGateway {
        FakeGateway::serve(Mode::HangUp, Vec::new())
    }

    /// Starts a plain HTTP fake that gives the `n`th request the `n`th
    /// answer of `script`, and 200 once the script is used up.
    pub fn start_scripted(script: Vec<Answer>) -> FakeGateway {
        FakeGateway::serve(Mode::Answer(None), script)
    }

    /// Starts an HTTPS fake with this server certificate and key (PEM),
    /// requiring client certificates signed by `client_ca_pem` if given.
    pub fn start_tls(cert_pem: &str, key_pem: &str, client_ca_pem: Option<&str>) -> FakeGateway {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("server key PEM");
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = match client_ca_pem {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots.add(cert.expect("client CA PEM")).expect("client CA");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(certs, key)
            .expect("server certificate and key");
        FakeGateway::serve(Mode::Answer(Some(Arc::new(config))), Vec::new())
    }

    fn serve(mode: Mode, script: Vec<Answer>) -> FakeGateway {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let scheme = match mode {
            Mode::Answer(Some(_)) => "https",
            _ => "http",
        };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (recorded, accepted) = (requests.clone(), connections.clone());
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let answer = || script.next().unwrap_or((200, Vec::new()));
                let result = match &mode {
                    Mode::HangUp => {
                        drop(stream);
                        Ok(())
                    }
                    Mode::Answer(None) => handle(stream, &recorded, answer),
                    Mode::Answer(Some(config)) => {
                        match rustls::ServerConnection::new(config.clone()) {
                            Ok(conn) => {
                                handle(rustls::StreamOwned::new(conn, stream), &recorded, answer)
                            }
                            Err(_) => continue,
                        }
                    }
                };
                // A failed handshake or a dropped connection is the client's
                // business; keep serving.
                let _ = result;
            }
        });
        FakeGateway {
            url: format!("{scheme}://127.0.0.1:{port}"),
            requests,
            connections,
        }
    }

    /// The base URL, `http://127.0.0.1:<port>` (or `https://`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The number of connections accepted so far, whether or not a request
    /// came over them (a failed TLS handshake counts too).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Reads one request, records it and answers with `Connection: close`.
fn handle<S: Read + Write>(
    stream: S,
    recorded: &Mutex<Vec<RecordedRequest>>,
    answer: impl FnOnce() -> Answer,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if let Ok(mut r) = recorded.lock() {
        r.push(RecordedRequest {
            method,
            path,
            headers,
            body,
        });
    }
    let (status, headers) = answer();
    let mut head =
        format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = reader.into_inner();
    stream.write_all(head.as_bytes())?;
    stream.flush()
}
