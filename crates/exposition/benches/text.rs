//! Text-format parse and encode throughput on a 100k-series body.
//!
//! Run: `cargo bench -p exposition --bench text`. Criterion prints MB/s
//! (bytes group) and series/s (elements group).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use exposition::{encode_protobuf_delimited, encode_text, normalize, parse_text};
use std::fmt::Write;
use std::hint::black_box;

/// 100k series: 100 families of 1,000 series with four labels each, the
/// shape of a typical service's request metrics, plus HELP and TYPE lines.
fn body_100k_series() -> String {
    let mut body = String::new();
    for f in 0..100 {
        let (kind, name) = match f % 3 {
            0 => ("counter", format!("http_requests_{f}_total")),
            1 => ("gauge", format!("queue_depth_{f}")),
            _ => ("untyped", format!("batch_items_{f}")),
        };
        writeln!(body, "# HELP {name} Help text for family number {f}.").unwrap();
        writeln!(body, "# TYPE {name} {kind}").unwrap();
        for s in 0..1000 {
            let value = (s as f64) * 1.37 + f as f64;
            writeln!(
                body,
                "{name}{{instance=\"host-{}.example.org:9100\",job=\"batch\",method=\"{}\",code=\"{}\"}} {value}",
                s % 50,
                ["GET", "POST", "PUT", "DELETE"][s % 4],
                200 + s / 4
            )
            .unwrap();
        }
    }
    body
}

fn parse(c: &mut Criterion) {
    let body = body_100k_series();
    let mut bytes = c.benchmark_group("parse text");
    bytes.throughput(Throughput::Bytes(body.len() as u64));
    bytes.bench_function(BenchmarkId::new("100k series body", "MB/s"), |b| {
        b.iter(|| parse_text(black_box(body.as_bytes())).unwrap())
    });
    bytes.finish();
    let mut series = c.benchmark_group("parse text");
    series.throughput(Throughput::Elements(100_000));
    series.bench_function(BenchmarkId::new("100k series body", "series/s"), |b| {
        b.iter(|| parse_text(black_box(body.as_bytes())).unwrap())
    });
    series.finish();
}

fn encode(c: &mut Criterion) {
    let body = body_100k_series();
    let mut families = parse_text(body.as_bytes()).unwrap();
    normalize(&mut families);
    let mut out = Vec::new();
    encode_text(&mut out, &families).unwrap();
    let encoded_len = out.len();

    let mut bytes = c.benchmark_group("encode text");
    bytes.throughput(Throughput::Bytes(encoded_len as u64));
    bytes.bench_function(BenchmarkId::new("100k series", "MB/s"), |b| {
        b.iter(|| {
            out.clear();
            encode_text(&mut out, black_box(&families)).unwrap();
        })
    });
    bytes.finish();
    let mut series = c.benchmark_group("encode text");
    series.throughput(Throughput::Elements(100_000));
    series.bench_function(BenchmarkId::new("100k series", "series/s"), |b| {
        b.iter(|| {
            out.clear();
            encode_text(&mut out, black_box(&families)).unwrap();
        })
    });
    series.finish();

    let mut proto = Vec::new();
    encode_protobuf_delimited(&mut proto, &families);
    let mut group = c.benchmark_group("encode protobuf");
    group.throughput(Throughput::Bytes(proto.len() as u64));
    group.bench_function(BenchmarkId::new("100k series", "MB/s"), |b| {
        b.iter(|| {
            proto.clear();
            encode_protobuf_delimited(&mut proto, black_box(&families));
        })
    });
    group.finish();
}

criterion_group!(benches, parse, encode);
criterion_main!(benches);
