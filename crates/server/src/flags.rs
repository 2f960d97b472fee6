//! Command-line flags, parsed as the Go Pushgateway's kingpin parser does:
//! `--name=value` or `--name value`, booleans as `--name`, `--no-name` or
//! `--name=false`, repeatable `--web.listen-address`, `-h`/`--help`,
//! `--version`. Unknown flags are an error, so nothing is ignored silently.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use exposition::NameValidation;
use store::{ConsistencyCheck, OnCorruption, PersistMode};

use crate::duration::{format_go_duration, Units};
use crate::lifetime::TtlPolicy;
use crate::limits::Limits;

/// What a flag holds: how its value is read, shown in `--help` and in
/// `/api/v1/status`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Text,
    Repeated,
    Duration,
    /// A TTL: Go's or Prometheus' duration syntax.
    Ttl,
    Size,
    Count,
    Choice(&'static [&'static str]),
}

/// Writes a flag's value (the given ones, or the default) into its
/// configuration field; an error says what is wrong with the value.
type Setter = fn(&mut Config, &[String]) -> Result<(), String>;

struct Spec {
    name: &'static str,
    kind: Kind,
    default: DefaultValue,
    help: &'static str,
    set: Setter,
}

/// A flag's default.
enum DefaultValue {
    Text(&'static str),
    Size(u64),
    Count(u64),
    /// A size that depends on the machine.
    Computed(fn() -> u64),
}

impl DefaultValue {
    fn text(&self) -> String {
        match self {
            DefaultValue::Text(t) => (*t).to_string(),
            DefaultValue::Size(n) => format_size(*n),
            DefaultValue::Count(n) => n.to_string(),
            DefaultValue::Computed(f) => format_size(f()),
        }
    }
}

/// The last value given (flags other than repeated ones keep the last).
fn last(values: &[String]) -> &str {
    values.last().map_or("", String::as_str)
}

fn flag(values: &[String]) -> bool {
    last(values) == "true"
}

fn text(values: &[String]) -> String {
    last(values).to_string()
}

fn duration(values: &[String]) -> Result<Duration, String> {
    parse_go_duration(last(values))
}

fn ttl(values: &[String]) -> Result<Duration, String> {
    crate::lifetime::parse_ttl(last(values))
}

fn size(values: &[String]) -> Result<u64, String> {
    parse_size(last(values))
}

fn count(values: &[String]) -> Result<u64, String> {
    let v = last(values);
    v.parse::<u64>()
        .map_err(|_| format!("expected a number, got '{v}'"))
}

/// `--persistence.file` when not given: empty (memory only), as upstream
/// Go; a packaged build sets Debian's `/var/lib/prometheus/pushgateway.data`
/// through `PUSHGATEWAY_DEFAULT_PERSISTENCE_FILE` at build time, as Debian's
/// patched Go binary has it, so that swapping binaries keeps persistence.
const DEFAULT_PERSISTENCE_FILE: &str = match option_env!("PUSHGATEWAY_DEFAULT_PERSISTENCE_FILE") {
    Some(file) => file,
    None => "",
};

/// `--persistence.ignore-corrupt` when not given: `false`; a packaged
/// build sets `true` (`PUSHGATEWAY_DEFAULT_IGNORE_CORRUPT`), so that a
/// service never crash-loops on a damaged file, as the Go gateway does not.
const DEFAULT_IGNORE_CORRUPT: &str = match option_env!("PUSHGATEWAY_DEFAULT_IGNORE_CORRUPT") {
    Some(value) => value,
    None => "false",
};

const SPECS: &[Spec] = &[
    Spec { name: "web.systemd-socket", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Use systemd socket activation listeners instead of port listeners (Linux only).",
        set: |c, v| { c.systemd_socket = flag(v); Ok(()) } },
    Spec { name: "web.listen-address", kind: Kind::Repeated, default: DefaultValue::Text(":9091"),
        help: "Addresses on which to expose metrics and web interface. Repeatable for multiple addresses.",
        set: |c, v| { c.listen_addresses = v.to_vec(); Ok(()) } },
    Spec { name: "web.config.file", kind: Kind::Text, default: DefaultValue::Text(""),
        help: "Path to configuration file that can enable TLS or authentication.",
        set: |c, v| { c.web_config_file = text(v); Ok(()) } },
    Spec { name: "web.auth-config", kind: Kind::Text, default: DefaultValue::Text(""),
        help: "Path to a YAML file giving principals (basic-auth users, bearer tokens, client certificate subjects) read, push (per grouping key) and admin rights. If empty, every authenticated request may do everything.",
        set: |c, v| { c.auth_config_file = text(v); Ok(()) } },
    Spec { name: "web.telemetry-path", kind: Kind::Text, default: DefaultValue::Text("/metrics"),
        help: "Path under which to expose metrics.",
        set: |c, v| { c.telemetry_path = text(v); Ok(()) } },
    Spec { name: "web.external-url", kind: Kind::Text, default: DefaultValue::Text(""),
        help: "The URL under which the Pushgateway is externally reachable.",
        set: |c, v| { c.external_url = text(v); Ok(()) } },
    Spec { name: "web.route-prefix", kind: Kind::Text, default: DefaultValue::Text(""),
        help: "Prefix for the internal routes of web endpoints. Defaults to the path of --web.external-url.",
        set: |c, v| { c.route_prefix = text(v); Ok(()) } },
    Spec { name: "web.enable-lifecycle", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Enable shutdown via HTTP request.",
        set: |c, v| { c.enable_lifecycle = flag(v); Ok(()) } },
    Spec { name: "web.enable-admin-api", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Enable API endpoints for admin control actions.",
        set: |c, v| { c.enable_admin_api = flag(v); Ok(()) } },
    Spec { name: "web.local-assets", kind: Kind::Text, default: DefaultValue::Text(""),
        help: "Accepted for compatibility with Debian's packaging; the web UI's assets are built into the binary.",
        set: |c, v| { c.local_assets = text(v); Ok(()) } },
    Spec { name: "web.unauthenticated-health", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Serve /-/healthy and /-/ready without basic authentication (for load balancers).",
        set: |c, v| { c.unauthenticated_health = flag(v); Ok(()) } },
    Spec { name: "web.read-header-timeout", kind: Kind::Duration, default: DefaultValue::Text("10s"),
        help: "Maximum time to read a request's headers.",
        set: |c, v| { c.read_header_timeout = duration(v)?; Ok(()) } },
    Spec { name: "web.idle-timeout", kind: Kind::Duration, default: DefaultValue::Text("2m"),
        help: "Maximum time an idle keep-alive connection stays open.",
        set: |c, v| { c.idle_timeout = duration(v)?; Ok(()) } },
    Spec { name: "web.read-timeout", kind: Kind::Duration, default: DefaultValue::Text("5m"),
        help: "Maximum time to read a whole request, body included.",
        set: |c, v| { c.read_timeout = duration(v)?; Ok(()) } },
    Spec { name: "persistence.file", kind: Kind::Text, default: DefaultValue::Text(DEFAULT_PERSISTENCE_FILE),
        help: "File to persist metrics. If empty, metrics are only kept in memory.",
        set: |c, v| { c.persistence_file = text(v); Ok(()) } },
    Spec { name: "persistence.interval", kind: Kind::Duration, default: DefaultValue::Text("5m"),
        help: "The minimum interval at which to write out the persistence file.",
        set: |c, v| { c.persistence_interval = duration(v)?; Ok(()) } },
    Spec { name: "persistence.mode", kind: Kind::Choice(&["durable", "snapshot"]), default: DefaultValue::Text("durable"),
        help: "durable: every acknowledged change is in a write-ahead log before the response; snapshot: only the periodic snapshot, as the Go Pushgateway does.",
        set: |c, v| {
            c.persistence_mode = match last(v) {
                "snapshot" => PersistMode::Snapshot,
                _ => PersistMode::Durable,
            };
            Ok(())
        } },
    Spec { name: "persistence.ignore-corrupt", kind: Kind::Bool, default: DefaultValue::Text(DEFAULT_IGNORE_CORRUPT),
        help: "Start with whatever is readable when the persistence file or its log is corrupt, instead of refusing to start.",
        set: |c, v| {
            c.persistence_on_corruption = if flag(v) { OnCorruption::KeepReadable } else { OnCorruption::Refuse };
            Ok(())
        } },
    Spec { name: "push.disable-consistency-check", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Do not check consistency of pushed metrics. DANGEROUS.",
        set: |c, v| {
            c.consistency = if flag(v) { ConsistencyCheck::Off } else { ConsistencyCheck::OnPush };
            Ok(())
        } },
    Spec { name: "push.enable-utf8-names", kind: Kind::Bool, default: DefaultValue::Text("false"),
        help: "Allow UTF-8 characters in metric and label names.",
        set: |c, v| {
            c.names = if flag(v) { NameValidation::Utf8 } else { NameValidation::Legacy };
            Ok(())
        } },
    Spec { name: "push.max-body-size", kind: Kind::Size, default: DefaultValue::Size(Limits::DEFAULT.max_body_size),
        help: "Maximum size of a request body as sent (compressed or not).",
        set: |c, v| { c.limits.max_body_size = size(v)?; Ok(()) } },
    Spec { name: "push.max-decompressed-size", kind: Kind::Size, default: DefaultValue::Size(Limits::DEFAULT.max_decompressed_size),
        help: "Maximum size of a push body after decompression.",
        set: |c, v| { c.limits.max_decompressed_size = size(v)?; Ok(()) } },
    Spec { name: "push.max-inflight-size", kind: Kind::Size, default: DefaultValue::Computed(crate::inflight::default_budget),
        help: "Maximum memory that requests being read, decompressed and parsed may hold at once, all together; beyond it a request waits up to 1s, then gets 503 (default: a quarter of the memory, at most 4GiB).",
        set: |c, v| { c.limits.max_inflight_size = size(v)?; Ok(()) } },
    Spec { name: "push.max-series", kind: Kind::Count, default: DefaultValue::Count(Limits::DEFAULT.max_series),
        help: "Maximum number of series in one push.",
        set: |c, v| { c.limits.max_series = count(v)?; Ok(()) } },
    Spec { name: "push.max-labels", kind: Kind::Count, default: DefaultValue::Count(Limits::DEFAULT.max_labels),
        help: "Maximum number of labels of one series.",
        set: |c, v| { c.limits.max_labels = count(v)?; Ok(()) } },
    Spec { name: "push.max-label-value-length", kind: Kind::Size, default: DefaultValue::Size(Limits::DEFAULT.max_label_value_length),
        help: "Maximum length of one label value, grouping labels included.",
        set: |c, v| { c.limits.max_label_value_length = size(v)?; Ok(()) } },
    Spec { name: "push.max-groups", kind: Kind::Count, default: DefaultValue::Count(Limits::DEFAULT.max_groups),
        help: "Maximum number of groups; pushes that would create more are refused.",
        set: |c, v| { c.limits.max_groups = count(v)?; Ok(()) } },
    Spec { name: "push.default-ttl", kind: Kind::Ttl, default: DefaultValue::Text("0"),
        help: "TTL of a group pushed without a Pushgateway-TTL header, counted from its last successful push; 0 never expires. Go's or Prometheus' duration syntax (1.5h, 2d).",
        set: |c, v| { c.ttl.default = ttl(v)?; Ok(()) } },
    Spec { name: "metric.timetolive", kind: Kind::Ttl, default: DefaultValue::Text(""),
        help: "Alias of --push.default-ttl.",
        set: |c, v| {
            if !last(v).is_empty() {
                c.ttl.default = ttl(v)?;
            }
            Ok(())
        } },
    Spec { name: "push.max-ttl", kind: Kind::Ttl, default: DefaultValue::Text("0"),
        help: "Longest TTL a push may ask for with the Pushgateway-TTL header (then 0, never expire, is refused too); 0 for no cap.",
        set: |c, v| { c.ttl.max = Some(ttl(v)?).filter(|m| !m.is_zero()); Ok(()) } },
    Spec { name: "log.level", kind: Kind::Choice(&["debug", "info", "warn", "error"]), default: DefaultValue::Text("info"),
        help: "Only log messages with the given severity or above. One of: [debug, info, warn, error]",
        set: |c, v| {
            c.log_level = match last(v) {
                "debug" => LogLevel::Debug,
                "warn" => LogLevel::Warn,
                "error" => LogLevel::Error,
                _ => LogLevel::Info,
            };
            Ok(())
        } },
    Spec { name: "log.format", kind: Kind::Choice(&["logfmt", "json"]), default: DefaultValue::Text("logfmt"),
        help: "Output format of log messages. One of: [logfmt, json]",
        set: |c, v| {
            c.log_format = if last(v) == "json" { LogFormat::Json } else { LogFormat::Logfmt };
            Ok(())
        } },
];

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
    /// `--web.local-assets` as given: accepted for Debian's packaging, not
    /// used (the UI is built in).
    pub local_assets: String,
    /// exporter-toolkit web config file (TLS, basic auth).
    pub web_config_file: String,
    /// `--web.auth-config`: who may read, push and administer ("" = any
    /// authenticated request may do everything).
    pub auth_config_file: String,
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
    pub persistence_mode: PersistMode,
    /// What start-up does with a corrupt persistence file.
    pub persistence_on_corruption: OnCorruption,
    /// When pushes are checked for consistency.
    pub consistency: ConsistencyCheck,
    /// Metric and label name rules.
    pub names: NameValidation,
    /// Request limits.
    pub limits: Limits,
    /// Group TTLs.
    pub ttl: TtlPolicy,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log format.
    pub log_format: LogFormat,
    /// Every flag's value as text, for `/api/v1/status`.
    pub flag_values: BTreeMap<String, String>,
}

impl std::default::Default for Config {
    fn default() -> Config {
        match parse(Vec::<String>::new()) {
            Ok(Parsed::Run(config)) => *config,
            _ => unreachable!("the defaults are valid"),
        }
    }
}

impl Config {
    /// A configuration with every field empty, before the flag table
    /// writes the given values and the defaults into it.
    fn blank() -> Config {
        Config {
            listen_addresses: Vec::new(),
            systemd_socket: false,
            local_assets: String::new(),
            web_config_file: String::new(),
            auth_config_file: String::new(),
            telemetry_path: String::new(),
            external_url: String::new(),
            route_prefix: String::new(),
            external_path_prefix: String::new(),
            enable_lifecycle: false,
            enable_admin_api: false,
            unauthenticated_health: false,
            read_header_timeout: Duration::ZERO,
            idle_timeout: Duration::ZERO,
            read_timeout: Duration::ZERO,
            persistence_file: String::new(),
            persistence_interval: Duration::ZERO,
            persistence_mode: PersistMode::Durable,
            persistence_on_corruption: OnCorruption::Refuse,
            consistency: ConsistencyCheck::OnPush,
            names: NameValidation::Legacy,
            limits: Limits::DEFAULT,
            ttl: TtlPolicy::default(),
            log_level: LogLevel::Info,
            log_format: LogFormat::Logfmt,
            flag_values: BTreeMap::new(),
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
    /// Print a man page and exit (`--help-man`).
    Man,
    /// Print a shell's completion script and exit.
    CompletionScript(Shell),
    /// Print the completions for the words typed so far and exit
    /// (`--completion-bash`, what the completion scripts call).
    Completions(String),
}

/// A shell that `--completion-script-<shell>` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// `--completion-script-bash`.
    Bash,
    /// `--completion-script-zsh`.
    Zsh,
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
    // The values given, by position in the flag table.
    let mut values: Vec<Vec<String>> = vec![Vec::new(); SPECS.len()];
    let all: Vec<String> = args.into_iter().map(Into::into).collect();
    if let Some(at) = all.iter().position(|a| a == "--completion-bash") {
        // The words typed so far, as kingpin answers them: parse errors
        // are ignored.
        return Ok(Parsed::Completions(completions(&all[at + 1..])));
    }
    let mut args = all.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" | "--help-long" => return Ok(Parsed::Help(usage())),
            "--help-man" => return Ok(Parsed::Man),
            "--completion-script-bash" => return Ok(Parsed::CompletionScript(Shell::Bash)),
            "--completion-script-zsh" => return Ok(Parsed::CompletionScript(Shell::Zsh)),
            "--version" => return Ok(Parsed::Version),
            _ => {}
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
        let position = |n: &str| SPECS.iter().position(|s| s.name == n);
        let (index, negated) = match position(name) {
            Some(i) => (i, false),
            None => match name.strip_prefix("no-").and_then(position) {
                Some(i) if SPECS[i].kind == Kind::Bool && inline.is_none() => (i, true),
                _ => return Err(FlagError(format!("unknown long flag '--{name}'"))),
            },
        };
        let spec = &SPECS[index];
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
        let slot = &mut values[index];
        if spec.kind != Kind::Repeated {
            slot.clear();
        }
        slot.push(value);
    }
    build(values).map(|c| Parsed::Run(Box::new(c)))
}

fn build(values: Vec<Vec<String>>) -> Result<Config, FlagError> {
    let mut config = Config::blank();
    for (spec, mut given) in SPECS.iter().zip(values) {
        if given.is_empty() {
            given.push(spec.default.text());
        }
        if let Kind::Choice(choices) = spec.kind {
            if !choices.contains(&last(&given)) {
                return Err(FlagError(format!(
                    "enum value must be one of {}, got '{}'",
                    choices.join(","),
                    last(&given)
                )));
            }
        }
        (spec.set)(&mut config, &given).map_err(|e| {
            FlagError(match spec.kind {
                Kind::Count => format!(
                    "expected a number for flag '--{}', got '{}'",
                    spec.name,
                    last(&given)
                ),
                _ => format!("{e} for flag '--{}'", spec.name),
            })
        })?;
        let shown = match spec.kind {
            Kind::Duration => format_go_duration(duration(&given).unwrap_or_default()),
            Kind::Ttl if last(&given).is_empty() => String::new(),
            Kind::Ttl => format_go_duration(ttl(&given).unwrap_or_default()),
            Kind::Repeated => given.join(","),
            _ => last(&given).to_string(),
        };
        config.flag_values.insert(spec.name.to_string(), shown);
    }
    config.ttl.check().map_err(FlagError)?;
    let external_path = external_url_path(&config.external_url)?;
    config.route_prefix = compute_route_prefix(&config.route_prefix, &external_path);
    config.external_path_prefix = compute_route_prefix("", &external_path);
    Ok(config)
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
    crate::duration::parse(s, Units::Go)
}

/// A byte size as `--help` shows defaults: the largest binary unit that
/// divides it (`128MiB`, `64KiB`, `100B`).
pub fn format_size(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n != 0 && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
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
        "usage: pushgateway [<flags>]\n\nThe Pushgateway\n\nFlags:\n  -h, --help                 Show context-sensitive help (also try --help-long and --help-man).\n",
    );
    for spec in SPECS {
        let default = spec.default.text();
        let left = match spec.kind {
            Kind::Bool => format!("--{}", spec.name),
            Kind::Repeated => format!("--{}={default} ...", spec.name),
            _ => format!("--{}={default:?}", spec.name),
        };
        let _ = writeln!(out, "      {left}\n            {}", spec.help);
    }
    out.push_str("      --version                  Show application version.\n");
    out
}

/// What a shell may complete after `words`: the values of a choice flag
/// being given, else every flag (the shell filters by what is typed).
fn completions(words: &[String]) -> String {
    let current = words.last().map_or("", String::as_str);
    let previous = words.len().checked_sub(2).map_or("", |i| words[i].as_str());
    let choices_of = |name: &str| {
        SPECS
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| match s.kind {
                Kind::Choice(c) => Some(c),
                _ => None,
            })
    };
    let given = current
        .strip_prefix("--")
        .and_then(|c| c.split_once('=').map(|(n, _)| n))
        .and_then(choices_of)
        .or_else(|| previous.strip_prefix("--").and_then(choices_of));
    if let Some(choices) = given {
        if !choices.contains(&current) {
            return choices.join("\n");
        }
    }
    let mut names = vec!["--help".to_string()];
    names.extend(SPECS.iter().map(|s| format!("--{}", s.name)));
    names.push("--version".into());
    names.join("\n")
}

/// The completion script for `shell`, as kingpin writes it: it asks
/// `program --completion-bash` for the candidates.
pub fn completion_script(shell: Shell, program: &str) -> String {
    match shell {
        Shell::Bash => format!(
            r#"
_{program}_bash_autocomplete() {{
    local cur prev opts base
    COMPREPLY=()
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    opts=$( ${{COMP_WORDS[0]}} --completion-bash "${{COMP_WORDS[@]:1:$COMP_CWORD}}" )
    COMPREPLY=( $(compgen -W "${{opts}}" -- ${{cur}}) )
    return 0
}}
complete -F _{program}_bash_autocomplete -o default {program}

"#
        ),
        Shell::Zsh => format!(
            r#"#compdef {program}

_{program}() {{
    local matches=($(${{words[1]}} --completion-bash "${{(@)words[2,$CURRENT]}}"))
    compadd -a matches

    if [[ $compstate[nmatches] -eq 0 && $words[$CURRENT] != -* ]]; then
        _files
    fi
}}

if [[ "$(basename -- ${{(%):-%x}})" != "_{program}" ]]; then
    compdef _{program} {program}
fi
"#
        ),
    }
}

/// Escapes text for roff: backslashes, and a leading `.` or `'` that
/// would read as a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

/// The man page `--help-man` prints: every flag with its default and help.
pub fn man_page(program: &str, version: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        ".TH {} 1 \"{}\" \"\" \"Prometheus Pushgateway\"",
        program.to_uppercase(),
        roff(version)
    );
    let _ = writeln!(
        out,
        ".SH NAME\n{} \\- the Prometheus Pushgateway",
        roff(program)
    );
    let _ = writeln!(out, ".SH SYNOPSIS\n.B {}\n[\\fIflags\\fR]", roff(program));
    out.push_str(concat!(
        ".SH DESCRIPTION\n",
        "Accepts metrics pushed by batch jobs over HTTP and exposes them for Prometheus to scrape. ",
        "Drop-in compatible with the Go Pushgateway: the same routes, flags, status codes, JSON API and persistence.\n",
        ".SH OPTIONS\n",
        ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nShow help (also \\fB\\-\\-help\\-long\\fR and \\fB\\-\\-help\\-man\\fR).\n",
    ));
    for spec in SPECS {
        let value = match spec.kind {
            Kind::Bool => String::new(),
            _ => format!("=\\fI{}\\fR", roff(&spec.default.text())),
        };
        let _ = writeln!(
            out,
            ".TP\n\\fB\\-\\-{}\\fR{value}\n{}",
            roff(spec.name),
            roff(spec.help)
        );
    }
    out.push_str(concat!(
        ".TP\n\\fB\\-\\-version\\fR\nShow the version and build details.\n",
        ".SH SIGNALS\n",
        "SIGTERM and SIGINT stop the gateway cleanly (persisting what is stored). ",
        "SIGHUP reloads \\fB\\-\\-web.config.file\\fR and the TLS certificates it names, and \\fB\\-\\-web.auth-config\\fR.\n",
        ".SH SEE ALSO\n\\fBpushgw\\fR(1), \\fBprometheus\\fR(1)\n",
    ));
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
        assert!(c.enable_lifecycle && !c.enable_admin_api);
        assert_eq!(c.consistency, ConsistencyCheck::Off);
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
