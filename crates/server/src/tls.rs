//! TLS with rustls, configured the way exporter-toolkit configures Go's
//! `crypto/tls`: certificate and key (files re-read when they change),
//! client certificates by `client_auth_type`, allowed client SANs, TLS
//! versions, cipher suites and curves by their Go names.
//!
//! rustls speaks TLS 1.2 and 1.3 only, and no CBC or RSA-key-exchange
//! suites: a config that can only be met by those is refused at start.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use serde::Deserialize;

/// `tls_server_config`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsServerConfig {
    #[serde(default)]
    pub(crate) cert: String,
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) client_ca: String,
    #[serde(default)]
    pub(crate) cert_file: String,
    #[serde(default)]
    pub(crate) key_file: String,
    #[serde(default)]
    pub(crate) client_auth_type: String,
    #[serde(default)]
    pub(crate) client_ca_file: String,
    #[serde(default)]
    pub(crate) cipher_suites: Vec<String>,
    #[serde(default)]
    pub(crate) curve_preferences: Vec<String>,
    #[serde(default)]
    pub(crate) min_version: Option<String>,
    #[serde(default)]
    pub(crate) max_version: Option<String>,
    #[serde(default)]
    pub(crate) prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub(crate) client_allowed_sans: Option<Vec<String>>,
}

impl TlsServerConfig {
    /// Whether any TLS setting is present (exporter-toolkit's `IsEnabled`).
    pub(crate) fn is_enabled(&self) -> bool {
        !(self.cert_file.is_empty()
            && self.cert.is_empty()
            && self.key_file.is_empty()
            && self.key.is_empty()
            && self.client_ca_file.is_empty()
            && self.client_ca.is_empty()
            && self.client_auth_type.is_empty())
    }
}

/// The application protocols TLS connections offer (ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocols {
    /// HTTP/1.1 only (`http_server_config.http2: false`).
    Http1,
    /// HTTP/2, then HTTP/1.1.
    Http1AndHttp2,
}

/// The subject of a certificate as an RFC 4514 distinguished name
/// (`CN=ci-runner,O=Example`: the last RDN first, as Go's
/// `pkix.Name.String` writes it), if the certificate parses.
pub(crate) fn subject(certificate: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.as_ref()).ok()?;
    let rdns: Vec<String> = parsed
        .subject()
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let oid = attr.attr_type().to_id_string();
                    let name = match oid.as_str() {
                        "2.5.4.3" => "CN".to_string(),
                        "2.5.4.5" => "SERIALNUMBER".to_string(),
                        "2.5.4.6" => "C".to_string(),
                        "2.5.4.7" => "L".to_string(),
                        "2.5.4.8" => "ST".to_string(),
                        "2.5.4.9" => "STREET".to_string(),
                        "2.5.4.10" => "O".to_string(),
                        "2.5.4.11" => "OU".to_string(),
                        "2.5.4.17" => "POSTALCODE".to_string(),
                        "0.9.2342.19200300.100.1.1" => "UID".to_string(),
                        "0.9.2342.19200300.100.1.25" => "DC".to_string(),
                        _ => oid,
                    };
                    let value = match attr.as_str() {
                        Ok(text) => escape_dn_value(text),
                        Err(_) => {
                            let raw = attr.attr_value().data;
                            let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                            format!("#{hex}")
                        }
                    };
                    format!("{name}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    Some(rdns.into_iter().rev().collect::<Vec<_>>().join(","))
}

/// RFC 4514's escaping of an attribute value.
fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Builds the rustls server configuration of a web config's TLS section.
pub(crate) fn server_config(
    tls: &TlsServerConfig,
    protocols: Protocols,
) -> Result<rustls::ServerConfig, String> {
    if tls.cert_file.is_empty() && tls.cert.is_empty() {
        return Err("missing one of cert or cert_file".into());
    }
    if tls.key_file.is_empty() && tls.key.is_empty() {
        return Err("missing one of key or key_file".into());
    }
    let mut provider = rustls::crypto::ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let mut suites = Vec::new();
        for name in &tls.cipher_suites {
            let suite = provider
                .cipher_suites
                .iter()
                .find(|s| go_suite_name(s.suite()).is_some_and(|n| n.contains(&name.as_str())))
                .copied();
            match suite {
                Some(s) => suites.push(s),
                None if KNOWN_GO_SUITES.contains(&name.as_str()) => {
                    return Err(format!("cipher suite {name} is not supported (only ECDHE with AES-GCM or ChaCha20-Poly1305)"))
                }
                None => return Err(format!("unknown cipher: {name}")),
            }
        }
        // Go ignores the list for TLS 1.3; keep every 1.3 suite.
        suites.extend(
            provider
                .cipher_suites
                .iter()
                .filter(|s| s.version() == &rustls::version::TLS13),
        );
        provider.cipher_suites = suites;
    }
    if !tls.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &tls.curve_preferences {
            let wanted = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                "CurveP521" => return Err("curve CurveP521 is not supported".into()),
                other => return Err(format!("unknown curve: {other}")),
            };
            if let Some(g) = provider.kx_groups.iter().find(|g| g.name() == wanted) {
                groups.push(*g);
            }
        }
        provider.kx_groups = groups;
    }
    let version = |v: &Option<String>, default: u16| -> Result<u16, String> {
        match v.as_deref() {
            None => Ok(default),
            Some("TLS10") => Ok(10),
            Some("TLS11") => Ok(11),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(other) => Err(format!("unknown TLS version: {other}")),
        }
    };
    let min = version(&tls.min_version, 12)?;
    let max = version(&tls.max_version, 13)?;
    if max < 12 {
        return Err("max_version below TLS12 is not supported".into());
    }
    if min > max {
        return Err("min_version is above max_version".into());
    }
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    let provider = Arc::new(provider);
    let verifier = client_verifier(tls, &provider)?;
    let resolver = Arc::new(ReloadingCert::new(tls, &provider)?);
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS settings: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    server.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(true);
    server.alpn_protocols = if protocols == Protocols::Http1AndHttp2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(server)
}

const KNOWN_GO_SUITES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Go's names for the suites rustls implements.
fn go_suite_name(suite: rustls::CipherSuite) -> Option<&'static [&'static str]> {
    use rustls::CipherSuite as C;
    Some(match suite {
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => &["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => &["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"],
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => &["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => &["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => &[
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ],
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => &[
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ],
        C::TLS13_AES_128_GCM_SHA256 => &["TLS_AES_128_GCM_SHA256"],
        C::TLS13_AES_256_GCM_SHA384 => &["TLS_AES_256_GCM_SHA384"],
        C::TLS13_CHACHA20_POLY1305_SHA256 => &["TLS_CHACHA20_POLY1305_SHA256"],
        _ => return None,
    })
}

fn client_verifier(
    tls: &TlsServerConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let has_ca = !tls.client_ca_file.is_empty() || !tls.client_ca.is_empty();
    let roots = || -> Result<Arc<rustls::RootCertStore>, String> {
        let pem: Vec<u8> = if !tls.client_ca_file.is_empty() {
            std::fs::read(&tls.client_ca_file).map_err(|e| {
                format!(
                    "failed to read client_ca_file ({}): {e}",
                    tls.client_ca_file
                )
            })?
        } else {
            tls.client_ca.as_bytes().to_vec()
        };
        let mut store = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("client CA: {e}"))?;
            store.add(cert).map_err(|e| format!("client CA: {e}"))?;
        }
        if store.is_empty() {
            return Err("client CA: no certificates found".into());
        }
        Ok(Arc::new(store))
    };
    let algorithms = provider.signature_verification_algorithms;
    let verifying = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, String> {
        if !has_ca {
            return Err(format!(
                "client_auth_type {} needs client_ca_file or client_ca",
                tls.client_auth_type
            ));
        }
        let builder = WebPkiClientVerifier::builder_with_provider(roots()?, provider.clone());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder.build().map_err(|e| format!("client verifier: {e}"))
    };
    let verifier: Arc<dyn ClientCertVerifier> = match tls.client_auth_type.as_str() {
        "" | "NoClientCert" => {
            if has_ca {
                return Err("client CA's have been configured without a Client Auth Policy".into());
            }
            WebPkiClientVerifier::no_client_auth()
        }
        "RequestClientCert" => Arc::new(AnyCert {
            mandatory: false,
            algorithms,
        }),
        "RequireAnyClientCert" | "RequireClientCert" => Arc::new(AnyCert {
            mandatory: true,
            algorithms,
        }),
        "VerifyClientCertIfGiven" => verifying(true)?,
        "RequireAndVerifyClientCert" => verifying(false)?,
        other => return Err(format!("invalid ClientAuth: {other}")),
    };
    Ok(match &tls.client_allowed_sans {
        Some(allowed) => Arc::new(AllowedSans {
            inner: verifier,
            allowed: allowed.clone(),
        }),
        None => verifier,
    })
}

/// Accepts any client certificate (signatures still checked): Go's
/// `RequestClientCert` and `RequireAnyClientCert`.
#[derive(Debug)]
struct AnyCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Requires one of the client certificate's SANs to be in a list.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = certificate_sans(end_entity);
        if sans.iter().any(|s| self.allowed.contains(s)) {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "could not find allowed SANs in client cert, found: {sans:?}"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// DNS names, emails, IP addresses and URIs of a certificate.
fn certificate_sans(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                Some((*s).to_string())
            }
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(
                    std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
                ),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| std::net::Ipv6Addr::from(b).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The server certificate, re-read when its files change (as Go reads
/// them on every handshake), so rotated certificates are picked up.
#[derive(Debug)]
struct ReloadingCert {
    files: Option<(PathBuf, PathBuf)>,
    provider: Arc<CryptoProvider>,
    state: Mutex<CertState>,
}

/// The certificate in use, the files' modification times it came from, and
/// when they were last checked.
type CertState = (Arc<CertifiedKey>, Option<(SystemTime, SystemTime)>, Instant);

impl ReloadingCert {
    fn new(tls: &TlsServerConfig, provider: &Arc<CryptoProvider>) -> Result<ReloadingCert, String> {
        let (cert_pem, key_pem, files) = if !tls.cert_file.is_empty() || !tls.key_file.is_empty() {
            let cert = read(&tls.cert_file, &tls.cert, "cert_file")?;
            let key = read(&tls.key_file, &tls.key, "key_file")?;
            let files = (!tls.cert_file.is_empty() && !tls.key_file.is_empty())
                .then(|| (PathBuf::from(&tls.cert_file), PathBuf::from(&tls.key_file)));
            (cert, key, files)
        } else {
            (
                tls.cert.as_bytes().to_vec(),
                tls.key.as_bytes().to_vec(),
                None,
            )
        };
        let key = certified_key(&cert_pem, &key_pem, provider)?;
        let stamps = files.as_ref().and_then(|(c, k)| stamps(c, k));
        Ok(ReloadingCert {
            files,
            provider: provider.clone(),
            state: Mutex::new((Arc::new(key), stamps, Instant::now())),
        })
    }
}

fn read(file: &str, inline: &str, what: &str) -> Result<Vec<u8>, String> {
    if file.is_empty() {
        Ok(inline.as_bytes().to_vec())
    } else {
        std::fs::read(file).map_err(|e| format!("failed to read {what} ({file}): {e}"))
    }
}

fn stamps(cert: &PathBuf, key: &PathBuf) -> Option<(SystemTime, SystemTime)> {
    Some((
        std::fs::metadata(cert).ok()?.modified().ok()?,
        std::fs::metadata(key).ok()?.modified().ok()?,
    ))
}

fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
    if certs.is_empty() {
        return Err("failed to load X509KeyPair: no certificate found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
    CertifiedKey::from_der(certs, key, provider)
        .map_err(|e| format!("failed to load X509KeyPair: {e}"))
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock();
        if let Some((cert, key)) = &self.files {
            if state.2.elapsed() >= Duration::from_secs(1) {
                state.2 = Instant::now();
                let now = stamps(cert, key);
                if now != state.1 {
                    let loaded = std::fs::read(cert)
                        .and_then(|c| std::fs::read(key).map(|k| (c, k)))
                        .map_err(|e| e.to_string())
                        .and_then(|(c, k)| certified_key(&c, &k, &self.provider));
                    match loaded {
                        Ok(k) => {
                            state.0 = Arc::new(k);
                            state.1 = now;
                            tracing::info!("TLS certificate reloaded");
                        }
                        Err(e) => {
                            tracing::error!(err = %e, "cannot reload the TLS certificate; keeping the old one")
                        }
                    }
                }
            }
        }
        Some(state.0.clone())
    }
}
