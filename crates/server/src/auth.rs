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
//! request workers. Successes and failures are cached apart, each evicting
//! its least recently used entry, so that a flood of wrong passwords never
//! pushes out the entries of users who know theirs.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use base64::Engine;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::webconfig::{bcrypt_cost, Active};

/// How many successes, and apart from them how many failures, are cached.
const CACHE_LIMIT: usize = 4096;

/// A bounded set of cache keys that evicts its least recently used one.
struct Recent {
    used: HashMap<[u8; 32], u64>,
    clock: u64,
    limit: usize,
}

impl Recent {
    fn new(limit: usize) -> Recent {
        Recent {
            used: HashMap::new(),
            clock: 0,
            limit,
        }
    }

    /// Whether `key` is held (and marks it used).
    fn contains(&mut self, key: &[u8; 32]) -> bool {
        self.clock += 1;
        match self.used.get_mut(key) {
            Some(at) => {
                *at = self.clock;
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, key: [u8; 32]) {
        if self.used.len() >= self.limit && !self.used.contains_key(&key) {
            // O(limit), paid only by a result that cost a bcrypt round.
            let oldest = self.used.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.used.remove(&oldest);
            }
        }
        self.clock += 1;
        self.used.insert(key, self.clock);
    }
}

/// Cached bcrypt outcomes: right passwords and wrong ones, apart.
struct Outcomes {
    right: Recent,
    wrong: Recent,
}

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
    /// A bearer token of `--web.auth-config`, by the name of the principal
    /// it belongs to.
    Token(String),
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
            Principal::Token(name) => write!(f, "the bearer token of {name:?}"),
        }
    }
}

/// Checks `Authorization: Basic` headers.
pub(crate) struct BasicAuth {
    cache: Mutex<Outcomes>,
    /// bcrypt verifications run so far.
    verified: std::sync::atomic::AtomicU64,
    bcrypt: Arc<Semaphore>,
    dummy: Mutex<HashMap<u32, Arc<OnceLock<String>>>>,
}

impl BasicAuth {
    pub(crate) fn new() -> BasicAuth {
        BasicAuth::with_cache_limit(CACHE_LIMIT)
    }

    fn with_cache_limit(limit: usize) -> BasicAuth {
        BasicAuth {
            cache: Mutex::new(Outcomes {
                right: Recent::new(limit),
                wrong: Recent::new(limit),
            }),
            verified: std::sync::atomic::AtomicU64::new(0),
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
        {
            let mut cache = self.cache.lock();
            if cache.right.contains(&key) {
                return known.is_some();
            }
            if cache.wrong.contains(&key) {
                return false;
            }
        }
        let Ok(_permit) = self.bcrypt.clone().acquire_owned().await else {
            return false;
        };
        self.verified
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let matches = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = matches && known.is_some();
        let mut cache = self.cache.lock();
        match ok {
            true => cache.right.insert(key),
            false => cache.wrong.insert(key),
        }
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

/// The token of `Bearer <token>`, the scheme matched case-insensitively.
pub(crate) fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case("bearer ")
        .then(|| rest.trim())
        .filter(|token| !token.is_empty())
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

    fn basic(user: &str, password: &str) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    }

    #[tokio::test]
    async fn a_flood_of_wrong_passwords_never_evicts_a_right_one() {
        let mut config = crate::webconfig::WebConfig::default();
        let hash = bcrypt::hash("s3cr3t", 4).unwrap();
        config.basic_auth_users.insert("alice".into(), hash.clone());
        config.basic_auth_users.insert("bob".into(), hash);
        let active = Active {
            config,
            tls: None,
            limiter: None,
        };
        let auth = BasicAuth::with_cache_limit(8);
        let verified = || auth.verified.load(std::sync::atomic::Ordering::Relaxed);
        let alice = basic("alice", "s3cr3t");
        assert!(auth.authenticate(&active, Some(&alice)).await.is_some());
        assert_eq!(verified(), 1);
        // Four times the cache's size in distinct wrong guesses.
        for i in 0..32 {
            let guess = basic("alice", &format!("guess-{i}"));
            assert!(auth.authenticate(&active, Some(&guess)).await.is_none());
        }
        assert_eq!(verified(), 33);
        // Alice is still cached: no bcrypt round for her.
        assert!(auth.authenticate(&active, Some(&alice)).await.is_some());
        assert_eq!(verified(), 33);
        // Rights evict the least recently used right: alice, used last,
        // outlives bob's older entry among nine right ones.
        let bob = basic("bob", "s3cr3t");
        assert!(auth.authenticate(&active, Some(&bob)).await.is_some());
        for i in 0..7 {
            let other = format!("user{i}");
            let hash = bcrypt::hash("pw", 4).unwrap();
            let mut active_config = active.config.clone();
            active_config.basic_auth_users.insert(other.clone(), hash);
            let more = Active {
                config: active_config,
                tls: None,
                limiter: None,
            };
            assert!(auth
                .authenticate(&more, Some(&basic(&other, "pw")))
                .await
                .is_some());
            assert!(auth.authenticate(&more, Some(&alice)).await.is_some());
        }
        let before = verified();
        assert!(auth.authenticate(&active, Some(&alice)).await.is_some());
        assert_eq!(verified(), before, "alice was kept");
        assert!(auth.authenticate(&active, Some(&bob)).await.is_some());
        assert_eq!(verified(), before + 1, "bob was the one evicted");
        // A cached failure stays a failure, and an unknown user never passes.
        assert!(auth
            .authenticate(&active, Some(&basic("alice", "guess-31")))
            .await
            .is_none());
        assert!(auth
            .authenticate(&active, Some(&basic("mallory", "s3cr3t")))
            .await
            .is_none());
    }

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
        assert_eq!(parse_bearer("Bearer s3cret"), Some("s3cret"));
        assert_eq!(parse_bearer("bearer  s3cret "), Some("s3cret"));
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(parse_bearer("Basic x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
