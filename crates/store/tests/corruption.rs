//! Damaged persistence files cost only what is damaged: with
//! `OnCorruption::KeepReadable` every intact record is kept, a file with
//! nothing readable starts empty (kept aside as `.corrupt-<time>`), and a
//! fresh snapshot replaces the damage at once; without it start-up stops
//! naming the file and the byte.

use std::path::{Path, PathBuf};

use store::{
    OnCorruption, PersistError, PersistMode, Persistence, PersistenceOptions, PushMode,
    StoreOptions,
};

use crate::util::{key, push_durably, segments};

const GROUPS: usize = 50;

fn open(
    file: &Path,
    on_corruption: OnCorruption,
) -> Result<(Persistence, store::LoadReport), PersistError> {
    Persistence::open(
        PersistenceOptions {
            file: file.to_path_buf(),
            mode: PersistMode::Durable,
            on_corruption,
        },
        StoreOptions::default(),
    )
}

/// Fills a persistence with `GROUPS` groups, one push each; with `snapshot`
/// they end up in the snapshot (clean close), else only in the journal
/// (a crash).
fn filled(file: &Path, snapshot: bool) {
    let (p, _) = open(file, OnCorruption::Refuse).unwrap();
    for i in 0..GROUPS {
        let body = format!("# HELP filler Enough bytes to make each record long.\n# TYPE filler gauge\nfiller{{i=\"{i}\",pad=\"{}\"}} {i}\n", "x".repeat(100));
        push_durably(
            &p.store(),
            &key(&[("job", &format!("j{i}"))]),
            &body,
            PushMode::Replace,
            i as i64 + 1,
        );
    }
    if snapshot {
        p.close().unwrap();
    } else {
        std::mem::forget(p);
    }
}

/// The (offset, length) of each framed record after the 8-byte magic.
fn record_spans(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 8 <= data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        out.push((pos, 8 + len));
        pos += 8 + len;
    }
    out
}

/// Flips 4 bytes in the middle of the payload of the record `nth`.
fn flip_inside_record(path: &Path, nth: usize) {
    let mut data = std::fs::read(path).unwrap();
    let (start, len) = record_spans(&data)[nth];
    let middle = start + 8 + (len - 8) / 2;
    for b in &mut data[middle..middle + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(path, data).unwrap();
}

fn corrupt_copies(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect()
}

/// Opens with the flag, expecting `groups`, then crashes and opens without
/// it: the fresh snapshot replaced the damage.
fn kept_then_clean(file: &Path, groups: usize) -> store::LoadReport {
    let (p, report) = open(file, OnCorruption::KeepReadable).unwrap();
    assert_eq!(p.store().group_count(), groups, "{:?}", report.warnings);
    assert!(report.corruption);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("wrote a fresh snapshot")),
        "{:?}",
        report.warnings
    );
    std::mem::forget(p);
    let (again, second) =
        open(file, OnCorruption::Refuse).expect("the damage is gone after the first start");
    assert_eq!(again.store().group_count(), groups);
    assert!(!second.corruption);
    std::mem::forget(again);
    report
}

#[test]
fn flipped_bytes_mid_snapshot_lose_only_the_damaged_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    filled(&file, true);
    // Record 0 is the header; damage a group in the middle.
    flip_inside_record(&file, GROUPS / 2);
    let err = open(&file, OnCorruption::Refuse)
        .err()
        .expect("refused without the flag")
        .to_string();
    assert!(
        err.contains("p.data: corrupt at byte") && err.contains("--persistence.ignore-corrupt"),
        "{err}"
    );
    kept_then_clean(&file, GROUPS - 1);
    assert_eq!(corrupt_copies(dir.path()).len(), 1);
}

#[test]
fn flipped_bytes_mid_journal_lose_only_the_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    filled(&file, false);
    let segment = segments(&file).pop().unwrap();
    flip_inside_record(&segment, GROUPS / 2);
    let err = open(&file, OnCorruption::Refuse)
        .err()
        .expect("refused without the flag")
        .to_string();
    assert!(
        err.contains(".wal-") && err.contains("middle of the journal"),
        "{err}"
    );
    kept_then_clean(&file, GROUPS - 1);
    assert!(
        !segments(&file).contains(&segment),
        "the damaged segment is compacted away"
    );
}

#[test]
fn random_bytes_as_the_snapshot_start_empty_and_are_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&file, &noise).unwrap();
    let err = open(&file, OnCorruption::Refuse).err().unwrap().to_string();
    assert!(err.contains("not a pushgateway persistence file"), "{err}");
    kept_then_clean(&file, 0);
    let copies = corrupt_copies(dir.path());
    assert_eq!(copies.len(), 1);
    assert_eq!(std::fs::read(&copies[0]).unwrap(), noise);
}

#[test]
fn a_damaged_snapshot_header_keeps_every_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    filled(&file, true);
    let mut data = std::fs::read(&file).unwrap();
    data[2] ^= 0xff; // the magic
    data[8 + 8] ^= 0xff; // the header record's payload
    std::fs::write(&file, data).unwrap();
    assert!(open(&file, OnCorruption::Refuse).is_err());
    kept_then_clean(&file, GROUPS);
}

#[test]
fn a_damaged_segment_magic_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    filled(&file, false);
    let segment = segments(&file).pop().unwrap();
    let mut data = std::fs::read(&segment).unwrap();
    data[..4].copy_from_slice(b"\0\0\0\0");
    std::fs::write(&segment, data).unwrap();
    let err = open(&file, OnCorruption::Refuse).err().unwrap().to_string();
    assert!(err.contains("not a journal segment"), "{err}");
    kept_then_clean(&file, GROUPS);
}

#[test]
fn a_zero_length_snapshot_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    filled(&file, true);
    // One more change after the snapshot, in the journal only.
    let (p, _) = open(&file, OnCorruption::Refuse).unwrap();
    push_durably(
        &p.store(),
        &key(&[("job", "late")]),
        "late 1\n",
        PushMode::Replace,
        99,
    );
    std::mem::forget(p);
    std::fs::write(&file, b"").unwrap();
    let err = open(&file, OnCorruption::Refuse).err().unwrap().to_string();
    assert!(
        err.contains("empty (zero length)") && err.contains("lost"),
        "{err}"
    );
    let report = kept_then_clean(&file, 1);
    assert!(report.warnings.iter().any(|w| w.contains("zero length")));

    // An empty file where nothing was ever snapshotted loses nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.data");
    std::fs::write(&file, b"").unwrap();
    let (p, report) = open(&file, OnCorruption::Refuse).unwrap();
    assert_eq!(p.store().group_count(), 0);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("empty (zero length)")),
        "{:?}",
        report.warnings
    );
}
