//! The command line as clap sees it: global options, subcommands and their
//! help texts. Values are parsed into plain types here; turning them into a
//! client and payloads is `config.rs`'s and `commands.rs`'s job.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit status:
  0    success
  1    an input file could not be read
  2    invalid usage or input (bad label name, unparseable value, bad JSON line, ...)
  3    the gateway refused the request (its message is printed)
  4    the gateway could not be reached (connection refused, TLS failure, timeout)
  `pushgw run` exits with the command's own status instead.

Every global option can also be set through the environment variable shown
with it; the command line wins. Switches take 1/0, true/false, yes/no or
on/off there.";

/// Push metrics to a Prometheus Pushgateway from scripts, cron jobs and
/// workflows.
#[derive(Debug, Parser)]
#[command(
    name = "pushgw",
    version,
    about = "Push metrics to a Prometheus Pushgateway from scripts, cron jobs and workflows.",
    long_about = "Push metrics to a Prometheus Pushgateway from scripts, cron jobs and workflows.\n\n\
                  A group on the gateway is named by a job and grouping labels \
                  (--job J -g LABEL=VALUE ...). Any value works, including ones with \
                  slashes, spaces or nothing at all: pushgw encodes them the way the \
                  gateway decodes them.",
    after_help = EXIT_CODES,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options of every subcommand: where the gateway is and how to reach it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Gateway options")]
pub(crate) struct Global {
    /// Base URL of the Pushgateway (a path prefix is kept; `http://` is
    /// assumed without a scheme)
    #[arg(
        long,
        env = "PUSHGATEWAY_URL",
        value_name = "URL",
        default_value = "http://localhost:9091",
        global = true
    )]
    pub(crate) gateway: String,

    /// Time limit of each request: `30s`, `1.5s`, `500ms`, `2m`, `1h` or
    /// plain seconds (`30`); `0` or `none` for no limit
    #[arg(
        long,
        env = "PUSHGATEWAY_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_timeout,
        global = true
    )]
    pub(crate) timeout: Timeout,

    /// Retry connection failures and 5xx answers up to N times, with
    /// exponential backoff
    #[arg(
        long,
        env = "PUSHGATEWAY_RETRIES",
        value_name = "N",
        default_value_t = 0,
        global = true
    )]
    pub(crate) retries: u32,

    /// HTTP basic auth; without `:PASSWORD` the password comes from
    /// --password-file
    #[arg(
        long,
        env = "PUSHGATEWAY_BASIC_AUTH",
        value_name = "USER[:PASSWORD]",
        hide_env_values = true,
        global = true
    )]
    pub(crate) basic_auth: Option<String>,

    /// File holding the basic-auth password (a trailing newline is ignored)
    #[arg(
        long,
        env = "PUSHGATEWAY_PASSWORD_FILE",
        value_name = "FILE",
        global = true
    )]
    pub(crate) password_file: Option<PathBuf>,

    /// Send `Authorization: Bearer TOKEN`
    #[arg(
        long,
        env = "PUSHGATEWAY_BEARER_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        conflicts_with_all = ["basic_auth", "bearer_token_file"],
        global = true
    )]
    pub(crate) bearer_token: Option<String>,

    /// File holding the bearer token (a trailing newline is ignored)
    #[arg(
        long,
        env = "PUSHGATEWAY_BEARER_TOKEN_FILE",
        value_name = "FILE",
        conflicts_with = "basic_auth",
        global = true
    )]
    pub(crate) bearer_token_file: Option<PathBuf>,

    /// Extra header for every request, e.g. `-H 'X-Scope-OrgID: team-a'`
    /// (repeatable; in the environment variable, one header per line)
    #[arg(
        long = "header",
        short = 'H',
        env = "PUSHGATEWAY_HEADERS",
        value_name = "NAME:VALUE",
        value_delimiter = '\n',
        hide_env_values = true,
        global = true
    )]
    pub(crate) headers: Vec<String>,

    /// Trust the CA certificates in this PEM file instead of the system's
    #[arg(long, env = "PUSHGATEWAY_CACERT", value_name = "FILE", global = true)]
    pub(crate) cacert: Option<PathBuf>,

    /// Client certificate (PEM) for gateways that require one; needs --key
    #[arg(
        long,
        env = "PUSHGATEWAY_CERT",
        value_name = "FILE",
        requires = "key",
        global = true
    )]
    pub(crate) cert: Option<PathBuf>,

    /// Private key (PEM) of the client certificate; needs --cert
    #[arg(
        long,
        env = "PUSHGATEWAY_KEY",
        value_name = "FILE",
        requires = "cert",
        global = true
    )]
    pub(crate) key: Option<PathBuf>,

    /// Accept any server certificate (for tests: the traffic can be read
    /// and changed)
    #[arg(
        long,
        env = "PUSHGATEWAY_INSECURE_SKIP_VERIFY",
        value_parser = BoolishValueParser::new(),
        global = true
    )]
    pub(crate) insecure_skip_verify: bool,

    /// Compress pushed bodies (Go gateways before 1.6 know only gzip); for
    /// push, gauge, gauges and run only: delete, list and wipe send no body
    /// and ignore it
    #[arg(
        long,
        env = "PUSHGATEWAY_COMPRESSION",
        value_enum,
        value_name = "ALGORITHM",
        default_value = "none",
        ignore_case = true,
        global = true
    )]
    pub(crate) compression: CompressionArg,

    /// Print what is pushed to standard error
    #[arg(
        long,
        short = 'v',
        env = "PUSHGATEWAY_VERBOSE",
        value_parser = BoolishValueParser::new(),
        global = true
    )]
    pub(crate) verbose: bool,
}

/// A request time limit; `None` waits forever.
pub(crate) type Timeout = Option<Duration>;

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressionArg {
    /// No compression.
    None,
    /// gzip.
    Gzip,
    /// Snappy, framed format (Go gateway 1.6+ and ours).
    Snappy,
}

/// What `pushgw generate` writes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Generated {
    /// The man page (roff), for `man 1 pushgw`.
    Man,
    /// bash completion.
    Bash,
    /// zsh completion.
    Zsh,
    /// fish completion.
    Fish,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print the man page or a shell's completion script (for packagers)
    #[command(hide = true)]
    Generate {
        /// What to print
        #[arg(value_enum)]
        what: Generated,
    },

    /// Push exposition text (format 0.0.4) from a file or standard input
    #[command(
        long_about = "Push exposition text (format 0.0.4) from a file or standard input.\n\n\
                      Without --add the group is replaced (PUT); with --add only the metric \
                      names pushed are replaced (POST). The text is sent as it is; the gateway \
                      checks it and its complaint is printed if it refuses.",
        after_help = "Example:\n  echo 'backup_size_bytes 1.2e9' | pushgw push --job backup -g host=db1"
    )]
    Push(PushArgs),

    /// Push one gauge sample
    #[command(
        after_help = "Example:\n  pushgw gauge --job nightly --name rows_copied --label table=users 1234"
    )]
    Gauge(GaugeArgs),

    /// Push gauge samples from JSON lines, one push per group
    #[command(
        long_about = "Push gauge samples read as JSON lines, one push per distinct value of the \
                      --group-by labels.\n\n\
                      Each line is an object: {\"value\": 1.5, \"labels\": {\"table\": \"users\", \
                      \"instance\": \"w1\"}}. The value is a number or a string such as \"NaN\" \
                      or \"+Inf\"; label values are strings (numbers and booleans are turned \
                      into strings). The --group-by labels of each sample join the grouping key \
                      (with --job and -g); samples that share their values go into one gauge \
                      family pushed to that group. This is the PushGaugeToGateway task of \
                      workflow tools, with every group pushed to its own key.",
        after_help = "Example:\n  printf '%s\\n' '{\"value\": 120, \"labels\": {\"table\": \"users\", \"instance\": \"w1\"}}' \\\n    '{\"value\": 7, \"labels\": {\"table\": \"orders\", \"instance\": \"w2\"}}' |\n  pushgw gauges --job etl --name table_rows --group-by instance"
    )]
    Gauges(GaugesArgs),

    /// Delete a group
    #[command(after_help = "Example:\n  pushgw delete --job backup -g host=db1")]
    Delete(DeleteArgs),

    /// List the groups on the gateway, with their last push and its outcome
    List(ListArgs),

    /// Delete every group (needs a gateway started with --web.enable-admin-api)
    Wipe(WipeArgs),

    /// Run a command, then push how it went
    #[command(
        long_about = "Run a command (its output goes where pushgw's goes), then push-add (POST) \
                      to the group:\n\
                      \n  pushgw_run_duration_seconds                how long it ran\
                      \n  pushgw_run_exit_code                       its exit status (127: not found,\
                      \n                                             128+N: killed by signal N)\
                      \n  pushgw_run_last_success_timestamp_seconds  when it last succeeded (status 0), or\
                      \n  pushgw_run_last_failure_timestamp_seconds  when it last failed\n\n\
                      Push-add keeps the last success when a later run fails. pushgw exits with \
                      the command's status; a failed push is reported on standard error and \
                      does not change it unless --fail-on-push-error is given.\n\n\
                      Signals do not stop pushgw before the push: SIGTERM and SIGHUP (kill, \
                      timeout, systemd) are passed on to the command, SIGINT and SIGQUIT \
                      (Ctrl-C, Ctrl-\\) reach it from the terminal; when it ends, its status \
                      (130 for SIGINT, 143 for SIGTERM) is pushed as a failure and pushgw exits \
                      with it.",
        after_help = "Example (crontab):\n  0 3 * * * pushgw run --job nightly_backup -g host=db1 -- /usr/local/bin/backup.sh"
    )]
    Run(RunArgs),
}

/// The group: job and grouping labels.
#[derive(Debug, Args)]
pub(crate) struct GroupArgs {
    /// The job name
    #[arg(
        long,
        short = 'j',
        env = "PUSHGATEWAY_JOB",
        value_name = "JOB",
        help_heading = "Group"
    )]
    pub(crate) job: String,

    #[command(flatten)]
    pub(crate) labels: GroupingLabels,
}

/// The grouping labels besides `job` (`-g`), for every command that names
/// a group.
#[derive(Debug, Args)]
pub(crate) struct GroupingLabels {
    /// A grouping label (repeatable, each label once); an empty VALUE is
    /// allowed
    #[arg(
        long = "grouping",
        short = 'g',
        value_name = "LABEL=VALUE",
        value_parser = parse_pair,
        help_heading = "Group"
    )]
    pub(crate) grouping: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    pub(crate) group: GroupArgs,

    /// Replace only the pushed metric names (POST) instead of the group (PUT)
    #[arg(long)]
    pub(crate) add: bool,

    /// Ask the gateway to remove the group this long after the push
    /// (`90s`, `1.5h`, `2d`, `1w`; `0` never): the `Pushgateway-TTL` header
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(crate) ttl: Option<Duration>,

    /// The exposition text; `-` is standard input
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct GaugeArgs {
    #[command(flatten)]
    pub(crate) group: GroupArgs,

    /// The metric name
    #[arg(long, short = 'n', value_name = "NAME")]
    pub(crate) name: String,

    /// The HELP text of the metric (--help shows this help)
    #[arg(long, alias = "description", value_name = "TEXT", default_value = "")]
    pub(crate) help_text: String,

    /// A label of the sample (repeatable, each label once)
    #[arg(long, short = 'l', value_name = "LABEL=VALUE", value_parser = parse_pair)]
    pub(crate) label: Vec<(String, String)>,

    /// Replace only this metric in the group (POST) instead of the group (PUT)
    #[arg(long)]
    pub(crate) add: bool,

    /// Ask the gateway to remove the group this long after the push
    /// (`90s`, `1.5h`, `2d`, `1w`; `0` never): the `Pushgateway-TTL` header
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(crate) ttl: Option<Duration>,

    /// The value: a number, `NaN`, `+Inf` or `-Inf`
    #[arg(value_name = "VALUE", allow_hyphen_values = true, value_parser = parse_value)]
    pub(crate) value: f64,
}

#[derive(Debug, Args)]
pub(crate) struct GaugesArgs {
    #[command(flatten)]
    pub(crate) group: GroupArgs,

    /// The metric name
    #[arg(long, short = 'n', value_name = "NAME")]
    pub(crate) name: String,

    /// The HELP text of the metric
    #[arg(long, alias = "description", value_name = "TEXT", default_value = "")]
    pub(crate) help_text: String,

    /// Labels whose values join the grouping key (repeatable or
    /// comma-separated)
    #[arg(long, value_name = "LABEL", value_delimiter = ',')]
    pub(crate) group_by: Vec<String>,

    /// Replace only this metric in each group (POST) instead of the groups (PUT)
    #[arg(long)]
    pub(crate) add: bool,

    /// Ask the gateway to remove the group this long after the push
    /// (`90s`, `1.5h`, `2d`, `1w`; `0` never): the `Pushgateway-TTL` header
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(crate) ttl: Option<Duration>,

    /// The JSON lines; `-` is standard input
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The job name of the group to delete
    #[arg(
        long,
        short = 'j',
        env = "PUSHGATEWAY_JOB",
        value_name = "JOB",
        help_heading = "Group",
        required_unless_present = "matches"
    )]
    pub(crate) job: Option<String>,

    #[command(flatten)]
    pub(crate) labels: GroupingLabels,

    /// Delete every group this Prometheus selector over grouping labels
    /// selects instead, e.g. `--match '{job=~"etl-.*"}'` (repeatable: a
    /// union; needs a gateway with --web.enable-admin-api)
    #[arg(
        long = "match",
        value_name = "SELECTOR",
        help_heading = "Groups by selector"
    )]
    pub(crate) matches: Vec<String>,

    /// With --match: only groups whose last push, successful or not, is
    /// older than this (`7d`, `12h`)
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_ttl,
        requires = "matches",
        help_heading = "Groups by selector"
    )]
    pub(crate) older_than: Option<Duration>,

    /// With --match: print what would be deleted, delete nothing
    #[arg(long, requires = "matches", help_heading = "Groups by selector")]
    pub(crate) dry_run: bool,

    /// With --match: do not ask first (asked only when standard input is a
    /// terminal)
    #[arg(
        long,
        short = 'y',
        requires = "matches",
        help_heading = "Groups by selector"
    )]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only the groups this Prometheus selector over grouping labels
    /// selects, e.g. `--match '{job=~"etl-.*"}'` (repeatable: a union)
    #[arg(long = "match", value_name = "SELECTOR")]
    pub(crate) matches: Vec<String>,

    /// Print a JSON array instead of a table
    #[arg(long)]
    pub(crate) json: bool,

    /// Show every cell whole (the table cuts long ones to fit a screen)
    #[arg(long)]
    pub(crate) wide: bool,
}

#[derive(Debug, Args)]
pub(crate) struct WipeArgs {
    /// Do not ask first (asked only when standard input is a terminal)
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) group: GroupArgs,

    /// Exit with the push's failure status (3 or 4) when the command
    /// succeeded but the push failed
    #[arg(long)]
    pub(crate) fail_on_push_error: bool,

    /// Ask the gateway to remove the group this long after the push
    /// (`90s`, `1.5h`, `2d`, `1w`; `0` never): the `Pushgateway-TTL` header
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub(crate) ttl: Option<Duration>,

    /// The command and its arguments, after `--`
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// Parses `LABEL=VALUE` (the value may be empty and may contain `=`).
fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected LABEL=VALUE, got {s:?}")),
    }
}

/// Parses a sample value: a decimal or exponent number, `NaN`, `+Inf`,
/// `-Inf` (any case).
pub(crate) fn parse_value(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let special = match lower.as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    };
    if let Some(v) = special {
        return Ok(v);
    }
    // Rust also reads "infinity" and "nan" spelled out; only plain numbers
    // are taken here, as Prometheus writes them.
    let numeric = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    match t.parse::<f64>() {
        Ok(v) if numeric => Ok(v),
        _ => Err(format!("{s:?} is not a number (nor NaN, +Inf, -Inf)")),
    }
}

/// Parses a TTL or an age as the gateway reads them: numbers with units
/// `ms`, `s`, `m`, `h`, `d`, `w`, `y`, one after the other (`1h30m`,
/// `1.5h`, `2d`); `0` is zero (for a TTL: never expire).
pub(crate) fn parse_ttl(s: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as 90s, 1.5h, 1h30m, 2d or 1w (0: never)";
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = t;
    let mut seconds = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = rest[number_len..]
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len() - number_len);
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration: {EXPECTED}"))?;
        let scale = match &rest[number_len..number_len + unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 7.0 * 86_400.0,
            "y" => 365.0 * 86_400.0,
            "" => return Err(format!("missing unit in {s:?}: {EXPECTED}")),
            other => return Err(format!("unknown unit {other:?} in {s:?}: {EXPECTED}")),
        };
        seconds += number * scale;
        rest = &rest[number_len + unit_len..];
    }
    if t.is_empty() {
        return Err(format!("{s:?} is not a duration: {EXPECTED}"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?} is too long"))
}

/// Parses `30s`, `1.5s`, `500ms`, `2m`, `1h`, plain seconds (`30`), or
/// `0`/`none` (no limit).
fn parse_timeout(s: &str) -> Result<Timeout, String> {
    const EXPECTED: &str =
        "expected seconds (30), a number with a unit ms, s, m or h (1.5s, 500ms, 2m), \
         or 0 or none for no limit";
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(if number.is_empty() {
                format!("{s:?} is not a duration: {EXPECTED}")
            } else {
                format!("unknown unit {other:?} in {s:?}: {EXPECTED}")
            })
        }
    };
    let seconds = number
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a duration: {EXPECTED}"))?
        * scale;
    if seconds == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(seconds)
        .map(Some)
        .map_err(|_| format!("{s:?} is too long for a timeout"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_pair("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_pair("a").is_err());
        assert!(parse_pair("=b").is_err());
    }

    #[test]
    fn values_are_numbers_or_special_names() {
        assert_eq!(parse_value("1.5e3").unwrap(), 1500.0);
        assert_eq!(parse_value("-2").unwrap(), -2.0);
        assert_eq!(parse_value("+Inf").unwrap(), f64::INFINITY);
        assert_eq!(parse_value("-inf").unwrap(), f64::NEG_INFINITY);
        assert!(parse_value("NaN").unwrap().is_nan());
        for bad in ["", "abc", "1,5", "infinity", "0x10", "1.5s"] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_take_units_and_none() {
        assert_eq!(parse_timeout("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_timeout("500ms").unwrap(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_timeout("2m").unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_timeout("1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_timeout("1.5s").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_timeout("30").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_timeout(" 10 s ").unwrap(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_timeout("1h").unwrap(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_timeout("none").unwrap(), None);
        assert_eq!(parse_timeout("NONE").unwrap(), None);
        assert_eq!(parse_timeout("0").unwrap(), None);
        assert_eq!(parse_timeout("0s").unwrap(), None);
        for bad in [
            "", "s", "-1s", "10x", "abc", "1e3", "1.2.3s", "1h30m", ".", "inf",
        ] {
            let err = parse_timeout(bad).unwrap_err();
            assert!(err.contains("expected seconds (30)"), "{bad}: {err}");
        }
        assert_eq!(
            parse_timeout("10x").unwrap_err(),
            "unknown unit \"x\" in \"10x\": expected seconds (30), a number with a unit \
             ms, s, m or h (1.5s, 500ms, 2m), or 0 or none for no limit"
        );
        assert!(parse_timeout("soon")
            .unwrap_err()
            .starts_with("\"soon\" is not a duration"));
        assert!(parse_timeout("99999999999999999999h")
            .unwrap_err()
            .contains("too long"));
    }
}
