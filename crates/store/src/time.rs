//! Push timestamps: nanoseconds since the Unix epoch, shown as Go shows them
//! (RFC 3339 with trimmed nanoseconds in JSON, float seconds in gauges).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PushTime(i64);

impl PushTime {
    /// The current time.
    pub fn now() -> PushTime {
        PushTime::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime`.
    pub fn from_system_time(t: SystemTime) -> PushTime {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => PushTime(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            Err(e) => PushTime(-i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// A time from nanoseconds since the epoch.
    pub fn from_nanos(nanos: i64) -> PushTime {
        PushTime(nanos)
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// This time plus `d`, saturating at the largest time.
    pub fn saturating_add(self, d: Duration) -> PushTime {
        PushTime(
            self.0
                .saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        )
    }

    /// This time minus `d`, saturating at the smallest time.
    pub fn saturating_sub(self, d: Duration) -> PushTime {
        PushTime(
            self.0
                .saturating_sub(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        )
    }

    /// How long after `earlier` this is (zero if it is not later).
    pub fn since(self, earlier: PushTime) -> Duration {
        Duration::from_nanos(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// As a `SystemTime`.
    pub fn to_system_time(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_nanos(self.0 as u64)
        } else {
            UNIX_EPOCH - Duration::from_nanos(self.0.unsigned_abs())
        }
    }

    /// Seconds as the push-time gauges carry them: Go's
    /// `float64(t.UnixNano()) / 1e9`.
    pub fn as_seconds_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// RFC 3339 in UTC with nanoseconds, trailing zeros trimmed (Go's
    /// `time.RFC3339Nano`): `2026-11-22T11:06:29.11159258Z`.
    pub fn to_rfc3339_nano(self) -> String {
        let (mut out, nanos) = self.date_and_time();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }
}

impl PushTime {
    /// RFC 3339 in UTC with exactly three decimals, as the Go gateway's
    /// logs write times: `2026-11-22T11:06:29.111Z`.
    pub fn to_rfc3339_millis(self) -> String {
        let (mut out, nanos) = self.date_and_time();
        out.push_str(&format!(".{:03}Z", nanos / 1_000_000));
        out
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC, and the nanoseconds past that second.
    fn date_and_time(self) -> (String, i64) {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let out = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        );
        (out, nanos)
    }
}

/// Howard Hinnant's days-to-civil conversion (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(
            PushTime::from_nanos(0).to_rfc3339_nano(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            PushTime::from_nanos(1_795_345_589_111_592_580).to_rfc3339_nano(),
            "2026-11-22T11:06:29.11159258Z"
        );
        assert_eq!(
            PushTime::from_nanos(951_782_400_500_000_000).to_rfc3339_nano(),
            "2000-02-29T00:00:00.5Z"
        );
    }

    #[test]
    fn log_times_have_three_decimals() {
        assert_eq!(
            PushTime::from_nanos(1_795_345_589_111_592_580).to_rfc3339_millis(),
            "2026-11-22T11:06:29.111Z"
        );
        assert_eq!(
            PushTime::from_nanos(0).to_rfc3339_millis(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn seconds_like_go() {
        assert_eq!(
            exposition::format_float(
                PushTime::from_nanos(1_795_345_091_376_023_800).as_seconds_f64()
            ),
            "1.7953450913760238e+09"
        );
    }
}
