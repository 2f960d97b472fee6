//! Logs as the Go Pushgateway 1.11 writes them (prometheus/common's
//! promslog in its go-kit style): logfmt or one JSON object per line, keys
//! in the order `ts` (UTC, milliseconds), `level` (lower case), `caller`
//! (`file:line`; at debug level `file(module):line`), `msg`, then the
//! event's own fields. A field named like one of those is written as
//! `logged_<name>`, as promslog does (so the peer of a refused push, which
//! Go logs as `source`, appears as `logged_source`).
//!
//! Debian's 1.5.1 (go-kit's logger) differs in order only: `ts`, `caller`,
//! `level`, `msg` in logfmt, and keys sorted alphabetically in JSON.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::flags::{LogFormat, LogLevel};

/// Keys the logger writes itself; an event's own field of such a name is
/// renamed.
const RESERVED: [&str; 6] = ["ts", "time", "level", "caller", "source", "msg"];

/// A field's value as logged: JSON keeps numbers and booleans as such.
enum FieldValue {
    Text(String),
    Number(String),
    Bool(bool),
}

/// An event's fields in the order they were given, the message apart.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(String, FieldValue)>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        if name == "message" {
            if let FieldValue::Text(t) = value {
                self.message = t;
            }
            return;
        }
        let key = if RESERVED.contains(&name) {
            format!("logged_{name}")
        } else {
            name.to_string()
        };
        self.others.push((key, value));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Text(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Text(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::Number(value.to_string()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::Number(value.to_string()));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let text = if value.is_finite() {
            value.to_string()
        } else {
            // JSON has no NaN or infinity; write them as text.
            return self.push(field, FieldValue::Text(value.to_string()));
        };
        self.push(field, FieldValue::Number(text));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }
}

/// The one event formatter, in either format.
struct GoStyle {
    format: LogFormat,
    /// At debug level the caller names its module too, as promslog adds
    /// the function.
    detailed_caller: bool,
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        _ => "debug",
    }
}

/// logfmt quoting: bare when the value needs none, else a quoted string.
fn logfmt_value(v: &str) -> String {
    if !v.is_empty() && !v.contains(|c: char| c <= ' ' || c == '"' || c == '=' || c == '\u{7f}') {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

/// A JSON string as slog writes it (no HTML escaping).
fn json_string(out: &mut String, s: &str) {
    crate::json::string_as(out, s, crate::json::Html::Kept);
}

impl GoStyle {
    fn caller(&self, meta: &tracing::Metadata<'_>) -> String {
        let file = meta
            .file()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .unwrap_or("?");
        let line = meta.line().unwrap_or(0);
        match meta.module_path().filter(|_| self.detailed_caller) {
            Some(module) => format!("{file}({module}):{line}"),
            None => format!("{file}:{line}"),
        }
    }

    fn line(&self, event: &Event<'_>) -> String {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let ts = store::PushTime::now().to_rfc3339_millis();
        let level = level_name(*meta.level());
        let caller = self.caller(meta);
        let mut out = String::with_capacity(160);
        match self.format {
            LogFormat::Logfmt => {
                let _ = write!(
                    out,
                    "ts={ts} level={level} caller={} msg={}",
                    logfmt_value(&caller),
                    logfmt_value(&fields.message)
                );
                for (k, v) in &fields.others {
                    let v = match v {
                        FieldValue::Text(t) | FieldValue::Number(t) => logfmt_value(t),
                        FieldValue::Bool(b) => b.to_string(),
                    };
                    let _ = write!(out, " {k}={v}");
                }
            }
            LogFormat::Json => {
                out.push_str("{\"ts\":");
                json_string(&mut out, &ts);
                out.push_str(",\"level\":");
                json_string(&mut out, level);
                out.push_str(",\"caller\":");
                json_string(&mut out, &caller);
                out.push_str(",\"msg\":");
                json_string(&mut out, &fields.message);
                for (k, v) in &fields.others {
                    out.push(',');
                    json_string(&mut out, k);
                    out.push(':');
                    match v {
                        FieldValue::Text(t) => json_string(&mut out, t),
                        FieldValue::Number(n) => out.push_str(n),
                        FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    }
                }
                out.push('}');
            }
        }
        out.push('\n');
        out
    }
}

impl<S, N> FormatEvent<S, N> for GoStyle
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str(&self.line(event))
    }
}

/// Installs the global logger.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    };
    let result = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .event_format(GoStyle {
            format,
            detailed_caller: level == Level::DEBUG,
        })
        .try_init();
    // A logger may already be installed (tests); keep it.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logfmt_quotes_what_needs_it() {
        assert_eq!(logfmt_value("[::]:9091"), "[::]:9091");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value("a=b"), "\"a=b\"");
        assert_eq!(logfmt_value(""), "\"\"");
    }

    #[test]
    fn json_strings_escape_controls() {
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}<&>");
        assert_eq!(out, r#""a\"b\\c\nd\u0001<&>""#);
    }
}
