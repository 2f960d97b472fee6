//! The Prometheus text format 0.0.4: parser and encoder.

pub(crate) mod encode;
pub(crate) mod parse;
