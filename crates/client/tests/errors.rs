//! Refusals, unreachable gateways, timeouts, retries and redirects.

use std::time::Duration;

use pushgateway_client::__doctest::FakeGateway;
use pushgateway_client::{Client, Error, GroupingKey, Payload, Retry};

use crate::util::{Gateway, Silent, Tls};

const PREFIX: &str = "pushed metrics are invalid or inconsistent with existing metrics";

both!(
    inconsistent_push_is_a_400_with_the_gateways_message,
    |kind| {
        let gw = Gateway::start(kind);
        let client = Client::new(gw.url()).unwrap();
        client
            .push(
                &GroupingKey::new("a"),
                &Payload::text("# TYPE x counter\nx 1\n"),
            )
            .await
            .unwrap();
        let err = client
            .push(
                &GroupingKey::new("b"),
                &Payload::text("# TYPE x gauge\nx 1\n"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{err}");
        let body = err.body().unwrap();
        assert!(body.starts_with(PREFIX), "{body}");
        // Go checks the two groups in random (map) order, so it complains
        // about either family.
        assert!(
            body.contains("is not a COUNTER") || body.contains("is not a GAUGE"),
            "{body}"
        );
        assert!(err.to_string().contains("400 Bad Request"), "{err}");
    }
);

both!(unparseable_text_is_a_400_naming_the_line, |kind| {
    let gw = Gateway::start(kind);
    let client = Client::new(gw.url()).unwrap();
    let err = client
        .push(&GroupingKey::new("a"), &Payload::text("ok 1\nbad{ 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Status { status: 400, .. }), "{err}");
    assert!(err.body().unwrap().contains("line 2"), "{err}");
});

#[tokio::test]
async fn connection_refused_is_a_connect_error_after_the_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder(format!("127.0.0.1:{port}"))
        .retry(Retry::new(2).initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(err.to_string().contains("refused"), "{err}");
}

#[tokio::test]
async fn a_silent_gateway_times_out() {
    let silent = Silent::start();
    let limit = Duration::from_millis(300);
    let client = Client::builder(&silent.url)
        .timeout(Some(limit))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(d) if d == limit), "{err:?}");
}

#[tokio::test]
async fn timeouts_apply_to_the_blocking_client_too() {
    let silent = Silent::start();
    let client = Client::builder(&silent.url)
        .timeout(Some(Duration::from_millis(200)))
        .build_blocking()
        .unwrap();
    let err = client.delete(&GroupingKey::new("j")).unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

fn fast_retries(n: u32) -> Retry {
    Retry::new(n).initial_backoff(Duration::from_millis(1))
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let fake = FakeGateway::start_scripted(vec![(503, vec![]), (502, vec![])]);
    let client = Client::builder(fake.url())
        .retry(fast_retries(3))
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.method == "PUT" && r.body == b"x 1\n"));
}

#[tokio::test]
async fn retries_stop_at_the_limit() {
    let fake = FakeGateway::start_scripted(vec![(500, vec![]); 5]);
    let client = Client::builder(fake.url())
        .retry(fast_retries(2))
        .build()
        .unwrap();
    let err = client.delete(&GroupingKey::new("j")).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn nothing_is_retried_by_default() {
    let fake = FakeGateway::start_scripted(vec![(503, vec![])]);
    let client = Client::new(fake.url()).unwrap();
    let err = client.delete(&GroupingKey::new("j")).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let fake = FakeGateway::start_scripted(vec![(400, vec![])]);
    let client = Client::builder(fake.url())
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(fake.requests().len(), 1);
}

fn redirect(status: u16, to: &str) -> (u16, Vec<(String, String)>) {
    (status, vec![("Location".to_owned(), to.to_owned())])
}

#[tokio::test]
async fn redirects_are_not_followed_by_default() {
    let fake = FakeGateway::start_scripted(vec![redirect(307, "/elsewhere/metrics/job/j")]);
    let client = Client::new(fake.url()).unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Redirect { status: 307, location: Some(l) } if l == "/elsewhere/metrics/job/j"),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn redirects_are_followed_with_method_and_body_when_asked() {
    let fake = FakeGateway::start_scripted(vec![redirect(308, "/elsewhere/metrics/job/j")]);
    let client = Client::builder(fake.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    client
        .push_add(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].path, "/elsewhere/metrics/job/j");
    assert_eq!(requests[1].body, b"x 1\n");
}

#[tokio::test]
async fn redirects_are_followed_for_307_with_method_and_body() {
    let fake = FakeGateway::start_scripted(vec![redirect(307, "/elsewhere/metrics/job/j")]);
    let client = Client::builder(fake.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(requests[1].path, "/elsewhere/metrics/job/j");
    assert_eq!(requests[1].body, b"x 1\n");
    assert_eq!(
        requests[1].header("content-type"),
        requests[0].header("content-type")
    );
}

/// reqwest would repeat these as a GET without body: the push would
/// "succeed" with nothing pushed.
#[tokio::test]
async fn method_changing_redirects_are_not_followed_and_name_the_redirect() {
    for status in [301, 302, 303] {
        let fake = FakeGateway::start_scripted(vec![redirect(status, "/elsewhere/metrics/job/j")]);
        let client = Client::builder(fake.url())
            .follow_redirects(true)
            .build()
            .unwrap();
        let err = client
            .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::MethodChangingRedirect { method, status: s, location: Some(l) }
                    if method == "PUT" && *s == status && l == "/elsewhere/metrics/job/j"
            ),
            "{status}: {err:?}"
        );
        assert_eq!(err.status(), Some(status));
        let message = err.to_string();
        assert!(message.contains(&status.to_string()), "{message}");
        assert!(message.contains("/elsewhere/metrics/job/j"), "{message}");
        assert!(message.contains("GET without body"), "{message}");
        assert_eq!(fake.requests().len(), 1, "{status}");
    }
    let fake = FakeGateway::start_scripted(vec![redirect(301, "/elsewhere")]);
    let client = Client::builder(fake.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    let err = client.delete(&GroupingKey::new("j")).await.unwrap_err();
    assert!(
        matches!(&err, Error::MethodChangingRedirect { method, status: 301, .. } if method == "DELETE"),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn endless_307_redirects_stop() {
    let fake = FakeGateway::start_scripted(vec![redirect(307, "/again"); 20]);
    let client = Client::builder(fake.url())
        .follow_redirects(true)
        .build()
        .unwrap();
    let err = client
        .push_add(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many redirects"), "{err}");
    assert_eq!(fake.requests().len(), 11);
}

/// The fake accepts TCP connections and closes them at once, so every TLS
/// handshake fails: a connection error, retried like a refused connection.
#[tokio::test]
async fn connection_errors_are_retried_and_counted() {
    let fake = FakeGateway::start_hanging_up();
    let https = fake.url().replace("http://", "https://");
    let client = Client::builder(&https)
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert_eq!(fake.connections(), 4, "one attempt and three retries");

    let client = Client::new(&https).unwrap();
    let err = client.delete(&GroupingKey::new("j")).await.unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert_eq!(fake.connections(), 5, "no retries by default");
}

#[tokio::test]
async fn an_untrusted_server_certificate_is_not_retried() {
    let tls = Tls::generate();
    let fake = FakeGateway::start_tls(&tls.server_cert_pem, &tls.server_key_pem, None);
    let client = Client::builder(fake.url())
        .ca_pem(Tls::unrelated_ca_pem())
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");
    assert!(!err.is_retryable() && err.is_unreachable());
    let message = err.to_string();
    assert!(message.contains("TLS certificate refused"), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert_eq!(fake.connections(), 1);

    // Trusting the right CA works, so the failure was the certificate's.
    let client = Client::builder(fake.url())
        .ca_pem(tls.ca_pem.clone())
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_missing_client_certificate_is_not_retried() {
    let tls = Tls::generate();
    let fake = FakeGateway::start_tls(&tls.server_cert_pem, &tls.server_key_pem, Some(&tls.ca_pem));
    let client = Client::builder(fake.url())
        .ca_pem(tls.ca_pem.clone())
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let err = client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");
    assert_eq!(fake.connections(), 1);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn invalid_keys_are_refused_before_sending() {
    let fake = FakeGateway::start();
    let client = Client::new(fake.url()).unwrap();
    let err = client
        .push(
            &GroupingKey::new("j").label("bad-name", "v"),
            &Payload::text("x 1\n"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidLabelName { name, .. } if name == "bad-name"),
        "{err}"
    );
    let err = client.delete(&GroupingKey::new("")).await.unwrap_err();
    assert!(matches!(err, Error::EmptyJob), "{err}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn bearer_token_and_extra_headers_are_sent() {
    let fake = FakeGateway::start();
    let client = Client::builder(fake.url())
        .bearer_token("t0ken")
        .header("X-Scope-OrgID", "team-a")
        .build()
        .unwrap();
    client
        .push(&GroupingKey::new("j"), &Payload::text("x 1\n"))
        .await
        .unwrap();
    let request = &fake.requests()[0];
    assert_eq!(request.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(request.header("x-scope-orgid"), Some("team-a"));
    assert_eq!(
        request.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
}
