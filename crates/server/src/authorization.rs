//! May they: `--web.auth-config`, the policy that gives each principal its
//! rights — `read` (scrapes, the API's reads, the UI), `push` (writes to the
//! groups its `jobs` selectors match) and `admin` (the admin API and
//! `/-/quit`) — an optional request rate, and what requests without
//! credentials may do.
//!
//! Without the file every admitted request may do everything, as in the Go
//! gateway. With it, [`Access`] travels with each request and the handlers
//! ask it before they act. Bearer tokens are known only by their SHA-256,
//! compared in constant time against every configured one.
//!
//! The file is parsed strictly (an unknown key, role or a bad selector is
//! an error naming it) and re-read when it changes (checked at most once a
//! second) or on SIGHUP; a file that stops parsing keeps the previous
//! policy, and says why in the log.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store::{GroupingKey, Selector};

use crate::auth::Principal;

/// A right a principal may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Scrapes, `/api/v1/metrics`, `/api/v1/status`, the UI.
    Read,
    /// Pushes and deletes of the groups the `jobs` selectors match.
    Push,
    /// The admin API and `/-/quit`.
    Admin,
}

/// Why the policy refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Denied {
    /// No credentials, and anonymous requests may not do this (401).
    #[error("Unauthorized")]
    Unauthenticated,
    /// A known principal without the right (403); the message names both.
    #[error("{0}")]
    Forbidden(String),
    /// Over the principal's `max_requests_per_second` (429).
    #[error("Too Many Requests")]
    RateLimited {
        /// Seconds until the next request is allowed.
        retry_after: u64,
    },
}

/// Why authorization refused a request, as the response of the refusal
/// carries it and the refusal counter's `reason` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No or wrong credentials (401).
    Unauthenticated,
    /// A known principal without the right (403).
    Forbidden,
    /// Over the principal's rate (429).
    RateLimited,
}

impl Refusal {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Forbidden => "forbidden",
            Refusal::RateLimited => "rate_limited",
        }
    }
}

impl Denied {
    pub(crate) fn refusal(&self) -> Refusal {
        match self {
            Denied::Unauthenticated => Refusal::Unauthenticated,
            Denied::Forbidden(_) => Refusal::Forbidden,
            Denied::RateLimited { .. } => Refusal::RateLimited,
        }
    }
}

/// The name the requests without credentials go by.
const ANONYMOUS: &str = "anonymous";

/// One entry of `principals`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalEntry {
    name: String,
    #[serde(default)]
    basic_auth_user: Option<String>,
    #[serde(default)]
    bearer_token_sha256: Option<String>,
    #[serde(default)]
    client_cert_subject: Option<String>,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    jobs: Option<Vec<String>>,
    #[serde(default)]
    max_requests_per_second: Option<f64>,
}

/// `anonymous`: what requests without credentials may do.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnonymousEntry {
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    jobs: Option<Vec<String>>,
    #[serde(default)]
    max_requests_per_second: Option<f64>,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthConfigFile {
    #[serde(default)]
    principals: Vec<PrincipalEntry>,
    #[serde(default)]
    anonymous: Option<AnonymousEntry>,
}

/// A problem with the auth config file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {message}")]
pub struct AuthConfigError {
    path: String,
    message: String,
}

/// What one principal (or anonymous) may do.
pub(crate) struct Grant {
    name: String,
    roles: Vec<Role>,
    /// Selectors of the groups it may push to; `None`: every group.
    jobs: Option<Vec<Selector>>,
    limiter: Option<Mutex<RequestRate>>,
}

impl Grant {
    fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    fn may_push_to(&self, key: &GroupingKey) -> bool {
        self.has(Role::Push)
            && self
                .jobs
                .as_ref()
                .is_none_or(|jobs| Selector::any_matches(jobs, key))
    }
}

/// The compiled policy.
pub(crate) struct Policy {
    grants: Vec<Grant>,
    anonymous: Grant,
    by_user: HashMap<String, usize>,
    by_subject: HashMap<String, usize>,
    tokens: Vec<([u8; 32], usize)>,
}

/// Which grant a request resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// No credentials.
    Anonymous,
    /// A principal of the file.
    Named(usize),
    /// Credentials that are right, of an identity no principal names: no
    /// rights at all.
    Unnamed,
}

impl Policy {
    /// Parses and validates the file's text.
    fn parse(text: &str) -> Result<Policy, String> {
        let file: AuthConfigFile = if text.trim().is_empty() {
            AuthConfigFile::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| crate::webconfig::yaml_message(&e))?
        };
        let mut policy = Policy {
            grants: Vec::new(),
            anonymous: Grant {
                name: ANONYMOUS.into(),
                roles: Vec::new(),
                jobs: None,
                limiter: None,
            },
            by_user: HashMap::new(),
            by_subject: HashMap::new(),
            tokens: Vec::new(),
        };
        let mut names = HashSet::new();
        for (i, entry) in file.principals.into_iter().enumerate() {
            let name = entry.name;
            let at = |problem: String| format!("principal {name:?}: {problem}");
            if name.is_empty() {
                return Err(format!("principals[{i}]: name is empty"));
            }
            if name == ANONYMOUS {
                return Err(format!(
                    "principals[{i}]: the name {ANONYMOUS:?} is reserved for requests without credentials; configure them under `anonymous`"
                ));
            }
            if !names.insert(name.clone()) {
                return Err(format!("principal {name:?} is defined twice"));
            }
            let identities = [
                entry.basic_auth_user.is_some(),
                entry.bearer_token_sha256.is_some(),
                entry.client_cert_subject.is_some(),
            ];
            if identities.iter().filter(|&&given| given).count() != 1 {
                return Err(at(
                    "needs exactly one of basic_auth_user, bearer_token_sha256 and client_cert_subject".into(),
                ));
            }
            let index = policy.grants.len();
            if let Some(user) = entry.basic_auth_user {
                if policy.by_user.insert(user.clone(), index).is_some() {
                    return Err(at(format!("basic_auth_user {user:?} is named twice")));
                }
            }
            if let Some(hex) = entry.bearer_token_sha256 {
                let digest = parse_sha256(&hex).ok_or_else(|| {
                    at("bearer_token_sha256 must be 64 hex digits (the SHA-256 of the token, as `sha256sum` prints it)".into())
                })?;
                if policy.tokens.iter().any(|(d, _)| *d == digest) {
                    return Err(at("bearer_token_sha256 is named twice".into()));
                }
                policy.tokens.push((digest, index));
            }
            if let Some(subject) = entry.client_cert_subject {
                let normalized = normalize_dn(&subject).map_err(&at)?;
                if policy.by_subject.insert(normalized, index).is_some() {
                    return Err(at(format!(
                        "client_cert_subject {subject:?} is named twice"
                    )));
                }
            }
            let grant = grant(
                name.clone(),
                entry.roles,
                entry.jobs,
                entry.max_requests_per_second,
            )
            .map_err(at)?;
            policy.grants.push(grant);
        }
        if let Some(anonymous) = file.anonymous {
            policy.anonymous = grant(
                ANONYMOUS.into(),
                anonymous.roles,
                anonymous.jobs,
                anonymous.max_requests_per_second,
            )
            .map_err(|e| format!("anonymous: {e}"))?;
        }
        Ok(policy)
    }

    /// The principal a bearer token is for, comparing its digest with
    /// every configured one in constant time.
    pub(crate) fn token(&self, token: &str) -> Option<Principal> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (digest, index) in &self.tokens {
            if constant_time_eq(digest, &presented) {
                found = Some(*index);
            }
        }
        found.map(|i| Principal::Token(self.grants[i].name.clone()))
    }

    /// Whether anonymous requests may do anything.
    pub(crate) fn anonymous_has_rights(&self) -> bool {
        !self.anonymous.roles.is_empty()
    }

    /// The basic-auth users the policy names.
    fn users(&self) -> impl Iterator<Item = &str> {
        self.by_user.keys().map(String::as_str)
    }

    fn holder(&self, principal: &Principal) -> Holder {
        let named = match principal {
            Principal::Anonymous => return Holder::Anonymous,
            Principal::User(user) => self.by_user.get(user).copied(),
            Principal::Certificate(subject) => normalize_dn(subject)
                .ok()
                .and_then(|dn| self.by_subject.get(&dn).copied()),
            Principal::Token(name) => self.grants.iter().position(|g| g.name == *name),
        };
        named.map_or(Holder::Unnamed, Holder::Named)
    }

    fn grant(&self, holder: Holder) -> Option<&Grant> {
        match holder {
            Holder::Anonymous => Some(&self.anonymous),
            Holder::Named(i) => self.grants.get(i),
            Holder::Unnamed => None,
        }
    }
}

/// Builds one grant, checking its selectors and rate.
fn grant(
    name: String,
    roles: Vec<Role>,
    jobs: Option<Vec<String>>,
    rate: Option<f64>,
) -> Result<Grant, String> {
    let jobs = match jobs {
        None => None,
        Some(texts) => {
            let mut selectors = Vec::with_capacity(texts.len());
            for text in texts {
                selectors.push(Selector::parse(&text).map_err(|e| format!("jobs: {e}"))?);
            }
            Some(selectors)
        }
    };
    let limiter = match rate {
        None => None,
        Some(r) if r.is_finite() && r > 0.0 => Some(Mutex::new(RequestRate::new(r))),
        Some(r) => return Err(format!("max_requests_per_second must be above 0, not {r}")),
    };
    Ok(Grant {
        name,
        roles,
        jobs,
        limiter,
    })
}

/// 32 bytes from 64 hex digits.
fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// An RFC 4514 distinguished name in a form two spellings of the same name
/// share: attribute types upper case, no spaces around `=`, `,` and `+`.
/// Values are compared as written (escapes included), in full.
pub(crate) fn normalize_dn(dn: &str) -> Result<String, String> {
    let mut out = String::with_capacity(dn.len());
    for (i, attribute) in split_unescaped(dn, &[',', '+']).into_iter().enumerate() {
        let (separator, text) = attribute;
        let Some((kind, value)) = text.split_once('=') else {
            return Err(format!(
                "client_cert_subject {dn:?} is not an RFC 4514 name: {text:?} has no '='"
            ));
        };
        let kind = kind.trim();
        if kind.is_empty() {
            return Err(format!(
                "client_cert_subject {dn:?} is not an RFC 4514 name: an attribute has no type"
            ));
        }
        if i > 0 {
            out.push(separator);
        }
        out.push_str(&kind.to_ascii_uppercase());
        out.push('=');
        out.push_str(trim_unescaped(value));
    }
    if out.is_empty() {
        return Err("client_cert_subject is empty".into());
    }
    Ok(out)
}

/// `text` split at unescaped separators, each piece with the separator
/// before it (`,` for the first).
fn split_unescaped<'a>(text: &'a str, separators: &[char]) -> Vec<(char, &'a str)> {
    let mut pieces = Vec::new();
    let (mut start, mut before, mut escaped) = (0, ',', false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if separators.contains(&c) {
            pieces.push((before, &text[start..i]));
            before = c;
            start = i + c.len_utf8();
        }
    }
    pieces.push((before, &text[start..]));
    pieces
}

/// A value without the spaces around it, keeping an escaped trailing one.
fn trim_unescaped(value: &str) -> &str {
    let value = value.trim_start();
    let mut end = value.len();
    while end > 0 && value.as_bytes()[end - 1] == b' ' {
        let backslashes = value.as_bytes()[..end - 1]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &value[..end]
}

/// A token bucket of one principal: `rate` requests a second, bursts of
/// up to one second's worth.
pub(crate) struct RequestRate {
    tokens: f64,
    burst: f64,
    rate: f64,
    last: Instant,
}

impl RequestRate {
    fn new(rate: f64) -> RequestRate {
        let burst = rate.max(1.0);
        RequestRate {
            tokens: burst,
            burst,
            rate,
            last: Instant::now(),
        }
    }

    /// Takes a token, or says in how many whole seconds one will be there.
    fn take(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// What a request may do: everything (no `--web.auth-config`), or what
/// the policy grants the principal it came from.
#[derive(Clone)]
pub(crate) enum Access {
    /// No auth config: Go's behaviour.
    Unrestricted,
    /// Under the policy.
    Policy {
        policy: Arc<Policy>,
        holder: Holder,
        principal: Principal,
    },
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Unrestricted => f.write_str("Unrestricted"),
            Access::Policy {
                holder, principal, ..
            } => write!(f, "Policy({holder:?}, {principal})"),
        }
    }
}

/// What a request asks to do, for the refusal's message.
enum Asked<'a> {
    Role(Role),
    PushTo(&'a GroupingKey),
}

impl std::fmt::Display for Asked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Asked::Role(Role::Read) => f.write_str("read"),
            Asked::Role(Role::Push) => f.write_str("push"),
            Asked::Role(Role::Admin) => f.write_str("use the admin endpoints"),
            Asked::PushTo(key) => write!(f, "push to {key}"),
        }
    }
}

impl Access {
    /// The access of `principal` under `policy`.
    pub(crate) fn under(policy: Arc<Policy>, principal: Principal) -> Access {
        let holder = policy.holder(&principal);
        Access::Policy {
            policy,
            holder,
            principal,
        }
    }

    /// Whether an auth config decides.
    pub(crate) fn restricted(&self) -> bool {
        matches!(self, Access::Policy { .. })
    }

    /// The principal's name as the refusal counter and the audit log show
    /// it: the configured name, `anonymous`, or "" for an identity no
    /// principal names.
    pub(crate) fn name(&self) -> &str {
        match self {
            Access::Unrestricted => "",
            Access::Policy { policy, holder, .. } => {
                policy.grant(*holder).map_or("", |g| g.name.as_str())
            }
        }
    }

    /// Who the request is from, as the audit log shows an identity no
    /// principal names.
    pub(crate) fn identity(&self) -> String {
        match self {
            Access::Unrestricted => String::new(),
            Access::Policy { principal, .. } => principal.to_string(),
        }
    }

    /// Takes one request from the principal's rate, if it has one.
    pub(crate) fn take_request(&self) -> Result<(), Denied> {
        let Access::Policy { policy, holder, .. } = self else {
            return Ok(());
        };
        let Some(limiter) = policy.grant(*holder).and_then(|g| g.limiter.as_ref()) else {
            return Ok(());
        };
        limiter
            .lock()
            .take()
            .map_err(|retry_after| Denied::RateLimited { retry_after })
    }

    /// Whether the request may read, push (to some group) or administer.
    pub(crate) fn can(&self, role: Role) -> bool {
        match self {
            Access::Unrestricted => true,
            Access::Policy { policy, holder, .. } => {
                policy.grant(*holder).is_some_and(|g| g.has(role))
            }
        }
    }

    /// Whether the request may push to (and delete) the group `key`.
    pub(crate) fn can_push_to(&self, key: &GroupingKey) -> bool {
        match self {
            Access::Unrestricted => true,
            Access::Policy { policy, holder, .. } => {
                policy.grant(*holder).is_some_and(|g| g.may_push_to(key))
            }
        }
    }

    /// `Ok` if the request may do what `role` allows.
    pub(crate) fn require(&self, role: Role) -> Result<(), Denied> {
        match self.can(role) {
            true => Ok(()),
            false => Err(self.refusal(Asked::Role(role))),
        }
    }

    /// `Ok` if the request may push to (and delete) the group `key`.
    pub(crate) fn require_push_to(&self, key: &GroupingKey) -> Result<(), Denied> {
        match self.can_push_to(key) {
            true => Ok(()),
            false => Err(self.refusal(Asked::PushTo(key))),
        }
    }

    /// Anonymous requests are told to authenticate (401); known ones are
    /// told what they may not do (403).
    fn refusal(&self, asked: Asked<'_>) -> Denied {
        let Access::Policy {
            holder, principal, ..
        } = self
        else {
            // Not reached: an unrestricted request may do everything.
            return Denied::Forbidden(format!("may not {asked}"));
        };
        match holder {
            Holder::Anonymous => Denied::Unauthenticated,
            Holder::Named(_) => {
                Denied::Forbidden(format!("principal {:?} may not {asked}", self.name()))
            }
            Holder::Unnamed => Denied::Forbidden(format!(
                "{principal} is named by no principal of the auth config and may not {asked}"
            )),
        }
    }
}

/// The loaded policy, reloaded when the file changes.
pub(crate) struct AuthConfigHandle {
    path: PathBuf,
    state: Mutex<Loaded>,
}

struct Loaded {
    policy: Arc<Policy>,
    stamp: Option<(SystemTime, u64)>,
    checked: Instant,
}

/// How often the file's modification time is checked.
const RECHECK: Duration = Duration::from_secs(1);

fn load(path: &Path) -> Result<Policy, AuthConfigError> {
    let err = |message: String| AuthConfigError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    Policy::parse(&text).map_err(err)
}

impl AuthConfigHandle {
    /// Loads the file; start-up refuses an invalid one. Users the policy
    /// names that `basic_auth_users` lacks are warned about.
    pub(crate) fn open(
        path: &str,
        basic_auth_users: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<AuthConfigHandle, AuthConfigError> {
        let path = PathBuf::from(path);
        let policy = load(&path)?;
        for user in policy.users() {
            if !basic_auth_users.is_some_and(|users| users.contains_key(user)) {
                tracing::warn!(
                    user = user,
                    "the auth config names a basic_auth_user that the web config does not define; it cannot log in"
                );
            }
        }
        Ok(AuthConfigHandle {
            state: Mutex::new(Loaded {
                policy: Arc::new(policy),
                stamp: crate::webconfig::stamp(&path),
                checked: Instant::now(),
            }),
            path,
        })
    }

    /// The current policy, reloading the file if it changed.
    pub(crate) fn current(&self) -> Arc<Policy> {
        let mut state = self.state.lock();
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            let now = crate::webconfig::stamp(&self.path);
            if now != state.stamp {
                self.load_into(&mut state, now);
            }
        }
        state.policy.clone()
    }

    /// Reads the file again now (SIGHUP).
    pub(crate) fn reload(&self) {
        let mut state = self.state.lock();
        state.checked = Instant::now();
        let now = crate::webconfig::stamp(&self.path);
        self.load_into(&mut state, now);
    }

    fn load_into(&self, state: &mut Loaded, now: Option<(SystemTime, u64)>) {
        state.stamp = now;
        match load(&self.path) {
            Ok(policy) => {
                state.policy = Arc::new(policy);
                tracing::info!(file = %self.path.display(), "auth config reloaded");
            }
            Err(e) => {
                tracing::error!(err = %e, "auth config is invalid; the previous policy stays in force")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_OF_TEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn policy(yaml: &str) -> Policy {
        Policy::parse(yaml).unwrap()
    }

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::new(pairs.iter().copied())
    }

    const EXAMPLE: &str = r#"
principals:
  - name: prometheus
    basic_auth_user: prometheus
    roles: [read]
  - name: etl
    bearer_token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    roles: [push]
    jobs: ['{job=~"etl-.*"}']
  - name: ci
    client_cert_subject: CN=ci-runner,O=Example
    roles: [push, read]
    jobs: ['{job="ci",branch!=""}']
  - name: ops
    basic_auth_user: ops
    roles: [admin, push, read]
anonymous:
  roles: [read]
"#;

    #[test]
    fn the_issue_example_grants_what_it_says() {
        let policy = Arc::new(policy(EXAMPLE));
        let access = |p: Principal| Access::under(policy.clone(), p);
        let etl = access(policy.token("test").unwrap());
        assert_eq!(etl.name(), "etl");
        assert!(etl.can_push_to(&key(&[("job", "etl-daily")])));
        assert!(!etl.can_push_to(&key(&[("job", "billing")])));
        let refused = etl
            .require_push_to(&key(&[("job", "billing")]))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            r#"principal "etl" may not push to {job="billing"}"#
        );
        assert!(!etl.can(Role::Read));
        let ci = access(Principal::Certificate("CN=ci-runner, o=Example".into()));
        assert_eq!(ci.name(), "ci");
        assert!(ci.can_push_to(&key(&[("job", "ci"), ("branch", "main")])));
        assert!(
            !ci.can_push_to(&key(&[("job", "ci")])),
            "branch must be set"
        );
        let stranger = access(Principal::Certificate("CN=ci-runner".into()));
        assert_eq!(stranger.name(), "");
        assert!(!stranger.can(Role::Read), "a part of a DN is not the DN");
        let ops = access(Principal::User("ops".into()));
        assert!(ops.can(Role::Admin) && ops.can_push_to(&key(&[("job", "any")])));
        let anonymous = access(Principal::Anonymous);
        assert!(anonymous.can(Role::Read) && !anonymous.can(Role::Push));
        assert!(matches!(
            anonymous.require(Role::Push),
            Err(Denied::Unauthenticated)
        ));
        let unnamed = access(Principal::User("bob".into()));
        let e = unnamed.require(Role::Read).unwrap_err();
        assert!(matches!(e, Denied::Forbidden(_)));
        assert!(e.to_string().contains("user \"bob\""), "{e}");
        assert!(policy.token("wrong").is_none());
    }

    #[test]
    fn mistakes_are_named() {
        let problem = |yaml: &str| Policy::parse(yaml).err().unwrap();
        let e = problem("principals:\n  - name: a\n    basic_auth_user: a\n    roles: [pusher]\n");
        assert!(e.contains("pusher"), "{e}");
        let e = problem("principal: []\n");
        assert!(e.contains("principal"), "{e}");
        let e = problem(
            "principals:\n  - name: a\n    basic_auth_user: a\n    roles: [push]\n    jobs: ['{job=\"a\"']\n",
        );
        assert!(e.contains("principal \"a\"") && e.contains("jobs"), "{e}");
        let e = problem("principals:\n  - name: a\n    roles: [read]\n");
        assert!(e.contains("exactly one"), "{e}");
        let e = problem("principals:\n  - name: a\n    bearer_token_sha256: abc\n");
        assert!(e.contains("64 hex"), "{e}");
        let e = problem(
            "principals:\n  - name: a\n    basic_auth_user: a\n  - name: a\n    basic_auth_user: b\n",
        );
        assert!(e.contains("twice"), "{e}");
        let e = problem("principals:\n  - name: anonymous\n    basic_auth_user: a\n");
        assert!(e.contains("reserved"), "{e}");
        let e = problem("anonymous:\n  roles: [read]\n  max_requests_per_second: 0\n");
        assert!(e.contains("max_requests_per_second"), "{e}");
        let e = problem("principals:\n  - name: a\n    client_cert_subject: ci-runner\n");
        assert!(e.contains("RFC 4514"), "{e}");
        assert!(Policy::parse("").is_ok());
    }

    #[test]
    fn distinguished_names_compare_as_names() {
        assert_eq!(
            normalize_dn("cn = ci , O=Example\\, Inc.").unwrap(),
            "CN=ci,O=Example\\, Inc."
        );
        assert_eq!(normalize_dn("CN=a+UID=b").unwrap(), "CN=a+UID=b");
        assert_eq!(normalize_dn("CN=trailing\\ ").unwrap(), "CN=trailing\\ ");
        assert_ne!(
            normalize_dn("CN=ci,O=A").unwrap(),
            normalize_dn("CN=ci").unwrap()
        );
    }

    #[test]
    fn tokens_are_kept_as_digests_only() {
        let yaml = format!(
            "principals:\n  - name: t\n    bearer_token_sha256: {}\n    roles: [push]\n",
            SHA_OF_TEST.to_uppercase()
        );
        let policy = policy(&yaml);
        assert_eq!(policy.token("test"), Some(Principal::Token("t".into())));
        assert_eq!(policy.token("test "), None);
    }

    #[test]
    fn a_rate_refuses_beyond_its_burst_and_says_when_to_retry() {
        let mut rate = RequestRate::new(2.0);
        assert!(rate.take().is_ok() && rate.take().is_ok());
        assert_eq!(rate.take(), Err(1));
        let mut slow = RequestRate::new(0.1);
        assert!(slow.take().is_ok());
        let retry = slow.take().unwrap_err();
        assert!((9..=10).contains(&retry), "{retry}");
    }
}
