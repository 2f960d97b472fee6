//! A client for the Prometheus Pushgateway: push (`PUT`), push-add
//! (`POST`) and delete (`DELETE`) a group of metrics, from a `prometheus`
//! or `prometheus-client` registry, [`exposition`] metric families or raw
//! exposition bytes, with an async API on Tokio and a blocking one.
//!
//! This crate owns the client side of the gateway's HTTP API: grouping-key
//! encoding, auth, TLS, timeouts, retries and compression. Parsing and
//! encoding of the exposition formats live in the `exposition` crate; the
//! gateway itself is the `server` crate; the `pushgw` command-line tool is
//! built on this crate.
//!
//! # Brief overview
//!
//! - [`Client`] (async) and [`BlockingClient`] (safe to call from inside a
//!   Tokio runtime as well as outside one), configured by [`ClientBuilder`]:
//!   basic auth, bearer token, extra headers, CA and client certificates,
//!   `insecure_skip_verify`, timeout (30 s by default), [`Retry`] and
//!   [`Compression`]. Requests go through a [`Transport`]; the default one
//!   is reqwest with rustls (no OpenSSL) and does not follow redirects
//!   unless asked to.
//! - [`GroupingKey`]: the job and grouping labels, encoded as the gateway
//!   decodes them (URL-safe base64 for values with `/`, `@base64/=` for
//!   empty ones). [`instance_ip_grouping_key`] and
//!   [`instance_hostname_grouping_key`] give an `instance` label.
//! - [`Payload`]: what is pushed. Registries and families go as delimited
//!   protobuf, so every family keeps its type; raw text or protobuf bytes go
//!   as they are.
//! - [`Gauges`]: Prefect's `PushGaugeToGateway` task done right, one gauge
//!   family per distinct value of the group-by labels.
//! - [`Error`]: one enum; refusals carry the HTTP status and the gateway's
//!   message.
//!
//! # Features
//!
//! - `prometheus`: `Payload::from_prometheus` for a `prometheus::Registry`.
//! - `prometheus-client`: `Payload::from_prometheus_client` for a
//!   `prometheus_client::registry::Registry`.
//!
//! # Examples
//!
//! These follow the Python client's documentation. A batch job records when
//! it last succeeded (feature `prometheus-client`):
//!
//! ```
//! # let fake = pushgateway_client::__doctest::FakeGateway::start();
//! use std::sync::atomic::AtomicU64;
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use prometheus_client::metrics::gauge::Gauge;
//! use prometheus_client::registry::Registry;
//! use pushgateway_client::{BlockingClient, GroupingKey, Payload};
//!
//! let mut registry = Registry::default();
//! let last_success = Gauge::<f64, AtomicU64>::default();
//! registry.register(
//!     "job_last_success_unixtime",
//!     "Last time a batch job successfully finished",
//!     last_success.clone(),
//! );
//! last_success.set(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64());
//!
//! let gateway = "localhost:9091";
//! # let gateway = fake.url();
//! let client = BlockingClient::new(gateway)?;
//! client.push(&GroupingKey::new("batchA"), &Payload::from_prometheus_client(&registry)?)?;
//! # let request = &fake.requests()[0];
//! # assert_eq!((request.method.as_str(), request.path.as_str()), ("PUT", "/metrics/job/batchA"));
//! # let families = exposition::decode_protobuf_delimited(&request.body)?;
//! # assert_eq!(families[0].name, "job_last_success_unixtime");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A batch job with its own registry pushes its duration, and the time of
//! its last success only when it succeeded; push-add keeps the last success
//! of an earlier run when this one fails (feature `prometheus`, async):
//!
//! ```
//! # let fake = pushgateway_client::__doctest::FakeGateway::start();
//! use std::time::{Instant, SystemTime, UNIX_EPOCH};
//! use prometheus::{Gauge, Registry};
//! use pushgateway_client::{Client, GroupingKey, Payload};
//!
//! fn run_batch_job() -> Result<(), std::io::Error> {
//!     Ok(()) // your code here
//! }
//!
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let registry = Registry::new();
//! let duration = Gauge::new("mybatchjob_duration_seconds", "Duration of batch job")?;
//! registry.register(Box::new(duration.clone()))?;
//!
//! let started = Instant::now();
//! let outcome = run_batch_job();
//! duration.set(started.elapsed().as_secs_f64());
//! if outcome.is_ok() {
//!     let last_success = Gauge::new(
//!         "mybatchjob_last_success",
//!         "Last time a batch job successfully finished",
//!     )?;
//!     registry.register(Box::new(last_success.clone()))?;
//!     last_success.set(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64());
//! }
//!
//! let gateway = "localhost:9091";
//! # let gateway = fake.url();
//! let client = Client::new(gateway)?;
//! client.push_add(&GroupingKey::new("batchB"), &Payload::from_prometheus(&registry)).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # let request = &fake.requests()[0];
//! # assert_eq!(request.method, "POST");
//! # let names: Vec<_> = exposition::decode_protobuf_delimited(&request.body)?
//! #     .into_iter().map(|f| f.name).collect();
//! # assert_eq!(names, ["mybatchjob_duration_seconds", "mybatchjob_last_success"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A gateway behind basic auth (a `--web.config.file` with
//! `basic_auth_users`):
//!
//! ```
//! # let fake = pushgateway_client::__doctest::FakeGateway::start();
//! use pushgateway_client::{BlockingClient, Client, GroupingKey, Payload};
//!
//! let gateway = "localhost:9091";
//! # let gateway = fake.url();
//! let client: BlockingClient = Client::builder(gateway)
//!     .basic_auth("foobar", "secret123")
//!     .build_blocking()?;
//! client.push(&GroupingKey::new("batchA"), &Payload::text("job_done 1\n"))?;
//! # assert_eq!(
//! #     fake.requests()[0].header("authorization"),
//! #     Some("Basic Zm9vYmFyOnNlY3JldDEyMw==")
//! # );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A gateway that requires TLS client certificates
//! (`client_auth_type: RequireAndVerifyClientCert`), with its own CA:
//!
//! ```
//! # let tmp = tempfile::tempdir()?;
//! # let ca_key = rcgen::KeyPair::generate()?;
//! # let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
//! # ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
//! # let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key)?;
//! # let server_key = rcgen::KeyPair::generate()?;
//! # let server = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?
//! #     .signed_by(&server_key, &ca)?;
//! # let client_key = rcgen::KeyPair::generate()?;
//! # let client_cert = rcgen::CertificateParams::new(vec!["batch".into()])?.signed_by(&client_key, &ca)?;
//! # std::fs::write(tmp.path().join("ca.pem"), ca.pem())?;
//! # std::fs::write(tmp.path().join("client-crt.pem"), client_cert.pem())?;
//! # std::fs::write(tmp.path().join("client-key.pem"), client_key.serialize_pem())?;
//! # let fake = pushgateway_client::__doctest::FakeGateway::start_tls(
//! #     &server.pem(), &server_key.serialize_pem(), Some(&ca.pem()));
//! use std::path::Path;
//! use pushgateway_client::{Client, GroupingKey, Payload};
//!
//! let certs = Path::new("/etc/pushgateway-client");
//! # let certs = tmp.path();
//! let gateway = "https://localhost:9091";
//! # let gateway = fake.url().replace("127.0.0.1", "localhost");
//! let client = Client::builder(gateway)
//!     .ca_file(certs.join("ca.pem"))
//!     .client_cert_files(certs.join("client-crt.pem"), certs.join("client-key.pem"))
//!     .build_blocking()?;
//! client.push(&GroupingKey::new("batchA"), &Payload::text("job_done 1\n"))?;
//! # assert_eq!(fake.requests().len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

#[cfg(any(feature = "prometheus", feature = "prometheus-client"))]
mod adapters {
    #[cfg(feature = "prometheus")]
    mod prometheus;
    #[cfg(feature = "prometheus-client")]
    mod prometheus_client;
}
mod blocking;
mod client;
mod error;
mod gauges;
mod grouping;
mod groups;
mod payload;
mod retry;
mod transport;

/// The fake gateway of the documentation examples and tests; only with the
/// internal `fake-gateway` feature, which the crate's dev-dependency on
/// itself turns on.
#[cfg(feature = "fake-gateway")]
#[doc(hidden)]
#[path = "doctest.rs"]
pub mod __doctest;

pub use bytes;
pub use http;

pub use blocking::BlockingClient;
pub use client::{Client, ClientBuilder, DeleteMode, DEFAULT_TIMEOUT};
pub use error::{BoxError, Error};
pub use gauges::Gauges;
pub use grouping::{instance_hostname_grouping_key, instance_ip_grouping_key, GroupingKey};
pub use groups::GroupStatus;
pub use payload::{Compression, Payload, PROTOBUF_CONTENT_TYPE, TEXT_CONTENT_TYPE};
pub use retry::Retry;
pub use transport::{BoxFuture, Transport};
