//! Group lifetimes (opt-in TTLs): `--push.default-ttl` (alias
//! `--metric.timetolive`), `--push.max-ttl`, the `Pushgateway-TTL` push
//! header. With none of these set, no group ever expires; the sweep that
//! removes expired groups is in [`crate::expiry`].

use std::time::Duration;

use http::HeaderMap;
use store::Lifetime;

use crate::duration::{self, format_go_duration, Units};

/// The push header that asks for a group's TTL.
pub(crate) const TTL_HEADER: &str = "pushgateway-ttl";

/// The TTL flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TtlPolicy {
    /// TTL of a push that asks for none (zero: never expire).
    pub default: Duration,
    /// Longest TTL a push may ask for (`None`: no cap).
    pub max: Option<Duration>,
}

/// Why a TTL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TtlError {
    /// The header is not a duration.
    #[error("invalid Pushgateway-TTL header {value:?}: {reason}")]
    BadHeader { value: String, reason: String },
    /// Longer than `--push.max-ttl` allows (never expiring included).
    #[error("TTL {requested} is over the maximum of {max} (--push.max-ttl)")]
    OverMax { requested: String, max: String },
}

/// Parses a TTL: Go's durations (`1.5h`, `90m`) or Prometheus' (`2d`,
/// `1h30m`); `0` means never expire.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    duration::parse(s, Units::GoAndPrometheus)
}

fn shown(ttl: Duration) -> String {
    if ttl.is_zero() {
        "0 (never expire)".to_string()
    } else {
        format_go_duration(ttl)
    }
}

impl TtlPolicy {
    /// Whether TTLs are on by configuration (a push may still ask for one).
    pub(crate) fn configured(&self) -> bool {
        !self.default.is_zero() || self.max.is_some()
    }

    /// The lifetime of a group pushed without a TTL header, and of one a
    /// failed push creates.
    pub fn default_lifetime(&self) -> Lifetime {
        Lifetime::from_ttl(self.default)
    }

    /// Checked at start-up: the default must be within the cap.
    pub fn check(&self) -> Result<(), String> {
        self.within_max(self.default).map_err(|e| match e {
            TtlError::OverMax { requested, max } => {
                format!("--push.default-ttl={requested} is over --push.max-ttl={max}")
            }
            other => other.to_string(),
        })
    }

    fn within_max(&self, ttl: Duration) -> Result<(), TtlError> {
        match self.max {
            Some(max) if ttl.is_zero() || ttl > max => Err(TtlError::OverMax {
                requested: shown(ttl),
                max: format_go_duration(max),
            }),
            _ => Ok(()),
        }
    }

    /// The lifetime a push asks for with its headers.
    pub(crate) fn for_push(&self, headers: &HeaderMap) -> Result<Lifetime, TtlError> {
        let Some(value) = headers.get(TTL_HEADER) else {
            return Ok(self.default_lifetime());
        };
        let text = String::from_utf8_lossy(value.as_bytes());
        let ttl = parse_ttl(text.trim()).map_err(|reason| TtlError::BadHeader {
            value: text.to_string(),
            reason,
        })?;
        self.within_max(ttl)?;
        Ok(Lifetime::from_ttl(ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ttl: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TTL_HEADER, ttl.parse().unwrap());
        h
    }

    #[test]
    fn the_header_overrides_the_default_within_the_cap() {
        let policy = TtlPolicy {
            default: Duration::from_secs(60),
            max: Some(Duration::from_secs(3600)),
        };
        assert_eq!(policy.check(), Ok(()));
        let secs = |n| Ok(Lifetime::For(Duration::from_secs(n)));
        assert_eq!(policy.for_push(&HeaderMap::new()), secs(60));
        assert_eq!(policy.for_push(&headers("90s")), secs(90));
        assert_eq!(policy.for_push(&headers("0.5h")), secs(1800));
        let over = policy.for_push(&headers("2h")).unwrap_err();
        assert_eq!(
            over.to_string(),
            "TTL 2h0m0s is over the maximum of 1h0m0s (--push.max-ttl)"
        );
        let never = policy.for_push(&headers("0")).unwrap_err();
        assert!(never
            .to_string()
            .starts_with("TTL 0 (never expire) is over"));
        let bad = policy.for_push(&headers("soon")).unwrap_err();
        assert!(bad
            .to_string()
            .starts_with("invalid Pushgateway-TTL header \"soon\""));
    }

    #[test]
    fn without_a_cap_zero_is_forever_and_a_default_over_the_cap_is_refused() {
        let open = TtlPolicy::default();
        assert!(!open.configured());
        assert_eq!(open.for_push(&headers("0")), Ok(Lifetime::Forever));
        assert_eq!(open.for_push(&HeaderMap::new()), Ok(Lifetime::Forever));
        let capped = TtlPolicy {
            default: Duration::from_secs(7200),
            max: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            capped.check(),
            Err("--push.default-ttl=2h0m0s is over --push.max-ttl=1h0m0s".to_string())
        );
        let never = TtlPolicy {
            default: Duration::ZERO,
            max: Some(Duration::from_secs(3600)),
        };
        assert!(never.check().unwrap_err().contains("0 (never expire)"));
    }
}
