//! Fuzzes the delimited protobuf decoder. Invariants: no panic; decoded
//! families re-encode and decode to the same value; text encoding of
//! families whose metrics match their type succeeds.
#![no_main]

use exposition::{decode_protobuf_delimited, encode_protobuf_delimited, encode_text_family};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(families) = decode_protobuf_delimited(data) else { return };
    let mut wire = Vec::new();
    encode_protobuf_delimited(&mut wire, &families);
    let back = decode_protobuf_delimited(&wire).expect("own protobuf output decodes");
    assert_eq!(format!("{back:?}"), format!("{families:?}"), "protobuf round trip");
    for family in &families {
        if family.metrics.iter().all(|m| m.value.matches(family.metric_type)) {
            encode_text_family(&mut Vec::new(), family).expect("well-typed families encode");
        }
    }
});
