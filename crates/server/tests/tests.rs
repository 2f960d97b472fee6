//! Integration tests of the pushgateway server, one binary, one module per
//! behaviour. Most drive `server::app` without a socket.

mod push;
mod routes;
mod util;
