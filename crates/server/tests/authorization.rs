//! `--web.auth-config` against the real binary: every route for every kind
//! of principal over plain HTTP and over TLS with optional client
//! certificates, the order of 401, Go's own answers and 403, per-principal
//! rates, the audit trail, reloads, open probes and what the UI shows.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::gateway::Gateway;

/// The CA, the server's certificate and client certificates with chosen
/// subjects.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    ci: (String, String),
    stranger: (String, String),
}

fn ca() -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "authorization test CA");
    let pem = params.self_signed(&key).unwrap().pem();
    (params, key, pem)
}

/// A certificate signed by `ca` whose subject is `rdns`, outermost first
/// (so that RFC 4514 writes them last).
fn leaf(
    sans: &[&str],
    rdns: &[(rcgen::DnType, &str)],
    ca: &(rcgen::CertificateParams, rcgen::KeyPair, String),
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (kind, value) in rdns {
        params.distinguished_name.push(kind.clone(), *value);
    }
    let issuer = rcgen::Issuer::from_params(&ca.0, &ca.1);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca();
        let server = leaf(
            &["127.0.0.1", "localhost"],
            &[(rcgen::DnType::CommonName, "gateway")],
            &ca,
        );
        let ci = leaf(
            &["ci.example"],
            &[
                (rcgen::DnType::OrganizationName, "Example"),
                (rcgen::DnType::CommonName, "ci-runner"),
            ],
            &ca,
        );
        // Same common name, another organisation: not the ci principal.
        let stranger = leaf(
            &["ci.example"],
            &[
                (rcgen::DnType::OrganizationName, "Elsewhere"),
                (rcgen::DnType::CommonName, "ci-runner"),
            ],
            &ca,
        );
        std::fs::write(dir.path().join("ca.pem"), &ca.2).unwrap();
        std::fs::write(dir.path().join("server.pem"), &server.0).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.1).unwrap();
        Pki {
            dir,
            ca_pem: ca.2,
            ci,
            stranger,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn client(&self, identity: Option<&(String, String)>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(20));
        if let Some((cert, key)) = identity {
            builder = builder
                .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        builder.build().unwrap()
    }
}

const ETL_TOKEN: &str = "etl-token-0123456789";
const LIMITED_TOKEN: &str = "limited-token";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The issue's example policy, plus a rate-limited principal.
fn policy() -> String {
    format!(
        r#"principals:
  - name: prometheus
    basic_auth_user: prometheus
    roles: [read]
  - name: etl
    bearer_token_sha256: {}
    roles: [push]
    jobs: ['{{job=~"etl-.*"}}']
  - name: ci
    client_cert_subject: CN=ci-runner,O=Example
    roles: [push, read]
    jobs: ['{{job="ci",branch!=""}}']
  - name: ops
    basic_auth_user: ops
    roles: [admin, push, read]
  - name: limited
    bearer_token_sha256: {}
    roles: [read]
    max_requests_per_second: 1
anonymous:
  roles: [read]
"#,
        sha256_hex(ETL_TOKEN),
        sha256_hex(LIMITED_TOKEN)
    )
}

/// Basic-auth users: the two the policy names, and one it does not.
fn users() -> String {
    let hash = |p: &str| bcrypt::hash(p, 4).unwrap();
    format!(
        "basic_auth_users:\n  prometheus: {}\n  ops: {}\n  nobody: {}\n",
        hash("scrape"),
        hash("admin"),
        hash("nothing")
    )
}

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Read,
    Etl,
    Admin,
    Unnamed,
    WrongPassword,
    UnknownToken,
    /// A client certificate of the ci principal (TLS only).
    CiCertificate,
    /// A client certificate from the trusted CA with an unknown subject
    /// (TLS only).
    StrangerCertificate,
}

const EVERYONE: [Who; 9] = [
    Who::Anonymous,
    Who::Read,
    Who::Etl,
    Who::Admin,
    Who::Unnamed,
    Who::WrongPassword,
    Who::UnknownToken,
    Who::CiCertificate,
    Who::StrangerCertificate,
];

impl Who {
    fn needs_tls(self) -> bool {
        matches!(self, Who::CiCertificate | Who::StrangerCertificate)
    }

    fn authorize(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Who::Read => request.basic_auth("prometheus", Some("scrape")),
            Who::Admin => request.basic_auth("ops", Some("admin")),
            Who::Unnamed => request.basic_auth("nobody", Some("nothing")),
            Who::WrongPassword => request.basic_auth("ops", Some("guess")),
            Who::Etl => request.bearer_auth(ETL_TOKEN),
            Who::UnknownToken => request.bearer_auth("not-a-token"),
            Who::Anonymous | Who::CiCertificate | Who::StrangerCertificate => request,
        }
    }
}

/// One route and the status each principal gets, in `EVERYONE`'s order.
struct Row {
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expected: [u16; 9],
}

/// What each principal gets on each route. Columns: anonymous (read),
/// read, etl (push to etl-*), admin, a web-config user no principal names,
/// a wrong password, an unknown bearer token, the ci certificate (push to
/// job=ci with a branch, read), a trusted certificate of another subject.
const TABLE: &[Row] = &[
    row(
        "GET",
        "/metrics",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "GET",
        "/api/v1/metrics",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "GET",
        "/api/v1/status",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "GET",
        "/",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "GET",
        "/status",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "GET",
        "/static/style.css",
        "",
        [200, 200, 403, 200, 403, 401, 401, 200, 403],
    ),
    // Probes need credentials that are right, or none while anonymous
    // requests may do something; no role.
    row(
        "GET",
        "/-/healthy",
        "",
        [200, 200, 200, 200, 200, 401, 401, 200, 200],
    ),
    row(
        "GET",
        "/-/ready",
        "",
        [200, 200, 200, 200, 200, 401, 401, 200, 200],
    ),
    // Push in scope for etl, out of scope for ci.
    row(
        "PUT",
        "/metrics/job/etl-daily",
        "m 1\n",
        [401, 403, 200, 200, 403, 401, 401, 403, 403],
    ),
    row(
        "POST",
        "/metrics/job/etl-daily",
        "m 2\n",
        [401, 403, 200, 200, 403, 401, 401, 403, 403],
    ),
    row(
        "DELETE",
        "/metrics/job/etl-daily",
        "",
        [401, 403, 202, 202, 403, 401, 401, 403, 403],
    ),
    // Out of scope for etl; in scope for ci only with a branch label.
    row(
        "PUT",
        "/metrics/job/billing",
        "m 1\n",
        [401, 403, 403, 200, 403, 401, 401, 403, 403],
    ),
    row(
        "PUT",
        "/metrics/job/ci/branch/main",
        "m 1\n",
        [401, 403, 403, 200, 403, 401, 401, 200, 403],
    ),
    row(
        "PUT",
        "/metrics/job/ci",
        "m 1\n",
        [401, 403, 403, 200, 403, 401, 401, 403, 403],
    ),
    row(
        "DELETE",
        "/metrics/job/ci/branch/main",
        "",
        [401, 403, 403, 202, 403, 401, 401, 202, 403],
    ),
    // A bad grouping key is Go's 400 for whoever may push at all.
    row(
        "PUT",
        "/metrics/job/etl-x/instance",
        "m 1\n",
        [401, 403, 400, 400, 403, 401, 401, 400, 403],
    ),
    row(
        "DELETE",
        "/api/v1/admin/groups?match[]={job=\"none\"}",
        "",
        [401, 403, 403, 200, 403, 401, 401, 403, 403],
    ),
    row(
        "PUT",
        "/api/v1/admin/wipe",
        "",
        [401, 403, 403, 202, 403, 401, 401, 403, 403],
    ),
    // Anonymous may not quit, so it is asked to authenticate.
    row(
        "PUT",
        "/-/quit",
        "",
        [401, 403, 403, 0, 403, 401, 401, 403, 403],
    ),
    // Go's own answers stand for whoever is authenticated.
    row(
        "GET",
        "/-/quit",
        "",
        [405, 405, 405, 405, 405, 401, 401, 405, 405],
    ),
    row(
        "GET",
        "/nowhere",
        "",
        [404, 404, 404, 404, 404, 401, 401, 404, 404],
    ),
];

const fn row(
    method: &'static str,
    path: &'static str,
    body: &'static str,
    expected: [u16; 9],
) -> Row {
    Row {
        method,
        path,
        body,
        expected,
    }
}

/// TLS with client certificates verified when given, and the users.
fn tls_web() -> String {
    format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n{}",
        users()
    )
}

fn start(pki: &Pki, web: &str, extra: &[&str]) -> Gateway {
    std::fs::write(pki.path("web.yml"), web).unwrap();
    std::fs::write(pki.path("auth.yml"), policy()).unwrap();
    let web_flag = format!("--web.config.file={}", pki.path("web.yml").display());
    let auth_flag = format!("--web.auth-config={}", pki.path("auth.yml").display());
    let mut args = vec![
        web_flag.as_str(),
        auth_flag.as_str(),
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
    ];
    args.extend_from_slice(extra);
    Gateway::start(&args)
}

async fn send(
    client: &reqwest::Client,
    url: String,
    method: &str,
    body: &'static str,
    who: Who,
) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let request = who.authorize(client.request(method, url).body(body));
    request.send().await.unwrap().status().as_u16()
}

/// Runs the table against a gateway; `tls` adds the certificate columns.
async fn run_table(pki: &Pki, gw: &Gateway, scheme: &str) {
    let tls = scheme == "https";
    let plain = pki.client(None);
    let ci = pki.client(Some(&pki.ci));
    let stranger = pki.client(Some(&pki.stranger));
    let mut wrong = Vec::new();
    for row in TABLE {
        for (column, who) in EVERYONE.iter().enumerate() {
            let expected = row.expected[column];
            if (who.needs_tls() && !tls) || expected == 0 {
                continue;
            }
            let client = match who {
                Who::CiCertificate => &ci,
                Who::StrangerCertificate => &stranger,
                _ => &plain,
            };
            let got = send(client, gw.url(scheme, row.path), row.method, row.body, *who).await;
            if got != expected {
                wrong.push(format!(
                    "{scheme} {} {} as {who:?}: {got}, expected {expected}",
                    row.method, row.path
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The admin may quit, and then the gateway is gone.
    let quit = send(&plain, gw.url(scheme, "/-/quit"), "PUT", "", Who::Admin).await;
    assert_eq!(quit, 200);
}

#[tokio::test]
async fn every_route_for_every_principal_over_plain_http() {
    let pki = Pki::new();
    let gw = start(&pki, &users(), &[]);
    run_table(&pki, &gw, "http").await;
}

#[tokio::test]
async fn every_route_for_every_principal_over_tls_with_optional_client_certificates() {
    let pki = Pki::new();
    let gw = start(&pki, &tls_web(), &[]);
    run_table(&pki, &gw, "https").await;
}

#[tokio::test]
async fn refusals_say_who_may_not_do_what_and_ask_only_the_anonymous_to_authenticate() {
    let pki = Pki::new();
    let gw = start(&pki, &users(), &[]);
    let client = pki.client(None);
    let etl = Who::Etl
        .authorize(
            client
                .put(gw.url("http", "/metrics/job/billing"))
                .body("m 1\n"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(etl.status(), 403);
    assert!(etl.headers().get("www-authenticate").is_none());
    assert_eq!(
        etl.text().await.unwrap(),
        "principal \"etl\" may not push to {job=\"billing\"}\n"
    );
    let read = Who::Read
        .authorize(client.put(gw.url("http", "/api/v1/admin/wipe")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        read.text().await.unwrap(),
        "principal \"prometheus\" may not use the admin endpoints\n"
    );
    let anonymous = client
        .put(gw.url("http", "/metrics/job/etl-a"))
        .body("m 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic");
    // A wrong password and an unknown user get the same answer.
    let wrong = Who::WrongPassword
        .authorize(client.get(gw.url("http", "/metrics")))
        .send()
        .await
        .unwrap();
    let unknown = client
        .get(gw.url("http", "/metrics"))
        .basic_auth("mallory", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (wrong.status().as_u16(), unknown.status().as_u16()),
        (401, 401)
    );
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
    // The refusals are counted by principal and reason.
    let metrics = client
        .get(gw.url("http", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "pushgateway_requests_refused_total{principal=\"etl\",reason=\"forbidden\"} 1",
        "pushgateway_requests_refused_total{principal=\"prometheus\",reason=\"forbidden\"} 1",
        "pushgateway_requests_refused_total{principal=\"anonymous\",reason=\"unauthenticated\"} 1",
        "pushgateway_requests_refused_total{principal=\"\",reason=\"unauthenticated\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn admin_api_and_lifecycle_disabled_answer_as_go_does_after_authentication() {
    let pki = Pki::new();
    std::fs::write(pki.path("web.yml"), users()).unwrap();
    std::fs::write(pki.path("auth.yml"), policy()).unwrap();
    let gw = Gateway::start(&[
        &format!("--web.config.file={}", pki.path("web.yml").display()),
        &format!("--web.auth-config={}", pki.path("auth.yml").display()),
    ]);
    let client = pki.client(None);
    for (who, wipe, quit) in [
        (Who::Read, 404, 403),
        (Who::Admin, 404, 403),
        (Who::WrongPassword, 401, 401),
    ] {
        let w = send(
            &client,
            gw.url("http", "/api/v1/admin/wipe"),
            "PUT",
            "",
            who,
        )
        .await;
        let q = send(&client, gw.url("http", "/-/quit"), "PUT", "", who).await;
        assert_eq!((w, q), (wipe, quit), "{who:?}");
    }
    let text = Who::Read
        .authorize(client.put(gw.url("http", "/-/quit")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "Lifecycle API is not enabled.");
}

#[tokio::test]
async fn a_principal_over_its_rate_gets_429_with_retry_after() {
    let pki = Pki::new();
    let gw = start(&pki, &users(), &[]);
    let client = pki.client(None);
    let get = || {
        client
            .get(gw.url("http", "/api/v1/status"))
            .bearer_auth(LIMITED_TOKEN)
    };
    assert_eq!(get().send().await.unwrap().status(), 200);
    let refused = get().send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    // Others are not held back by it.
    assert_eq!(
        send(
            &client,
            gw.url("http", "/api/v1/status"),
            "GET",
            "",
            Who::Read
        )
        .await,
        200
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get().send().await.unwrap().status(), 200);
    let metrics = client
        .get(gw.url("http", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "pushgateway_requests_refused_total{principal=\"limited\",reason=\"rate_limited\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn open_probes_need_no_credentials_even_when_anonymous_may_do_nothing() {
    let pki = Pki::new();
    std::fs::write(pki.path("web.yml"), users()).unwrap();
    std::fs::write(
        pki.path("auth.yml"),
        "principals:\n  - name: ops\n    basic_auth_user: ops\n    roles: [admin, push, read]\n",
    )
    .unwrap();
    let web = format!("--web.config.file={}", pki.path("web.yml").display());
    let auth = format!("--web.auth-config={}", pki.path("auth.yml").display());
    let client = pki.client(None);
    let open = Gateway::start(&[&web, &auth, "--web.unauthenticated-health"]);
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(
            send(&client, open.url("http", path), "GET", "", Who::Anonymous).await,
            200
        );
    }
    assert_eq!(
        send(
            &client,
            open.url("http", "/metrics"),
            "GET",
            "",
            Who::Anonymous
        )
        .await,
        401
    );
    let closed = Gateway::start(&[&web, &auth]);
    for path in ["/-/healthy", "/-/ready"] {
        assert_eq!(
            send(&client, closed.url("http", path), "GET", "", Who::Anonymous).await,
            401
        );
        assert_eq!(
            send(&client, closed.url("http", path), "GET", "", Who::Admin).await,
            200
        );
    }
}

/// The JSON log lines of a gateway whose message is `msg`.
fn lines_with(log: &crate::gateway::Log, msg: &str) -> Vec<serde_json::Value> {
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["msg"] == msg)
        .collect()
}

#[tokio::test]
async fn every_write_leaves_an_audit_line_and_reads_leave_none() {
    let pki = Pki::new();
    std::fs::write(pki.path("web.yml"), users()).unwrap();
    std::fs::write(pki.path("auth.yml"), policy()).unwrap();
    let (gw, log) = Gateway::start_logged(
        &[],
        &[
            &format!("--web.config.file={}", pki.path("web.yml").display()),
            &format!("--web.auth-config={}", pki.path("auth.yml").display()),
            "--web.enable-admin-api",
            "--log.format=json",
        ],
    );
    let client = pki.client(None);
    let url = |p: &str| gw.url("http", p);
    let writes = [
        (
            Who::Etl,
            "PUT",
            "/metrics/job/etl-a/instance/x",
            "m 1\n",
            200,
        ),
        (
            Who::Etl,
            "POST",
            "/metrics/job/etl-a/instance/x",
            "m{ 1\n",
            400,
        ),
        (Who::Etl, "PUT", "/metrics/job/billing", "m 1\n", 403),
        (
            Who::WrongPassword,
            "PUT",
            "/metrics/job/billing",
            "m 1\n",
            401,
        ),
        (Who::Etl, "DELETE", "/metrics/job/etl-a/instance/x", "", 202),
        (
            Who::Admin,
            "DELETE",
            "/api/v1/admin/groups?match[]={job=~\"etl.*\"}",
            "",
            200,
        ),
        (Who::Admin, "PUT", "/api/v1/admin/wipe", "", 202),
    ];
    for (who, method, path, body, status) in writes {
        assert_eq!(
            send(&client, url(path), method, body, who).await,
            status,
            "{method} {path}"
        );
    }
    assert_eq!(
        send(&client, url("/metrics"), "GET", "", Who::Read).await,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while lines_with(&log, "audit").len() < writes.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let audit = lines_with(&log, "audit");
    let seen: Vec<(String, String, String, u64)> = audit
        .iter()
        .map(|l| {
            assert!(l["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{l}");
            assert_eq!(l["level"], "info");
            (
                l["principal"].as_str().unwrap().to_string(),
                l["method"].as_str().unwrap().to_string(),
                l["group"].as_str().unwrap().to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, u64)> = [
        ("etl", "PUT", "{instance=\"x\",job=\"etl-a\"}", 200),
        ("etl", "POST", "{instance=\"x\",job=\"etl-a\"}", 400),
        ("etl", "PUT", "{job=\"billing\"}", 403),
        ("unauthenticated", "PUT", "/metrics/job/billing", 401),
        ("etl", "DELETE", "{instance=\"x\",job=\"etl-a\"}", 202),
        ("ops", "DELETE", "{job=~\"etl.*\"}", 200),
        ("ops", "PUT", "every group", 202),
    ]
    .iter()
    .map(|(p, m, g, s)| (p.to_string(), m.to_string(), g.to_string(), *s))
    .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn without_an_auth_config_there_is_no_audit_line_and_no_refusal_counter() {
    let (gw, log) = Gateway::start_logged(&[], &["--log.format=json", "--log.level=debug"]);
    let client = reqwest::Client::new();
    let r = client
        .put(gw.url("http", "/metrics/job/a"))
        .body("m 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let metrics = client
        .get(gw.url("http", "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("pushgateway_requests_refused_total"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(lines_with(&log, "audit").is_empty());
}

fn write_slowly(path: &Path, text: &str) {
    // The file is checked at most once a second: a change within the same
    // second and size would look unchanged.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn a_policy_change_applies_to_the_next_request_and_a_broken_file_keeps_the_old_one() {
    let pki = Pki::new();
    std::fs::write(pki.path("web.yml"), users()).unwrap();
    std::fs::write(pki.path("auth.yml"), policy()).unwrap();
    let (gw, log) = Gateway::start_logged(
        &[],
        &[
            &format!("--web.config.file={}", pki.path("web.yml").display()),
            &format!("--web.auth-config={}", pki.path("auth.yml").display()),
            "--log.format=json",
        ],
    );
    let client = pki.client(None);
    let scrape = || send(&client, gw.url("http", "/metrics"), "GET", "", Who::Etl);
    assert_eq!(scrape().await, 403);
    // etl may read now.
    let widened = policy().replace("    roles: [push]\n", "    roles: [push, read]\n");
    write_slowly(&pki.path("auth.yml"), &widened);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(scrape().await, 200);
    // A broken file: the last good policy stays, and the log says why.
    write_slowly(
        &pki.path("auth.yml"),
        &widened.replace("roles: [push, read]", "roles: [push, reed]"),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(scrape().await, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let complaints = lines_with(
            &log,
            "auth config is invalid; the previous policy stays in force",
        );
        if let Some(line) = complaints.first() {
            assert!(line["err"].as_str().unwrap().contains("reed"), "{line}");
            break;
        }
        assert!(Instant::now() < deadline, "no complaint in the log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGHUP reloads at once.
    std::fs::write(pki.path("auth.yml"), policy()).unwrap();
    let pid = gw.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while scrape().await != 403 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the policy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_broken_auth_config_stops_start_up_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auth.yml");
    for (yaml, named) in [
        ("principals:\n  - name: a\n    basic_auth_user: a\n    roles: [pusher]\n", "pusher"),
        ("principal: []\n", "principal"),
        (
            "principals:\n  - name: a\n    basic_auth_user: a\n    roles: [push]\n    jobs: ['{job=~\"(\"}']\n",
            "jobs",
        ),
    ] {
        std::fs::write(&file, yaml).unwrap();
        let stderr = Gateway::refuse(&[&format!("--web.auth-config={}", file.display())]);
        assert!(stderr.contains("invalid --web.auth-config"), "{stderr}");
        assert!(stderr.contains(named), "{named} in {stderr}");
    }
}

#[tokio::test]
async fn the_ui_shows_only_the_controls_the_viewer_may_use() {
    let pki = Pki::new();
    let gw = start(&pki, &tls_web(), &[]);
    let client = pki.client(None);
    for path in ["/metrics/job/etl-a", "/metrics/job/ci/branch/main"] {
        assert_eq!(
            send(&client, gw.url("https", path), "PUT", "m 1\n", Who::Admin).await,
            200
        );
    }
    let page = |who: Who| {
        let request = who.authorize(client.get(gw.url("https", "/")));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let admin = page(Who::Admin).await;
    assert!(admin.contains("id=\"wipe\""));
    assert_eq!(admin.matches("class=\"delete danger\"").count(), 2);
    let reader = page(Who::Read).await;
    assert!(reader.contains("etl-a") && reader.contains("branch"));
    assert!(!reader.contains("id=\"wipe\""));
    assert_eq!(reader.matches("class=\"delete danger\"").count(), 0);
    let ci = pki.client(Some(&pki.ci));
    let ci_page = ci
        .get(gw.url("https", "/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!ci_page.contains("id=\"wipe\""));
    assert_eq!(ci_page.matches("class=\"delete danger\"").count(), 1);
}

#[tokio::test]
async fn a_flood_of_unique_wrong_passwords_does_not_slow_down_users_who_know_theirs() {
    let pki = Pki::new();
    // Cost 10, as `htpasswd -B` makes them: each check is a real bcrypt round.
    let hash = bcrypt::hash("admin", 10).unwrap();
    let gw = start(&pki, &format!("basic_auth_users:\n  ops: {hash}\n"), &[]);
    let client = pki.client(None);
    let url = gw.url("http", "/api/v1/status");
    // The first request pays for bcrypt; from then on it is cached.
    assert_eq!(send(&client, url.clone(), "GET", "", Who::Admin).await, 200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for task in 0..64 {
        let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
        flood.push(tokio::spawn(async move {
            let mut waited = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                let r = client
                    .get(&url)
                    .basic_auth("ops", Some(format!("guess-{task}-{i}")))
                    .send()
                    .await;
                if let Ok(r) = r {
                    assert_eq!(r.status(), 401);
                    waited.push(started.elapsed());
                }
                i += 1;
            }
            waited
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut good = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(send(&client, url.clone(), "GET", "", Who::Admin).await, 200);
        good.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut wrong = Vec::new();
    for task in flood {
        wrong.extend(task.await.unwrap());
    }
    wrong.sort();
    good.sort();
    let wrong_median = wrong[wrong.len() / 2];
    let good_slowest = good[good.len() - 1];
    // A guess queues behind the others for a bcrypt round; a known user's
    // cached answer queues behind nothing.
    assert!(
        good_slowest < wrong_median,
        "slowest right password {good_slowest:?}, median wrong guess {wrong_median:?}"
    );
}
