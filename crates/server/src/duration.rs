//! Durations as Go's `time.ParseDuration` writes them (`1.5h`, `90m`,
//! `300ms`) and, for TTLs, also as Prometheus writes them (`2d`, `1w`,
//! `1h30m`); and Go's `time.Duration.String()`.

use std::fmt::Write as _;
use std::time::Duration;

/// Which units a duration may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Units {
    /// Go's: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
    Go,
    /// Go's and Prometheus' longer ones: `d` (24h), `w` (7d), `y` (365d).
    GoAndPrometheus,
}

impl Units {
    fn nanos(self, unit: &str) -> Option<f64> {
        let go = match unit {
            "ns" => Some(1.0),
            "us" | "µs" | "μs" => Some(1e3),
            "ms" => Some(1e6),
            "s" => Some(1e9),
            "m" => Some(60e9),
            "h" => Some(3600e9),
            _ => None,
        };
        match (self, unit) {
            (_, _) if go.is_some() => go,
            (Units::GoAndPrometheus, "d") => Some(86_400e9),
            (Units::GoAndPrometheus, "w") => Some(7.0 * 86_400e9),
            (Units::GoAndPrometheus, "y") => Some(365.0 * 86_400e9),
            _ => None,
        }
    }
}

/// Parses a duration; errors are worded as Go's `time.ParseDuration`
/// words them. Negative durations are refused.
pub(crate) fn parse(s: &str, units: Units) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let mut rest = s;
    let negative = rest.starts_with('-');
    rest = rest.trim_start_matches(['-', '+']);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || negative {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        if num_len == 0 {
            return Err(invalid());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let nanos = units
            .nanos(unit)
            .ok_or_else(|| format!("time: unknown unit {unit:?} in duration {s:?}"))?;
        total += number * nanos;
        rest = &rest[unit_len..];
    }
    if total >= u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats a duration as Go's `time.Duration.String()` does (`5m0s`, `1.5s`, `300ms`).
pub(crate) fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (unit, div) = if nanos < 1_000 {
            ("ns", 1)
        } else if nanos < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_fraction(nanos, div));
    }
    let mut out = String::new();
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let seconds_nanos = nanos % 60_000_000_000;
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let _ = write!(out, "{}s", trim_fraction(seconds_nanos, 1_000_000_000));
    out
}

fn trim_fraction(value: u128, div: u128) -> String {
    let whole = value / div;
    let frac = value % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_and_prometheus_syntax() {
        let ttl = |s| parse(s, Units::GoAndPrometheus);
        assert_eq!(ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(ttl("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(ttl("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(ttl("2d"), Ok(Duration::from_secs(2 * 86_400)));
        assert_eq!(ttl("1w2d"), Ok(Duration::from_secs(9 * 86_400)));
        assert_eq!(ttl("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(ttl("0"), Ok(Duration::ZERO));
        assert!(ttl("-1s").is_err());
        assert!(ttl("10").unwrap_err().contains("missing unit"));
        assert!(ttl("3x").unwrap_err().contains("unknown unit \"x\""));
        // Go's own durations know no days.
        assert!(parse("2d", Units::Go).unwrap_err().contains("unknown unit"));
    }
}
