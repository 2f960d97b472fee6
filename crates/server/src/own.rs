//! The gateway's own metrics: build info, HTTP request counts, push
//! duration and size summaries, and process metrics — with the names,
//! HELP texts and types of the Go Pushgateway so dashboards keep working.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use exposition::{LabelPair, Metric, MetricFamily, MetricType, Quantile, Summary, Value};
use parking_lot::Mutex;
use store::{PushTime, StoredFamily};

use crate::flags::Config;

const BUILD_INFO: &str = "pushgateway_build_info";
const REQUESTS: &str = "pushgateway_http_requests_total";
const PUSH_DURATION: &str = "pushgateway_http_push_duration_seconds";
const PUSH_SIZE: &str = "pushgateway_http_push_size_bytes";
const REFUSALS: &str = "pushgateway_limit_refusals_total";
const PERSISTENCE_FAILURES: &str = "pushgateway_persistence_failures_total";
const WRITES_REFUSED: &str = "pushgateway_persistence_writes_refused";
const GROUPS_EXPIRED: &str = "pushgateway_groups_expired_total";
const REQUESTS_REFUSED: &str = "pushgateway_requests_refused_total";

/// Whether `--web.auth-config` decides what requests may do (and so
/// whether its refusals are counted in `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Authorization {
    /// Go's behaviour: every admitted request may do everything.
    Unrestricted,
    /// A policy decides.
    Policy,
}

impl Authorization {
    pub(crate) fn of(config: &Config) -> Authorization {
        match config.auth_config_file.is_empty() {
            true => Authorization::Unrestricted,
            false => Authorization::Policy,
        }
    }
}

/// How persistence is doing, for its two metrics (shown only when
/// `--persistence.file` is set).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PersistenceHealth {
    /// Failed journal writes, recovery attempts and snapshots so far.
    pub(crate) failures: u64,
    /// Whether writes are refused now because they cannot be persisted.
    pub(crate) refusing: bool,
}

/// Every family name the gateway exposes itself, with its type; pushed
/// families may use these names only with the same type.
pub(crate) fn own_family_types(config: &Config) -> Vec<(String, MetricType)> {
    let persistence: &[(&str, MetricType)] = if config.persistence_file.is_empty() {
        &[]
    } else {
        &[
            (PERSISTENCE_FAILURES, MetricType::Counter),
            (WRITES_REFUSED, MetricType::Gauge),
        ]
    };
    [
        ("process_cpu_seconds_total", MetricType::Counter),
        ("process_max_fds", MetricType::Gauge),
        ("process_open_fds", MetricType::Gauge),
        ("process_resident_memory_bytes", MetricType::Gauge),
        ("process_start_time_seconds", MetricType::Gauge),
        ("process_virtual_memory_bytes", MetricType::Gauge),
        ("process_virtual_memory_max_bytes", MetricType::Gauge),
        (BUILD_INFO, MetricType::Gauge),
        (REQUESTS, MetricType::Counter),
        (PUSH_DURATION, MetricType::Summary),
        (PUSH_SIZE, MetricType::Summary),
        (REFUSALS, MetricType::Counter),
    ]
    .into_iter()
    .chain(persistence.iter().copied())
    .chain(
        (Authorization::of(config) == Authorization::Policy)
            .then_some((REQUESTS_REFUSED, MetricType::Counter)),
    )
    // Reserved even before TTLs are in use: a push's header can turn the
    // metric on at any time.
    .chain(std::iter::once((GROUPS_EXPIRED, MetricType::Counter)))
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

/// Observations over a sliding window, for summary quantiles (client_golang
/// keeps ten minutes in five age buckets; so do we, with a bounded sample
/// per bucket).
struct Window {
    buckets: [(Instant, Vec<f64>); 5],
    count: u64,
    sum: f64,
    seen_in_bucket: u64,
}

const MAX_AGE: Duration = Duration::from_secs(600);
const SAMPLES_PER_BUCKET: usize = 1000;

impl Window {
    fn new(now: Instant) -> Window {
        Window {
            buckets: std::array::from_fn(|_| (now, Vec::new())),
            count: 0,
            sum: 0.0,
            seen_in_bucket: 0,
        }
    }

    fn rotate(&mut self, now: Instant) {
        let width = MAX_AGE / 5;
        if now.duration_since(self.buckets[0].0) >= width {
            self.buckets.rotate_right(1);
            self.buckets[0] = (now, Vec::new());
            self.seen_in_bucket = 0;
        }
    }

    fn observe(&mut self, v: f64, now: Instant) {
        self.rotate(now);
        self.count += 1;
        self.sum += v;
        self.seen_in_bucket += 1;
        let bucket = &mut self.buckets[0].1;
        if bucket.len() < SAMPLES_PER_BUCKET {
            bucket.push(v);
        } else {
            // Reservoir sampling keeps the bucket representative.
            let slot = (pseudo_random(self.seen_in_bucket) % self.seen_in_bucket) as usize;
            if slot < SAMPLES_PER_BUCKET {
                bucket[slot] = v;
            }
        }
    }

    fn summary(&mut self, now: Instant) -> Summary {
        self.rotate(now);
        let mut all: Vec<f64> = self
            .buckets
            .iter()
            .filter(|(start, _)| now.duration_since(*start) < MAX_AGE)
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        all.sort_by(f64::total_cmp);
        let quantiles = [0.1, 0.5, 0.9]
            .into_iter()
            .map(|q| Quantile {
                quantile: q,
                value: if all.is_empty() {
                    f64::NAN
                } else {
                    all[((q * all.len() as f64).ceil() as usize).clamp(1, all.len()) - 1]
                },
            })
            .collect();
        Summary {
            sample_count: self.count,
            sample_sum: self.sum,
            quantiles,
            created: None,
        }
    }
}

fn pseudo_random(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 32)
}

/// The `method` label: the method in lower case, without allocating for
/// the methods clients use.
fn method_label(method: &str) -> Cow<'static, str> {
    const KNOWN: [&str; 7] = ["get", "put", "post", "delete", "head", "options", "patch"];
    match KNOWN.iter().find(|m| m.eq_ignore_ascii_case(method)) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(method.to_ascii_lowercase()),
    }
}

/// A request counter's labels: handler, status code, method.
type RequestLabels = (&'static str, u16, Cow<'static, str>);

/// The gateway's own counters and summaries.
pub(crate) struct OwnMetrics {
    requests: Mutex<BTreeMap<RequestLabels, u64>>,
    /// Push duration and push size windows, by method.
    pushes: Mutex<BTreeMap<Cow<'static, str>, (Window, Window)>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests authorization refused, by principal and reason.
    principal_refusals: Mutex<BTreeMap<(String, &'static str), u64>>,
    start: PushTime,
}

impl OwnMetrics {
    pub(crate) fn new() -> OwnMetrics {
        OwnMetrics {
            requests: Mutex::new(BTreeMap::new()),
            pushes: Mutex::new(BTreeMap::new()),
            refusals: Mutex::new(BTreeMap::new()),
            principal_refusals: Mutex::new(BTreeMap::new()),
            start: process_start_time().unwrap_or_else(PushTime::now),
        }
    }

    /// Counts a request to one of the instrumented handlers.
    pub(crate) fn count_request(&self, handler: &'static str, code: u16, method: &str) {
        *self
            .requests
            .lock()
            .entry((handler, code, method_label(method)))
            .or_default() += 1;
    }

    /// Records a push's duration and approximate request size.
    pub(crate) fn observe_push(&self, method: &str, seconds: f64, size: u64) {
        let now = Instant::now();
        let method = method_label(method);
        let mut pushes = self.pushes.lock();
        let (duration, size_window) = pushes
            .entry(method)
            .or_insert_with(|| (Window::new(now), Window::new(now)));
        duration.observe(seconds, now);
        size_window.observe(size as f64, now);
    }

    /// Counts a request refused by a limit.
    pub(crate) fn count_refusal(&self, limit: &'static str) {
        *self.refusals.lock().entry(limit).or_default() += 1;
    }

    /// Counts a request authorization refused (`--web.auth-config`).
    pub(crate) fn count_principal_refusal(&self, principal: &str, reason: &'static str) {
        let mut counts = self.principal_refusals.lock();
        match counts.get_mut(&(principal.to_string(), reason)) {
            Some(n) => *n += 1,
            None => {
                counts.insert((principal.to_string(), reason), 1);
            }
        }
    }

    /// The families to merge into a scrape: with `persistence` its two
    /// metrics, with `expired` (TTLs in use) the count of expired groups.
    pub(crate) fn families(
        &self,
        persistence: Option<PersistenceHealth>,
        expired: Option<u64>,
        authorization: Authorization,
    ) -> Vec<StoredFamily> {
        let now = Instant::now();
        let at = PushTime::now();
        let mut families: Vec<MetricFamily<String>> = Vec::new();
        families.extend(process_families(self.start));
        families.push(gauge_family(
            BUILD_INFO,
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which pushgateway was built, and the goos and goarch for the build.",
            vec![(build_labels(), 1.0)],
        ));
        let requests: Vec<Metric> = self
            .requests
            .lock()
            .iter()
            .map(|((handler, code, method), n)| Metric {
                labels: labels(&[
                    ("code", &code.to_string()),
                    ("handler", handler),
                    ("method", method),
                ]),
                value: Value::Counter(exposition::Counter {
                    value: *n as f64,
                    ..Default::default()
                }),
                timestamp_ms: None,
            })
            .collect();
        families.push(MetricFamily {
            name: REQUESTS.into(),
            help: Some(
                "Total HTTP requests processed by the Pushgateway, excluding scrapes.".into(),
            ),
            metric_type: MetricType::Counter,
            unit: None,
            metrics: requests,
        });
        let mut pushes = self.pushes.lock();
        type Pick = fn(&mut (Window, Window)) -> &mut Window;
        let summaries: [(&str, &str, Pick); 2] = [
            (
                PUSH_DURATION,
                "HTTP request duration for pushes to the Pushgateway.",
                |windows| &mut windows.0,
            ),
            (
                PUSH_SIZE,
                "HTTP request size for pushes to the Pushgateway.",
                |windows| &mut windows.1,
            ),
        ];
        for (name, help, pick) in summaries {
            let metrics = pushes
                .iter_mut()
                .map(|(method, windows)| Metric {
                    labels: labels(&[("method", method)]),
                    value: Value::Summary(pick(windows).summary(now)),
                    timestamp_ms: None,
                })
                .collect();
            families.push(MetricFamily {
                name: name.into(),
                help: Some(help.into()),
                metric_type: MetricType::Summary,
                unit: None,
                metrics,
            });
        }
        drop(pushes);
        let refusals = self
            .refusals
            .lock()
            .iter()
            .map(|(limit, n)| Metric {
                labels: labels(&[("limit", limit)]),
                value: Value::Counter(exposition::Counter {
                    value: *n as f64,
                    ..Default::default()
                }),
                timestamp_ms: None,
            })
            .collect();
        families.push(MetricFamily {
            name: REFUSALS.into(),
            help: Some("Requests refused because they exceeded a limit, by limit.".into()),
            metric_type: MetricType::Counter,
            unit: None,
            metrics: refusals,
        });
        if let Some(health) = persistence {
            families.push(MetricFamily {
                name: PERSISTENCE_FAILURES.into(),
                help: Some(
                    "Failed writes of the persistence journal or snapshot, including attempts to recover."
                        .into(),
                ),
                metric_type: MetricType::Counter,
                unit: None,
                metrics: vec![Metric {
                    labels: Vec::new(),
                    value: Value::Counter(exposition::Counter {
                        value: health.failures as f64,
                        ..Default::default()
                    }),
                    timestamp_ms: None,
                }],
            });
            families.push(gauge_family(
                WRITES_REFUSED,
                "1 while writes are refused because they cannot be persisted, else 0.",
                vec![(Vec::new(), if health.refusing { 1.0 } else { 0.0 })],
            ));
        }
        if authorization == Authorization::Policy {
            let refused = self
                .principal_refusals
                .lock()
                .iter()
                .map(|((principal, reason), n)| Metric {
                    labels: labels(&[("principal", principal), ("reason", reason)]),
                    value: Value::Counter(exposition::Counter {
                        value: *n as f64,
                        ..Default::default()
                    }),
                    timestamp_ms: None,
                })
                .collect();
            families.push(MetricFamily {
                name: REQUESTS_REFUSED.into(),
                help: Some(
                    "Requests refused by --web.auth-config, by principal (\"\" when unknown) and reason."
                        .into(),
                ),
                metric_type: MetricType::Counter,
                unit: None,
                metrics: refused,
            });
        }
        if let Some(expired) = expired {
            families.push(MetricFamily {
                name: GROUPS_EXPIRED.into(),
                help: Some("Groups removed because their TTL ran out.".into()),
                metric_type: MetricType::Counter,
                unit: None,
                metrics: vec![Metric {
                    labels: Vec::new(),
                    value: Value::Counter(exposition::Counter {
                        value: expired as f64,
                        ..Default::default()
                    }),
                    timestamp_ms: None,
                }],
            });
        }
        families
            .iter()
            .map(|f| StoredFamily::plain(f, at))
            .collect()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(n, v)| LabelPair {
            name: (*n).to_string(),
            value: (*v).to_string(),
        })
        .collect()
}

fn gauge_family(name: &str, help: &str, metrics: Vec<(Vec<LabelPair>, f64)>) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: Some(help.into()),
        metric_type: MetricType::Gauge,
        unit: None,
        metrics: metrics
            .into_iter()
            .map(|(labels, v)| Metric {
                labels,
                value: Value::Gauge(v),
                timestamp_ms: None,
            })
            .collect(),
    }
}

/// The labels of `pushgateway_build_info`, with the Go gateway's names
/// (`goversion` carries the Rust compiler's version).
pub(crate) fn build_labels() -> Vec<LabelPair> {
    labels(&[
        ("branch", crate::build::BRANCH),
        ("goarch", crate::build::go_arch()),
        ("goos", std::env::consts::OS),
        ("goversion", crate::build::RUSTC_VERSION),
        ("revision", crate::build::REVISION),
        ("tags", ""),
        ("version", crate::build::VERSION),
    ])
}

fn process_start_time() -> Option<PushTime> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let start_ticks: f64 = fields.get(19)?.parse().ok()?;
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(PushTime::from_nanos(
        ((boot + start_ticks / 100.0) * 1e9) as i64,
    ))
}

/// `process_*` metrics from procfs, as client_golang's process collector
/// reports them (nothing on systems without `/proc`).
fn process_families(start: PushTime) -> Vec<MetricFamily> {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Vec::new();
    };
    let Some((_, after)) = stat.rsplit_once(')') else {
        return Vec::new();
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields after the command name, counted from `state` (index 0).
    let cpu = (field(11) + field(12)) / 100.0;
    let vsize = field(20);
    let rss = field(21) * 4096.0;
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as f64)
        .unwrap_or(0.0);
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let limit = |name: &str| -> f64 {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .map_or(0.0, |v| {
                if v == "unlimited" {
                    u64::MAX as f64
                } else {
                    v.parse().unwrap_or(0.0)
                }
            })
    };
    let none = Vec::new;
    vec![
        MetricFamily {
            name: "process_cpu_seconds_total".into(),
            help: Some("Total user and system CPU time spent in seconds.".into()),
            metric_type: MetricType::Counter,
            unit: None,
            metrics: vec![Metric {
                labels: none(),
                value: Value::Counter(exposition::Counter {
                    value: cpu,
                    ..Default::default()
                }),
                timestamp_ms: None,
            }],
        },
        gauge_family(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            vec![(none(), limit("Max open files"))],
        ),
        gauge_family(
            "process_open_fds",
            "Number of open file descriptors.",
            vec![(none(), open_fds)],
        ),
        gauge_family(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            vec![(none(), rss)],
        ),
        gauge_family(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            vec![(none(), start.as_seconds_f64())],
        ),
        gauge_family(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            vec![(none(), vsize)],
        ),
        gauge_family(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            vec![(none(), limit("Max address space"))],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_quantiles() {
        let now = Instant::now();
        let mut w = Window::new(now);
        for i in 1..=100 {
            w.observe(f64::from(i), now);
        }
        let s = w.summary(now);
        assert_eq!(s.sample_count, 100);
        assert_eq!(s.sample_sum, 5050.0);
        let q: Vec<f64> = s.quantiles.iter().map(|q| q.value).collect();
        assert_eq!(q, vec![10.0, 50.0, 90.0]);
    }

    #[test]
    fn families_have_go_names() {
        let own = OwnMetrics::new();
        own.count_request("push", 200, "PUT");
        let names: Vec<String> = own
            .families(None, None, Authorization::Unrestricted)
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        for expected in [BUILD_INFO, REQUESTS, "process_start_time_seconds"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
    }
}
