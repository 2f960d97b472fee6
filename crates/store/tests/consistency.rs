//! The incremental index against the full check: whatever the index
//! accepts leaves a store the full consistency check (the one Go runs on
//! every scrape) accepts, and every push it refuses is one the full check
//! would refuse too, or one that is invalid on its own.

use std::sync::Arc;

use exposition::MetricType;
use proptest::collection::vec;
use proptest::prelude::*;
use store::{
    ConsistencyCheck, GroupImage, Origin, PushMode, Snapshot, Store, StoreOptions, Write,
    WriteError,
};

use crate::util::{key, push_durably, push_text, scrape};

/// Names that collide by type and by the suffixes summaries and histograms
/// own, plus one of the gateway's own names.
const NAMES: &[&str] = &["x", "x_count", "x_sum", "x_bucket", "y", "own_gauge"];
const TYPES: &[&str] = &["counter", "gauge", "untyped", "summary", "histogram"];
/// Label sets of pushed samples; `instance` collides with a grouping label.
const LABELS: &[&str] = &["", "l=\"1\"", "instance=\"i\""];
const KEYS: &[&[(&str, &str)]] = &[
    &[("job", "a")],
    &[("job", "a"), ("instance", "i")],
    &[("job", "b")],
];

fn own() -> Vec<(String, MetricType)> {
    vec![("own_gauge".to_string(), MetricType::Gauge)]
}

fn options(consistency: ConsistencyCheck) -> StoreOptions {
    StoreOptions {
        consistency,
        own_families: own(),
        ..StoreOptions::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Push {
        key: usize,
        mode: PushMode,
        families: Vec<(usize, usize, usize)>,
    },
    Delete {
        key: usize,
    },
    Wipe,
}

fn op() -> impl Strategy<Value = Op> {
    let family = (0..NAMES.len(), 0..TYPES.len(), 0..LABELS.len());
    let mode = prop_oneof![Just(PushMode::Replace), Just(PushMode::Merge)];
    prop_oneof![
        12 => (0..KEYS.len(), mode, vec(family, 0..4))
            .prop_map(|(key, mode, families)| Op::Push { key, mode, families }),
        2 => (0..KEYS.len()).prop_map(|key| Op::Delete { key }),
        1 => Just(Op::Wipe),
    ]
}

/// A text body with one sample (or one summary or histogram) per family;
/// a name given twice keeps its first type.
fn body(families: &[(usize, usize, usize)]) -> String {
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for &(n, t, l) in families {
        let (name, kind, labels) = (NAMES[n], TYPES[t], LABELS[l]);
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        out.push_str(&format!("# TYPE {name} {kind}\n"));
        let braces = |extra: &str| {
            let all: Vec<&str> = [labels, extra]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if all.is_empty() {
                String::new()
            } else {
                format!("{{{}}}", all.join(","))
            }
        };
        match kind {
            "summary" => out.push_str(&format!(
                "{name}_sum{} 1\n{name}_count{} 1\n",
                braces(""),
                braces("")
            )),
            "histogram" => out.push_str(&format!(
                "{name}_bucket{} 1\n{name}_sum{} 1\n{name}_count{} 1\n",
                braces("le=\"+Inf\""),
                braces(""),
                braces("")
            )),
            _ => out.push_str(&format!("{name}{} 1\n", braces(""))),
        }
    }
    out
}

/// A store without push-time checks holding what `snapshot` holds.
fn unchecked_copy(snapshot: &Snapshot) -> Store {
    let copy = Store::new(options(ConsistencyCheck::Off));
    for group in snapshot.groups() {
        let families = group
            .families()
            .iter()
            .map(|f| Arc::new(copy.rebuild_family(group.key(), &f.decode(), f.pushed_at())))
            .collect();
        let image = GroupImage {
            key: group.key().clone(),
            families,
            push_time: group.push_time(),
            failure_time: group.failure_time(),
            lifetime: group.lifetime(),
            expires_at: group.expires_at(),
        };
        drop(
            copy.apply(Write::Restore(image), Origin::Log)
                .expect("restores are never refused"),
        );
    }
    copy
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_index_agrees_with_the_full_check(ops in vec(op(), 1..30)) {
        let store = Store::new(options(ConsistencyCheck::OnPush));
        for (step, op) in ops.iter().enumerate() {
            let at = step as i64 + 1;
            let before = store.snapshot();
            match op {
                Op::Push { key: k, mode, families } => {
                    let key = key(KEYS[*k]);
                    let text = body(families);
                    // Bodies the parser refuses (a summary's `_count` typed
                    // again, say) never reach the store.
                    if exposition::parse_text(text.as_bytes()).is_err() {
                        continue;
                    }
                    let copy = unchecked_copy(&before);
                    let unchecked = push_text(&copy, &key, &text, *mode, at);
                    match push_text(&store, &key, &text, *mode, at) {
                        Ok(ticket) => {
                            store.wait(ticket).unwrap();
                            prop_assert!(unchecked.is_ok(), "accepted with the check, refused without it: {text}");
                            prop_assert_eq!(scrape(&copy), scrape(&store), "an accepted push applies as without the check");
                        }
                        Err(store::Rejected {
                            error: WriteError::Rejected(problems),
                            ..
                        }) => {
                            if unchecked.is_ok() {
                                prop_assert!(
                                    copy.snapshot().check_consistency(&own()).is_err(),
                                    "the index refused a push the full check accepts: {text}\nbecause: {problems}"
                                );
                            }
                        }
                        Err(other) => prop_assert!(false, "unexpected refusal {}", other.error),
                    }
                }
                Op::Delete { key: k } => store.wait(store.delete(key(KEYS[*k])).unwrap()).unwrap(),
                Op::Wipe => store.wait(store.wipe().unwrap()).unwrap(),
            }
            let after = store.snapshot().check_consistency(&own());
            prop_assert!(after.is_ok(), "step {step} ({op:?}) left an inconsistent store: {after:?}");
        }
    }
}

#[test]
fn suffix_and_type_clashes_are_refused_with_go_words() {
    let store = Store::new(options(ConsistencyCheck::OnPush));
    let a = key(&[("job", "a")]);
    let b = key(&[("job", "b")]);
    let hist = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
    push_durably(&store, &a, hist, PushMode::Replace, 1);
    let clash = push_text(
        &store,
        &b,
        "# TYPE h_bucket gauge\nh_bucket 1\n",
        PushMode::Replace,
        2,
    );
    assert_eq!(
        clash.unwrap_err().to_string(),
        "collected metric named \"h_bucket\" collides with previously collected histogram named \"h\""
    );
    let own_clash = push_text(
        &store,
        &b,
        "# TYPE own_gauge counter\nown_gauge 1\n",
        PushMode::Replace,
        3,
    );
    assert_eq!(
        own_clash.unwrap_err().to_string(),
        "gathered metric family own_gauge has type COUNTER but should have GAUGE"
    );
    // Both refusals recorded the failure in group b, as Go does.
    let group = store.group(&b).expect("a failed push creates its group");
    assert!(!group.last_push_successful());
    assert!(store.snapshot().check_consistency(&own()).is_ok());
}

#[test]
fn put_replaces_post_merges() {
    let store = Store::new(options(ConsistencyCheck::OnPush));
    let a = key(&[("job", "a")]);
    push_durably(&store, &a, "x 1\ny 1\n", PushMode::Replace, 1);
    push_durably(&store, &a, "x 2\n", PushMode::Merge, 2);
    let text = scrape(&store);
    assert!(
        text.contains("x{instance=\"\",job=\"a\"} 2\n")
            && text.contains("y{instance=\"\",job=\"a\"} 1\n")
    );
    push_durably(&store, &a, "x 3\n", PushMode::Replace, 3);
    let text = scrape(&store);
    assert!(text.contains("x{instance=\"\",job=\"a\"} 3\n") && !text.contains("\ny{"));
}

#[test]
fn the_group_limit_holds_under_concurrent_pushes() {
    let store = Arc::new(Store::new(StoreOptions {
        max_groups: 10,
        ..options(ConsistencyCheck::OnPush)
    }));
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                let k = key(&[("job", &format!("j{i}"))]);
                push_text(&store, &k, "x 1\n", PushMode::Replace, 1).map(drop)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 10);
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.error == WriteError::TooManyGroups { limit: 10 }));
    assert_eq!(store.group_count(), 10);
    // A full store still takes pushes to its groups, and failed pushes
    // do not create groups beyond the limit.
    let accepted_key = results
        .iter()
        .position(Result::is_ok)
        .map(|i| key(&[("job", &format!("j{i}"))]))
        .unwrap();
    push_durably(
        &store,
        &accepted_key,
        "x 2
",
        PushMode::Replace,
        2,
    );
    let new = key(&[("job", "new")]);
    let refused = push_text(
        &store,
        &new,
        "x 1 1234
",
        PushMode::Replace,
        3,
    );
    assert_eq!(refused.unwrap_err().error, WriteError::Timestamps);
    assert!(store.group(&new).is_none());
    assert_eq!(store.group_count(), 10);
}
