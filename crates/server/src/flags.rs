//! Command-line flags, parsed as the Go Pushgateway's kingpin parser does:
//! `--name=value` or `--name value`, booleans as `--name`, `--no-name` or
//! `--name=false`, repeatable `--web.listen-address`, `-h`/`--help`,
//! `--version`. Unknown flags are an error, so nothing is ignored silently.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::limits::Limits;

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Text,
    Repeated,
    Duration,
    Size,
    Count,
    Choice(&'static [&'static str]),
}

struct Spec {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    help: &'static str,
}

const SPECS: &[Spec] = &[
    Spec { name: "web.systemd-socket", kind: Kind::Bool, default: "false",
        help: "Use systemd socket activation listeners instead of port listeners (Linux only)." },
    Spec { name: "web.listen-address", kind: Kind::Repeated, default: ":9091",
        help: "Addresses on which to expose metrics and web interface. Repeatable for multiple addresses." },
    Spec { name: "web.config.file", kind: Kind::Text, default: "",
        help: "Path to configuration file that can enable TLS or authentication." },
    Spec { name: "web.telemetry-path", kind: Kind::Text, default: "/metrics",
        help: "Path under which to expose metrics." },
    Spec { name: "web.external-url", kind: Kind::Text, default: "",
        help: "The URL under which the Pushgateway is externally reachable." },
    Spec { name: "web.route-prefix", kind: Kind::Text, default: "",
        help: "Prefix for the internal routes of web endpoints. Defaults to the path of --web.external-url." },
    Spec { name: "web.enable-lifecycle", kind: Kind::Bool, default: "false",
        help: "Enable shutdown via HTTP request." },
    Spec { name: "web.enable-admin-api", kind: Kind::Bool, default: "false",
        help: "Enable API endpoints for admin control actions." },
    Spec { name: "web.local-assets", kind: Kind::Text, default: "",
        help: "Accepted for compatibility with Debian's packaging; the web UI's assets are built into the binary." },
    Spec { name: "web.unauthenticated-health", kind: Kind::Bool, default: "false",
        help: "Serve /-/healthy and /-/ready without basic authentication (for load balancers)." },
    Spec { name: "web.read-header-timeout", kind: Kind::Duration, default: "10s",
        help: "Maximum time to read a request's headers." },
    Spec { name: "web.idle-timeout", kind: Kind::Duration, default: "2m",
        help: "Maximum time an idle keep-alive connection stays open." },
    Spec { name: "web.read-timeout", kind: Kind::Duration, default: "5m",
        help: "Maximum time to read a whole request, body included." },
    Spec { name: "persistence.file", kind: Kind::Text, default: "",
        help: "File to persist metrics. If empty, metrics are only kept in memory." },
    Spec { name: "persistence.interval", kind: Kind::Duration, default: "5m",
        help: "The minimum interval at which to write out the persistence file." },
    Spec { name: "persistence.mode", kind: Kind::Choice(&["durable", "snapshot"]), default: "durable",
        help: "durable: every acknowledged change is in a write-ahead log before the response; snapshot: only the periodic snapshot, as the Go Pushgateway does." },
    Spec { name: "persistence.ignore-corrupt", kind: Kind::Bool, default: "false",
        help: "Start with whatever is readable when the persistence file or its log is corrupt, instead of refusing to start." },
    Spec { name: "push.disable-consistency-check", kind: Kind::Bool, default: "false",
        help: "Do not check consistency of pushed metrics. DANGEROUS." },
    Spec { name: "push.enable-utf8-names", kind: Kind::Bool, default: "false",
        help: "Allow UTF-8 characters in metric and label names." },
    Spec { name: "push.max-body-size", kind: Kind::Size, default: "128MiB",
        help: "Maximum size of a request body as sent (compressed or not)." },
    Spec { name: "push.max-decompressed-size", kind: Kind::Size, default: "256MiB",
        help: "Maximum size of a push body after decompression." },
    Spec { name: "push.max-series", kind: Kind::Count, default: "5000000",
        help: "Maximum number of series in one push." },
    Spec { name: "push.max-labels", kind: Kind::Count, default: "256",
        help: "Maximum number of labels of one series." },
    Spec { name: "push.max-label-value-length", kind: Kind::Size, default: "64KiB",
        help: "Maximum length of one label value, grouping labels included." },
    Spec { name: "push.max-groups", kind: Kind::Count, default: "1000000",
        help: "Maximum number of groups; pushes that would create more are refused." },
    Spec { name: "log.level", kind: Kind::Choice(&["debug", "info", "warn", "error"]), default: "info",
        help: "Only log messages with the given severity or above. One of: [debug, info, warn, error]" },
    Spec { name: "log.format", kind: Kind::Choice(&["logfmt", "json"]), default: "logfmt",
        help: "Output format of log messages. One of: [logfmt, json]" },
];

/// How persistence writes changes to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistenceMode {
    /// Write-ahead log, fsync'd before a push is acknowledged.
    Durable,
    /// Periodic snapshots only (the Go Pushgateway's behaviour).
    Snapshot,
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// The default.
    Info,
    /// Warnings and errors.
    Warn,
    /// Errors only.
    Error,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on.
    pub listen_addresses: Vec<String>,
    /// Use sockets passed by systemd.
    pub systemd_socket: bool,
    /// exporter-toolkit web config file (TLS, basic auth).
    pub web_config_file: String,
    /// Scrape path (joined to the route prefix).
    pub telemetry_path: String,
    /// The externally visible URL.
    pub external_url: String,
    /// Prefix of every route (computed as Go does).
    pub route_prefix: String,
    /// The path of the external URL, for links in the UI.
    pub external_path_prefix: String,
    /// Enable `/-/quit`.
    pub enable_lifecycle: bool,
    /// Enable `/api/v1/admin/wipe`.
    pub enable_admin_api: bool,
    /// Health endpoints without basic auth.
    pub unauthenticated_health: bool,
    /// Time allowed for request headers.
    pub read_header_timeout: Duration,
    /// Keep-alive idle timeout.
    pub idle_timeout: Duration,
    /// Time allowed for a whole request.
    pub read_timeout: Duration,
    /// Persistence file ("" = memory only).
    pub persistence_file: String,
    /// Snapshot interval.
    pub persistence_interval: Duration,
    /// Durable log or snapshots only.
    pub persistence_mode: PersistenceMode,
    /// Start despite a corrupt persistence file.
    pub persistence_ignore_corrupt: bool,
    /// Skip the consistency check.
    pub push_disable_consistency_check: bool,
    /// UTF-8 metric and label names.
    pub push_enable_utf8_names: bool,
    /// Request limits.
    pub limits: Limits,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log format.
    pub log_format: LogFormat,
    /// Every flag's value as text, for `/api/v1/status`.
    pub flag_values: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Config {
        match parse(Vec::<String>::new()) {
            Ok(Parsed::Run(config)) => *config,
            _ => unreachable!("the defaults are valid"),
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Start the gateway.
    Run(Box<Config>),
    /// Print this help text and exit.
    Help(String),
    /// Print the version and exit.
    Version,
}

/// A command-line problem, worded as kingpin words it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FlagError(String);

/// Parses the arguments (without the program name).
pub fn parse<I, S>(args: I) -> Result<Parsed, FlagError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut values: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" || arg == "--help-long" || arg == "--help-man" {
            return Ok(Parsed::Help(usage()));
        }
        if arg == "--version" {
            return Ok(Parsed::Version);
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(FlagError(if arg.starts_with('-') && arg.len() > 1 {
                format!("unknown short flag '{arg}'")
            } else {
                format!("unexpected {arg}")
            }));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let (spec, negated) = match SPECS.iter().find(|s| s.name == name) {
            Some(s) => (s, false),
            None => match name
                .strip_prefix("no-")
                .and_then(|n| SPECS.iter().find(|s| s.name == n))
            {
                Some(s) if s.kind == Kind::Bool && inline.is_none() => (s, true),
                _ => return Err(FlagError(format!("unknown long flag '--{name}'"))),
            },
        };
        let value = if spec.kind == Kind::Bool {
            match (negated, inline) {
                (true, _) => "false".to_string(),
                (false, None) => "true".to_string(),
                (false, Some(v)) => match v.as_str() {
                    "true" | "1" | "t" | "T" | "TRUE" | "True" => "true".to_string(),
                    "false" | "0" | "f" | "F" | "FALSE" | "False" => "false".to_string(),
                    _ => {
                        return Err(FlagError(format!(
                            "strconv.ParseBool: parsing {v:?}: invalid syntax"
                        )))
                    }
                },
            }
        } else {
            match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| FlagError(format!("expected argument for flag '--{name}'")))?,
            }
        };
        let slot = values.entry(spec.name).or_default();
        if spec.kind == Kind::Repeated {
            slot.push(value);
        } else {
            *slot = vec![value];
        }
    }
    build(values).map(|c| Parsed::Run(Box::new(c)))
}

fn build(mut values: BTreeMap<&'static str, Vec<String>>) -> Result<Config, FlagError> {
    let mut text: BTreeMap<String, String> = BTreeMap::new();
    for spec in SPECS {
        let given = values.entry(spec.name).or_default();
        if given.is_empty() {
            given.push(spec.default.to_string());
        }
        match spec.kind {
            Kind::Choice(choices) if !choices.contains(&given[0].as_str()) => {
                return Err(FlagError(format!(
                    "enum value must be one of {}, got '{}'",
                    choices.join(","),
                    given[0]
                )));
            }
            Kind::Duration => {
                parse_go_duration(&given[0])
                    .map_err(|e| FlagError(format!("{e} for flag '--{}'", spec.name)))?;
            }
            Kind::Size => {
                parse_size(&given[0])
                    .map_err(|e| FlagError(format!("{e} for flag '--{}'", spec.name)))?;
            }
            Kind::Count => {
                given[0].parse::<u64>().map_err(|_| {
                    FlagError(format!(
                        "expected a number for flag '--{}', got '{}'",
                        spec.name, given[0]
                    ))
                })?;
            }
            _ => {}
        }
        let shown = match spec.kind {
            Kind::Duration => format_go_duration(parse_go_duration(&given[0]).unwrap_or_default()),
            Kind::Repeated => given.join(","),
            _ => given[0].clone(),
        };
        text.insert(spec.name.to_string(), shown);
    }
    let one = |name: &str| {
        values
            .get(name)
            .and_then(|v| v.first())
            .cloned()
            .unwrap_or_default()
    };
    let flag = |name: &str| one(name) == "true";
    let duration = |name: &str| parse_go_duration(&one(name)).unwrap_or_default();
    let size = |name: &str| parse_size(&one(name)).unwrap_or(u64::MAX);
    let count = |name: &str| one(name).parse::<u64>().unwrap_or(u64::MAX);

    let external_url = one("web.external-url");
    let external_path = external_url_path(&external_url)?;
    let route_prefix = compute_route_prefix(&one("web.route-prefix"), &external_path);
    let external_path_prefix = compute_route_prefix("", &external_path);
    let listen_addresses = values
        .get("web.listen-address")
        .cloned()
        .unwrap_or_default();

    Ok(Config {
        listen_addresses,
        systemd_socket: flag("web.systemd-socket"),
        web_config_file: one("web.config.file"),
        telemetry_path: one("web.telemetry-path"),
        external_url,
        route_prefix,
        external_path_prefix,
        enable_lifecycle: flag("web.enable-lifecycle"),
        enable_admin_api: flag("web.enable-admin-api"),
        unauthenticated_health: flag("web.unauthenticated-health"),
        read_header_timeout: duration("web.read-header-timeout"),
        idle_timeout: duration("web.idle-timeout"),
        read_timeout: duration("web.read-timeout"),
        persistence_file: one("persistence.file"),
        persistence_interval: duration("persistence.interval"),
        persistence_mode: if one("persistence.mode") == "snapshot" {
            PersistenceMode::Snapshot
        } else {
            PersistenceMode::Durable
        },
        persistence_ignore_corrupt: flag("persistence.ignore-corrupt"),
        push_disable_consistency_check: flag("push.disable-consistency-check"),
        push_enable_utf8_names: flag("push.enable-utf8-names"),
        limits: Limits {
            max_body_size: size("push.max-body-size"),
            max_decompressed_size: size("push.max-decompressed-size"),
            max_series: count("push.max-series"),
            max_labels: count("push.max-labels"),
            max_label_value_length: size("push.max-label-value-length"),
            max_groups: count("push.max-groups"),
        },
        log_level: match one("log.level").as_str() {
            "debug" => LogLevel::Debug,
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => LogLevel::Info,
        },
        log_format: if one("log.format") == "json" {
            LogFormat::Json
        } else {
            LogFormat::Logfmt
        },
        flag_values: text,
    })
}

/// The path part of `--web.external-url` (which must be an absolute URL or
/// empty, as Go's `url.Parse` plus kingpin's URL check require).
fn external_url_path(url: &str) -> Result<String, FlagError> {
    if url.is_empty() {
        return Ok(String::new());
    }
    let Some((_, rest)) = url.split_once("://") else {
        return Err(FlagError(format!("invalid URL: {url:?}: missing scheme")));
    };
    let path_start = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let path = &rest[path_start..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    Ok(path.to_string())
}

/// Go's `computeRoutePrefix`: the prefix, or the external URL's path; `/`
/// becomes empty; a leading `/` is ensured and one trailing `/` removed.
pub fn compute_route_prefix(prefix: &str, external_path: &str) -> String {
    let mut prefix = if prefix.is_empty() {
        external_path
    } else {
        prefix
    }
    .to_string();
    if prefix == "/" {
        return String::new();
    }
    if !prefix.starts_with('/') {
        prefix.insert(0, '/');
    }
    if let Some(stripped) = prefix.strip_suffix('/') {
        prefix = stripped.to_string();
    }
    prefix
}

/// Parses a Go duration (`5m`, `1h30m`, `1.5s`, `300ms`, `0`).
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
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
        let nanos = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            unit => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += number * nanos;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats a duration as Go's `time.Duration.String()` does (`5m0s`, `1.5s`, `300ms`).
pub fn format_go_duration(d: Duration) -> String {
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

/// Parses a byte size: a number with an optional `B`, `KiB`, `MiB`, `GiB`
/// (or `KB`, `MB`, `GB`, meaning the same powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("invalid size {s:?}"))?;
    let factor: u64 = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "k" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        unit => return Err(format!("unknown size unit {unit:?} in {s:?}")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// The `--help` text.
pub fn usage() -> String {
    let mut out = String::from(
        "usage: pushgateway [<flags>]\n\nThe Pushgateway\n\nFlags:\n  -h, --help                 Show context-sensitive help.\n",
    );
    for spec in SPECS {
        let left = match spec.kind {
            Kind::Bool => format!("--{}", spec.name),
            Kind::Repeated => format!("--{}={} ...", spec.name, spec.default),
            _ => format!("--{}={:?}", spec.name, spec.default),
        };
        let _ = writeln!(out, "      {left}\n            {}", spec.help);
    }
    out.push_str("      --version                  Show application version.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Config {
        match parse(args.iter().copied()).unwrap() {
            Parsed::Run(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_match_go() {
        let c = run(&[]);
        assert_eq!(c.listen_addresses, vec![":9091"]);
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.persistence_interval, Duration::from_secs(300));
        assert_eq!(c.flag_values["persistence.interval"], "5m0s");
        assert_eq!(c.flag_values["web.enable-lifecycle"], "false");
        assert_eq!(c.route_prefix, "");
    }

    #[test]
    fn kingpin_syntax() {
        let c = run(&[
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address",
            "127.0.0.1:2",
            "--web.enable-lifecycle",
            "--no-web.enable-admin-api",
            "--push.disable-consistency-check=true",
            "--persistence.interval",
            "90s",
        ]);
        assert_eq!(c.listen_addresses, vec!["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(
            c.flag_values["web.listen-address"],
            "127.0.0.1:1,127.0.0.1:2"
        );
        assert!(c.enable_lifecycle && !c.enable_admin_api && c.push_disable_consistency_check);
        assert_eq!(c.flag_values["persistence.interval"], "1m30s");
    }

    #[test]
    fn unknown_flags_fail_loudly() {
        assert_eq!(
            parse(["--nope"]).unwrap_err().to_string(),
            "unknown long flag '--nope'"
        );
        assert!(parse(["--log.level=loud"]).is_err());
        assert!(parse(["--persistence.interval=5"]).is_err());
        assert!(parse(["--no-web.telemetry-path"]).is_err());
    }

    #[test]
    fn route_prefix_like_go() {
        assert_eq!(
            run(&["--web.external-url=http://example.com/foo/"]).route_prefix,
            "/foo"
        );
        assert_eq!(run(&["--web.route-prefix=/"]).route_prefix, "");
        assert_eq!(run(&["--web.route-prefix=bar/"]).route_prefix, "/bar");
        assert_eq!(
            run(&[
                "--web.external-url=http://example.com/foo/",
                "--web.route-prefix=/x"
            ])
            .external_path_prefix,
            "/foo"
        );
    }

    #[test]
    fn go_durations() {
        for (s, d) in [
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1.5s", 1_500),
            ("300ms", 300),
            ("0", 0),
        ] {
            assert_eq!(
                parse_go_duration(s).unwrap(),
                Duration::from_millis(d),
                "{s}"
            );
        }
        for (d, s) in [
            (300_000, "5m0s"),
            (5_400_000, "1h30m0s"),
            (1_500, "1.5s"),
            (300, "300ms"),
            (0, "0s"),
            (1_000, "1s"),
        ] {
            assert_eq!(format_go_duration(Duration::from_millis(d)), s);
        }
    }
}
