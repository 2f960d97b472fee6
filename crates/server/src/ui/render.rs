//! HTML for the web UI's pages. Every piece of text that comes from a push
//! or a flag goes through [`html_escape`].

use std::fmt::Write as _;

use base64::Engine as _;
use exposition::{format_float, MetricFamily, MetricType, NameValidation, Value};
use store::{Group, GroupingKey, PushTime, Snapshot, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_METRIC};

use crate::authorization::{Access, Role};
use crate::grouping::{grouping_key, JobEncoding, BASE64_SUFFIX};
use crate::response::html_escape;
use crate::router::join_path;
use crate::state::AppState;

/// Rows shown per family when a group is expanded; the rest is counted.
const MAX_ROWS_PER_FAMILY: usize = 1000;

/// What every page needs: where links point, and what is switched on.
pub(super) struct Page<'a> {
    state: &'a AppState,
    /// What the viewer may do: controls they may not use are not shown.
    access: &'a Access,
    /// Prefix of every link, without a trailing slash: the external URL's
    /// path, or `.` (relative to the page).
    base: String,
    now: PushTime,
}

impl<'a> Page<'a> {
    pub(super) fn new(state: &'a AppState, access: &'a Access) -> Page<'a> {
        let external = state.config().external_path_prefix.trim_end_matches('/');
        Page {
            state,
            access,
            base: if external.is_empty() {
                ".".into()
            } else {
                external.into()
            },
            now: PushTime::now(),
        }
    }

    fn head(&self, out: &mut String, title: &str, active: &str) {
        let v = env!("CARGO_PKG_VERSION");
        let base = html_escape(&self.base);
        let admin = self.state.config().enable_admin_api;
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title>\
             <link rel=\"icon\" type=\"image/svg+xml\" href=\"{base}/static/favicon.svg?v={v}\">\
             <link rel=\"stylesheet\" href=\"{base}/static/style.css?v={v}\">\
             <script defer src=\"{base}/static/ui.js?v={v}\"></script></head>\
             <body data-base=\"{base}\" data-admin=\"{admin}\"><nav class=\"top\">\
             <a class=\"brand\" href=\"{base}/\">Pushgateway</a>"
        );
        for (href, name) in [("/", "Metrics"), ("/status", "Status")] {
            let class = if name == active {
                " class=\"active\""
            } else {
                ""
            };
            let _ = write!(out, "<a{class} href=\"{base}{href}\">{name}</a>");
        }
        let telemetry = join_path("", &self.state.config().telemetry_path);
        let _ = write!(
            out,
            "<a href=\"{base}{}\">{}</a></nav><main>",
            html_escape(&telemetry),
            html_escape(&telemetry)
        );
    }

    /// The groups page around an already rendered list.
    pub(super) fn index(&self, snapshot: &Snapshot, filter: &str, list: &str) -> String {
        let mut out = String::with_capacity(list.len() + 4096);
        self.head(&mut out, "Pushgateway", "Metrics");
        let _ = write!(
            out,
            "<form class=\"filter\" method=\"get\" role=\"search\">\
             <input id=\"filter\" type=\"search\" name=\"q\" value=\"{}\" autocomplete=\"off\" \
             placeholder=\"Filter groups by label, e.g. job=backup instance=db1\" aria-label=\"Filter groups\">\
             <button type=\"submit\">Filter</button></form>",
            html_escape(filter)
        );
        if self.state.config().enable_admin_api && self.access.can(Role::Admin) {
            let n = snapshot.groups().len();
            let _ = write!(
                out,
                "<p class=\"admin\"><button type=\"button\" id=\"wipe\" class=\"danger\" data-count=\"{n}\">\
                 Delete all {n} groups</button></p>"
            );
        }
        out.push_str("<div id=\"groups\">");
        out.push_str(list);
        out.push_str("</div></main></body></html>");
        out
    }

    /// One page of the groups that match `filter`, with paging links.
    pub(super) fn group_list(
        &self,
        snapshot: &Snapshot,
        filter: &str,
        page: usize,
        page_size: usize,
    ) -> String {
        let terms = filter_terms(filter);
        let mut matching: Vec<&Group> = snapshot
            .groups()
            .iter()
            .map(|g| &**g)
            .filter(|g| matches_filter(g.key(), &terms))
            .collect();
        // By job first, as people look for them; then in grouping-key order.
        matching.sort_by(|a, b| a.key().job().cmp(b.key().job()).then(a.key().cmp(b.key())));
        let pages = matching.len().div_ceil(page_size).max(1);
        let page = page.min(pages);
        let shown = &matching[(page - 1) * page_size..matching.len().min(page * page_size)];
        let mut out = String::with_capacity(shown.len() * 700 + 512);
        let total = snapshot.groups().len();
        let _ = write!(
            out,
            "<p class=\"summary\" id=\"summary\" data-matching=\"{}\">",
            matching.len()
        );
        if terms.is_empty() {
            let _ = write!(out, "{} group{}", total, plural(total));
        } else {
            let _ = write!(
                out,
                "{} of {} group{} match <q>{}</q>",
                matching.len(),
                total,
                plural(total),
                html_escape(filter)
            );
        }
        out.push_str("</p>");
        if matching.is_empty() {
            out.push_str(if total == 0 {
                "<p class=\"empty\">No metrics have been pushed yet.</p>"
            } else {
                "<p class=\"empty\">No group matches the filter.</p>"
            });
        }
        for group in shown {
            self.group_header(&mut out, group);
        }
        if pages > 1 {
            self.pager(&mut out, filter, page, pages);
        }
        out
    }

    fn pager(&self, out: &mut String, filter: &str, page: usize, pages: usize) {
        let link = |p: usize| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if !filter.is_empty() {
                query.append_pair("q", filter);
            }
            query.append_pair("page", &p.to_string());
            format!("{}/?{}", self.base, query.finish())
        };
        out.push_str("<nav class=\"pager\">");
        if page > 1 {
            let _ = write!(
                out,
                "<a rel=\"prev\" href=\"{}\">&larr; Previous</a>",
                html_escape(&link(page - 1))
            );
        }
        let _ = write!(out, "<span>Page {page} of {pages}</span>");
        if page < pages {
            let _ = write!(
                out,
                "<a rel=\"next\" href=\"{}\">Next &rarr;</a>",
                html_escape(&link(page + 1))
            );
        }
        out.push_str("</nav>");
    }

    /// A group's collapsed form: labels, last push, series, delete button.
    fn group_header(&self, out: &mut String, group: &Group) {
        let path = group_path(group.key());
        let series: usize = group
            .families()
            .iter()
            .filter(|f| f.name() != PUSH_TIME_METRIC && f.name() != PUSH_FAILURE_TIME_METRIC)
            .map(|f| f.len())
            .sum();
        let _ = write!(
            out,
            "<details class=\"group\" data-path=\"{}\"><summary><span class=\"labels\">",
            html_escape(&path)
        );
        // `job` first, then the others in name order.
        let job = group.key().labels().filter(|(n, _)| *n == "job");
        let others = group.key().labels().filter(|(n, _)| *n != "job");
        for (name, value) in job.chain(others) {
            label_badge(out, name, value);
        }
        out.push_str("</span><span class=\"meta\">");
        let _ = write!(
            out,
            "<span class=\"series\">{series} series</span><span class=\"pushed\">last push ",
        );
        if group.push_time() == PushTime::default() {
            out.push_str("never succeeded");
        } else {
            self.time(out, group.push_time());
        }
        out.push_str("</span>");
        if let Some(deadline) = group.expires_at() {
            let _ = write!(
                out,
                "<span class=\"expires\" title=\"{}\">expires in {}</span>",
                html_escape(&absolute(deadline)),
                remaining(self.now, deadline)
            );
        }
        if !group.last_push_successful() {
            out.push_str("<span class=\"badge fail\" title=\"failed ");
            out.push_str(&html_escape(&absolute(group.failure_time())));
            out.push_str("\">Last push failed!</span>");
        }
        if self.access.can_push_to(group.key()) {
            out.push_str("<button type=\"button\" class=\"delete danger\">Delete group</button>");
        }
        out.push_str("</span></summary><div class=\"details\">Loading&hellip;</div></details>");
    }

    /// A group's families: HELP, type, push time and a table of series.
    pub(super) fn group_details(&self, group: &Group) -> String {
        let mut out = String::with_capacity(4096);
        for family in group.families() {
            let decoded = family.decode();
            let _ = write!(
                out,
                "<section class=\"family\"><h3><code>{}</code> <span class=\"type\">{}</span></h3>",
                html_escape(family.name()),
                decoded.metric_type.as_proto_name()
            );
            if let Some(help) = decoded.help.as_deref().filter(|h| !h.is_empty()) {
                let _ = write!(out, "<p class=\"help\">{}</p>", html_escape(help));
            }
            out.push_str("<p class=\"pushed\">pushed ");
            self.time(&mut out, family.pushed_at());
            out.push_str("</p>");
            series_table(&mut out, &decoded);
            out.push_str("</section>");
        }
        out
    }

    /// The status page.
    pub(super) fn status(&self) -> String {
        let mut out = String::with_capacity(8192);
        self.head(&mut out, "Pushgateway status", "Status");
        out.push_str(
            "<h2>Runtime information</h2><table class=\"kv\"><tbody><tr><th>Start time</th><td>",
        );
        self.time(&mut out, self.state.started());
        out.push_str(
            "</td></tr></tbody></table><h2>Build information</h2><table class=\"kv\"><tbody>",
        );
        for (k, v) in crate::build::build_information() {
            let _ = write!(
                out,
                "<tr><th>{}</th><td>{}</td></tr>",
                html_escape(k),
                html_escape(&v)
            );
        }
        out.push_str("</tbody></table><h2>Flags</h2><table class=\"kv\"><tbody>");
        for (k, v) in &self.state.config().flag_values {
            let _ = write!(
                out,
                "<tr><th>{}</th><td><code>{}</code></td></tr>",
                html_escape(k),
                html_escape(v)
            );
        }
        out.push_str("</tbody></table></main></body></html>");
        out
    }

    /// A time as "3 min ago" with the absolute time beside it; the script
    /// keeps the relative part current.
    fn time(&self, out: &mut String, t: PushTime) {
        let _ = write!(
            out,
            "<time datetime=\"{}\" title=\"{}\"><span class=\"rel\">{}</span> \
             <span class=\"abs\">({})</span></time>",
            t.to_rfc3339_nano(),
            absolute(t),
            relative(self.now, t),
            absolute(t)
        );
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Label values longer than this many characters are shown cut, with a
/// control that shows them whole (a 60 KB value would fill the screen).
const SHOWN_VALUE_CHARS: usize = 120;

fn label_badge(out: &mut String, name: &str, value: &str) {
    let length = value.chars().count();
    if length <= SHOWN_VALUE_CHARS {
        let _ = write!(
            out,
            "<span class=\"label\"><span class=\"name\">{}</span>=<span class=\"value\">&quot;{}&quot;</span></span>",
            html_escape(name),
            html_escape(value)
        );
        return;
    }
    let start: String = value.chars().take(SHOWN_VALUE_CHARS).collect();
    let _ = write!(
        out,
        "<span class=\"label long\"><span class=\"name\">{}</span>=<span class=\"value\">&quot;\
         <span class=\"start\">{}</span><span class=\"ellipsis\">&hellip;</span><span class=\"rest\" hidden>{}</span>&quot;</span>\
         <button type=\"button\" class=\"whole\" aria-expanded=\"false\" \
         title=\"Show the whole value\">show all {length} characters</button></span>",
        html_escape(name),
        html_escape(&start),
        html_escape(&value.chars().skip(SHOWN_VALUE_CHARS).collect::<String>()),
    );
}

/// The lower-cased terms of a filter text.
fn filter_terms(filter: &str) -> Vec<String> {
    filter
        .split_whitespace()
        .map(|t| t.replace('"', "").to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Whether every term is found in one of the group's labels, written
/// `name=value` (quotes are ignored in terms, case does not matter).
fn matches_filter(key: &GroupingKey, terms: &[String]) -> bool {
    if terms.is_empty() {
        return true;
    }
    let labels: Vec<String> = key
        .labels()
        .map(|(n, v)| format!("{n}={v}").to_lowercase())
        .collect();
    terms
        .iter()
        .all(|term| labels.iter().any(|l| l.contains(term.as_str())))
}

/// The push path of a group with every value base64-encoded, as the
/// delete button sends it: `job@base64/<job>/<name>@base64/<value>`. An
/// empty value is `=`; names that need it are escaped for UTF-8 names.
pub(super) fn group_path(key: &GroupingKey) -> String {
    let b64 = |v: &str| {
        if v.is_empty() {
            "=".to_string()
        } else {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
        }
    };
    let mut path = format!("job{BASE64_SUFFIX}/{}", b64(key.job()));
    for (name, value) in key.labels().filter(|(n, _)| *n != "job") {
        let _ = write!(
            path,
            "/{}{BASE64_SUFFIX}/{}",
            escape_label_name(name),
            b64(value)
        );
    }
    path
}

/// The grouping key a [`group_path`] names.
pub(super) fn group_key_from_path(path: &str, names: NameValidation) -> Option<GroupingKey> {
    let rest = path.strip_prefix("job@base64/")?;
    let (job, labels) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    grouping_key(job, JobEncoding::Base64, labels, names).ok()
}

/// A label name as a URL path segment: legacy names as they are, others
/// in the `U__` value encoding the gateway decodes with UTF-8 names on.
fn escape_label_name(name: &str) -> String {
    if exposition::is_valid_legacy_label_name(name) {
        return name.to_string();
    }
    let mut out = String::from("U__");
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            c => {
                let _ = write!(out, "_{:x}_", c as u32);
            }
        }
    }
    out
}

/// `2026-11-22 11:06:29 UTC`.
fn absolute(t: PushTime) -> String {
    let s = t.to_rfc3339_nano();
    match (s.get(..10), s.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => s,
    }
}

/// `just now`, `42 s ago`, `5 min ago`, `3 h ago`, `12 d ago`.
fn relative(now: PushTime, t: PushTime) -> String {
    let secs = (now.as_nanos() - t.as_nanos()) / 1_000_000_000;
    match secs {
        s if s < 1 => "just now".into(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// How long until `deadline`, as the UI shows it ("expires in 2 min").
fn remaining(now: PushTime, deadline: PushTime) -> String {
    match deadline.since(now).as_secs() {
        s if s < 1 => "less than a second".into(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The series of a family: labels, and the value in a form that suits the
/// type (quantiles for summaries, buckets for histograms).
fn series_table(out: &mut String, family: &MetricFamily) {
    out.push_str(
        "<table class=\"series\"><thead><tr><th>Labels</th><th>Value</th></tr></thead><tbody>",
    );
    for metric in family.metrics.iter().take(MAX_ROWS_PER_FAMILY) {
        out.push_str("<tr><td>");
        for l in &metric.labels {
            label_badge(out, &l.name, &l.value);
        }
        out.push_str("</td><td>");
        value_cell(out, family.metric_type, &metric.value);
        out.push_str("</td></tr>");
    }
    let hidden = family.metrics.len().saturating_sub(MAX_ROWS_PER_FAMILY);
    if hidden > 0 {
        let _ = write!(
            out,
            "<tr><td colspan=\"2\" class=\"more\">&hellip; and {hidden} more series \
             (the JSON API at <code>api/v1/metrics</code> has them all)</td></tr>"
        );
    }
    out.push_str("</tbody></table>");
}

fn value_cell(out: &mut String, metric_type: MetricType, value: &Value) {
    match value {
        Value::Gauge(v) | Value::Untyped(v) => out.push_str(&format_float(*v)),
        Value::Counter(c) => out.push_str(&format_float(c.value)),
        Value::Summary(s) => {
            let _ = write!(
                out,
                "count {}, sum {}",
                s.sample_count,
                format_float(s.sample_sum)
            );
            if !s.quantiles.is_empty() {
                out.push_str("<ul class=\"dist\">");
                for q in &s.quantiles {
                    let _ = write!(
                        out,
                        "<li>quantile {}: {}</li>",
                        format_float(q.quantile),
                        format_float(q.value)
                    );
                }
                out.push_str("</ul>");
            }
        }
        Value::Histogram(h) => {
            let count = match h.sample_count_float {
                Some(f) if f > 0.0 => format_float(f),
                _ => h.sample_count.unwrap_or(0).to_string(),
            };
            let _ = write!(
                out,
                "count {count}, sum {}",
                format_float(h.sample_sum.unwrap_or(0.0))
            );
            if let Some(schema) = h
                .schema
                .filter(|_| !h.positive_spans.is_empty() || !h.negative_spans.is_empty())
            {
                let _ = write!(out, ", native buckets (schema {schema})");
            }
            if !h.buckets.is_empty() {
                out.push_str("<ul class=\"dist\">");
                for b in &h.buckets {
                    let c = match b.cumulative_count_float {
                        Some(f) if f > 0.0 => format_float(f),
                        _ => b.cumulative_count.unwrap_or(0).to_string(),
                    };
                    let _ = write!(out, "<li>le {}: {c}</li>", format_float(b.upper_bound));
                }
                out.push_str("</ul>");
            }
        }
        Value::Missing => {
            let _ = write!(out, "<em>no {} value</em>", metric_type.as_proto_name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> GroupingKey {
        GroupingKey::new(pairs.iter().copied())
    }

    #[test]
    fn group_paths_round_trip() {
        for pairs in [
            vec![("job", "a")],
            vec![("job", "a/b"), ("instance", "")],
            vec![("job", "x"), ("path", "/var/tmp"), ("zone", "ünïcode <b>")],
        ] {
            let k = key(&pairs);
            let path = group_path(&k);
            assert_eq!(
                group_key_from_path(&path, NameValidation::Legacy),
                Some(k),
                "{path}"
            );
        }
        let dotted = key(&[("job", "a"), ("dotted.name", "v")]);
        let path = group_path(&dotted);
        assert!(path.contains("/U__dotted_2e_name@base64/"), "{path}");
        assert_eq!(
            group_key_from_path(&path, NameValidation::Utf8),
            Some(dotted)
        );
        assert_eq!(
            group_key_from_path("metrics/job/a", NameValidation::Legacy),
            None
        );
    }

    #[test]
    fn filter_matches_every_term_in_some_label() {
        let k = key(&[("job", "Backup"), ("instance", "db1")]);
        let m = |f: &str| matches_filter(&k, &filter_terms(f));
        assert!(m(""));
        assert!(m("backup"));
        assert!(m("job=back"));
        assert!(m("job=\"backup\" db1"));
        assert!(m("INSTANCE=DB"));
        assert!(!m("job=db1"));
        assert!(!m("backup db2"));
    }

    #[test]
    fn relative_times() {
        let now = PushTime::from_nanos(10_000 * 1_000_000_000);
        let ago = |s: i64| {
            relative(
                now,
                PushTime::from_nanos(now.as_nanos() - s * 1_000_000_000),
            )
        };
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(42), "42 s ago");
        assert_eq!(ago(300), "5 min ago");
        assert_eq!(ago(7300), "2 h ago");
        assert_eq!(ago(3 * 86_400), "3 d ago");
        assert_eq!(absolute(PushTime::from_nanos(0)), "1970-01-01 00:00:00 UTC");
    }
}
