//! The write-ahead journal: every change the store applies is appended, in
//! the order it was applied, and made durable by one committer thread that
//! writes and `fdatasync`s whatever has accumulated — so concurrent pushes
//! share one fsync (group commit).
//!
//! The journal is a series of segment files `<file>.wal-<first lsn>`. A
//! snapshot rotates to a new segment at the moment it copies the store;
//! once the snapshot is durable the older segments are deleted.
//!
//! A record on disk is framed as `length | CRC-32 | lsn | body`: the store
//! hands over the body (encoded before its lock was taken), the journal
//! numbers it under the lock, and the committer thread frames and
//! checksums it, so the lock is held only to queue it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::codec::{encode_write, frame_numbered, SEGMENT_MAGIC};
use crate::changelog::{ChangeLog, LogError, Position, Progress, Record, Ticket};
use crate::write::Write;

enum Item {
    /// One record body for the current segment, with its LSN.
    Record(u64, Vec<u8>),
    /// Start a new segment whose first record is this LSN.
    Rotate(u64),
}

struct State {
    queue: VecDeque<Item>,
    /// LSN the next record gets.
    next_lsn: u64,
    /// Set when writing failed: nothing more can be made durable until
    /// [`Journal::resume`].
    failed: Option<LogError>,
    closing: bool,
}

/// The journal of one persistence file.
///
/// When a write or sync fails, the journal stops: its ticket holders learn
/// of the failure, the records after the last durable one are cut off the
/// segment (they were never acknowledged), and [`ChangeLog::check`] refuses
/// further writes. [`Journal::resume`] starts it again in a new segment,
/// with a new [`Progress`], so that no ticket of a lost record can be
/// mistaken for one of a record written later.
pub(crate) struct Journal {
    base: PathBuf,
    state: Mutex<State>,
    work: Condvar,
    progress: Mutex<Arc<Progress>>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Path of the segment starting at `lsn`.
pub(crate) fn segment_path(base: &Path, lsn: u64) -> PathBuf {
    let mut name = base.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".wal-{lsn:016x}"));
    base.with_file_name(name)
}

/// Journal segments of `base`, sorted by first LSN.
pub(crate) fn segments(base: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = base
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.wal-",
        base.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(hex) = name.strip_prefix(&prefix) {
            if let Ok(lsn) = u64::from_str_radix(hex, 16) {
                out.push((lsn, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Fsyncs a directory, so that created or renamed entries survive a crash.
pub(crate) fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

fn create_segment(base: &Path, lsn: u64) -> Result<File, LogError> {
    let path = segment_path(base, lsn);
    let io = |e: std::io::Error| LogError::Write {
        reason: format!("starting a journal segment: {e}"),
        location: path.display().to_string(),
    };
    let mut file = super::private_file().open(&path).map_err(io)?;
    file.write_all(SEGMENT_MAGIC).map_err(io)?;
    file.sync_all().map_err(io)?;
    sync_dir(&path).map_err(io)?;
    Ok(file)
}

impl Journal {
    /// Opens a journal whose next record is `next_lsn`, in a new segment.
    /// When the segment cannot be created (a full disk), the journal starts
    /// failed: the store serves what it holds and refuses writes until
    /// [`Journal::resume`] succeeds.
    pub(crate) fn open(base: &Path, next_lsn: u64) -> Arc<Journal> {
        let journal = Arc::new(Journal {
            base: base.to_path_buf(),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                next_lsn,
                failed: None,
                closing: false,
            }),
            work: Condvar::new(),
            progress: Mutex::new(Progress::new(next_lsn.saturating_sub(1))),
            committer: Mutex::new(None),
        });
        if let Err(e) = journal.start(next_lsn) {
            tracing::error!(err = %e.detail(), "cannot start the persistence journal; writes are refused until it can");
            journal.progress.lock().failed(e.clone());
            journal.state.lock().failed = Some(e);
        }
        journal
    }

    /// Creates the segment starting at `lsn` and the committer writing to it.
    fn start(self: &Arc<Journal>, lsn: u64) -> Result<(), LogError> {
        let file = create_segment(&self.base, lsn)?;
        let worker = self.clone();
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || worker.commit_loop(file, SEGMENT_MAGIC.len() as u64))
            .map_err(|e| LogError::Write {
                reason: format!("starting the journal thread: {e}"),
                location: self.base.display().to_string(),
            })?;
        if let Some(old) = self.committer.lock().replace(handle) {
            // A committer that failed has returned already.
            let _ = old.join();
        }
        Ok(())
    }

    /// Why the journal cannot take writes, if it cannot.
    pub(crate) fn failure(&self) -> Option<LogError> {
        self.state.lock().failed.clone()
    }

    /// The progress the current records report to.
    pub(crate) fn progress(&self) -> Arc<Progress> {
        self.progress.lock().clone()
    }

    /// The LSN the next record will get.
    pub(crate) fn next_lsn(&self) -> u64 {
        self.state.lock().next_lsn
    }

    /// Starts a failed journal again, in a new segment whose first record is
    /// the next LSN: the caller has written a snapshot that reflects every
    /// LSN before it (the records lost in the failure count as never
    /// written). Older segments may then be compacted away.
    pub(crate) fn resume(self: &Arc<Journal>) -> Result<(), LogError> {
        let next = {
            let state = self.state.lock();
            if state.failed.is_none() || state.closing {
                return Ok(());
            }
            state.next_lsn
        };
        self.state.lock().queue.clear();
        // New tickets wait on a new progress; the old one stays failed for
        // the tickets of the lost records.
        *self.progress.lock() = Progress::new(next.saturating_sub(1));
        if let Err(e) = self.start(next) {
            self.progress().failed(e.clone());
            return Err(e);
        }
        self.state.lock().failed = None;
        Ok(())
    }

    fn commit_loop(self: Arc<Journal>, mut file: File, mut durable_len: u64) {
        let mut buffer = Vec::new();
        let progress = self.progress();
        loop {
            let items = {
                let mut state = self.state.lock();
                while state.queue.is_empty() && !state.closing {
                    self.work.wait(&mut state);
                }
                if state.queue.is_empty() && state.closing {
                    return;
                }
                std::mem::take(&mut state.queue)
            };
            match self.write_items(&mut file, &mut durable_len, items, &mut buffer) {
                Ok(Some(upto)) => progress.flushed(upto),
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(err = %e.detail(), "cannot write the persistence journal; writes are refused until it can");
                    // Records after the last durable one were never
                    // acknowledged: cut them off, so a restart does not
                    // bring them back.
                    if let Err(cut) = file.set_len(durable_len).and_then(|()| file.sync_all()) {
                        tracing::error!(err = %cut, "cannot cut unsynced records off the persistence journal");
                    }
                    self.state.lock().failed = Some(e.clone());
                    progress.failed(e);
                    return;
                }
            }
        }
    }

    /// Writes queued items; returns the last LSN made durable, if any.
    fn write_items(
        &self,
        file: &mut File,
        durable_len: &mut u64,
        items: VecDeque<Item>,
        buffer: &mut Vec<u8>,
    ) -> Result<Option<u64>, LogError> {
        let mut last = None;
        buffer.clear();
        for item in items {
            match item {
                Item::Record(lsn, body) => {
                    frame_numbered(buffer, lsn, &body);
                    last = Some(lsn);
                }
                Item::Rotate(start) => {
                    self.flush(file, durable_len, buffer)?;
                    *file = create_segment(&self.base, start)?;
                    *durable_len = SEGMENT_MAGIC.len() as u64;
                }
            }
        }
        self.flush(file, durable_len, buffer)?;
        // Do not keep a buffer sized for a burst around.
        if buffer.capacity() > 1 << 20 {
            *buffer = Vec::new();
        }
        Ok(last)
    }

    /// Writes and syncs `buffer` (if anything is in it) and empties it.
    fn flush(
        &self,
        file: &mut File,
        durable_len: &mut u64,
        buffer: &mut Vec<u8>,
    ) -> Result<(), LogError> {
        if buffer.is_empty() {
            return Ok(());
        }
        let failed = |what: &str, e: std::io::Error| LogError::Write {
            reason: format!("{what}: {e}"),
            location: self.base.display().to_string(),
        };
        file.write_all(buffer)
            .map_err(|e| failed("writing the journal", e))?;
        file.sync_data()
            .map_err(|e| failed("syncing the journal", e))?;
        *durable_len += buffer.len() as u64;
        buffer.clear();
        Ok(())
    }

    /// Writes everything queued and stops the committer.
    pub(crate) fn close(&self) {
        self.state.lock().closing = true;
        self.work.notify_one();
        if let Some(handle) = self.committer.lock().take() {
            let _ = handle.join();
        }
    }
}

impl ChangeLog for Journal {
    fn encode(&self, write: &Write) -> Record {
        Record::new(encode_write(write))
    }

    fn append(&self, record: Record) -> Ticket {
        let mut state = self.state.lock();
        if let Some(e) = &state.failed {
            return Ticket::failed(e.clone());
        }
        if state.closing {
            return Ticket::failed(LogError::Closed);
        }
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        state
            .queue
            .push_back(Item::Record(lsn, record.into_bytes()));
        drop(state);
        self.work.notify_one();
        Ticket::pending(lsn, self.progress())
    }

    fn check(&self) -> Result<(), LogError> {
        let state = self.state.lock();
        match &state.failed {
            Some(e) => Err(e.clone()),
            None if state.closing => Err(LogError::Closed),
            None => Ok(()),
        }
    }

    /// Starts a new segment for records after the current last one, whose
    /// position it returns. (A failed journal starts none: its next segment
    /// comes with [`Journal::resume`].)
    fn checkpoint(&self) -> Position {
        let mut state = self.state.lock();
        let start = state.next_lsn;
        if state.failed.is_none() {
            state.queue.push_back(Item::Rotate(start));
            drop(state);
            self.work.notify_one();
        }
        start - 1
    }

    /// Deletes the segments whose records are all at or before `through`:
    /// each but the newest, once the next one starts at `through + 1` or
    /// before.
    fn compact(&self, through: Position) {
        let Ok(all) = segments(&self.base) else {
            return;
        };
        for pair in all.windows(2) {
            let ((_, path), (next_start, _)) = (&pair[0], &pair[1]);
            if *next_start <= through.saturating_add(1) {
                if let Err(e) = std::fs::remove_file(path) {
                    tracing::warn!(file = %path.display(), err = %e, "cannot remove an old journal segment");
                }
            }
        }
    }
}
