//! Logs in the Go Pushgateway's formats: logfmt (`ts=… level=info msg=…`)
//! or one JSON object per line, at the level `--log.level` asks for.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::flags::{LogFormat, LogLevel};

struct Logfmt;

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

fn logfmt_value(v: &str) -> String {
    if !v.is_empty() && !v.contains([' ', '"', '=', '\n']) {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
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
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let ts = store::PushTime::now().to_rfc3339_nano();
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        write!(writer, "ts={ts} level={level}")?;
        for (k, v) in &fields.0 {
            let k = if k == "message" { "msg" } else { k };
            write!(writer, " {k}={}", logfmt_value(v))?;
        }
        writeln!(writer)
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
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Logfmt => builder.event_format(Logfmt).try_init(),
    };
    // A logger may already be installed (tests); keep it.
    let _ = result;
}
