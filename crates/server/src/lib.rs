//! The Pushgateway server: a drop-in replacement for the Go Pushgateway.
//!
//! This crate owns everything HTTP: flags, routing with the Go gateway's
//! redirect and status-code behaviour, authentication, the push/delete
//! handlers (URL grammar, body decoding, limits), scrapes, the JSON API,
//! the web UI, the gateway's own metrics and serving. Metric formats live
//! in the `exposition` crate, storage, consistency rules and persistence in
//! `store`.
//!
//! # Brief overview
//!
//! - [`app`] returns the whole HTTP surface as an axum `Router` that tests
//!   drive without a socket; [`serve::serve`] runs it on listeners.
//! - `routes` dispatches every request: web config (rate limit, who is
//!   asking, extra headers), Go's routers, one request context, then a
//!   handler in `handlers` (push, API, admin, lifecycle), `scrape` or `ui`.
//! - Every failure is one `AppError`, reported (counted, logged as Go logs
//!   it) and answered in one place.
//! - [`AppState`] is what handlers share; [`flags`] parses the command line
//!   into a typed [`flags::Config`].
#![deny(missing_docs)]

mod audit;
mod auth;
mod authorization;
mod body;
pub mod build;
mod connections;
mod context;
mod duration;
mod error;
pub mod expiry;
pub mod flags;
mod grouping;
mod handlers;
mod inflight;
mod json;
pub mod lifetime;
mod limits;
pub mod logging;
mod long_target;
mod native;
mod own;
pub mod persistence;
mod response;
mod router;
mod routes;
mod scrape;
pub mod serve;
mod state;
mod tls;
mod ui;
mod webconfig;

pub use authorization::AuthConfigError;
pub use limits::Limits;
pub use routes::app;
pub use state::{store_options, AppState, ConfigFileError};
pub use webconfig::WebConfigError;
