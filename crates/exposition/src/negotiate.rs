//! Content negotiation for scrapes: which exposition format an `Accept`
//! header asks for, and the `Content-Type` to answer with.
//!
//! Follows `expfmt.Negotiate` as the Go Pushgateway uses it: the Accept
//! clauses are ranked by `q` (then by specificity); the first clause naming
//! delimited protobuf or text 0.0.4 decides; OpenMetrics is considered only
//! when the caller offers it; anything else falls back to text.

/// An exposition format a scrape can be answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text format 0.0.4.
    Text,
    /// Varint-delimited `io.prometheus.client.MetricFamily` protobuf.
    Protobuf,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

/// The formats a scrape may be answered in, beyond the two every
/// Pushgateway serves (text 0.0.4 and delimited protobuf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Offer {
    /// Text and protobuf only, as the Go Pushgateway negotiates.
    #[default]
    TextAndProtobuf,
    /// OpenMetrics 1.0.0 too, when the Accept header prefers it.
    WithOpenMetrics,
}

/// The media type of delimited protobuf, with its parameters.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
/// The media type of text 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The media type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    /// The `Content-Type` for a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::Protobuf => PROTOBUF_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// One clause of an Accept header.
#[derive(Debug, Clone, PartialEq)]
struct Clause<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f64,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> Clause<'a> {
    fn param(&self, name: &str) -> Option<&'a str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
    }
}

/// Parses an Accept header as goautoneg does and ranks the clauses.
fn parse_accept(header: &str) -> Vec<Clause<'_>> {
    let mut clauses = Vec::new();
    for part in header.split(',') {
        let part = part.trim_matches(' ');
        let mut pieces = part.split(';');
        let media_range = pieces.next().unwrap_or("");
        let mut halves = media_range.split('/');
        let kind = halves.next().unwrap_or("").trim_matches(' ');
        let subtype = match (halves.next(), halves.next()) {
            (None, _) if kind == "*" => "*",
            (Some(sub), None) => sub.trim_matches(' '),
            _ => continue,
        };
        let mut clause = Clause {
            kind,
            subtype,
            q: 1.0,
            params: Vec::new(),
        };
        for param in pieces {
            let Some((key, value)) = param.split_once('=') else {
                continue;
            };
            let key = key.trim_matches(' ');
            if key == "q" {
                clause.q = value.trim().parse::<f32>().map(f64::from).unwrap_or(0.0);
            } else {
                clause.params.push((key, value.trim_matches(' ')));
            }
        }
        clauses.push(clause);
    }
    let specificity = |c: &Clause<'_>| u8::from(c.kind != "*") + u8::from(c.subtype != "*");
    clauses.sort_by(|a, b| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| specificity(b).cmp(&specificity(a)))
    });
    clauses
}

/// Picks the scrape format for an `Accept` header.
///
/// ```
/// use exposition::{negotiate, Format, Offer};
/// let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
///                   encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// assert_eq!(negotiate(prometheus, Offer::TextAndProtobuf), Format::Protobuf);
/// assert_eq!(negotiate("*/*", Offer::TextAndProtobuf), Format::Text);
/// let openmetrics = "application/openmetrics-text;version=1.0.0";
/// assert_eq!(negotiate(openmetrics, Offer::WithOpenMetrics), Format::OpenMetrics);
/// assert_eq!(negotiate(openmetrics, Offer::TextAndProtobuf), Format::Text);
/// ```
pub fn negotiate(accept: &str, offer: Offer) -> Format {
    for clause in parse_accept(accept) {
        let version = clause.param("version").unwrap_or("");
        if clause.kind == "application"
            && clause.subtype == "vnd.google.protobuf"
            && clause.param("proto") == Some("io.prometheus.client.MetricFamily")
            && clause.param("encoding") == Some("delimited")
        {
            return Format::Protobuf;
        }
        if offer == Offer::WithOpenMetrics
            && clause.kind == "application"
            && clause.subtype == "openmetrics-text"
            && matches!(version, "" | "1.0.0" | "0.0.1")
        {
            return Format::OpenMetrics;
        }
        if clause.kind == "text" && clause.subtype == "plain" && matches!(version, "" | "0.0.4") {
            return Format::Text;
        }
    }
    Format::Text
}

/// The `escaping` parameter of the first Accept clause that names a known
/// scheme (`allow-utf-8`, `underscores`, `dots`, `values`), if any.
pub fn requested_escaping(accept: &str) -> Option<&str> {
    parse_accept(accept)
        .into_iter()
        .filter_map(|c| c.param("escaping"))
        .find(|e| matches!(*e, "allow-utf-8" | "underscores" | "dots" | "values"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_q() {
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=0.3,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7", Offer::TextAndProtobuf),
            Format::Protobuf
        );
        assert_eq!(
            negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.1,text/plain", Offer::TextAndProtobuf),
            Format::Text
        );
    }

    #[test]
    fn prometheus_3_default_gets_text() {
        let accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate(accept, Offer::TextAndProtobuf), Format::Text);
        assert_eq!(requested_escaping(accept), Some("allow-utf-8"));
    }

    #[test]
    fn garbage_falls_back_to_text() {
        for accept in [
            "",
            "garbage",
            "a/b/c",
            ";;;",
            "application/vnd.google.protobuf",
        ] {
            assert_eq!(
                negotiate(accept, Offer::WithOpenMetrics),
                Format::Text,
                "{accept}"
            );
        }
    }
}
