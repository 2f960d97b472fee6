//! The async client and its builder: URL, auth, TLS, timeout, retries and
//! compression, and the requests themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, LOCATION,
};
use http::Method;

use crate::gauges::Gauges;
use crate::groups::{parse_deleted, parse_groups, GroupStatus};
use crate::transport::{ReqwestTransport, TlsSettings};
use crate::{Compression, Error, GroupingKey, Payload, Retry, Transport};

/// The default request timeout, as in Python's `prometheus_client`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A Pushgateway client (async, on Tokio).
///
/// Cheap to clone: clones share the connection pool. Every request method
/// validates the grouping key first, then sends; `push` is `PUT` (replaces
/// the whole group), `push_add` is `POST` (replaces the pushed metric
/// names only), `delete` is `DELETE`. Any 2xx answer (the gateway answers
/// 200 or 202) is success; anything else is an [`Error`] carrying the
/// status and the gateway's message.
///
/// ```
/// # let gateway = pushgateway_client::__doctest::FakeGateway::start();
/// # let url = gateway.url();
/// use pushgateway_client::{Client, GroupingKey, Payload};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let client = Client::new(url)?; // e.g. "localhost:9091"
/// let key = GroupingKey::new("nightly_backup").label("instance", "db1");
/// client.push(&key, &Payload::text("backup_size_bytes 1.2e9\n")).await?;
/// client.delete(&key).await?;
/// # Ok::<(), pushgateway_client::Error>(())
/// # })?;
/// # let requests = gateway.requests();
/// # assert_eq!(requests[0].method, "PUT");
/// # assert_eq!(requests[0].path, "/metrics/job/nightly_backup/instance/db1");
/// # assert_eq!(requests[1].method, "DELETE");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    retry: Retry,
    compression: Compression,
    /// The `Pushgateway-TTL` header of every push, when a TTL was asked for.
    ttl: Option<HeaderValue>,
    /// Whether the default transport follows redirects (then a 301–303 for
    /// a method other than `GET` is reported as such).
    follow_redirects: bool,
    transport: Arc<dyn Transport>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("gateway", &self.inner.base)
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("compression", &self.inner.compression)
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `gateway` with default settings (30 s timeout, no
    /// retries, no compression, system root certificates).
    ///
    /// `gateway` is `http[s]://host[:port][/prefix]`; without a scheme,
    /// `http://` is assumed (`localhost:9091` works, as in Python).
    pub fn new(gateway: impl Into<String>) -> Result<Client, Error> {
        Client::builder(gateway).build()
    }

    /// A builder for a client of `gateway` (see [`Client::new`]).
    pub fn builder(gateway: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(gateway.into())
    }

    /// The gateway's base URL, normalised (scheme added, trailing `/`
    /// removed, credentials taken out).
    pub fn gateway(&self) -> &str {
        &self.inner.base
    }

    /// `PUT`: replaces every metric of the group with the payload.
    pub async fn push(&self, key: &GroupingKey, payload: &Payload) -> Result<(), Error> {
        self.send(Method::PUT, &key.path()?, Some(payload)).await?;
        Ok(())
    }

    /// `POST`: replaces the group's metrics that have the names pushed,
    /// keeping the others.
    pub async fn push_add(&self, key: &GroupingKey, payload: &Payload) -> Result<(), Error> {
        self.send(Method::POST, &key.path()?, Some(payload)).await?;
        Ok(())
    }

    /// `DELETE`: removes the group.
    ///
    /// Refused with [`Error::CompressionNotSupported`], before anything is
    /// sent, when the client was built with compression (as Python's
    /// `prometheus_client` does): use a client without compression to
    /// delete.
    pub async fn delete(&self, key: &GroupingKey) -> Result<(), Error> {
        if self.inner.compression != Compression::None {
            return Err(Error::CompressionNotSupported);
        }
        self.send(Method::DELETE, &key.path()?, None).await?;
        Ok(())
    }

    /// Pushes (`PUT`) one gauge family per distinct value of the gauges'
    /// group-by labels, each into the group `key` plus those labels.
    /// Returns the number of pushes; stops at the first failure.
    pub async fn push_gauges(&self, key: &GroupingKey, gauges: &Gauges) -> Result<usize, Error> {
        self.send_gauges(Method::PUT, key, gauges).await
    }

    /// Like [`Client::push_gauges`] with `POST` (push-add) semantics.
    pub async fn push_add_gauges(
        &self,
        key: &GroupingKey,
        gauges: &Gauges,
    ) -> Result<usize, Error> {
        self.send_gauges(Method::POST, key, gauges).await
    }

    /// The groups on the gateway, from its `GET /api/v1/metrics`.
    pub async fn groups(&self) -> Result<Vec<GroupStatus>, Error> {
        self.groups_matching::<&str>(&[]).await
    }

    /// The groups any of `selectors` selects (Prometheus selectors over
    /// grouping labels, such as `{job=~"etl-.*"}`); every group when there
    /// are none. Needs a gateway with selectors (ours); the Go gateway
    /// ignores them and answers every group.
    pub async fn groups_matching<S: AsRef<str>>(
        &self,
        selectors: &[S],
    ) -> Result<Vec<GroupStatus>, Error> {
        let mut path = String::from("/api/v1/metrics");
        let query = match_query(selectors);
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query);
        }
        let response = self.send(Method::GET, &path, None).await?;
        parse_groups(response.body())
    }

    /// Deletes the groups any of `selectors` selects, with `older_than`
    /// only those whose last push (successful or not) is older than that;
    /// [`DeleteMode::DryRun`] only answers what would be deleted. Answers
    /// the grouping labels of those groups. Needs our gateway started with
    /// `--web.enable-admin-api`.
    pub async fn delete_matching<S: AsRef<str>>(
        &self,
        selectors: &[S],
        older_than: Option<Duration>,
        mode: DeleteMode,
    ) -> Result<Vec<BTreeMap<String, String>>, Error> {
        let mut query = match_query(selectors);
        if let Some(age) = older_than {
            query.push_str(&format!("&older_than={}", duration_text(age)));
        }
        if mode == DeleteMode::DryRun {
            query.push_str("&dry_run=true");
        }
        let path = format!("/api/v1/admin/groups?{query}");
        let response = self.send(Method::DELETE, &path, None).await?;
        parse_deleted(response.body())
    }

    /// Deletes every group: `PUT /api/v1/admin/wipe`, which the gateway
    /// serves only when started with `--web.enable-admin-api`.
    pub async fn wipe(&self) -> Result<(), Error> {
        self.send(Method::PUT, "/api/v1/admin/wipe", None).await?;
        Ok(())
    }

    async fn send_gauges(
        &self,
        method: Method,
        key: &GroupingKey,
        gauges: &Gauges,
    ) -> Result<usize, Error> {
        let pushes = gauges.pushes(key)?;
        for (group, payload) in &pushes {
            self.send(method.clone(), &group.path()?, Some(payload))
                .await?;
        }
        Ok(pushes.len())
    }

    /// Sends one request (with retries) and checks the status.
    async fn send(
        &self,
        method: Method,
        path: &str,
        payload: Option<&Payload>,
    ) -> Result<http::Response<Bytes>, Error> {
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base, path);
        let (body, content_type, encoding) = match payload {
            Some(p) => (
                inner.compression.apply(p.bytes())?,
                Some(p.content_type()),
                inner.compression.header_value(),
            ),
            None => (Bytes::new(), None, None),
        };
        let mut retry = 0;
        loop {
            let mut request = http::Request::builder().method(method.clone()).uri(&url);
            if let Some(headers) = request.headers_mut() {
                if let Some(ct) = content_type {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
                }
                if let Some(enc) = encoding {
                    headers.insert(CONTENT_ENCODING, HeaderValue::from_static(enc));
                }
                for (name, value) in &inner.headers {
                    headers.insert(name.clone(), value.clone());
                }
                if let (Some(ttl), Some(_)) = (&inner.ttl, payload) {
                    headers.insert(TTL_HEADER, ttl.clone());
                }
            }
            let request = request.body(body.clone()).map_err(|e| Error::InvalidUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
            let outcome = match inner.timeout {
                Some(limit) => tokio::time::timeout(limit, inner.transport.send(request))
                    .await
                    .unwrap_or(Err(Error::Timeout(limit))),
                None => inner.transport.send(request).await,
            }
            .and_then(|response| check_status(response, &method, inner.follow_redirects));
            match outcome {
                Err(e) if e.is_retryable() && retry < inner.retry.max_retries() => {
                    tokio::time::sleep(inner.retry.delay(retry)).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }
}

/// Turns a non-2xx answer into an error. `follow_redirects` says whether
/// the transport was asked to follow redirects, so that a 301–303 it did
/// not follow for a `PUT`, `POST` or `DELETE` is reported as such.
fn check_status(
    response: http::Response<Bytes>,
    method: &Method,
    follow_redirects: bool,
) -> Result<http::Response<Bytes>, Error> {
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else if status.is_redirection() {
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let keeps_method = matches!(*method, Method::GET | Method::HEAD);
        if follow_redirects && !keeps_method && matches!(status.as_u16(), 301..=303) {
            Err(Error::MethodChangingRedirect {
                method: method.to_string(),
                status: status.as_u16(),
                location,
            })
        } else {
            Err(Error::Redirect {
                status: status.as_u16(),
                location,
            })
        }
    } else {
        Err(Error::Status {
            status: status.as_u16(),
            body: String::from_utf8_lossy(response.body())
                .trim_end()
                .to_owned(),
        })
    }
}

/// Settings for a [`Client`] or [`BlockingClient`](crate::BlockingClient).
///
/// ```
/// use std::time::Duration;
/// use pushgateway_client::{Client, Compression, Retry};
/// let client = Client::builder("https://pushgateway.example.org")
///     .bearer_token("s3cret")
///     .header("X-Team", "storage")
///     .timeout(Some(Duration::from_secs(5)))
///     .retry(Retry::new(3))
///     .compression(Compression::Gzip)
///     .build()?;
/// assert_eq!(client.gateway(), "https://pushgateway.example.org");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    gateway: String,
    timeout: Option<Duration>,
    retry: Retry,
    compression: Compression,
    auth: Auth,
    headers: Vec<(String, String)>,
    tls: TlsSettings,
    ca_file: Option<PathBuf>,
    identity_files: Option<(PathBuf, PathBuf)>,
    follow_redirects: bool,
    transport: Option<Arc<dyn Transport>>,
    ttl: Option<Duration>,
}

enum Auth {
    None,
    Basic { user: String, password: String },
    Bearer(String),
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("gateway", &self.gateway)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    fn new(gateway: String) -> ClientBuilder {
        ClientBuilder {
            gateway,
            timeout: Some(DEFAULT_TIMEOUT),
            retry: Retry::none(),
            compression: Compression::None,
            auth: Auth::None,
            headers: Vec::new(),
            tls: TlsSettings::default(),
            ca_file: None,
            identity_files: None,
            follow_redirects: false,
            transport: None,
            ttl: None,
        }
    }

    /// Asks the gateway to remove each pushed group `ttl` after the push
    /// (the `Pushgateway-TTL` header; zero means never, overriding a default
    /// the gateway has). Every push of this client carries it; the Go
    /// gateway ignores it.
    pub fn ttl(mut self, ttl: Duration) -> ClientBuilder {
        self.ttl = Some(ttl);
        self
    }

    /// The time one attempt may take, connection included; `None` waits
    /// forever. Default: 30 s.
    pub fn timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// The retry policy. Default: [`Retry::none`].
    pub fn retry(mut self, retry: Retry) -> ClientBuilder {
        self.retry = retry;
        self
    }

    /// The `Content-Encoding` of pushes. Default: none. A client with
    /// compression refuses [`Client::delete`]
    /// ([`Error::CompressionNotSupported`]); [`Client::groups`] and
    /// [`Client::wipe`] send no body and are not affected.
    pub fn compression(mut self, compression: Compression) -> ClientBuilder {
        self.compression = compression;
        self
    }

    /// HTTP basic authentication. Credentials in the gateway URL
    /// (`http://user:pass@host`) do the same.
    pub fn basic_auth(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> ClientBuilder {
        self.auth = Auth::Basic {
            user: user.into(),
            password: password.into(),
        };
        self
    }

    /// `Authorization: Bearer <token>` (replaces basic auth).
    pub fn bearer_token(mut self, token: impl Into<String>) -> ClientBuilder {
        self.auth = Auth::Bearer(token.into());
        self
    }

    /// An extra header sent with every request (checked by `build`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Trusts the PEM certificates in `pem` instead of the system's roots.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> ClientBuilder {
        self.tls.ca_pem = Some(pem.into());
        self
    }

    /// Trusts the PEM certificates in the file at `path` (read by `build`)
    /// instead of the system's roots.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> ClientBuilder {
        self.ca_file = Some(path.as_ref().to_owned());
        self
    }

    /// Presents a client certificate: a PEM chain and its PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    pub fn client_identity_pem(
        mut self,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> ClientBuilder {
        self.tls.identity_pem = Some((cert.into(), key.into()));
        self
    }

    /// Presents the client certificate and key in these PEM files (read by
    /// `build`), like Python's `tls_auth_handler(certfile, keyfile)`.
    pub fn client_cert_files(
        mut self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> ClientBuilder {
        self.identity_files = Some((cert.as_ref().to_owned(), key.as_ref().to_owned()));
        self
    }

    /// Accepts any server certificate. For tests only: anyone on the path
    /// can read and change the traffic.
    pub fn insecure_skip_verify(mut self, skip: bool) -> ClientBuilder {
        self.tls.insecure_skip_verify = skip;
        self
    }

    /// Follows redirects (up to 10). Off by default: a redirected request is
    /// an [`Error::Redirect`].
    ///
    /// When on, `PUT`, `POST` and `DELETE` follow only 307 and 308, which
    /// repeat the method and body. A 301, 302 or 303 would be repeated as a
    /// `GET` without body (so a push would "succeed" with nothing pushed);
    /// it is not followed and is an [`Error::MethodChangingRedirect`].
    /// `GET` ([`Client::groups`]) follows every redirect.
    pub fn follow_redirects(mut self, follow: bool) -> ClientBuilder {
        self.follow_redirects = follow;
        self
    }

    /// Sends requests through `transport` instead of the default reqwest
    /// one. TLS settings and `follow_redirects` are then the transport's
    /// business; setting them too is an error.
    pub fn transport(mut self, transport: impl Transport) -> ClientBuilder {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Builds an async [`Client`].
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client {
            inner: Arc::new(self.into_inner()?),
        })
    }

    fn into_inner(mut self) -> Result<Inner, Error> {
        let (base, url_auth) = normalize_gateway(&self.gateway)?;
        if let (Auth::None, Some((user, password))) = (&self.auth, url_auth) {
            self.auth = Auth::Basic { user, password };
        }
        let mut headers = Vec::new();
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push((
                    AUTHORIZATION,
                    sensitive(&format!("Basic {token}"), "basic auth")?,
                ));
            }
            Auth::Bearer(token) => {
                headers.push((
                    AUTHORIZATION,
                    sensitive(&format!("Bearer {token}"), "bearer token")?,
                ));
            }
        }
        for (name, value) in &self.headers {
            let header_name =
                HeaderName::from_bytes(name.as_bytes()).map_err(|e| Error::InvalidHeader {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
            let header_value = HeaderValue::from_str(value).map_err(|e| Error::InvalidHeader {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            headers.push((header_name, header_value));
        }
        if let Some(path) = &self.ca_file {
            self.tls.ca_pem = Some(read_file(path, "CA certificate")?);
        }
        if let Some((cert, key)) = &self.identity_files {
            self.tls.identity_pem = Some((
                read_file(cert, "client certificate")?,
                read_file(key, "client key")?,
            ));
        }
        let transport: Arc<dyn Transport> = match self.transport {
            Some(transport) => {
                if !self.tls.is_default() || self.follow_redirects {
                    return Err(Error::Config(
                        "TLS and redirect settings apply to the default transport only, not to a custom one".into(),
                    ));
                }
                transport
            }
            None => Arc::new(ReqwestTransport::new(&self.tls, self.follow_redirects)?),
        };
        Ok(Inner {
            base,
            headers,
            timeout: self.timeout,
            retry: self.retry,
            compression: self.compression,
            ttl: self
                .ttl
                .map(|ttl| HeaderValue::from_str(&duration_text(ttl)))
                .transpose()
                .map_err(|e| Error::InvalidHeader {
                    name: TTL_HEADER.into(),
                    reason: e.to_string(),
                })?,
            follow_redirects: self.follow_redirects,
            transport,
        })
    }
}

/// The push header that asks for a TTL.
const TTL_HEADER: &str = "pushgateway-ttl";

/// Whether a selective delete deletes or only says what it would delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Answer what would be deleted; delete nothing.
    DryRun,
    /// Delete.
    Delete,
}

/// A duration as the gateway reads it: whole seconds (`90s`), else
/// milliseconds (`1500ms`).
fn duration_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis().max(1))
    }
}

/// `match[]=…&match[]=…`, percent-encoded.
fn match_query<S: AsRef<str>>(selectors: &[S]) -> String {
    selectors
        .iter()
        .map(|s| format!("match%5B%5D={}", percent_encode(s.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn sensitive(value: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(value).map_err(|e| Error::InvalidHeader {
        name: "Authorization".into(),
        reason: format!("{what}: {e}"),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading the {what} {}", path.display()), e))
}

/// Normalises the gateway URL: adds `http://` when there is no scheme,
/// takes out credentials and drops trailing slashes.
fn normalize_gateway(gateway: &str) -> Result<(String, Option<(String, String)>), Error> {
    let invalid = |reason: &str| Error::InvalidUrl {
        url: gateway.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = gateway.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let mut url = reqwest::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not allowed"));
    }
    let credentials = if url.username().is_empty() && url.password().is_none() {
        None
    } else {
        let decode = |s: &str| {
            percent_decode(s)
                .ok_or_else(|| invalid("credentials are not valid percent-encoded UTF-8"))
        };
        let creds = (
            decode(url.username())?,
            decode(url.password().unwrap_or(""))?,
        );
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some(creds)
    };
    let base = url.as_str().trim_end_matches('/').to_owned();
    Ok((base, credentials))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_are_normalised() {
        let base = |g: &str| normalize_gateway(g).unwrap().0;
        assert_eq!(base("localhost:9091"), "http://localhost:9091");
        assert_eq!(base("http://h:9091/"), "http://h:9091");
        assert_eq!(base("https://h/prefix/"), "https://h/prefix");
        assert_eq!(base(" 127.0.0.1:9091 "), "http://127.0.0.1:9091");
    }

    #[test]
    fn credentials_move_out_of_the_url() {
        let (base, creds) = normalize_gateway("http://us%40r:p%3Ass@h:1").unwrap();
        assert_eq!(base, "http://h:1");
        assert_eq!(creds, Some(("us@r".to_owned(), "p:ss".to_owned())));
    }

    #[test]
    fn bad_gateway_urls_are_refused() {
        for url in ["", "ftp://h", "http://h/?a=b", "http://h/#x", "http://"] {
            assert!(
                matches!(normalize_gateway(url), Err(Error::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn bad_headers_are_refused() {
        let err = Client::builder("h")
            .header("bad name", "v")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidHeader { name, .. } if name == "bad name"));
        let err = Client::builder("h")
            .header("X-A", "a\nb")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidHeader { .. }));
    }

    #[test]
    fn missing_tls_files_name_the_path() {
        let err = Client::builder("https://h")
            .ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn garbage_ca_is_a_tls_error() {
        let err = Client::builder("https://h")
            .ca_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Tls { .. }), "{err}");
    }
}
