//! Fuzzes the text parser in both name modes. Invariants: no panic; what
//! parses also encodes (text, OpenMetrics where representable, protobuf)
//! and survives a protobuf round trip unchanged.
#![no_main]

use exposition::{
    decode_protobuf_delimited, encode_openmetrics, encode_protobuf_delimited, encode_text, parse_text_with,
    MetricFamily, NameValidation, OpenMetricsOptions, ParseOptions,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mode, body) = match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => return,
    };
    let names = if mode & 1 == 1 { NameValidation::Utf8 } else { NameValidation::Legacy };
    let options = ParseOptions {
        names,
        ..ParseOptions::default()
    };
    let Ok(parsed) = parse_text_with(body, options) else { return };
    let owned: Vec<MetricFamily> = parsed.into_iter().map(|f| f.into_owned()).collect();
    let mut text = Vec::new();
    encode_text(&mut text, &owned).expect("parsed families always encode as text");
    let _ = encode_openmetrics(&mut Vec::new(), &owned, OpenMetricsOptions::default());
    let mut wire = Vec::new();
    encode_protobuf_delimited(&mut wire, &owned);
    let back = decode_protobuf_delimited(&wire).expect("own protobuf output decodes");
    assert_eq!(format!("{back:?}"), format!("{owned:?}"), "protobuf round trip");
});
