//! Persistence: a snapshot file plus, in durable mode, a write-ahead
//! journal next to it, so that a change acknowledged to a client survives a
//! crash.
//!
//! - **Durable** (default with `--persistence.file`): every change is in the
//!   journal and fsync'd before the push is acknowledged (group commit). The
//!   snapshot is rewritten every `--persistence.interval` and at shutdown,
//!   after which older journal segments are deleted.
//! - **Snapshot** (the Go gateway's behaviour): only the periodic snapshot;
//!   a crash loses what changed since the last one.
//!
//! Snapshots are written to a temporary file, fsync'd and renamed. Every
//! record carries a CRC-32. A torn tail of the journal is dropped with a
//! warning; a corrupt snapshot or journal stops start-up naming the file and
//! the offset, unless `ignore_corrupt` says to start with what is readable.
//! A file written by the Go Pushgateway (`encoding/gob`) is imported, and
//! the next snapshot replaces it in our format.

pub(crate) mod codec;
mod gob;
pub(crate) mod journal;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use exposition::protobuf::{decode_family, encode_family_header};
use exposition::MetricFamily;

use self::codec::{intact_record_after, records, DiskFamily, End, Reader, Writer};
use self::journal::{segments, sync_dir, Journal, SEGMENT_MAGIC};
use crate::key::GroupingKey;
use crate::store::{Store, StoreOptions, WriteRequest};
use crate::time::PushTime;
use crate::StoredFamily;

/// The first bytes of a snapshot file.
pub(crate) const SNAPSHOT_MAGIC: &[u8; 8] = b"PGWSNAP1";
const FORMAT_VERSION: u64 = 1;

/// How changes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PersistMode {
    /// Journal every change and fsync it before acknowledging.
    #[default]
    Durable,
    /// Periodic snapshots only.
    Snapshot,
}

/// Where and how to persist.
#[derive(Debug, Clone)]
pub struct PersistenceOptions {
    /// The snapshot file; the journal segments sit next to it.
    pub file: PathBuf,
    /// Durable or snapshot-only.
    pub mode: PersistMode,
    /// Start with whatever is readable when files are corrupt.
    pub ignore_corrupt: bool,
}

/// A persistence problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// A file is damaged.
    #[error("{path}: corrupt at byte {offset}: {what} (start with --persistence.ignore-corrupt to keep what is readable)")]
    Corrupt {
        /// The file.
        path: String,
        /// Where the damage starts.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// The journal cannot take more changes.
    #[error("persistence journal failed: {0}")]
    Journal(String),
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> PersistError + '_ {
    move |e| PersistError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// An opened persistence: loads the store at start, snapshots on demand.
pub struct Persistence {
    options: PersistenceOptions,
    store: Arc<Store>,
    journal: Option<Arc<Journal>>,
    /// The last journal record loaded at start: what a snapshot reflects
    /// when no journal is written (snapshot mode).
    loaded_lsn: u64,
    snapshot_changes: parking_lot::Mutex<u64>,
}

/// What loading found, for the log.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Groups read from the snapshot (or the Go file).
    pub groups: usize,
    /// Journal records replayed.
    pub replayed: u64,
    /// Whether the snapshot was a Go Pushgateway file.
    pub imported_go_file: bool,
    /// Problems tolerated (torn journal tail, or corruption with `ignore_corrupt`).
    pub warnings: Vec<String>,
}

impl Persistence {
    /// Opens the persistence file: loads the snapshot (ours or Go's),
    /// replays the journal, and in durable mode starts journaling. Returns
    /// the loaded store.
    pub fn open(
        options: PersistenceOptions,
        store_options: StoreOptions,
    ) -> Result<(Persistence, LoadReport), PersistError> {
        let store = Arc::new(Store::new(store_options));
        let mut report = LoadReport::default();
        let snapshot_lsn = load_snapshot(&store, &options, &mut report)?;
        let last = replay_journal(&store, &options, snapshot_lsn, &mut report)?;
        let journal = match options.mode {
            PersistMode::Durable => {
                let journal = Journal::open(&options.file, last + 1)?;
                store.attach_journal(journal.clone());
                Some(journal)
            }
            PersistMode::Snapshot => None,
        };
        let changes = store.change_count();
        let persistence = Persistence {
            options,
            store,
            journal,
            loaded_lsn: last,
            snapshot_changes: parking_lot::Mutex::new(changes),
        };
        if persistence.journal.is_none() {
            // Snapshot mode after a durable run: fold the journal into a
            // snapshot now and drop it, or a later start would replay the
            // old records over newer snapshots.
            let leftover =
                segments(&persistence.options.file).map_err(io_error(&persistence.options.file))?;
            if !leftover.is_empty() {
                persistence.snapshot()?;
                for (_, path) in leftover {
                    std::fs::remove_file(&path).map_err(io_error(&path))?;
                }
            }
        }
        Ok((persistence, report))
    }

    /// The store being persisted.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// Writes a snapshot if anything changed since the last one, then drops
    /// the journal segments it covers. Returns whether it wrote one.
    pub fn snapshot_if_changed(&self) -> Result<bool, PersistError> {
        let changes = self.store.change_count();
        if changes == *self.snapshot_changes.lock() {
            return Ok(false);
        }
        self.snapshot()?;
        Ok(true)
    }

    /// Writes a snapshot now.
    pub fn snapshot(&self) -> Result<(), PersistError> {
        let changes = self.store.change_count();
        let (groups, next_segment) = self.store.checkpoint();
        let lsn = match &self.journal {
            Some(_) => next_segment.saturating_sub(1),
            None => self.loaded_lsn,
        };
        write_snapshot(&self.options.file, &groups, lsn)?;
        if let Some(journal) = &self.journal {
            journal.remove_segments_before(next_segment);
        }
        *self.snapshot_changes.lock() = changes;
        Ok(())
    }

    /// Final snapshot and journal shutdown, for a clean exit.
    pub fn close(&self) -> Result<(), PersistError> {
        let result = self.snapshot();
        if let Some(journal) = &self.journal {
            journal.close();
        }
        result
    }
}

/// Writes a snapshot of `groups` reflecting journal position `lsn`.
fn write_snapshot(file: &Path, snapshot: &crate::Snapshot, lsn: u64) -> Result<(), PersistError> {
    let tmp = {
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp-{}", std::process::id()));
        file.with_file_name(name)
    };
    let io = io_error(&tmp);
    let out = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(&io)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    out.write_all(SNAPSHOT_MAGIC).map_err(&io)?;
    let mut framed = Vec::new();
    let mut header = Writer::default();
    header.varint(FORMAT_VERSION);
    header.varint(lsn);
    header.i64(PushTime::now().as_nanos());
    codec::frame(&mut framed, &header.buf);
    out.write_all(&framed).map_err(&io)?;
    for group in snapshot.groups() {
        let mut w = Writer::default();
        w.key(group.key());
        w.i64(group.push_time().as_nanos());
        w.i64(group.failure_time().as_nanos());
        w.varint(group.families().len() as u64);
        for f in group.families() {
            w.family(f);
        }
        framed.clear();
        codec::frame(&mut framed, &w.buf);
        out.write_all(&framed).map_err(&io)?;
    }
    let mut end = Writer::default();
    end.varint(snapshot.groups().len() as u64);
    framed.clear();
    codec::frame(&mut framed, &end.buf);
    out.write_all(&framed).map_err(&io)?;
    let out = out.into_inner().map_err(|e| io(e.into_error()))?;
    out.sync_all().map_err(&io)?;
    drop(out);
    std::fs::rename(&tmp, file).map_err(io_error(file))?;
    sync_dir(file).map_err(io_error(file))?;
    Ok(())
}

/// Rebuilds a family read from disk.
fn restore_family(
    store: &Store,
    key: &GroupingKey,
    f: &DiskFamily<'_>,
) -> Result<StoredFamily, String> {
    let family = decode_disk_family(f)?;
    Ok(store.prepare_restored(key, &family, f.pushed_at))
}

fn decode_disk_family(f: &DiskFamily<'_>) -> Result<MetricFamily, String> {
    let mut message = Vec::with_capacity(f.proto.len() + f.name.len() + 16);
    encode_family_header(&mut message, f.name, f.help, f.metric_type);
    message.extend_from_slice(f.proto);
    decode_family(&message).map_err(|e| format!("family {:?}: {e}", f.name))
}

/// A group read from a snapshot, before its families are rebuilt.
struct DiskGroup<'a> {
    key: GroupingKey,
    push_time: PushTime,
    failure_time: PushTime,
    families: Vec<DiskFamily<'a>>,
}

fn parse_group(payload: &[u8]) -> Result<DiskGroup<'_>, codec::DecodeError> {
    let mut r = Reader::new(payload);
    let key = r.key()?;
    let push_time = PushTime::from_nanos(r.i64()?);
    let failure_time = PushTime::from_nanos(r.i64()?);
    let n = r.count()?;
    let mut families = Vec::with_capacity(n);
    for _ in 0..n {
        families.push(r.family()?);
    }
    Ok(DiskGroup {
        key,
        push_time,
        failure_time,
        families,
    })
}

/// A group rebuilt from disk, with the problems met on the way.
struct RestoredGroup {
    key: GroupingKey,
    families: Vec<Arc<StoredFamily>>,
    push_time: PushTime,
    failure_time: PushTime,
    errors: Vec<String>,
}

/// Rebuilds groups on all cores, then installs them through the store's
/// write path in order.
fn restore_groups(store: &Store, groups: Vec<DiskGroup<'_>>) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = groups.len().div_ceil(threads).max(1);
    let mut problems = Vec::new();
    let prepared: Vec<Vec<RestoredGroup>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|g| {
                            let mut errors = Vec::new();
                            let families = g
                                .families
                                .iter()
                                .filter_map(|f| match restore_family(store, &g.key, f) {
                                    Ok(f) => Some(Arc::new(f)),
                                    Err(e) => {
                                        errors.push(format!("group {}: {e}", g.key));
                                        None
                                    }
                                })
                                .collect();
                            RestoredGroup {
                                key: g.key.clone(),
                                families,
                                push_time: g.push_time,
                                failure_time: g.failure_time,
                                errors,
                            }
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for g in prepared.into_iter().flatten() {
        problems.extend(g.errors);
        let _ = store.apply(WriteRequest::Restore {
            key: g.key,
            families: g.families,
            push_time: g.push_time,
            failure_time: g.failure_time,
        });
    }
    problems
}

/// Loads the snapshot file into the store; returns the journal position
/// it reflects.
fn load_snapshot(
    store: &Store,
    options: &PersistenceOptions,
    report: &mut LoadReport,
) -> Result<u64, PersistError> {
    let path = &options.file;
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(path)(e)),
    };
    let corrupt = |offset: usize, what: String| PersistError::Corrupt {
        path: path.display().to_string(),
        offset: offset as u64,
        what,
    };
    if data.is_empty() {
        return Ok(0);
    }
    if !data.starts_with(SNAPSHOT_MAGIC) {
        if gob::looks_like_gob(&data) {
            return import_go_file(store, path, &data, options, report).map(|()| 0);
        }
        return Err(corrupt(0, "not a pushgateway persistence file".into()));
    }
    let body = &data[SNAPSHOT_MAGIC.len()..];
    let (payloads, end) = records(body);
    let offset_of = |i: usize| -> usize {
        SNAPSHOT_MAGIC.len() + payloads[..i].iter().map(|p| p.len() + 8).sum::<usize>()
    };
    let mut problems: Vec<PersistError> = Vec::new();
    if let End::Damaged { offset } = end {
        problems.push(corrupt(
            SNAPSHOT_MAGIC.len() + offset,
            "damaged record".into(),
        ));
    }
    let Some((header, rest)) = payloads.split_first() else {
        return Err(corrupt(SNAPSHOT_MAGIC.len(), "no header record".into()));
    };
    let mut r = Reader::new(header);
    let version = r
        .varint()
        .map_err(|e| corrupt(SNAPSHOT_MAGIC.len(), e.to_string()))?;
    if version != FORMAT_VERSION {
        return Err(corrupt(
            SNAPSHOT_MAGIC.len(),
            format!("unknown format version {version}"),
        ));
    }
    let lsn = r
        .varint()
        .map_err(|e| corrupt(SNAPSHOT_MAGIC.len(), e.to_string()))?;
    // The last record counts the groups; without it the file is truncated.
    let (groups, complete) = match rest.split_last() {
        Some((last, groups)) if end == End::Clean => {
            let count = Reader::new(last).varint().ok();
            (groups, count == Some(groups.len() as u64))
        }
        _ => (rest, false),
    };
    if !complete && problems.is_empty() {
        problems.push(corrupt(
            data.len(),
            "the file ends before its last record (truncated)".into(),
        ));
    }
    let mut parsed = Vec::with_capacity(groups.len());
    for (i, payload) in groups.iter().enumerate() {
        match parse_group(payload) {
            Ok(g) => parsed.push(g),
            Err(e) => problems.push(corrupt(offset_of(i + 1), e.to_string())),
        }
    }
    if let Some(first) = problems.first() {
        if !options.ignore_corrupt {
            return Err(first.clone());
        }
        report
            .warnings
            .extend(problems.iter().map(ToString::to_string));
        keep_corrupt_copy(path, report);
    }
    report.groups = parsed.len();
    report.warnings.extend(restore_groups(store, parsed));
    Ok(lsn)
}

/// With `ignore_corrupt`, the next snapshot replaces a damaged file: keep
/// a copy (`<file>.corrupt-<unix seconds>`) for whoever wants to look.
fn keep_corrupt_copy(path: &Path, report: &mut LoadReport) {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".corrupt-{}",
        PushTime::now().as_nanos() / 1_000_000_000
    ));
    let copy = path.with_file_name(name);
    match std::fs::copy(path, &copy) {
        Ok(_) => report
            .warnings
            .push(format!("kept the damaged file as {}", copy.display())),
        Err(e) => report.warnings.push(format!(
            "could not keep a copy of the damaged file as {}: {e}",
            copy.display()
        )),
    }
}

fn import_go_file(
    store: &Store,
    path: &Path,
    data: &[u8],
    options: &PersistenceOptions,
    report: &mut LoadReport,
) -> Result<(), PersistError> {
    let groups = match gob::decode_go_file(data) {
        Ok(g) => g,
        Err(e) if options.ignore_corrupt => {
            report
                .warnings
                .push(format!("{}: {e}; starting empty", path.display()));
            keep_corrupt_copy(path, report);
            return Ok(());
        }
        Err(e) => {
            return Err(PersistError::Corrupt {
                path: path.display().to_string(),
                offset: e.offset as u64,
                what: format!("Go persistence file: {}", e.message),
            })
        }
    };
    report.imported_go_file = true;
    report.groups = groups.len();
    for group in groups {
        let key = GroupingKey::new(group.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut families = Vec::new();
        let mut push_time = PushTime::default();
        let mut failure_time = PushTime::default();
        for f in &group.families {
            let family = match decode_family(&f.proto) {
                Ok(family) => family,
                Err(e) => {
                    report
                        .warnings
                        .push(format!("group {key}: family {:?}: {e}", f.name));
                    continue;
                }
            };
            // Go files a set push-time gauge under the push's own time,
            // exact where the gauge's float seconds are not; a gauge of 0
            // means never.
            let time_gauge = |family: &MetricFamily| match family.metrics.first().map(|m| &m.value)
            {
                Some(exposition::Value::Gauge(v)) if *v != 0.0 => {
                    PushTime::from_nanos(f.pushed_at_unix_nanos)
                }
                _ => PushTime::default(),
            };
            if family.name == crate::PUSH_TIME_METRIC {
                push_time = time_gauge(&family);
            } else if family.name == crate::PUSH_FAILURE_TIME_METRIC {
                failure_time = time_gauge(&family);
            }
            families.push(Arc::new(store.prepare_restored(
                &key,
                &family,
                PushTime::from_nanos(f.pushed_at_unix_nanos),
            )));
        }
        let _ = store.apply(WriteRequest::Restore {
            key,
            families,
            push_time,
            failure_time,
        });
    }
    Ok(())
}

/// Replays journal records after `snapshot_lsn`; returns the last LSN.
fn replay_journal(
    store: &Store,
    options: &PersistenceOptions,
    snapshot_lsn: u64,
    report: &mut LoadReport,
) -> Result<u64, PersistError> {
    let segments = segments(&options.file).map_err(io_error(&options.file))?;
    let mut last = snapshot_lsn;
    let count = segments.len();
    for (index, (_, path)) in segments.iter().enumerate() {
        let data = std::fs::read(path).map_err(io_error(path))?;
        let corrupt = |offset: usize, what: String| PersistError::Corrupt {
            path: path.display().to_string(),
            offset: offset as u64,
            what,
        };
        if data.len() < SEGMENT_MAGIC.len() {
            // A segment created but never written (crash right after rotation).
            continue;
        }
        if !data.starts_with(SEGMENT_MAGIC) {
            return Err(corrupt(0, "not a journal segment".into()));
        }
        let (payloads, end) = records(&data[SEGMENT_MAGIC.len()..]);
        let mut offset = SEGMENT_MAGIC.len();
        for payload in payloads {
            let at = offset;
            offset += payload.len() + 8;
            let mut r = Reader::new(payload);
            let lsn = r.varint().map_err(|e| corrupt(at, e.to_string()))?;
            if lsn <= last {
                continue;
            }
            if lsn != last + 1 && last != 0 {
                let problem = corrupt(at, format!("journal jumps from record {last} to {lsn}"));
                if !options.ignore_corrupt {
                    return Err(problem);
                }
                report.warnings.push(problem.to_string());
            }
            apply_record(store, &mut r).map_err(|e| corrupt(at, format!("record {lsn}: {e}")))?;
            last = lsn;
            report.replayed += 1;
        }
        if let End::Damaged { offset } = end {
            let at = SEGMENT_MAGIC.len() + offset;
            let torn_tail = index + 1 == count && !intact_record_after(&data, at);
            if torn_tail {
                // A write cut short by a crash: never acknowledged, dropped.
                report.warnings.push(format!(
                    "{}: dropped a torn write at byte {at} (a crash interrupted it)",
                    path.display()
                ));
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_error(path))?;
                file.set_len(at as u64).map_err(io_error(path))?;
                file.sync_all().map_err(io_error(path))?;
            } else if options.ignore_corrupt {
                report
                    .warnings
                    .push(corrupt(at, "damaged record".into()).to_string());
                keep_corrupt_copy(path, report);
            } else {
                return Err(corrupt(
                    at,
                    "damaged record in the middle of the journal".into(),
                ));
            }
        }
    }
    Ok(last)
}

fn apply_record(store: &Store, r: &mut Reader<'_>) -> Result<(), String> {
    match r.u8().map_err(|e| e.to_string())? {
        codec::PUSH => {
            let key = r.key().map_err(|e| e.to_string())?;
            let replace = r.u8().map_err(|e| e.to_string())? != 0;
            let at = PushTime::from_nanos(r.i64().map_err(|e| e.to_string())?);
            let n = r.count().map_err(|e| e.to_string())?;
            let mut families = Vec::with_capacity(n);
            for _ in 0..n {
                let f = r.family().map_err(|e| e.to_string())?;
                families.push(Arc::new(restore_family(store, &key, &f)?));
            }
            let result = store.apply(WriteRequest::Push {
                key,
                families,
                replace,
                at,
            });
            // A push was journaled because it passed the check; replaying
            // the same sequence passes it again.
            result
                .map(drop)
                .map_err(|e| format!("replayed push refused: {e}"))
        }
        codec::FAIL => {
            let key = r.key().map_err(|e| e.to_string())?;
            let at = PushTime::from_nanos(r.i64().map_err(|e| e.to_string())?);
            let _ = store.apply(WriteRequest::Fail { key, at });
            Ok(())
        }
        codec::DELETE => {
            let key = r.key().map_err(|e| e.to_string())?;
            let _ = store.apply(WriteRequest::Delete { key });
            Ok(())
        }
        codec::WIPE => {
            let _ = store.apply(WriteRequest::Wipe);
            Ok(())
        }
        other => Err(format!("unknown record kind {other}")),
    }
}
