//! Who is asking: basic authentication against the bcrypt hashes of
//! `basic_auth_users`, or the subject of a verified client certificate,
//! or nobody. The answer is a [`Principal`]; what a principal may do is
//! decided elsewhere.
//!
//! Unknown users are checked against a dummy hash of the same cost as the
//! configured ones, so the answer time does not tell which users exist.
//! Results are cached under a SHA-256 of user, stored hash and password —
//! the password is part of the key, so a cached success can never admit a
//! different password (CVE-2022-46146) — and bcrypt runs on blocking
//! threads, at most two at a time, so a flood of guesses cannot starve the
//! request workers.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::webconfig::{bcrypt_cost, Active};

/// Cached results are dropped wholesale beyond this many entries.
const CACHE_LIMIT: usize = 4096;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// No credentials (or none were needed).
    Anonymous,
    /// A `basic_auth_users` user whose password matched.
    User(String),
    /// The subject (RFC 4514) of a client certificate the TLS handshake
    /// verified.
    Certificate(String),
}

impl Principal {
    /// The principal of a request without a checked password: its client
    /// certificate's subject, if the connection has one.
    pub(crate) fn of_connection(certificate_subject: Option<&str>) -> Principal {
        match certificate_subject {
            Some(subject) => Principal::Certificate(subject.to_string()),
            None => Principal::Anonymous,
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Anonymous => f.write_str("anonymous"),
            Principal::User(user) => write!(f, "user {user:?}"),
            Principal::Certificate(subject) => write!(f, "certificate {subject:?}"),
        }
    }
}

/// Checks `Authorization: Basic` headers.
pub(crate) struct BasicAuth {
    cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt: Arc<Semaphore>,
    dummy: Mutex<HashMap<u32, Arc<OnceLock<String>>>>,
}

impl BasicAuth {
    pub(crate) fn new() -> BasicAuth {
        BasicAuth {
            cache: Mutex::new(HashMap::new()),
            bcrypt: Arc::new(Semaphore::new(2)),
            dummy: Mutex::new(HashMap::new()),
        }
    }

    /// The configured user the request's credentials name, if the password
    /// is right.
    pub(crate) async fn authenticate(
        &self,
        active: &Active,
        authorization: Option<&str>,
    ) -> Option<Principal> {
        let (user, password) = authorization.and_then(parse_basic)?;
        let matches = self.check(active, &user, password).await;
        matches.then_some(Principal::User(user))
    }

    async fn check(&self, active: &Active, user: &str, password: String) -> bool {
        let users = &active.config.basic_auth_users;
        let known = users.get(user);
        let hash = match known {
            Some(h) => h.clone(),
            None => {
                let cost = users
                    .values()
                    .filter_map(|h| bcrypt_cost(h))
                    .max()
                    .unwrap_or(10);
                self.dummy_hash(cost).await
            }
        };
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            for part in [user.as_bytes(), hash.as_bytes(), password.as_bytes()] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            h.finalize().into()
        };
        if let Some(&ok) = self.cache.lock().get(&key) {
            return ok && known.is_some();
        }
        let Ok(_permit) = self.bcrypt.clone().acquire_owned().await else {
            return false;
        };
        let matches = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = matches && known.is_some();
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, ok);
        ok
    }

    async fn dummy_hash(&self, cost: u32) -> String {
        let cell = self.dummy.lock().entry(cost).or_default().clone();
        if let Some(h) = cell.get() {
            return h.clone();
        }
        let made = tokio::task::spawn_blocking(move || {
            bcrypt::hash("not a password of anyone", cost).unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        cell.get_or_init(|| made).clone()
    }
}

/// `Basic <base64(user:password)>`, the scheme matched case-insensitively.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_credentials() {
        assert_eq!(
            parse_basic("Basic YWxpY2U6czNjcjN0"),
            Some(("alice".into(), "s3cr3t".into()))
        );
        assert_eq!(
            parse_basic("basic YWxpY2U6czNjcjN0"),
            Some(("alice".into(), "s3cr3t".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
