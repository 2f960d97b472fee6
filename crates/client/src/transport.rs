//! The pluggable HTTP transport and the default one, reqwest over rustls.
//!
//! The client builds complete requests (URL, method, headers, body, auth);
//! a transport only moves them. Timeouts and retries stay in the client, so
//! they apply to every transport alike.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::Error;

/// A boxed, sendable future, as [`Transport::send`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and returns the whole response.
///
/// Implement it to reach a gateway through something the default transport
/// does not do (a Unix socket, a proxy with its own protocol, a test fake).
/// Report failures to connect as [`Error::Connect`] (those are retried),
/// a refused TLS certificate as [`Error::Certificate`] (not retried) and
/// later failures as [`Error::Transport`]; an HTTP error status is not a
/// failure here, return the response.
///
/// ```
/// use bytes::Bytes;
/// use pushgateway_client::{BoxFuture, Client, Error, GroupingKey, Payload, Transport};
///
/// /// Answers 200 to everything and prints what it was asked.
/// #[derive(Debug)]
/// struct DryRun;
///
/// impl Transport for DryRun {
///     fn send(&self, request: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Bytes>, Error>> {
///         println!("{} {}", request.method(), request.uri());
///         Box::pin(async { Ok(http::Response::new(Bytes::new())) })
///     }
/// }
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let client = Client::builder("http://gateway.invalid:9091").transport(DryRun).build()?;
/// client.push(&GroupingKey::new("batch"), &Payload::text("done 1\n")).await?;
/// # Ok::<(), Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// Sends `request` and reads the response body to the end.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, Error>>;
}

/// TLS settings of the default transport.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsSettings {
    /// PEM certificates to trust instead of the system's roots.
    pub(crate) ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain and private key.
    pub(crate) identity_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// Skip verification of the server certificate.
    pub(crate) insecure_skip_verify: bool,
}

impl TlsSettings {
    pub(crate) fn is_default(&self) -> bool {
        self.ca_pem.is_none() && self.identity_pem.is_none() && !self.insecure_skip_verify
    }
}

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// The default transport: a reqwest client with rustls.
///
/// reqwest's redirect policy does not see the method, and reqwest repeats a
/// `PUT`, `POST` or `DELETE` redirected with 301, 302 or 303 as a `GET`
/// without body. So when redirects are followed there are two clients:
/// `GET` and `HEAD` follow every redirect, other methods only 307 and 308
/// (the 301–303 answer is returned, and the client reports it).
#[derive(Debug)]
pub(crate) struct ReqwestTransport {
    /// For `GET` and `HEAD`.
    get_head: reqwest::Client,
    /// For every other method (a clone of `get_head` when redirects are not
    /// followed).
    other_methods: reqwest::Client,
}

impl ReqwestTransport {
    pub(crate) fn new(tls: &TlsSettings, follow_redirects: bool) -> Result<Self, Error> {
        use reqwest::redirect::Policy;
        if !follow_redirects {
            let client = client(tls, Policy::none())?;
            return Ok(ReqwestTransport {
                get_head: client.clone(),
                other_methods: client,
            });
        }
        let keep_method = Policy::custom(|attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if matches!(attempt.status().as_u16(), 307 | 308) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        Ok(ReqwestTransport {
            get_head: client(tls, Policy::limited(MAX_REDIRECTS))?,
            other_methods: client(tls, keep_method)?,
        })
    }
}

/// A reqwest client with these TLS settings and redirect policy.
fn client(
    tls: &TlsSettings,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("pushgateway-client/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect);
    if let Some(pem) = &tls.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::tls("reading the CA certificates", Some(e.into())))?;
        if certs.is_empty() {
            return Err(Error::tls("no certificate found in the CA file", None));
        }
        builder = builder.tls_built_in_root_certs(false);
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some((cert, key)) = &tls.identity_pem {
        let mut pem = cert.clone();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend_from_slice(key);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| Error::tls("reading the client certificate and key", Some(e.into())))?;
        builder = builder.identity(identity);
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| Error::tls("building the HTTP client", Some(e.into())))
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, Error>> {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
                .map_err(|e| Error::Transport(e.into()))?;
            let client = match *request.method() {
                http::Method::GET | http::Method::HEAD => &self.get_head,
                _ => &self.other_methods,
            };
            let response = client.execute(request).await.map_err(classify)?;
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await.map_err(classify)?;
            builder.body(body).map_err(|e| Error::Transport(e.into()))
        })
    }
}

/// Maps a reqwest error to [`Error::Certificate`], [`Error::Connect`] or
/// [`Error::Transport`], keeping the causes (reqwest's own message only
/// names the URL).
fn classify(e: reqwest::Error) -> Error {
    let connect = e.is_connect();
    let certificate = refuses_certificate(&e);
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        // Some layers repeat their cause in their own message.
        let text = cause.to_string();
        if !causes.iter().any(|c: &String| c.contains(&text)) {
            causes.push(text);
        }
        source = cause.source();
    }
    let message = if causes.is_empty() {
        e.without_url().to_string()
    } else {
        causes.join(": ")
    };
    if certificate {
        Error::Certificate(message.into())
    } else if connect {
        Error::Connect(message.into())
    } else {
        Error::Transport(message.into())
    }
}

/// Whether `e` or one of its causes is a TLS failure over a certificate:
/// the gateway's did not verify, or the gateway refused ours.
fn refuses_certificate(e: &(dyn std::error::Error + 'static)) -> bool {
    use rustls::AlertDescription as Alert;
    let mut source = Some(e);
    while let Some(cause) = source {
        if let Some(tls) = rustls_error(cause) {
            return match tls {
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
                    true
                }
                rustls::Error::AlertReceived(alert) => matches!(
                    alert,
                    Alert::BadCertificate
                        | Alert::UnsupportedCertificate
                        | Alert::CertificateRevoked
                        | Alert::CertificateExpired
                        | Alert::CertificateUnknown
                        | Alert::UnknownCA
                        | Alert::CertificateRequired
                ),
                _ => false,
            };
        }
        source = cause.source();
    }
    false
}

/// The rustls error `e` is, or wraps in (nested) `io::Error`s: tokio-rustls
/// and hyper-util report it that way, and an `io::Error`'s `source` skips
/// the error it wraps.
fn rustls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = e.downcast_ref::<std::io::Error>()?.get_ref()?;
        e = inner;
    }
}
