//! The fuzz targets' seed corpora (`fuzz/seeds`), replayed with the same
//! invariants on every `cargo test`, so that an input that once found a
//! problem keeps being checked without a fuzzer.

use std::path::PathBuf;

use exposition::{
    decode_protobuf_delimited, encode_openmetrics, encode_protobuf_delimited, encode_text,
    encode_text_family, parse_text_with, MetricFamily, NameValidation, OpenMetricsOptions,
    ParseOptions,
};

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let data = std::fs::read(&path).expect("seed readable");
            (path, data)
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 10,
        "only {} seeds in {}",
        out.len(),
        dir.display()
    );
    out
}

#[test]
fn parse_text_seeds_keep_their_invariants() {
    for (path, data) in seeds("parse_text") {
        let Some((mode, body)) = data.split_first() else {
            continue;
        };
        let options = ParseOptions {
            names: if mode & 1 == 1 {
                NameValidation::Utf8
            } else {
                NameValidation::Legacy
            },
            ..ParseOptions::default()
        };
        let Ok(parsed) = parse_text_with(body, options) else {
            continue;
        };
        let owned: Vec<MetricFamily> = parsed.into_iter().map(|f| f.into_owned()).collect();
        encode_text(&mut Vec::new(), &owned)
            .unwrap_or_else(|e| panic!("{}: text encoding failed: {e}", path.display()));
        let _ = encode_openmetrics(&mut Vec::new(), &owned, OpenMetricsOptions::default());
        let mut wire = Vec::new();
        encode_protobuf_delimited(&mut wire, &owned);
        let back = decode_protobuf_delimited(&wire)
            .unwrap_or_else(|e| panic!("{}: own protobuf does not decode: {e}", path.display()));
        assert_eq!(
            format!("{back:?}"),
            format!("{owned:?}"),
            "{}: protobuf round trip",
            path.display()
        );
    }
}

#[test]
fn decode_protobuf_seeds_keep_their_invariants() {
    for (path, data) in seeds("decode_protobuf") {
        let Ok(families) = decode_protobuf_delimited(&data) else {
            continue;
        };
        let mut wire = Vec::new();
        encode_protobuf_delimited(&mut wire, &families);
        let back = decode_protobuf_delimited(&wire)
            .unwrap_or_else(|e| panic!("{}: own protobuf does not decode: {e}", path.display()));
        assert_eq!(
            format!("{back:?}"),
            format!("{families:?}"),
            "{}",
            path.display()
        );
        for family in &families {
            if family
                .metrics
                .iter()
                .all(|m| m.value.matches(family.metric_type))
            {
                encode_text_family(&mut Vec::new(), family)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }
}
