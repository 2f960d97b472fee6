//! Helpers: pushing text bodies and reading a store's scrape.

use std::path::{Path, PathBuf};

use store::{Encoding, GroupingKey, PushMode, PushTime, Rejected, Store, Ticket};

/// A grouping key from `name=value` pairs (`job` first).
pub(crate) fn key(pairs: &[(&str, &str)]) -> GroupingKey {
    GroupingKey::new(pairs.iter().copied())
}

/// Pushes a text body.
pub(crate) fn push_text(
    store: &Store,
    key: &GroupingKey,
    body: &str,
    mode: PushMode,
    at: i64,
) -> Result<Ticket, Rejected> {
    let families = exposition::parse_text(body.as_bytes()).expect("test bodies parse");
    store.push(key.clone(), &families, mode, PushTime::from_nanos(at))
}

/// Pushes a text body that must be accepted, and waits until it is durable
/// and visible.
pub(crate) fn push_durably(store: &Store, key: &GroupingKey, body: &str, mode: PushMode, at: i64) {
    let ticket = push_text(store, key, body, mode, at).expect("the push is accepted");
    store.wait(ticket).expect("the push is durable");
}

/// The store's text scrape (without the gateway's own families).
pub(crate) fn scrape(store: &Store) -> String {
    let mut out = Vec::new();
    store
        .snapshot()
        .write_exposition(&[], Encoding::Text, &mut |b| out.extend_from_slice(b));
    String::from_utf8(out).expect("the exposition is UTF-8")
}

/// The journal segments next to a persistence file, in order.
pub(crate) fn segments(file: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}.wal-", file.file_name().unwrap().to_string_lossy());
    let mut out: Vec<PathBuf> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix)
        })
        .collect();
    out.sort();
    out
}
