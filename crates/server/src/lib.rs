//! The Pushgateway server: a drop-in replacement for the Go Pushgateway.
//!
//! This crate owns everything HTTP: flags, routing with the Go gateway's
//! redirect and status-code behaviour, the push/delete handlers (URL
//! grammar, body decoding, limits), scrapes, the JSON API, the web UI, the
//! gateway's own metrics and serving. Metric formats live in the
//! `exposition` crate, storage and consistency rules in `store`.
//!
//! [`app`] returns the whole HTTP surface as an axum `Router` that tests
//! drive without a socket; [`serve::serve`] runs it on listeners.
#![deny(missing_docs)]

mod api;
mod app;
mod auth;
mod body;
mod build;
pub mod flags;
mod grouping;
mod json;
mod limits;
pub mod logging;
mod native;
mod own;
pub mod persistence;
mod router;
mod scrape;
pub mod serve;
mod tls;
mod ui;
mod webconfig;

pub use app::{app, dispatch, store_options, AppState};
pub use limits::Limits;
pub use webconfig::WebConfigError;
