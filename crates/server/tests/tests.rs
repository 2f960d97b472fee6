//! Integration tests of the pushgateway server, one binary, one module per
//! behaviour. Most drive `server::app` without a socket; `gateway` runs
//! the real binary for what needs sockets.

mod activation;
mod authorization;
mod conformance;
mod descriptors;
mod disk_full;
mod gateway;
mod go_import;
mod lifetime;
mod logs;
mod long_urls;
mod memory;
mod operator;
mod persistence;
mod push;
mod refusals;
mod routes;
mod security;
mod selection;
mod soak;
mod structure;
mod ui;
mod util;
mod wire;
