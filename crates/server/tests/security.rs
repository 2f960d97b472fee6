//! `--web.config.file` (TLS, client certificates, basic auth, headers, rate
//! limit, reload), limits against abusive bodies, and timeouts against slow
//! clients — against the real binary on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::gateway::Gateway;

/// A CA, a server certificate for 127.0.0.1 and two client certificates:
/// one from the CA, one from another CA.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client_pem: String,
    client_key: String,
    foreign_pem: String,
    foreign_key: String,
}

fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

fn leaf(
    names: &[&str],
    ca: &(rcgen::CertificateParams, rcgen::KeyPair, String),
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let issuer = rcgen::Issuer::from_params(&ca.0, &ca.1);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let main = ca("test CA");
        let other = ca("other CA");
        let (server_pem, server_key) = leaf(&["127.0.0.1", "localhost"], &main);
        let (client_pem, client_key) = leaf(&["client.example"], &main);
        let (foreign_pem, foreign_key) = leaf(&["client.example"], &other);
        std::fs::write(dir.path().join("ca.pem"), &main.2).unwrap();
        std::fs::write(dir.path().join("server.pem"), &server_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &server_key).unwrap();
        Pki {
            ca_pem: main.2,
            client_pem,
            client_key,
            foreign_pem,
            foreign_key,
            dir,
        }
    }

    fn write_config(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn client(&self, identity: Option<(&str, &str)>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10));
        if let Some((cert, key)) = identity {
            builder = builder
                .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }
}

fn config_flag(path: &Path) -> String {
    format!("--web.config.file={}", path.display())
}

#[tokio::test]
async fn tls_requires_a_verified_client_certificate() {
    let pki = Pki::new();
    let config = pki.write_config(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    let gw = Gateway::start(&[&config_flag(&config)]);
    let good = pki.client(Some((&pki.client_pem, &pki.client_key)));
    let r = good
        .put(gw.url("https", "/metrics/job/tls"))
        .body("tls_pushed 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = good
        .get(gw.url("https", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("tls_pushed{instance=\"\",job=\"tls\"} 1"));

    let anonymous = pki.client(None);
    let err = anonymous.get(gw.url("https", "/-/healthy")).send().await;
    assert!(
        err.is_err(),
        "no client certificate must fail the handshake"
    );
    let foreign = pki.client(Some((&pki.foreign_pem, &pki.foreign_key)));
    assert!(foreign
        .get(gw.url("https", "/-/healthy"))
        .send()
        .await
        .is_err());
    let plain = reqwest::Client::new()
        .get(gw.url("http", "/-/healthy"))
        .send()
        .await;
    assert!(
        plain.map(|r| r.status() != 200).unwrap_or(true),
        "plain HTTP must not be served"
    );
}

/// Sends raw bytes on a new connection; answers everything until close.
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn plain_http_on_the_tls_port_gets_go_s_400() {
    let pki = Pki::new();
    let config =
        pki.write_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    let gw = Gateway::start(&[&config_flag(&config)]);
    let reply = raw_exchange(gw.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        reply,
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    // Bytes that are neither TLS nor HTTP are just closed on.
    assert_eq!(raw_exchange(gw.port, b"\x01\x02\x03\x04\x05\x06"), "");
}

#[test]
fn an_http_1_1_request_without_host_gets_go_s_400() {
    let gw = Gateway::start(&[]);
    let reply = raw_exchange(gw.port, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
    assert!(
        reply.ends_with("\r\n\r\n400 Bad Request: missing required Host header"),
        "{reply}"
    );
    // HTTP/1.0 needs no Host, and with one HTTP/1.1 is served.
    assert!(
        raw_exchange(gw.port, b"GET /-/healthy HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 200 OK")
    );
    let push = raw_exchange(
        gw.port,
        b"PUT /metrics/job/h HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nh 1\n",
    );
    assert!(push.starts_with("HTTP/1.1 200 OK"), "{push}");
}

#[tokio::test]
async fn tls_settings_follow_the_web_config_without_a_restart() {
    let pki = Pki::new();
    let config =
        pki.write_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    let gw = Gateway::start(&[&config_flag(&config)]);
    let healthy = |client: reqwest::Client| {
        let url = gw.url("https", "/-/healthy");
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    };
    assert_eq!(healthy(pki.client(None)).await.unwrap(), 200);
    pki.write_config(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
    );
    // The file is looked at again at most once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        healthy(pki.client(None)).await.is_err(),
        "a new connection without a client certificate must now fail"
    );
    let identity = Some((pki.client_pem.as_str(), pki.client_key.as_str()));
    assert_eq!(healthy(pki.client(identity)).await.unwrap(), 200);
}

#[tokio::test]
async fn client_allowed_sans_narrow_accepted_certificates() {
    let pki = Pki::new();
    let config = pki.write_config(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [\"someone.else\"]\n",
    );
    let gw = Gateway::start(&[&config_flag(&config)]);
    let client = pki.client(Some((&pki.client_pem, &pki.client_key)));
    assert!(client
        .get(gw.url("https", "/-/healthy"))
        .send()
        .await
        .is_err());
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint() {
    let pki = Pki::new();
    let config = pki.write_config(&format!(
        "basic_auth_users:\n  alice: {}\n  bob: {}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n",
        hash("s3cret"),
        hash("other")
    ));
    let gw = Gateway::start(&[&config_flag(&config)]);
    let client = reqwest::Client::new();
    for path in ["/metrics", "/-/healthy", "/api/v1/metrics", "/"] {
        let r = client.get(gw.url("http", path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without credentials");
        assert_eq!(r.headers()["www-authenticate"], "Basic");
        assert_eq!(r.headers()["x-frame-options"], "deny");
    }
    let put = |user: &str, pass: &str| {
        client
            .put(gw.url("http", "/metrics/job/auth"))
            .basic_auth(user, Some(pass))
            .body("auth_pushed 1\n")
            .send()
    };
    assert_eq!(put("alice", "wrong").await.unwrap().status(), 401);
    assert_eq!(put("mallory", "s3cret").await.unwrap().status(), 401);
    assert_eq!(put("alice", "s3cret").await.unwrap().status(), 200);
    // Cached success for alice must not admit another password.
    assert_eq!(put("alice", "s3cret2").await.unwrap().status(), 401);
    assert_eq!(put("bob", "s3cret").await.unwrap().status(), 401);
    let r = client
        .get(gw.url("http", "/metrics"))
        .basic_auth("bob", Some("other"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("auth_pushed{instance=\"\",job=\"auth\"} 1"));

    // The file is re-read when it changes: alice's new password works.
    std::thread::sleep(Duration::from_millis(1100));
    pki.write_config(&format!(
        "basic_auth_users:\n  alice: {}\n",
        hash("rotated")
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = put("alice", "rotated").await.unwrap().status() == 200;
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "new password not picked up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(put("alice", "s3cret").await.unwrap().status(), 401);
}

#[tokio::test]
async fn health_can_skip_auth_for_load_balancers() {
    let pki = Pki::new();
    let config = pki.write_config(&format!("basic_auth_users:\n  alice: {}\n", hash("pw")));
    let gw = Gateway::start(&[&config_flag(&config), "--web.unauthenticated-health"]);
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(gw.url("http", "/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(gw.url("http", "/-/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(gw.url("http", "/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[test]
fn bad_web_configs_stop_start_up_naming_the_problem() {
    let pki = Pki::new();
    let config = pki.write_config("tls_server_config:\n  cert_fil: server.pem\n");
    let err = Gateway::refuse(&[&config_flag(&config)]);
    assert!(err.contains("cert_fil"), "{err}");
    let config = pki.write_config("basic_auth_users:\n  alice: not-a-hash\n");
    assert!(Gateway::refuse(&[&config_flag(&config)]).contains("bcrypt"));
    let config =
        pki.write_config("tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n");
    assert!(Gateway::refuse(&[&config_flag(&config)]).contains("missing.pem"));
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let pki = Pki::new();
    let config = pki.write_config("rate_limit:\n  burst: 2\n  interval: 1h\n");
    let gw = Gateway::start(&[&config_flag(&config)]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            client
                .get(gw.url("http", "/-/healthy"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 200, 429, 429]);
}

/// Sends `body` with `Content-Encoding: encoding` and returns the status.
fn raw_push(port: u16, body: &[u8], encoding: Option<&str>, chunked: bool) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = "PUT /metrics/job/bomb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_string();
    if let Some(e) = encoding {
        head.push_str(&format!("Content-Encoding: {e}\r\n"));
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    if s.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let mut write = |data: &[u8]| -> std::io::Result<()> {
        if chunked {
            for piece in data.chunks(1 << 20) {
                s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                s.write_all(piece)?;
                s.write_all(b"\r\n")?;
            }
            s.write_all(b"0\r\n\r\n")
        } else {
            s.write_all(data)
        }
    };
    // The server may answer (and close) before reading everything.
    let _ = write(body);
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// 2 MB of gzip that inflates to a 2 GiB HELP line.
fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"# HELP x ").unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..2048 {
        e.write_all(&block).unwrap();
    }
    e.write_all(b"\nx 1\n").unwrap();
    e.finish().unwrap()
}

fn snappy_bomb() -> Vec<u8> {
    let mut e = snap::write::FrameEncoder::new(Vec::new());
    e.write_all(b"# HELP x ").unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..300 {
        e.write_all(&block).unwrap();
    }
    e.write_all(b"\nx 1\n").unwrap();
    e.into_inner().unwrap()
}

fn still_serving(port: u16) {
    assert_eq!(
        raw_push(port, b"after_bomb 1\n", None, false),
        200,
        "gateway still accepts pushes"
    );
}

#[test]
fn compression_bombs_and_huge_bodies_are_refused_within_memory() {
    let gw = Gateway::start(&[]);
    let bomb = gzip_bomb();
    assert!(bomb.len() < 4 << 20, "gzip bomb is {} bytes", bomb.len());
    assert_eq!(raw_push(gw.port, &bomb, Some("gzip"), false), 413);
    still_serving(gw.port);
    let snappy = snappy_bomb();
    assert_eq!(raw_push(gw.port, &snappy, Some("snappy"), false), 413);
    still_serving(gw.port);
    let huge = vec![b'#'; (128 << 20) + 1];
    assert_eq!(
        raw_push(gw.port, &huge, None, false),
        413,
        "declared length over the limit"
    );
    assert_eq!(
        raw_push(gw.port, &huge, None, true),
        413,
        "chunked body over the limit"
    );
    still_serving(gw.port);
    let peak = gw.peak_rss();
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn limits_refuse_with_clear_messages() {
    let gw = Gateway::start(&[
        "--push.max-series=2",
        "--push.max-labels=3",
        "--push.max-label-value-length=8",
    ]);
    let status = |body: &str| raw_push(gw.port, body.as_bytes(), None, false);
    assert_eq!(status("a 1\nb 1\nc 1\n"), 413);
    // Three body labels plus the grouping label `job` make four.
    assert_eq!(status("a{x=\"1\",y=\"2\",z=\"3\"} 1\n"), 400);
    // A body `job` is replaced by the grouping label, not added.
    assert_eq!(status("a{x=\"1\",job=\"2\",z=\"3\"} 1\n"), 200);
    assert_eq!(status("a{x=\"123456789\"} 1\n"), 400);
    assert_eq!(status("a{x=\"1\",y=\"2\"} 1\nb 2\n"), 200);
    let metrics = {
        let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    for limit in [
        "push.max-series",
        "push.max-labels",
        "push.max-label-value-length",
    ] {
        assert!(
            metrics.contains(&format!(
                "pushgateway_limit_refusals_total{{limit=\"{limit}\"}} 1"
            )),
            "{limit}: {metrics}"
        );
    }
}

#[test]
fn slow_clients_are_cut_off_by_timeouts() {
    let gw = Gateway::start(&[
        "--web.read-header-timeout=1s",
        "--web.idle-timeout=2s",
        "--web.read-timeout=1s",
    ]);
    // Headers that never finish.
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "header timeout did not close the connection"
    );
    let _ = n;

    // An idle keep-alive connection.
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 4096];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let closed = matches!(s.read(&mut first), Ok(0) | Err(_));
    assert!(
        closed && started.elapsed() < Duration::from_secs(8),
        "idle connection stayed open"
    );

    // A body that trickles in too slowly.
    let mut s = TcpStream::connect(("127.0.0.1", gw.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PUT /metrics/job/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nm 1")
        .unwrap();
    let started = Instant::now();
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    assert!(started.elapsed() < Duration::from_secs(8));
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}
