//! Test gateways: Debian's Go `prometheus-pushgateway` and this
//! workspace's `pushgateway`, each started fresh per test on a free
//! loopback port, plus TLS certificates and exporter-toolkit web configs.
//!
//! Shared with the `pushgw` tests (included there by path). Results are
//! read back with a plain reqwest client of its own, never with the client
//! under test.

#![allow(dead_code, unreachable_pub)]

use std::fmt;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Which gateway implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Debian's Go Pushgateway (1.5.1), `prometheus-pushgateway` on PATH.
    Go,
    /// This workspace's gateway.
    Ours,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Go => "Go prometheus-pushgateway",
            Kind::Ours => "our pushgateway",
        })
    }
}

/// How to start a gateway.
#[derive(Default)]
pub struct Options<'a> {
    /// TLS with client certificates required (`RequireAndVerifyClientCert`).
    pub tls: Option<&'a Tls>,
    /// Users for basic auth (bcrypt-hashed into the web config).
    pub users: &'a [(&'a str, &'a str)],
    /// `--web.enable-admin-api`.
    pub admin_api: bool,
    /// An authorization policy for `--web.auth-config` (our gateway only).
    pub auth_config: Option<&'a str>,
}

/// A running gateway; killed when dropped.
pub struct Gateway {
    pub kind: Kind,
    child: Child,
    url: String,
    dir: tempfile::TempDir,
    ca_pem: Option<String>,
    identity_pem: Option<String>,
    user: Option<(String, String)>,
}

impl Gateway {
    /// A plain gateway (HTTP, no auth).
    pub fn start(kind: Kind) -> Gateway {
        Gateway::start_with(kind, &Options::default())
    }

    /// A gateway with a web config and/or the admin API.
    pub fn start_with(kind: Kind, options: &Options<'_>) -> Gateway {
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut args = vec![
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--persistence.file=".to_owned(),
        ];
        if options.tls.is_some() || !options.users.is_empty() {
            let path = dir.path().join("web.yml");
            std::fs::write(&path, web_config(options.tls, options.users))
                .expect("write web config");
            args.push(format!("--web.config.file={}", path.display()));
        }
        if options.admin_api {
            args.push("--web.enable-admin-api".to_owned());
        }
        if let Some(policy) = options.auth_config {
            assert_eq!(kind, Kind::Ours, "only our gateway has --web.auth-config");
            let path = dir.path().join("auth.yml");
            std::fs::write(&path, policy).expect("write auth config");
            args.push(format!("--web.auth-config={}", path.display()));
        }
        let binary = match kind {
            Kind::Go => go_binary(),
            Kind::Ours => our_binary(),
        };
        let log = std::fs::File::create(dir.path().join("gateway.log")).expect("log file");
        let child = Command::new(&binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mut gateway = Gateway {
            kind,
            child,
            url: format!("{scheme}://127.0.0.1:{port}"),
            dir,
            ca_pem: options.tls.map(|t| t.ca_pem.clone()),
            identity_pem: options
                .tls
                .map(|t| format!("{}{}", t.client_cert_pem, t.client_key_pem)),
            user: options
                .users
                .first()
                .map(|(u, p)| ((*u).to_owned(), (*p).to_owned())),
        };
        gateway.wait_ready(port);
        gateway
    }

    fn wait_ready(&mut self, port: u16) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} at start-up:\n{}",
                    self.kind,
                    self.log()
                );
            }
            // Both gateways log "Listening on" once bound; a connect alone
            // could reach some other listener on a reused port.
            if self.log().contains("Listening on")
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("{} did not listen on {addr}:\n{}", self.kind, self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The gateway's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>` or `https://…`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `https://localhost:<port>` for TLS gateways (the certificate names
    /// both), the plain URL otherwise.
    pub fn localhost_url(&self) -> String {
        self.url.replace("127.0.0.1", "localhost")
    }

    /// A directory for the test's own files, removed with the gateway.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `GET path` with the gateway's credentials: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.url);
        let (ca, identity, user) = (
            self.ca_pem.clone(),
            self.identity_pem.clone(),
            self.user.clone(),
        );
        let answer = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut builder = reqwest::Client::builder().use_rustls_tls();
                if let Some(ca) = ca {
                    builder = builder.add_root_certificate(
                        reqwest::Certificate::from_pem(ca.as_bytes()).unwrap(),
                    );
                }
                if let Some(identity) = identity {
                    builder =
                        builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap());
                }
                let client = builder.build().expect("checking client");
                let mut request = client.get(&url);
                if let Some((user, password)) = user {
                    request = request.basic_auth(user, Some(password));
                }
                let response = request.send().await.map_err(|e| error_chain(&e))?;
                let status = response.status().as_u16();
                Ok::<_, String>((status, response.text().await.map_err(|e| error_chain(&e))?))
            })
        })
        .join()
        .expect("GET thread");
        answer.unwrap_or_else(|e| panic!("{}: GET {}{path}: {e}", self.kind, self.url))
    }

    /// The `data` array of `GET /api/v1/metrics`.
    pub fn groups(&self) -> Vec<Value> {
        if self.kind == Kind::Go {
            // Go answers a DELETE or wipe with 202 before its write queue
            // applies it; give the queue time, so a read sees the write.
            std::thread::sleep(Duration::from_millis(50));
        }
        let (status, body) = self.get("/api/v1/metrics");
        assert_eq!(status, 200, "{body}");
        let json: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["status"], "success", "{body}");
        json["data"].as_array().expect("data array").clone()
    }

    /// The group whose grouping labels are exactly `labels`.
    pub fn group(&self, labels: &[(&str, &str)]) -> Option<Value> {
        let wanted: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        self.groups()
            .into_iter()
            .find(|g| g["labels"].as_object() == Some(&wanted))
    }

    /// Like [`Gateway::group`], failing the test when there is none.
    pub fn expect_group(&self, labels: &[(&str, &str)]) -> Value {
        self.group(labels).unwrap_or_else(|| {
            panic!(
                "{}: no group {labels:?} in {:#?}",
                self.kind,
                self.groups()
                    .iter()
                    .map(|g| g["labels"].clone())
                    .collect::<Vec<_>>()
            )
        })
    }

    /// `GET /metrics` text.
    pub fn scrape(&self) -> String {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An error and its causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The samples of family `name` in a group: (labels, value) pairs.
pub fn samples(group: &Value, name: &str) -> Vec<(Value, String)> {
    group[name]["metrics"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {name} in {group:#}"))
        .iter()
        .map(|m| {
            (
                m["labels"].clone(),
                m["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The type (`GAUGE`, `COUNTER`, …) of family `name` in a group.
pub fn family_type(group: &Value, name: &str) -> String {
    group[name]["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no family {name} in {group:#}"))
        .to_owned()
}

/// Labels as a JSON object, for comparing with [`samples`].
pub fn labels(pairs: &[(&str, &str)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
    )
}

/// A port nobody listens on, picked below the kernel's ephemeral range:
/// a port from that range can be taken meanwhile by an outgoing
/// connection, or by the readiness probe itself (a TCP self-connect to a
/// port nothing listens on yet), and the gateway then fails to bind.
fn free_port() -> u16 {
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

fn go_binary() -> PathBuf {
    let name = "prometheus-pushgateway";
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on PATH: install Debian's package (apt-get install prometheus-pushgateway)")
        })
}

/// `$PUSHGATEWAY_BIN`, else the workspace's release build, else its debug
/// build.
fn our_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("PUSHGATEWAY_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "PUSHGATEWAY_BIN={} does not exist",
            bin.display()
        );
        return bin;
    }
    let mut target_dirs = Vec::new();
    // The test binary runs from <target>/<profile>/deps/.
    if let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
    {
        target_dirs.push(target);
    }
    target_dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target_dirs
        .iter()
        .flat_map(|t| [t.join("release/pushgateway"), t.join("debug/pushgateway")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("our gateway binary was not found: run `cargo build --release -p server` (or set PUSHGATEWAY_BIN)")
        })
}

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client
/// certificate, as PEM strings and files.
pub struct Tls {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub ca_file: PathBuf,
    pub server_cert_file: PathBuf,
    pub server_key_file: PathBuf,
    pub client_cert_file: PathBuf,
    pub client_key_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tls {
    /// Generates everything into a fresh directory.
    pub fn generate() -> Tls {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (ca, ca_pem) = certificate_authority("test CA");
        let (server_cert_pem, server_key_pem) = leaf(&["127.0.0.1", "localhost"], &ca);
        let (client_cert_pem, client_key_pem) = leaf(&["batch-job"], &ca);
        let write = |name: &str, contents: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, contents).expect("write PEM");
            path
        };
        Tls {
            ca_file: write("ca.pem", &ca_pem),
            server_cert_file: write("server.pem", &server_cert_pem),
            server_key_file: write("server-key.pem", &server_key_pem),
            client_cert_file: write("client.pem", &client_cert_pem),
            client_key_file: write("client-key.pem", &client_key_pem),
            ca_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
            _dir: dir,
        }
    }

    /// Another CA's certificate (trusting it instead must fail).
    pub fn unrelated_ca_pem() -> String {
        certificate_authority("other CA").1
    }
}

type Issuer = rcgen::CertifiedIssuer<'static, rcgen::KeyPair>;

fn certificate_authority(name: &str) -> (Issuer, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate");
    let pem = ca.pem();
    (ca, pem)
}

fn leaf(names: &[&str], ca: &Issuer) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("leaf params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, ca).expect("leaf certificate");
    (cert.pem(), key.serialize_pem())
}

/// An exporter-toolkit web config.
pub fn web_config(tls: Option<&Tls>, users: &[(&str, &str)]) -> String {
    let mut yaml = String::new();
    if let Some(tls) = tls {
        yaml.push_str(&format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            tls.server_cert_file.display(),
            tls.server_key_file.display(),
            tls.ca_file.display()
        ));
    }
    if !users.is_empty() {
        yaml.push_str("basic_auth_users:\n");
        for (user, password) in users {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            yaml.push_str(&format!("  {user}: {hash}\n"));
        }
    }
    yaml
}

/// A TCP listener that accepts connections and never answers.
pub struct Silent {
    pub url: String,
    _listener: TcpListener,
    _accepted: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Silent {
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (keep, clone) = (accepted.clone(), listener.try_clone().expect("listener"));
        std::thread::spawn(move || {
            for stream in clone.incoming().flatten() {
                keep.lock().expect("lock").push(stream);
            }
        });
        Silent {
            url,
            _listener: listener,
            _accepted: accepted,
        }
    }
}
