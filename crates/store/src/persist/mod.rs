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

mod codec;
mod gob;
mod journal;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use exposition::protobuf::decode_family;
use exposition::MetricFamily;

use self::codec::{DiskGroup, DiskWrite, Reader, Writer, SEGMENT_MAGIC, SNAPSHOT_MAGIC};
use self::journal::{segments, sync_dir, Journal};
use crate::changelog::{ChangeLog, LogError, MemoryLog};
use crate::key::GroupingKey;
use crate::store::{Store, StoreOptions};
use crate::time::PushTime;
use crate::write::{GroupImage, Lifetime, Origin, Write};

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

/// What start-up does with a damaged snapshot or journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnCorruption {
    /// Refuse to start, naming the file and the offset.
    #[default]
    Refuse,
    /// Start with everything readable (`--persistence.ignore-corrupt`),
    /// keeping a copy of the damaged file.
    KeepReadable,
}

/// Where and how to persist.
#[derive(Debug, Clone)]
pub struct PersistenceOptions {
    /// The snapshot file; the journal segments sit next to it.
    pub file: PathBuf,
    /// Durable or snapshot-only.
    pub mode: PersistMode,
    /// What to do with damaged files.
    pub on_corruption: OnCorruption,
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
    /// A file was written by a newer release.
    #[error("{path}: {what} is not supported by this release")]
    Unsupported {
        /// The file.
        path: String,
        /// What is not supported.
        what: String,
    },
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> PersistError + '_ {
    move |e| PersistError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// An opened persistence: loads the store at start, snapshots on demand.
///
/// In durable mode a keeper thread watches the journal: it shows readers
/// what became durable (for writers that did not stay to see it), and when
/// the journal fails it drops the writes that were not durable, then tries
/// about once a second to write a fresh snapshot and start the journal
/// again, so that writes resume by themselves once the disk allows.
pub struct Persistence {
    shared: Arc<Shared>,
    keeper: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    options: PersistenceOptions,
    store: Arc<Store>,
    journal: Option<Arc<Journal>>,
    snapshot_changes: parking_lot::Mutex<u64>,
    /// Failed journal writes, recovery attempts and snapshots.
    failures: AtomicU64,
    stopping: AtomicBool,
    /// One snapshot at a time (periodic, recovery, shutdown).
    snapshotting: parking_lot::Mutex<()>,
}

/// How often a failed journal is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// What loading found, for the log.
#[derive(Debug, Default, Clone)]
pub struct LoadReport {
    /// Groups read from the snapshot (or the Go file).
    pub groups: usize,
    /// Journal records replayed.
    pub replayed: u64,
    /// Whether the snapshot was a Go Pushgateway file.
    pub imported_go_file: bool,
    /// Where the Go file was kept, as it was, before this gateway's first
    /// snapshot replaces it (the way back to the Go gateway).
    pub go_backup: Option<PathBuf>,
    /// Problems tolerated (torn journal tail, or corruption with `ignore_corrupt`).
    pub warnings: Vec<String>,
    /// Whether damaged files were read past (with `ignore_corrupt`); a
    /// fresh snapshot then replaces them.
    pub corruption: bool,
}

impl Persistence {
    /// Opens the persistence file: reads the snapshot (ours or Go's) and
    /// the journal, then builds the store on its change log (the journal in
    /// durable mode) and applies what was read through the store's write
    /// path, as writes from the log. Returns the loaded store.
    pub fn open(
        options: PersistenceOptions,
        store_options: StoreOptions,
    ) -> Result<(Persistence, LoadReport), PersistError> {
        let mut report = LoadReport::default();
        remove_snapshot_tmp_files(&options.file);
        let snapshot_bytes = read_snapshot_file(&options.file)?;
        let snapshot = match &snapshot_bytes {
            Some(bytes) => parse_snapshot(bytes, &options, &mut report)?,
            None => SnapshotContents::Empty,
        };
        let (first_segment, segment_bytes) = read_segments(&options.file)?;
        if snapshot_bytes.as_ref().is_some_and(Vec::is_empty) {
            empty_snapshot(&options, first_segment, &mut report)?;
        }
        let journal = parse_journal(&segment_bytes, &options, snapshot.lsn(), &mut report)?;
        let last = journal.last_lsn;

        let (log, file_journal): (Arc<dyn ChangeLog>, _) = match options.mode {
            PersistMode::Durable => {
                let j = Journal::open(&options.file, last + 1);
                (j.clone(), Some(j))
            }
            PersistMode::Snapshot => (Arc::new(MemoryLog::at(last)), None),
        };
        let store = Arc::new(Store::with_change_log(store_options, log));
        match snapshot {
            SnapshotContents::Empty => {}
            SnapshotContents::Ours { groups, .. } => {
                report.groups = groups.len();
                report.warnings.extend(restore_groups(&store, &groups));
            }
            SnapshotContents::Go(groups) => {
                report.imported_go_file = true;
                report.groups = groups.len();
                import_go_groups(&store, groups, &mut report);
            }
        }
        for record in journal.records {
            let corrupt = |what: String| PersistError::Corrupt {
                path: record.path.display().to_string(),
                offset: record.offset as u64,
                what: format!("record {}: {what}", record.lsn),
            };
            // A push was journaled because it passed the check; replaying
            // the same sequence passes it again, unless damage took records
            // out of the sequence.
            let replayed = record
                .write
                .rebuild(&store)
                .map_err(&corrupt)
                .and_then(|write| {
                    // Writes from the log are durable already: nothing to wait for.
                    store
                        .apply(write, Origin::Log)
                        .map(drop)
                        .map_err(|e| corrupt(format!("replayed write refused: {e}")))
                });
            match replayed {
                Ok(()) => report.replayed += 1,
                Err(e) if options.on_corruption == OnCorruption::KeepReadable => {
                    report.warnings.push(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }

        let changes = store.change_count();
        let shared = Arc::new(Shared {
            options,
            store,
            journal: file_journal,
            snapshot_changes: parking_lot::Mutex::new(changes),
            failures: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
            snapshotting: parking_lot::Mutex::new(()),
        });
        if shared.journal.is_none() && !segment_bytes.is_empty() {
            // Snapshot mode after a durable run: fold the journal into a
            // snapshot now and drop it, or a later start would replay the
            // old records over newer snapshots.
            shared.snapshot()?;
            for (path, _) in &segment_bytes {
                std::fs::remove_file(path).map_err(io_error(path))?;
            }
        }
        if report.corruption {
            // Replace the damaged files now, so that a crash before the
            // next periodic snapshot does not meet the damage again.
            match shared.snapshot() {
                Ok(()) => report.warnings.push(format!(
                    "{}: wrote a fresh snapshot of what was readable",
                    shared.options.file.display()
                )),
                Err(e) => report.warnings.push(format!(
                    "could not write a fresh snapshot ({e}); the damaged files stay until the next one"
                )),
            }
        }
        let keeper = match &shared.journal {
            Some(_) => {
                let keeping = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("persistence".into())
                    .spawn(move || keeping.keep());
                Some(spawned.map_err(io_error(&shared.options.file))?)
            }
            None => None,
        };
        let persistence = Persistence {
            shared,
            keeper: parking_lot::Mutex::new(keeper),
        };
        Ok((persistence, report))
    }

    /// The persistence file.
    pub fn file(&self) -> &Path {
        &self.shared.options.file
    }

    /// The store being persisted.
    pub fn store(&self) -> Arc<Store> {
        self.shared.store.clone()
    }

    /// Writes a snapshot if anything changed since the last one, then drops
    /// the journal segments it covers. Returns whether it wrote one.
    pub fn snapshot_if_changed(&self) -> Result<bool, PersistError> {
        let changes = self.shared.store.change_count();
        if changes == *self.shared.snapshot_changes.lock() {
            return Ok(false);
        }
        self.snapshot()?;
        Ok(true)
    }

    /// Writes a snapshot now.
    pub fn snapshot(&self) -> Result<(), PersistError> {
        self.shared.snapshot()
    }

    /// Why writes cannot be made durable now, if they cannot (the store
    /// refuses them meanwhile).
    pub fn refusing(&self) -> Option<LogError> {
        self.shared.journal.as_ref()?.failure()
    }

    /// How many journal writes, recovery attempts and snapshots failed.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    /// Final snapshot and journal shutdown, for a clean exit.
    pub fn close(&self) -> Result<(), PersistError> {
        self.shared.stopping.store(true, Ordering::Relaxed);
        if let Some(keeper) = self.keeper.lock().take() {
            let _ = keeper.join();
        }
        let result = self.snapshot();
        if let Some(journal) = &self.shared.journal {
            journal.close();
        }
        result
    }
}

impl Shared {
    fn snapshot(&self) -> Result<(), PersistError> {
        let _one = self.snapshotting.lock();
        let changes = self.store.change_count();
        let (groups, position) = self.store.checkpoint();
        if let Err(e) = write_snapshot(&self.options.file, &groups, position) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.store.compact_log(position);
        *self.snapshot_changes.lock() = changes;
        Ok(())
    }

    /// The keeper thread's loop (durable mode).
    fn keep(self: Arc<Shared>) {
        let Some(journal) = self.journal.clone() else {
            return;
        };
        let mut published = 0;
        let mut lost = false;
        while !self.stopping.load(Ordering::Relaxed) {
            if journal.failure().is_none() {
                lost = false;
                if let Ok(flushed) = journal.progress().wait_past(published, RETRY / 4) {
                    if flushed > published {
                        self.store.publish(flushed);
                        published = flushed;
                    }
                }
                continue;
            }
            if !lost {
                // What was durable stays; what was not never will be:
                // drop it, so that nothing answered with an error is ever
                // shown.
                let through = journal.progress().durable_through();
                self.store.discard_after(through);
                published = published.max(through);
                self.failures.fetch_add(1, Ordering::Relaxed);
                lost = true;
            }
            self.pause(RETRY);
            match self.recover(&journal) {
                Ok(next) => {
                    published = next.saturating_sub(1);
                    tracing::info!(file = %self.options.file.display(), "persistence journal writable again; accepting writes");
                }
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(err = %e, "persistence journal still failing");
                }
            }
        }
    }

    /// Sleeps up to `d`, waking early when stopping.
    fn pause(&self, d: Duration) {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() && !self.stopping.load(Ordering::Relaxed) {
            std::thread::sleep(step.min(left));
            left = left.saturating_sub(step);
        }
    }

    /// Writes a snapshot of what readers see (every durable write; the
    /// lost ones count as never made) as reflecting everything before the
    /// journal's next record, then starts the journal again in a new
    /// segment and drops the older ones. Returns the journal's next LSN.
    fn recover(&self, journal: &Arc<Journal>) -> Result<u64, PersistError> {
        let _one = self.snapshotting.lock();
        let next = journal.next_lsn();
        let changes = self.store.change_count();
        write_snapshot(
            &self.options.file,
            &self.store.snapshot(),
            next.saturating_sub(1),
        )?;
        journal.resume().map_err(log_error)?;
        self.store.compact_log(next.saturating_sub(1));
        *self.snapshot_changes.lock() = changes;
        Ok(next)
    }
}

fn log_error(e: LogError) -> PersistError {
    match e {
        LogError::Write { reason, location } => PersistError::Io {
            path: location,
            reason,
        },
        other => PersistError::Io {
            path: String::new(),
            reason: other.to_string(),
        },
    }
}

/// The temporary file a snapshot is written to before it replaces `file`.
fn snapshot_tmp_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    file.with_file_name(name)
}

/// Removes temporary snapshot files that an interrupted snapshot left
/// (of this process or an earlier one).
fn remove_snapshot_tmp_files(file: &Path) {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.tmp-",
        file.file_name().unwrap_or_default().to_string_lossy()
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(file = %entry.path().display(), err = %e, "cannot remove a temporary snapshot file");
            }
        }
    }
}

/// Writes a snapshot of `groups` reflecting journal position `lsn`; a
/// snapshot that cannot be written leaves no temporary file behind.
fn write_snapshot(file: &Path, snapshot: &crate::Snapshot, lsn: u64) -> Result<(), PersistError> {
    let tmp = snapshot_tmp_path(file);
    let written = write_snapshot_to(file, &tmp, snapshot, lsn);
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_snapshot_to(
    file: &Path,
    tmp: &Path,
    snapshot: &crate::Snapshot,
    lsn: u64,
) -> Result<(), PersistError> {
    let tmp = tmp.to_path_buf();
    let io = io_error(&tmp);
    let out = private_file().open(&tmp).map_err(&io)?;
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
        framed.clear();
        codec::frame(&mut framed, &codec::encode_group(&group.image()));
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

/// Rebuilds groups on all cores, then installs them through the store's
/// write path in order.
fn restore_groups(store: &Store, groups: &[DiskGroup<'_>]) -> Vec<String> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = groups.len().div_ceil(threads).max(1);
    let mut problems = Vec::new();
    let rebuilt: Vec<Vec<(GroupImage, Vec<String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|g| g.rebuild(store)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (image, errors) in rebuilt.into_iter().flatten() {
        problems.extend(errors);
        // Restoring cannot be refused.
        let _ = store.apply(Write::Restore(image), Origin::Log);
    }
    problems
}

/// What a snapshot file holds, before the store exists.
enum SnapshotContents<'a> {
    /// No file, or an empty one.
    Empty,
    /// Our format: the journal position it reflects and its groups.
    Ours {
        lsn: u64,
        groups: Vec<DiskGroup<'a>>,
    },
    /// A file written by the Go Pushgateway.
    Go(Vec<gob::GoGroup>),
}

impl SnapshotContents<'_> {
    fn lsn(&self) -> u64 {
        match self {
            SnapshotContents::Ours { lsn, .. } => *lsn,
            _ => 0,
        }
    }
}

/// The snapshot file's bytes; `None` when there is no file.
fn read_snapshot_file(path: &Path) -> Result<Option<Vec<u8>>, PersistError> {
    match std::fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// A snapshot file of zero length: harmless when the journal starts at its
/// first record (nothing was ever snapshotted, or the file was created
/// empty), corruption when the journal starts later (the groups the
/// snapshot held are gone).
fn empty_snapshot(
    options: &PersistenceOptions,
    first_segment: Option<u64>,
    report: &mut LoadReport,
) -> Result<(), PersistError> {
    let path = options.file.display().to_string();
    match first_segment {
        Some(lsn) if lsn > 1 => {
            let problem = PersistError::Corrupt {
                path,
                offset: 0,
                what: format!(
                    "the file is empty (zero length), but the journal continues from record {lsn}: the groups it held are lost"
                ),
            };
            if options.on_corruption != OnCorruption::KeepReadable {
                return Err(problem);
            }
            report.warnings.push(problem.to_string());
            report.corruption = true;
        }
        _ => report.warnings.push(format!(
            "{path}: the file is empty (zero length); nothing to restore from it"
        )),
    }
    Ok(())
}

/// Reads the snapshot file's records. With `KeepReadable`, damage costs
/// only the records it touched: every intact group is kept, a damaged
/// header means the journal is replayed from its start.
fn parse_snapshot<'a>(
    data: &'a [u8],
    options: &PersistenceOptions,
    report: &mut LoadReport,
) -> Result<SnapshotContents<'a>, PersistError> {
    let path = &options.file;
    let corrupt = |offset: usize, what: String| PersistError::Corrupt {
        path: path.display().to_string(),
        offset: offset as u64,
        what,
    };
    let tolerate = options.on_corruption == OnCorruption::KeepReadable;
    if data.is_empty() {
        return Ok(SnapshotContents::Empty);
    }
    let mut problems: Vec<PersistError> = Vec::new();
    if !data.starts_with(SNAPSHOT_MAGIC) {
        if gob::looks_like_gob(data) {
            return parse_go_file(path, data, options, report);
        }
        let problem = corrupt(0, "not a pushgateway persistence file".into());
        if !tolerate {
            return Err(problem);
        }
        problems.push(problem);
    }
    let start = SNAPSHOT_MAGIC.len();
    let body = data.get(start..).unwrap_or_default();
    let found = codec::scan(body);
    problems.extend(found.damaged.iter().map(|&at| {
        if found.torn_at() == Some(at) && codec::cut_short_at(body, at) {
            corrupt(
                start + at,
                "the file ends inside a record (truncated)".into(),
            )
        } else {
            corrupt(start + at, "damaged record".into())
        }
    }));
    let mut records = &found.records[..];
    let header = match records.first() {
        Some((0, header)) => {
            records = &records[1..];
            let mut r = Reader::new(header);
            r.varint()
                .and_then(|version| Ok((version, r.varint()?)))
                .ok()
        }
        _ => None,
    };
    let lsn = match header {
        Some((FORMAT_VERSION, lsn)) => lsn,
        Some((version, _)) => {
            return Err(PersistError::Unsupported {
                path: path.display().to_string(),
                what: format!("snapshot format version {version}"),
            })
        }
        None => {
            if problems.is_empty() {
                problems.push(corrupt(start, "damaged header record".into()));
            }
            // What the snapshot reflected is unknown: replay all the journal.
            0
        }
    };
    // The last record counts the groups; without it the file is truncated.
    let trailer = records.split_last().and_then(|((_, last), groups)| {
        let mut r = Reader::new(last);
        let count = r.varint().ok().filter(|_| r.rest().is_empty())?;
        Some((count, groups))
    });
    let groups = match trailer {
        Some((count, groups)) => {
            if problems.is_empty() && count != groups.len() as u64 {
                problems.push(corrupt(
                    data.len(),
                    format!("holds {} groups of {count}", groups.len()),
                ));
            }
            groups
        }
        None => {
            if problems.is_empty() {
                problems.push(corrupt(
                    data.len(),
                    "the file ends before its last record (truncated)".into(),
                ));
            }
            records
        }
    };
    let mut parsed = Vec::with_capacity(groups.len());
    for (offset, payload) in groups {
        match codec::decode_group(payload) {
            Ok(g) => parsed.push(g),
            Err(e) => problems.push(corrupt(start + offset, e.to_string())),
        }
    }
    if tolerate_damage(&problems, options, path, report)? {
        report.warnings.push(format!(
            "{}: kept {} intact groups",
            path.display(),
            parsed.len()
        ));
    }
    Ok(SnapshotContents::Ours {
        lsn,
        groups: parsed,
    })
}

/// One journal record read from disk.
struct JournalRecord<'a> {
    lsn: u64,
    path: &'a Path,
    offset: usize,
    write: DiskWrite<'a>,
}

/// The journal records to replay over a snapshot.
struct JournalContents<'a> {
    records: Vec<JournalRecord<'a>>,
    /// The last LSN read (the snapshot's when there are none).
    last_lsn: u64,
}

/// Reads every journal segment of `base`, in order, with the first
/// record number of the first one (from its name).
#[allow(clippy::type_complexity)]
fn read_segments(base: &Path) -> Result<(Option<u64>, Vec<(PathBuf, Vec<u8>)>), PersistError> {
    let mut out = Vec::new();
    let found = segments(base).map_err(io_error(base))?;
    let first = found.first().map(|(lsn, _)| *lsn);
    for (_, path) in found {
        let data = std::fs::read(&path).map_err(io_error(&path))?;
        out.push((path, data));
    }
    Ok((first, out))
}

/// Reads the records after `snapshot_lsn`; cuts a torn tail off the last
/// segment (on disk too). With `KeepReadable`, a damaged record or segment
/// header costs only what it touched: every intact record is replayed.
fn parse_journal<'a>(
    segments: &'a [(PathBuf, Vec<u8>)],
    options: &PersistenceOptions,
    snapshot_lsn: u64,
    report: &mut LoadReport,
) -> Result<JournalContents<'a>, PersistError> {
    let tolerate = options.on_corruption == OnCorruption::KeepReadable;
    let mut records_out = Vec::new();
    let mut last = snapshot_lsn;
    let count = segments.len();
    for (index, (path, data)) in segments.iter().enumerate() {
        let corrupt = |offset: usize, what: String| PersistError::Corrupt {
            path: path.display().to_string(),
            offset: offset as u64,
            what,
        };
        if data.len() < SEGMENT_MAGIC.len() {
            // A segment created but never written (crash right after rotation).
            continue;
        }
        let mut problems = Vec::new();
        if !data.starts_with(SEGMENT_MAGIC) {
            problems.push(corrupt(0, "not a journal segment".into()));
        }
        let start = SEGMENT_MAGIC.len();
        let found = codec::scan(&data[start..]);
        let torn = found.torn_at().filter(|_| index + 1 == count);
        for &damage in &found.damaged {
            let at = start + damage;
            if torn == Some(damage) {
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
            } else {
                problems.push(corrupt(
                    at,
                    "damaged record in the middle of the journal".into(),
                ));
            }
        }
        for (offset, payload) in &found.records {
            let at = start + offset;
            let mut r = Reader::new(payload);
            let lsn = match r.varint() {
                Ok(lsn) => lsn,
                Err(e) => {
                    problems.push(corrupt(at, e.to_string()));
                    continue;
                }
            };
            if lsn <= last {
                continue;
            }
            if lsn != last + 1 && last != 0 {
                problems.push(corrupt(
                    at,
                    format!("journal jumps from record {last} to {lsn}"),
                ));
            }
            match codec::decode_write(r.rest()) {
                Ok(write) => {
                    records_out.push(JournalRecord {
                        lsn,
                        path,
                        offset: at,
                        write,
                    });
                    last = lsn;
                }
                Err(e) => problems.push(corrupt(at, format!("record {lsn}: {e}"))),
            }
            if !tolerate && !problems.is_empty() {
                break;
            }
        }
        tolerate_damage(&problems, options, path, report)?;
    }
    Ok(JournalContents {
        records: records_out,
        last_lsn: last,
    })
}

/// The damage found in `path`: refused (the first problem) unless the
/// options keep what is readable, then reported and the file kept aside.
/// Answers whether there was damage.
fn tolerate_damage(
    problems: &[PersistError],
    options: &PersistenceOptions,
    path: &Path,
    report: &mut LoadReport,
) -> Result<bool, PersistError> {
    let Some(first) = problems.first() else {
        return Ok(false);
    };
    if options.on_corruption != OnCorruption::KeepReadable {
        return Err(first.clone());
    }
    report
        .warnings
        .extend(problems.iter().map(ToString::to_string));
    keep_corrupt_copy(path, report);
    Ok(true)
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
    report.corruption = true;
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

/// Keeps a Go Pushgateway file, byte for byte, as `<file>.go-backup`
/// (written aside, synced and renamed into place), since this gateway's
/// snapshots replace the file in a format the Go gateway cannot read.
/// Failing to keep it stops start-up: without it there is no way back.
fn keep_go_backup(path: &Path, data: &[u8]) -> Result<PathBuf, PersistError> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".go-backup");
    let backup = path.with_file_name(name);
    let mut tmp_name = backup.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = backup.with_file_name(tmp_name);
    let written = (|| {
        let mut out = private_file().open(&tmp)?;
        out.write_all(data)?;
        out.sync_all()?;
        std::fs::rename(&tmp, &backup)?;
        sync_dir(&backup)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_error(&backup)(e));
    }
    Ok(backup)
}

/// Options for a new file only its owner may read: metrics can be
/// sensitive, and the Go gateway keeps its file at 0600 too.
pub(crate) fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn parse_go_file<'a>(
    path: &Path,
    data: &[u8],
    options: &PersistenceOptions,
    report: &mut LoadReport,
) -> Result<SnapshotContents<'a>, PersistError> {
    match gob::decode_go_file(data) {
        Ok(groups) => {
            report.go_backup = Some(keep_go_backup(path, data)?);
            Ok(SnapshotContents::Go(groups))
        }
        Err(e) if (options.on_corruption == OnCorruption::KeepReadable) => {
            report
                .warnings
                .push(format!("{}: {e}; starting empty", path.display()));
            keep_corrupt_copy(path, report);
            Ok(SnapshotContents::Empty)
        }
        Err(e) => Err(PersistError::Corrupt {
            path: path.display().to_string(),
            offset: e.offset as u64,
            what: format!("Go persistence file: {}", e.message),
        }),
    }
}

/// Installs the groups of a Go Pushgateway file.
fn import_go_groups(store: &Store, groups: Vec<gob::GoGroup>, report: &mut LoadReport) {
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
            families.push(Arc::new(store.rebuild_family(
                &key,
                &family,
                PushTime::from_nanos(f.pushed_at_unix_nanos),
            )));
        }
        // Restoring cannot be refused.
        let _ = store.apply(
            Write::Restore(GroupImage {
                key,
                families,
                push_time,
                failure_time,
                // The Go gateway has no lifetimes.
                lifetime: Lifetime::Forever,
                expires_at: None,
            }),
            Origin::Log,
        );
    }
}
