//! Basic auth and TLS with client certificates, through an
//! exporter-toolkit web config (`--web.config.file`).

use pushgateway_client::{Client, Error, GroupingKey, Payload};

use crate::util::{Gateway, Options, Tls};

const USERS: &[(&str, &str)] = &[("pusher", "s3cret:with colon")];

fn key() -> GroupingKey {
    GroupingKey::new("secured").label("instance", "a/b")
}

fn payload() -> Payload {
    Payload::text("secured_metric 1\n")
}

both!(basic_auth_is_accepted, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            users: USERS,
            ..Options::default()
        },
    );
    let client = Client::builder(gw.url())
        .basic_auth("pusher", "s3cret:with colon")
        .build()
        .unwrap();
    client.push(&key(), &payload()).await.unwrap();
    gw.expect_group(&[("job", "secured"), ("instance", "a/b")]);
    client.delete(&key()).await.unwrap();
    assert!(gw.groups().is_empty());
});

both!(credentials_in_the_url_are_basic_auth, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            users: USERS,
            ..Options::default()
        },
    );
    let url = gw
        .url()
        .replace("http://", "http://pusher:s3cret%3Awith%20colon@");
    let client = Client::new(url).unwrap();
    client.push(&key(), &payload()).await.unwrap();
    gw.expect_group(&[("job", "secured"), ("instance", "a/b")]);
});

both!(a_wrong_password_is_a_401, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            users: USERS,
            ..Options::default()
        },
    );
    let client = Client::builder(gw.url())
        .basic_auth("pusher", "wrong")
        .build()
        .unwrap();
    let err = client.push(&key(), &payload()).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let anonymous = Client::new(gw.url()).unwrap();
    let err = anonymous.push(&key(), &payload()).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(gw.groups().is_empty());
});

both!(tls_with_a_client_certificate_is_accepted, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            ..Options::default()
        },
    );
    for url in [gw.url().to_owned(), gw.localhost_url()] {
        let client = Client::builder(&url)
            .ca_file(&tls.ca_file)
            .client_cert_files(&tls.client_cert_file, &tls.client_key_file)
            .build()
            .unwrap();
        client.push(&key(), &payload()).await.unwrap();
    }
    gw.expect_group(&[("job", "secured"), ("instance", "a/b")]);
});

both!(tls_without_a_client_certificate_is_refused, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            ..Options::default()
        },
    );
    let client = Client::builder(gw.url())
        .ca_pem(tls.ca_pem.clone())
        .build()
        .unwrap();
    let err = client.push(&key(), &payload()).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    // In TLS 1.3 the client's side of the handshake is over before the
    // gateway checks the (missing) certificate, so its refusal may reach
    // the client as the alert or only as a closed connection.
    assert!(
        matches!(err, Error::Certificate(_) | Error::Transport(_)),
        "{err:?}"
    );
    assert!(gw.groups().is_empty());
});

both!(an_untrusted_server_certificate_is_refused, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            ..Options::default()
        },
    );
    let client = Client::builder(gw.url())
        .ca_pem(Tls::unrelated_ca_pem())
        .client_identity_pem(tls.client_cert_pem.clone(), tls.client_key_pem.clone())
        .build()
        .unwrap();
    let err = client.push(&key(), &payload()).await.unwrap_err();
    assert!(matches!(err, Error::Certificate(_)), "{err:?}");
    assert!(!err.is_retryable(), "{err:?}");
    assert!(gw.groups().is_empty());
});

both!(insecure_skip_verify_accepts_an_unknown_ca, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            ..Options::default()
        },
    );
    let client = Client::builder(gw.url())
        .insecure_skip_verify(true)
        .client_identity_pem(tls.client_cert_pem.clone(), tls.client_key_pem.clone())
        .build()
        .unwrap();
    client.push(&key(), &payload()).await.unwrap();
    gw.expect_group(&[("job", "secured"), ("instance", "a/b")]);
});

both!(tls_and_basic_auth_together, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            users: USERS,
            ..Options::default()
        },
    );
    let builder = || {
        Client::builder(gw.url())
            .ca_file(&tls.ca_file)
            .client_cert_files(&tls.client_cert_file, &tls.client_key_file)
    };
    let err = builder()
        .build()
        .unwrap()
        .push(&key(), &payload())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let client = builder()
        .basic_auth("pusher", "s3cret:with colon")
        .build()
        .unwrap();
    client.push_add(&key(), &payload()).await.unwrap();
    gw.expect_group(&[("job", "secured"), ("instance", "a/b")]);
});
