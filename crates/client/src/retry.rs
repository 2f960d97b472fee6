//! The retry policy: exponential backoff with jitter, for connection
//! failures (other than refused certificates) and 5xx answers only.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How often and how patiently to retry a request.
///
/// Off by default. When on, a request that could not connect or got a 5xx
/// answer is sent again after a delay that doubles with each attempt (from
/// `initial_backoff`, capped at `max_backoff`), of which a random half is
/// taken off ("equal jitter") so that many clients do not retry in step.
/// Timeouts, 4xx answers and refused TLS certificates
/// ([`Error::Certificate`](crate::Error::Certificate)) are not retried: a
/// timed-out push may have arrived, and a refused one would be refused
/// again.
///
/// ```
/// use std::time::Duration;
/// use pushgateway_client::Retry;
/// let retry = Retry::new(3).initial_backoff(Duration::from_millis(100));
/// assert_eq!(retry.max_retries(), 3);
/// assert_eq!(Retry::default(), Retry::none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::none()
    }
}

impl Retry {
    /// No retries.
    pub fn none() -> Retry {
        Retry::new(0)
    }

    /// Up to `max_retries` retries after the first attempt, starting at
    /// 200 ms and capped at 10 s.
    pub fn new(max_retries: u32) -> Retry {
        Retry {
            max_retries,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }

    /// Sets the delay before the first retry (before jitter).
    pub fn initial_backoff(mut self, delay: Duration) -> Retry {
        self.initial_backoff = delay;
        self
    }

    /// Sets the longest delay between two attempts (before jitter).
    pub fn max_backoff(mut self, delay: Duration) -> Retry {
        self.max_backoff = delay;
        self
    }

    /// The number of retries after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry number `retry` (0-based).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        self.delay_with(retry, random())
    }

    /// The delay before retry number `retry`, with `random` choosing the
    /// jitter: half the backoff plus `random` scaled into the other half.
    fn delay_with(&self, retry: u32, random: u64) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        let backoff = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let half = backoff / 2;
        let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
        half + (backoff - half).mul_f64(fraction)
    }
}

/// A random number from the standard library's per-process hash keys.
fn random() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_stay_within_equal_jitter_bounds() {
        let retry = Retry::new(10)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_secs(1));
        let expected_ms = [100u64, 200, 400, 800, 1000, 1000];
        for (i, &ms) in expected_ms.iter().enumerate() {
            let full = Duration::from_millis(ms);
            assert_eq!(retry.delay_with(i as u32, 0), full / 2, "retry {i}");
            let top = retry.delay_with(i as u32, u64::MAX);
            assert!(top <= full && top > full * 9 / 10, "retry {i}: {top:?}");
        }
    }

    #[test]
    fn huge_retry_numbers_do_not_overflow() {
        let retry = Retry::new(u32::MAX);
        assert!(retry.delay_with(u32::MAX, 0) <= Duration::from_secs(10));
    }

    #[test]
    fn random_delays_vary() {
        let retry = Retry::new(1).initial_backoff(Duration::from_secs(1));
        let delays: std::collections::HashSet<_> = (0..20).map(|_| retry.delay(0)).collect();
        assert!(delays.len() > 1);
        assert!(delays
            .iter()
            .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_secs(1)));
    }
}
