//! `pushgateway-bench`: runs the same scenarios against our pushgateway and
//! Debian's Go Pushgateway in one run and prints a table (ours, Go, ratio)
//! plus a JSON file.
//!
//! Run: `cargo build --release -p server -p pushgateway-bench &&
//! target/release/pushgateway-bench` (see `--help`; `--quick` for a short
//! run).
//!
//! Scenarios:
//! 1. push throughput: 16 keep-alive connections PUT 10 series into 100
//!    rotating groups for `--duration` (also ours with durable persistence),
//!    and ours as ratios robust to a noisy machine: push rate over the rate
//!    of `GET /-/healthy`, and durable over memory-only push rate (medians
//!    of alternating rounds);
//! 2. push latency p50/p99 on one connection with 0, 20k, 100k, 1M series
//!    stored (filled with groups of 100 series);
//! 3. scrape time (median of 5 after a warm-up) and size of `/metrics` at
//!    those sizes, plain and gzip;
//! 4. resident memory per stored series;
//! 5. push p99 while a scraper pulls `/metrics` every second at the largest size;
//! 6. start-up time with the largest size persisted (ours): from the
//!    write-ahead log after a kill, and from the snapshot after a clean stop;
//! 7. the web UI's groups page with 10,000 small groups (1,000 in short runs);
//! 8. push p99 (ours) while a tenth as many groups as the largest size has
//!    series (100k groups of 10 series at 1M) expire in four waves, against
//!    the same run without TTLs (target: within 2x).
//!
//! The Go gateway checks every push against its whole store, which makes
//! filling it to large sizes slow; it is filled with its check disabled and
//! persistence on, then restarted normally on that file, so that what is
//! measured is the normal configuration.

mod client;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use client::Conn;

/// Which gateway a process is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ours,
    Go,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Go => "go",
        }
    }
}

struct Options {
    ours: PathBuf,
    go: Option<PathBuf>,
    sizes: Vec<u64>,
    duration: Duration,
    json: PathBuf,
    go_fill_budget: Duration,
}

fn usage() -> &'static str {
    "usage: pushgateway-bench [--ours PATH] [--go PATH|none] [--sizes 0,20000,100000,1000000]
                         [--duration SECONDS] [--json PATH] [--go-fill-budget SECONDS] [--quick]

Runs every scenario against our gateway (default target/release/pushgateway) and the Go
Pushgateway (default prometheus-pushgateway from PATH), prints a table and writes JSON
(default bench-results.json)."
}

fn parse_args() -> Result<Options> {
    let mut o = Options {
        ours: PathBuf::from("target/release/pushgateway"),
        go: Some(PathBuf::from("prometheus-pushgateway")),
        sizes: vec![0, 20_000, 100_000, 1_000_000],
        duration: Duration::from_secs(10),
        json: PathBuf::from("bench-results.json"),
        go_fill_budget: Duration::from_secs(60),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().context("missing value");
        match a.as_str() {
            "--ours" => o.ours = value()?.into(),
            "--go" => o.go = Some(value()?).filter(|v| v != "none").map(Into::into),
            "--sizes" => {
                o.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--duration" => o.duration = Duration::from_secs_f64(value()?.parse()?),
            "--json" => o.json = value()?.into(),
            "--go-fill-budget" => o.go_fill_budget = Duration::from_secs_f64(value()?.parse()?),
            "--quick" => {
                o.sizes = vec![0, 20_000];
                o.duration = Duration::from_secs(3);
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{}", usage()),
        }
    }
    Ok(o)
}

/// A gateway process on a free port.
struct Gateway {
    kind: Kind,
    child: Child,
    port: u16,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Gateway {
    async fn start(kind: Kind, binary: &PathBuf, flags: &[String]) -> Result<Gateway> {
        let port = free_port()?;
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if !flags.iter().any(|f| f.starts_with("--persistence.file")) {
            cmd.arg("--persistence.file=");
        }
        let child = cmd
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut gw = Gateway { kind, child, port };
        gw.wait_ready(Duration::from_secs(600)).await?;
        Ok(gw)
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<Duration> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status}", self.kind.name());
            }
            if let Ok(mut c) = Conn::open(self.port).await {
                if c.send("GET", "/-/ready", &[], b"")
                    .await
                    .map(|r| r.status)
                    .unwrap_or(0)
                    == 200
                {
                    return Ok(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("{} not ready after {limit:?}", self.kind.name())
    }

    /// Resident memory in bytes.
    fn rss(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }

    /// Kills the process with SIGKILL, as a crash would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn terminate(&mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of one fill group: 10 gauge families of 10 series.
fn fill_body(group: u64) -> Vec<u8> {
    let mut body = String::with_capacity(8 << 10);
    for k in 0..10 {
        body.push_str(&format!(
            "# HELP fill_metric_{k} A gauge of the fill workload.\n# TYPE fill_metric_{k} gauge\n"
        ));
        for j in 0..10 {
            body.push_str(&format!(
                "fill_metric_{k}{{series=\"{j}\",path=\"/api/v1/resource\"}} {}\n",
                (group * 100 + k * 10 + j) as f64 * 1.5
            ));
        }
    }
    body.into_bytes()
}

/// The 10-series push the latency and throughput scenarios send.
fn bench_body(n: u64) -> Vec<u8> {
    let mut body = String::from("# TYPE bench_requests gauge\n");
    for j in 0..10 {
        body.push_str(&format!("bench_requests{{series=\"{j}\"}} {}\n", n + j));
    }
    body.into_bytes()
}

/// A one-gauge group for the web UI scenario (many small groups).
fn small_body(group: u64) -> Vec<u8> {
    format!(
        "# TYPE ui_metric gauge\nui_metric{{shard=\"{}\"}} {group}\n",
        group % 7
    )
    .into_bytes()
}

/// A group of 10 series, for the TTL waves.
fn wave_body(group: u64) -> Vec<u8> {
    let mut body = String::from("# TYPE wave_metric gauge\n");
    for j in 0..10 {
        body.push_str(&format!("wave_metric{{series=\"{j}\"}} {}\n", group + j));
    }
    body.into_bytes()
}

/// TTLs for a fill: group `g` lives `base + (g % waves) * step`.
#[derive(Clone, Copy)]
struct Waves {
    base: Duration,
    step: Duration,
    waves: u64,
}

impl Waves {
    fn ttl(&self, group: u64) -> Duration {
        self.base + self.step * (group % self.waves) as u32
    }

    /// When the last wave has gone, counted from the end of the fill.
    fn last(&self) -> Duration {
        self.base + self.step * (self.waves - 1) as u32
    }
}

/// How to fill a gateway: how many groups, the body of each, and their
/// TTLs (none: the groups never expire).
#[derive(Clone, Copy)]
struct Fill {
    groups: u64,
    body: fn(u64) -> Vec<u8>,
    ttls: Option<Waves>,
}

impl Fill {
    /// Groups of 100 series making `series` in all.
    fn series(series: u64) -> Fill {
        Fill {
            groups: series / 100,
            body: fill_body,
            ttls: None,
        }
    }
}

/// Pushes the fill groups on several connections.
async fn fill(port: u16, what: Fill, expect: u16) -> Result<()> {
    let Fill { groups, body, ttls } = what;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await?;
            loop {
                let g = next.fetch_add(1, Ordering::Relaxed);
                if g >= groups {
                    return Ok::<(), anyhow::Error>(());
                }
                let ttl = ttls.map(|w| format!("{}ms", w.ttl(g).as_millis()));
                let headers: Vec<(&str, &str)> = ttl
                    .as_deref()
                    .map(|t| ("Pushgateway-TTL", t))
                    .into_iter()
                    .collect();
                let r = conn
                    .send(
                        "PUT",
                        &format!("/metrics/job/fill/instance/g{g}"),
                        &headers,
                        &body(g),
                    )
                    .await?;
                if r.status != expect {
                    bail!("fill push answered {}", r.status);
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// A gateway holding the fill, started normally; with the time the fill
/// took, or `None` when it did not fit the budget.
async fn filled(
    kind: Kind,
    binary: &PathBuf,
    what: Fill,
    budget: Duration,
    extra: &[String],
) -> Result<Option<(Gateway, Duration)>> {
    let started = Instant::now();
    if kind == Kind::Ours || what.groups == 0 {
        let gw = Gateway::start(kind, binary, extra).await?;
        fill(gw.port, what, 200).await?;
        return Ok(Some((gw, started.elapsed())));
    }
    // Go: fill without its O(store) check into a persistence file, then
    // restart it normally on that file.
    let dir = std::env::temp_dir().join(format!("pgw-bench-go-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("go.data");
    let _ = std::fs::remove_file(&file);
    let persist = format!("--persistence.file={}", file.display());
    let mut loader = Gateway::start(
        kind,
        binary,
        &[persist.clone(), "--push.disable-consistency-check".into()],
    )
    .await?;
    let loaded = tokio::time::timeout(budget, fill(loader.port, what, 202)).await;
    if loaded.is_err() {
        return Ok(None);
    }
    loaded??;
    loader.terminate()?;
    let mut gw = Gateway::start(kind, binary, &[persist]).await?;
    if started.elapsed() > budget {
        return Ok(None);
    }
    gw.wait_ready(Duration::from_secs(60)).await?;
    Ok(Some((gw, started.elapsed())))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Push latencies (seconds) on one connection: up to `samples`, within `budget`.
async fn latency(port: u16, samples: usize, budget: Duration) -> Result<Vec<f64>> {
    let mut conn = Conn::open(port).await?;
    let mut out = Vec::with_capacity(samples);
    let started = Instant::now();
    for i in 0..samples {
        let body = bench_body(i as u64);
        let t = Instant::now();
        let r = conn
            .send(
                "PUT",
                &format!("/metrics/job/latency/instance/l{}", i % 100),
                &[],
                &body,
            )
            .await?;
        out.push(t.elapsed().as_secs_f64());
        if r.status != 200 {
            bail!("latency push answered {}", r.status);
        }
        if started.elapsed() > budget && out.len() >= 5 {
            break;
        }
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

/// Scrape duration (median of `n`) and size.
async fn scrape(port: u16, gzip: bool, n: usize) -> Result<(f64, usize)> {
    let headers: &[(&str, &str)] = if gzip {
        &[("Accept-Encoding", "gzip")]
    } else {
        &[]
    };
    get_median(port, "/metrics", headers, n).await
}

/// Time to fetch a page (median of `n`) and its size.
async fn fetch_median(port: u16, path: &str, n: usize) -> Result<(f64, usize)> {
    get_median(port, path, &[], n).await
}

/// Median duration of `n` GETs on fresh connections, after one that is
/// not counted (the first touches cold memory in both gateways), and the
/// size.
async fn get_median(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    n: usize,
) -> Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut size = 0;
    for round in 0..=n {
        let mut conn = Conn::open(port).await?;
        let t = Instant::now();
        let r = conn.send("GET", path, headers, b"").await?;
        if round > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
        if r.status != 200 {
            bail!("GET {path} answered {}", r.status);
        }
        size = r.len;
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], size))
}

/// What a throughput run sends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    /// PUTs of 10 series into 100 rotating groups.
    Push,
    /// `GET /-/healthy`: the floor a request costs.
    Healthy,
}

/// Requests per second from 16 keep-alive connections.
async fn throughput(port: u16, duration: Duration, load: Load) -> Result<f64> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..16u64 {
        let (stop, done) = (stop.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await?;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let r = match load {
                    Load::Push => {
                        let path = format!("/metrics/job/throughput/instance/t{}", i % 100);
                        conn.send("PUT", &path, &[], &bench_body(i)).await?
                    }
                    Load::Healthy => conn.send("GET", "/-/healthy", &[], b"").await?,
                };
                if r.status != 200 {
                    bail!("answered {}", r.status);
                }
                done.fetch_add(1, Ordering::Relaxed);
                i += 16;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    // Warm up, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = done.load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(duration).await;
    let count = done.load(Ordering::Relaxed) - before;
    let secs = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(count as f64 / secs)
}

/// The median over `rounds` of `a`'s rate divided by `b`'s, the two runs
/// of each round back to back, so that a noisy machine moves both alike.
/// Returns the ratio and the median rates.
async fn rate_ratio(
    rounds: usize,
    duration: Duration,
    a: (u16, Load),
    b: (u16, Load),
) -> Result<(f64, f64, f64)> {
    let (mut ratios, mut rates_a, mut rates_b) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let ra = throughput(a.0, duration, a.1).await?;
        let rb = throughput(b.0, duration, b.1).await?;
        ratios.push(ra / rb);
        rates_a.push(ra);
        rates_b.push(rb);
    }
    for v in [&mut ratios, &mut rates_a, &mut rates_b] {
        v.sort_by(f64::total_cmp);
    }
    let median = |v: &[f64]| v[v.len() / 2];
    Ok((median(&ratios), median(&rates_a), median(&rates_b)))
}

/// Push latencies while a scraper pulls `/metrics` every second.
async fn mixed(port: u16, duration: Duration) -> Result<(Vec<f64>, Vec<f64>)> {
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut conn = Conn::open(port).await?;
                conn.send("GET", "/metrics", &[], b"").await?;
                times.push(t.elapsed().as_secs_f64());
                let rest = Duration::from_secs(1).saturating_sub(t.elapsed());
                tokio::time::sleep(rest).await;
            }
            Ok::<Vec<f64>, anyhow::Error>(times)
        })
    };
    let mut conn = Conn::open(port).await?;
    let mut pushes = Vec::new();
    let started = Instant::now();
    let mut i = 0u64;
    while started.elapsed() < duration {
        let t = Instant::now();
        conn.send(
            "PUT",
            &format!("/metrics/job/mixed/instance/m{}", i % 100),
            &[],
            &bench_body(i),
        )
        .await?;
        pushes.push(t.elapsed().as_secs_f64());
        i += 1;
        // Pace the pushes so the scrape overlaps many of them.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut scrapes = scraper.await??;
    pushes.sort_by(f64::total_cmp);
    scrapes.sort_by(f64::total_cmp);
    Ok((pushes, scrapes))
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v < 0.01 {
        format!("{:.3} ms", v * 1e3)
    } else {
        format!("{:.1} ms", v * 1e3)
    }
}

struct Table {
    rows: Vec<[String; 4]>,
}

impl Table {
    fn row(&mut self, what: &str, ours: String, go: String, ratio: String) {
        println!("{what:<46} {ours:>14} {go:>14} {ratio:>10}");
        self.rows.push([what.into(), ours, go, ratio]);
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if a > 0.0 && b.is_finite() => format!("{:.0}x", b / a),
        _ => "—".into(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let o = parse_args()?;
    let mut results = json!({ "sizes": {} });
    let mut table = Table { rows: Vec::new() };
    println!(
        "{:<46} {:>14} {:>14} {:>10}",
        "scenario", "ours", "go", "go/ours"
    );
    let kinds: Vec<(Kind, PathBuf)> = std::iter::once((Kind::Ours, o.ours.clone()))
        .chain(o.go.clone().map(|g| (Kind::Go, g)))
        .collect();

    // 1. Throughput, and what a push costs beyond a request that does
    // nothing (ours): push rate over /-/healthy rate, and durable over
    // memory-only push rate, each the median of alternating rounds.
    let mut tp = serde_json::Map::new();
    let rounds = 3;
    let round = (o.duration / rounds as u32).max(Duration::from_secs(1));
    let memory = Gateway::start(Kind::Ours, &o.ours, &[]).await?;
    let durable_dir =
        std::env::temp_dir().join(format!("pgw-bench-durable-{}", std::process::id()));
    std::fs::create_dir_all(&durable_dir)?;
    let file = format!(
        "--persistence.file={}",
        durable_dir.join("d.data").display()
    );
    let durable = Gateway::start(Kind::Ours, &o.ours, &[file]).await?;
    let (push_ratio, push_rate, healthy_rate) = rate_ratio(
        rounds,
        round,
        (memory.port, Load::Push),
        (memory.port, Load::Healthy),
    )
    .await?;
    let (durable_ratio, durable_rate, _) = rate_ratio(
        rounds,
        round,
        (durable.port, Load::Push),
        (memory.port, Load::Push),
    )
    .await?;
    drop((memory, durable));
    tp.insert("ours".into(), json!(push_rate));
    tp.insert("ours_healthy".into(), json!(healthy_rate));
    tp.insert("ours_durable".into(), json!(durable_rate));
    tp.insert("ours_push_over_healthy".into(), json!(push_ratio));
    tp.insert("ours_durable_over_memory".into(), json!(durable_ratio));
    if let Some((_, bin)) = kinds.iter().find(|(k, _)| *k == Kind::Go) {
        let gw = Gateway::start(Kind::Go, bin, &[]).await?;
        tp.insert(
            "go".into(),
            json!(throughput(gw.port, o.duration, Load::Push).await?),
        );
        tp.insert(
            "go_healthy".into(),
            json!(throughput(gw.port, round, Load::Healthy).await?),
        );
    }
    let (tp_ours, tp_go) = (tp["ours"].as_f64(), tp.get("go").and_then(Value::as_f64));
    table.row(
        "push throughput (16 conns, 10 series), pushes/s",
        format!("{:.0}", tp_ours.unwrap_or(0.0)),
        tp_go.map_or("—".into(), |g| format!("{g:.0}")),
        match (tp_ours, tp_go) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.0}x", a / b),
            _ => "—".into(),
        },
    );
    table.row(
        "  /-/healthy (16 conns), requests/s",
        format!("{healthy_rate:.0}"),
        tp.get("go_healthy")
            .and_then(Value::as_f64)
            .map_or("—".into(), |g| format!("{g:.0}")),
        String::new(),
    );
    table.row(
        "  push rate / healthy rate (ours; target >= 0.70)",
        format!("{push_ratio:.2}"),
        String::new(),
        String::new(),
    );
    table.row(
        "  ours with durable persistence, pushes/s",
        format!("{durable_rate:.0}"),
        String::new(),
        String::new(),
    );
    table.row(
        "  durable / memory push rate (ours; target >= 0.50)",
        format!("{durable_ratio:.2}"),
        String::new(),
        String::new(),
    );
    results["throughput_pushes_per_second"] = Value::Object(tp);

    // 2–5. Per store size.
    let largest = o.sizes.iter().copied().max().unwrap_or(0);
    for &size in &o.sizes {
        let mut per = serde_json::Map::new();
        for (kind, bin) in &kinds {
            let baseline = {
                let gw = Gateway::start(*kind, bin, &[]).await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                gw.rss()
            };
            let Some((gw, fill_time)) =
                filled(*kind, bin, Fill::series(size), o.go_fill_budget, &[]).await?
            else {
                per.insert(
                    kind.name().into(),
                    json!({"skipped": format!("filling took over {:?}", o.go_fill_budget)}),
                );
                continue;
            };
            let budget = if *kind == Kind::Go {
                Duration::from_secs(30)
            } else {
                Duration::from_secs(10)
            };
            let lat = latency(gw.port, 300, budget).await?;
            let (plain, bytes) = scrape(gw.port, false, 5).await?;
            let (gz, gz_bytes) = scrape(gw.port, true, 5).await?;
            let rss = gw.rss();
            let mut m = json!({
                "fill_seconds": fill_time.as_secs_f64(),
                "push_p50_seconds": percentile(&lat, 0.5),
                "push_p99_seconds": percentile(&lat, 0.99),
                "push_samples": lat.len(),
                "scrape_seconds": plain,
                "scrape_bytes": bytes,
                "scrape_gzip_seconds": gz,
                "scrape_gzip_bytes": gz_bytes,
                "rss_bytes": rss,
                "rss_baseline_bytes": baseline,
            });
            if size > 0 {
                m["rss_bytes_per_series"] =
                    json!((rss.saturating_sub(baseline)) as f64 / size as f64);
            }
            if size == largest && size > 0 {
                let (pushes, scrapes) = mixed(gw.port, Duration::from_secs(15)).await?;
                m["mixed_push_p50_seconds"] = json!(percentile(&pushes, 0.5));
                m["mixed_push_p99_seconds"] = json!(percentile(&pushes, 0.99));
                m["mixed_scrape_p50_seconds"] = json!(percentile(&scrapes, 0.5));
                m["mixed_pushes"] = json!(pushes.len());
            }
            per.insert(kind.name().into(), m);
        }
        let get = |k: &str, f: &str| per.get(k).and_then(|v| v.get(f)).and_then(Value::as_f64);
        let label = |what: &str| format!("{what} @ {size} series");
        // A timing row: ours, Go, and how many times faster ours is.
        let mut timing = |what: &str, field: &str| {
            let (ours, go) = (get("ours", field), get("go", field));
            table.row(
                &label(what),
                ms(ours.unwrap_or(f64::NAN)),
                ms(go.unwrap_or(f64::NAN)),
                ratio(ours, go),
            );
        };
        timing("push p50", "push_p50_seconds");
        timing("push p99", "push_p99_seconds");
        timing("scrape", "scrape_seconds");
        timing("scrape, gzip", "scrape_gzip_seconds");
        table.row(
            &label("scrape bytes (plain/gzip)"),
            format!(
                "{}/{}",
                get("ours", "scrape_bytes").unwrap_or(0.0),
                get("ours", "scrape_gzip_bytes").unwrap_or(0.0)
            ),
            format!(
                "{}/{}",
                get("go", "scrape_bytes").unwrap_or(0.0),
                get("go", "scrape_gzip_bytes").unwrap_or(0.0)
            ),
            String::new(),
        );
        if size > 0 {
            let per_series = |k: &str| {
                get(k, "rss_bytes_per_series").map_or("—".into(), |v| format!("{v:.0} B"))
            };
            table.row(
                &label("RSS per series"),
                per_series("ours"),
                per_series("go"),
                ratio(
                    get("ours", "rss_bytes_per_series"),
                    get("go", "rss_bytes_per_series"),
                ),
            );
        }
        if size == largest && size > 0 {
            table.row(
                &label("push p99 while scraped every 1 s"),
                ms(get("ours", "mixed_push_p99_seconds").unwrap_or(f64::NAN)),
                ms(get("go", "mixed_push_p99_seconds").unwrap_or(f64::NAN)),
                ratio(
                    get("ours", "mixed_push_p99_seconds"),
                    get("go", "mixed_push_p99_seconds"),
                ),
            );
        }
        for (k, v) in &per {
            if let Some(s) = v.get("skipped") {
                println!(
                    "  ({k} skipped at {size} series: {})",
                    s.as_str().unwrap_or("")
                );
            }
        }
        results["sizes"][size.to_string()] = Value::Object(per);
    }

    // 6. Start-up with the largest store persisted (ours).
    if largest > 0 {
        let file = durable_dir.join("startup.data");
        let _ = std::fs::remove_file(&file);
        let flag = format!("--persistence.file={}", file.display());
        let Some((mut gw, _)) = filled(
            Kind::Ours,
            &o.ours,
            Fill::series(largest),
            o.go_fill_budget,
            std::slice::from_ref(&flag),
        )
        .await?
        else {
            bail!("could not fill ours");
        };
        // First a crash: everything is in the write-ahead log (the snapshot
        // interval has not passed), so start-up replays it.
        gw.kill();
        let started = Instant::now();
        let mut gw = Gateway::start(Kind::Ours, &o.ours, std::slice::from_ref(&flag)).await?;
        let replay = started.elapsed().as_secs_f64();
        // Then a clean stop, which writes a snapshot; start-up loads it.
        gw.terminate()?;
        let started = Instant::now();
        let gw = Gateway::start(Kind::Ours, &o.ours, &[flag]).await?;
        let startup = started.elapsed().as_secs_f64();
        drop(gw);
        results["startup_seconds_with_persisted_series"] =
            json!({ "series": largest, "from_snapshot": startup, "from_log_after_kill": replay });
        table.row(
            &format!("start-up, {largest} series in snapshot"),
            format!("{startup:.2} s"),
            String::new(),
            String::new(),
        );
        table.row(
            &format!("start-up, {largest} series in log (after kill -9)"),
            format!("{replay:.2} s"),
            String::new(),
            String::new(),
        );
    }

    // 7. The web UI's groups page with many groups.
    let ui_groups = if largest >= 1_000_000 { 10_000 } else { 1_000 };
    let mut ui = serde_json::Map::new();
    for (kind, bin) in &kinds {
        let what = Fill {
            groups: ui_groups,
            body: small_body,
            ttls: None,
        };
        let Some((gw, _)) = filled(*kind, bin, what, o.go_fill_budget, &[]).await? else {
            continue;
        };
        let (seconds, bytes) = fetch_median(gw.port, "/", 5).await?;
        ui.insert(
            kind.name().into(),
            json!({ "seconds": seconds, "bytes": bytes }),
        );
    }
    let page = |k: &str| ui.get(k).and_then(|v| v["seconds"].as_f64());
    table.row(
        &format!("web UI groups page @ {ui_groups} groups"),
        ms(page("ours").unwrap_or(f64::NAN)),
        ms(page("go").unwrap_or(f64::NAN)),
        ratio(page("ours"), page("go")),
    );
    results["web_ui_page"] = json!({ "groups": ui_groups, "results": ui });

    // 8. Push latency while groups expire in waves, against no TTLs (ours).
    let wave_groups = (largest / 10).max(1_000);
    let plain = Fill {
        groups: wave_groups,
        body: wave_body,
        ttls: None,
    };
    let started = Instant::now();
    let gw = Gateway::start(Kind::Ours, &o.ours, &[]).await?;
    fill(gw.port, plain, 200).await?;
    let fill_time = started.elapsed();
    // The waves begin a second after the fill ends and come every 2 s.
    let waves = Waves {
        base: fill_time + Duration::from_secs(1),
        step: Duration::from_secs(2),
        waves: 4,
    };
    let window = waves.last() + Duration::from_secs(1);
    let without = latency(gw.port, 1_000_000, window).await?;
    drop(gw);
    let gw = Gateway::start(Kind::Ours, &o.ours, &[]).await?;
    let with_ttls = Fill {
        ttls: Some(waves),
        ..plain
    };
    fill(gw.port, with_ttls, 200).await?;
    let with = latency(gw.port, 1_000_000, window).await?;
    let expired = {
        let mut conn = Conn::open(gw.port).await?;
        let r = conn.send_text("GET", "/metrics").await?;
        r.lines()
            .find_map(|l| l.strip_prefix("pushgateway_groups_expired_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    drop(gw);
    let (p99_with, p99_without) = (percentile(&with, 0.99), percentile(&without, 0.99));
    results["ttl_waves"] = json!({
        "groups": wave_groups,
        "series": wave_groups * 10,
        "expired": expired,
        "push_p99_seconds_with_ttls": p99_with,
        "push_p99_seconds_without_ttls": p99_without,
        "pushes_with_ttls": with.len(),
        "pushes_without_ttls": without.len(),
        "p99_ratio": p99_with / p99_without,
    });
    table.row(
        &format!("push p99, {wave_groups} groups expiring / none"),
        format!("{} / {}", ms(p99_with), ms(p99_without)),
        String::new(),
        String::new(),
    );
    table.row(
        &format!("  ratio (target <= 2.0; {expired:.0} expired)"),
        format!("{:.2}", p99_with / p99_without),
        String::new(),
        String::new(),
    );
    let _ = std::fs::remove_dir_all(&durable_dir);
    results["table"] = json!(table.rows);
    std::fs::write(&o.json, serde_json::to_string_pretty(&results)?)?;
    println!("\nJSON written to {}", o.json.display());
    Ok(())
}
