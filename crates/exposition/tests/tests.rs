//! Integration tests of the exposition crate, one binary, one module per
//! behaviour.

mod fuzz_seeds;
mod roundtrip;
mod util;
mod vectors;
