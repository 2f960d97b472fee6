//! `--web.config.file`: the exporter-toolkit YAML that turns on TLS,
//! client certificates, basic auth, extra headers and rate limiting.
//!
//! The file is parsed strictly (an unknown key is an error naming it) and
//! re-read whenever it changes on disk (checked at most once a second), so
//! certificates, client CAs, TLS settings and users rotate without a
//! restart; only switching TLS on or off needs one. A file that stops
//! parsing fails closed: requests get 500 and TLS connections are closed
//! until it is fixed, as exporter-toolkit does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde::Deserialize;

use crate::tls::{server_config, Protocols, TlsServerConfig};

/// The parsed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebConfig {
    #[serde(default)]
    pub(crate) tls_server_config: TlsServerConfig,
    #[serde(default)]
    pub(crate) http_server_config: HttpServerConfig,
    #[serde(default)]
    pub(crate) rate_limit: RateLimit,
    #[serde(default)]
    pub(crate) basic_auth_users: BTreeMap<String, String>,
}

/// `http_server_config`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpServerConfig {
    #[serde(default = "yes")]
    pub(crate) http2: bool,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

impl HttpServerConfig {
    /// The protocols TLS offers by ALPN.
    fn protocols(&self) -> Protocols {
        if self.http2 {
            Protocols::Http1AndHttp2
        } else {
            Protocols::Http1
        }
    }
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit`: a token bucket over all requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimit {
    #[serde(default)]
    pub(crate) burst: u32,
    #[serde(default, with = "go_duration")]
    pub(crate) interval: Duration,
}

mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        crate::flags::parse_go_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// The headers exporter-toolkit lets a config add, with their allowed values
/// (empty: any value).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A problem with the web config file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WebConfigError {
    path: String,
    message: String,
}

impl WebConfig {
    /// Reads and validates a file; relative paths in it are resolved
    /// against the file's directory.
    pub(crate) fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let err = |message: String| WebConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut config: WebConfig = if text.trim().is_empty() {
            WebConfig::default()
        } else {
            serde_saphyr::from_str(&text).map_err(|e| err(yaml_message(&e)))?
        };
        for (name, value) in &config.http_server_config.headers {
            match ALLOWED_HEADERS.iter().find(|(h, _)| h == name) {
                None => return Err(err(format!("HTTP header {name:?} can not be configured"))),
                Some((_, allowed)) if !allowed.is_empty() && !allowed.contains(&value.as_str()) => {
                    return Err(err(format!(
                        "invalid value for {name}. Expected one of: {allowed:?}, but got: {value:?}"
                    )))
                }
                _ => {}
            }
        }
        for (user, hash) in &config.basic_auth_users {
            if bcrypt_cost(hash).is_none() {
                return Err(err(format!(
                    "basic_auth_users: the password of {user:?} is not a bcrypt hash"
                )));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let tls = &mut config.tls_server_config;
        for file in [
            &mut tls.cert_file,
            &mut tls.key_file,
            &mut tls.client_ca_file,
        ] {
            if !file.is_empty() && Path::new(file.as_str()).is_relative() {
                *file = dir.join(&*file).display().to_string();
            }
        }
        // Build the TLS configuration once to report its problems at start.
        if config.tls_server_config.is_enabled() {
            server_config(
                &config.tls_server_config,
                config.http_server_config.protocols(),
            )
            .map_err(err)?;
        }
        Ok(config)
    }
}

/// A YAML error's first line (where and what), without the source
/// snippet the parser draws below it.
pub(crate) fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The cost of a `$2a$`/`$2b$`/`$2y$` bcrypt hash, if it is one.
pub(crate) fn bcrypt_cost(hash: &str) -> Option<u32> {
    let rest = hash
        .strip_prefix("$2a$")
        .or_else(|| hash.strip_prefix("$2b$"))
        .or_else(|| hash.strip_prefix("$2y$"))
        .or_else(|| hash.strip_prefix("$2x$"))?;
    let (cost, tail) = rest.split_once('$')?;
    let cost: u32 = cost.parse().ok()?;
    ((4..=31).contains(&cost) && tail.len() == 53).then_some(cost)
}

/// The loaded web config, reloaded when the file changes.
pub(crate) struct WebConfigHandle {
    path: PathBuf,
    state: Mutex<Loaded>,
}

struct Loaded {
    config: Result<Arc<Active>, WebConfigError>,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

/// A web config with what is derived from it.
pub(crate) struct Active {
    pub(crate) config: WebConfig,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) limiter: Option<Mutex<TokenBucket>>,
}

impl Active {
    fn new(config: WebConfig) -> Result<Active, WebConfigError> {
        let tls = if config.tls_server_config.is_enabled() {
            let built = server_config(
                &config.tls_server_config,
                config.http_server_config.protocols(),
            );
            Some(Arc::new(built.map_err(|message| WebConfigError {
                path: String::new(),
                message,
            })?))
        } else {
            None
        };
        let limiter = (config.rate_limit.interval > Duration::ZERO).then(|| {
            Mutex::new(TokenBucket::new(
                config.rate_limit.burst,
                config.rate_limit.interval,
            ))
        });
        Ok(Active {
            config,
            tls,
            limiter,
        })
    }
}

/// How often the file's modification time is checked.
const RECHECK: Duration = Duration::from_secs(1);

pub(crate) fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl WebConfigHandle {
    /// Loads the file, failing if it is invalid now (start-up refuses a bad file).
    pub(crate) fn open(path: &str) -> Result<WebConfigHandle, WebConfigError> {
        let path = PathBuf::from(path);
        let config = Arc::new(Active::new(WebConfig::load(&path)?)?);
        Ok(WebConfigHandle {
            state: Mutex::new(Loaded {
                config: Ok(config),
                stamp: stamp(&path),
                checked: Instant::now(),
            }),
            path,
        })
    }

    /// The current configuration, reloading the file if it changed; an
    /// error while the file is invalid.
    pub(crate) fn current(&self) -> Result<Arc<Active>, WebConfigError> {
        let mut state = self.state.lock();
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            let now = stamp(&self.path);
            if now != state.stamp {
                self.load_into(&mut state, now);
            }
        }
        state.config.clone()
    }

    /// Reads the file again now, whether or not it looks changed (SIGHUP:
    /// an edit within the same second and size is not missed), with the
    /// certificates it names.
    pub(crate) fn reload(&self) {
        let mut state = self.state.lock();
        state.checked = Instant::now();
        let now = stamp(&self.path);
        self.load_into(&mut state, now);
    }

    fn load_into(&self, state: &mut Loaded, now: Option<(SystemTime, u64)>) {
        state.stamp = now;
        state.config = WebConfig::load(&self.path)
            .and_then(Active::new)
            .map(Arc::new);
        match &state.config {
            Ok(_) => tracing::info!(file = %self.path.display(), "web config reloaded"),
            Err(e) => {
                tracing::error!(err = %e, "web config is invalid; refusing requests until it is fixed")
            }
        }
    }
}

/// A token bucket: `burst` tokens, one more every `interval`.
pub(crate) struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_second: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(burst: u32, interval: Duration) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_second: 1.0 / interval.as_secs_f64(),
            last: Instant::now(),
        }
    }

    /// Takes a token if one is available.
    pub(crate) fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_second)
            .min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        WebConfig::load(&path).map_err(|e| e.message)
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = load("basic_auth_users: {}\ntls_server_config:\n  cert_fil: x\n").unwrap_err();
        assert!(e.contains("cert_fil"), "{e}");
        let e = load("nonsense: 1\n").unwrap_err();
        assert!(e.contains("nonsense"), "{e}");
    }

    #[test]
    fn validates_headers_and_hashes() {
        assert!(load("http_server_config:\n  headers:\n    X-Frame-Options: deny\n").is_ok());
        assert!(load("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").is_err());
        assert!(load("http_server_config:\n  headers:\n    X-Custom: 1\n").is_err());
        assert!(load("basic_auth_users:\n  alice: plaintext\n").is_err());
        let hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        assert!(load(&format!("basic_auth_users:\n  alice: {hash}\n")).is_ok());
        assert!(load("").is_ok());
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let e = load("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n")
            .unwrap_err();
        assert!(e.contains("cert"), "{e}");
    }

    #[test]
    fn token_bucket_limits() {
        let mut b = TokenBucket::new(2, Duration::from_secs(3600));
        assert!(b.allow() && b.allow());
        assert!(!b.allow());
    }
}
