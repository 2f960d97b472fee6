//! A `pushgateway` process on a free loopback port, for tests that need
//! real sockets (TLS, timeouts, memory).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running gateway; killed when dropped.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

/// A port nobody listens on, picked below the kernel's ephemeral range:
/// a port from that range can be taken meanwhile by an outgoing
/// connection, or by the readiness probe itself (a TCP self-connect to a
/// port nothing listens on yet), and the gateway then fails to bind.
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(12_000).max(1024);
    let span = u64::from(ephemeral_low - low).max(1);
    for attempt in 0u32..1000 {
        let pick = RandomState::new().hash_one((attempt, std::process::id()));
        let port = low + u16::try_from(pick % span).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below {ephemeral_low}");
}

/// Debian's Go Pushgateway (1.5.1) on `PATH`, which the tests compare
/// with; the test command installs it.
pub(crate) fn go_binary() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("prometheus-pushgateway"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the Go Pushgateway `prometheus-pushgateway` is not on PATH: \
                 install Debian's prometheus-pushgateway package (./scripts/test does)"
            )
        })
}

/// A gateway's log lines, as they arrive.
pub(crate) type Log = Arc<Mutex<Vec<String>>>;

/// Spawns the binary (under `wrapper`, if any) on a free port; its log is
/// drained into a buffer, since a full pipe would block its logging.
fn spawn(wrapper: &[&str], args: &[&str]) -> (Child, u16, Log) {
    let port = free_port();
    let binary = env!("CARGO_BIN_EXE_pushgateway");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let mut child = command
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gateway starts");
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    if let Some(stderr) = child.stderr.take() {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
    }
    (child, port, log)
}

impl Gateway {
    /// Starts the binary with `args` and waits until the port accepts.
    pub(crate) fn start(args: &[&str]) -> Gateway {
        let (mut child, port, _log) = spawn(&[], args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Gateway { child, port };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("gateway did not listen on {port}");
    }

    /// Starts the binary under `wrapper` (e.g. `prlimit --nofile=…`) with
    /// `args`; its log lines are collected into the returned buffer.
    pub(crate) fn start_logged(wrapper: &[&str], args: &[&str]) -> (Gateway, Log) {
        let (mut child, port, log) = spawn(wrapper, args);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("\"Listening on\""))
            {
                return (Gateway { child, port }, log);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("gateway did not start on {port}: {:?}", log.lock().unwrap());
    }

    /// Runs the binary expecting it to refuse to start; returns its stderr.
    pub(crate) fn refuse(args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_pushgateway"))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
            .args(args)
            .output()
            .expect("binary runs");
        assert!(!out.status.success(), "expected start-up to fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Peak resident memory so far (VmHWM), in bytes.
    pub(crate) fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kb * 1024
    }

    /// CPU time the gateway has used so far (user and system), which a
    /// busy machine does not stretch as it stretches wall-clock time.
    pub(crate) fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let per_second = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(100);
        Duration::from_millis(ticks * 1000 / per_second)
    }

    /// Stops the gateway with SIGTERM (a clean shutdown, which writes the
    /// final snapshot) and asserts it exited successfully.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit: {status:?}");
    }

    pub(crate) fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
