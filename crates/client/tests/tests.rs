//! Integration tests of the client against real gateways: Debian's Go
//! `prometheus-pushgateway` (1.5.1) and this workspace's `pushgateway`
//! (`$PUSHGATEWAY_BIN`, else `target/release`, else `target/debug`: run
//! `cargo build --release -p server` first). Each test starts its own
//! gateway; results are read back through the gateway's JSON API and
//! `/metrics`.

mod util;

/// Defines a test module `$name` whose body runs against each gateway:
/// `$name::go` and `$name::ours`.
macro_rules! both {
    ($(#[$attr:meta])* $name:ident, |$kind:ident| $body:block) => {
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($kind: $crate::util::Kind) $body

            #[tokio::test]
            async fn go() {
                run($crate::util::Kind::Go).await
            }

            #[tokio::test]
            async fn ours() {
                run($crate::util::Kind::Ours).await
            }
        }
    };
}

mod admin;
mod auth;
mod blocking;
mod compression;
mod errors;
mod gauges;
mod grouping;
mod lifecycle;
mod push;
mod registries;
