//! Integration tests of the exposition crate, one binary, one module per
//! behaviour.

mod roundtrip;
mod util;
mod vectors;
