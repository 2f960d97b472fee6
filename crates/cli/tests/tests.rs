//! End-to-end tests of the `pushgw` binary against real gateways: Debian's
//! Go `prometheus-pushgateway` (1.5.1) and this workspace's `pushgateway`
//! (`$PUSHGATEWAY_BIN`, else `target/release`, else `target/debug`: run
//! `cargo build --release -p server` first). Each test starts its own
//! gateway and checks the result through the gateway's JSON API.

#[path = "../../client/tests/util.rs"]
mod util;

mod cli;

/// Defines a test module `$name` whose body runs against each gateway:
/// `$name::go` and `$name::ours`.
macro_rules! both {
    ($(#[$attr:meta])* $name:ident, |$kind:ident| $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($kind: $crate::util::Kind) $body

            #[test]
            fn go() {
                run($crate::util::Kind::Go)
            }

            #[test]
            fn ours() {
                run($crate::util::Kind::Ours)
            }
        }
    };
}

mod auth;
mod compression;
mod delete;
mod errors;
mod gauge;
mod gauges;
mod lifecycle;
mod list;
mod options;
mod papercuts;
mod push;
mod run;
mod wipe;
