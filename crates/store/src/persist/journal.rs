//! The write-ahead journal: every change the store applies is appended, in
//! the order it was applied, and made durable by one committer thread that
//! writes and `fdatasync`s whatever has accumulated — so concurrent pushes
//! share one fsync (group commit).
//!
//! The journal is a series of segment files `<file>.wal-<first lsn>`. A
//! snapshot rotates to a new segment at the moment it copies the store;
//! once the snapshot is durable the older segments are deleted.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::watch;

use super::codec::frame;
use super::PersistError;

/// The first bytes of a journal segment.
pub(crate) const SEGMENT_MAGIC: &[u8; 8] = b"PGWWAL01";

enum Item {
    /// Framed records for the current segment.
    Records(Vec<u8>),
    /// Start a new segment whose first record is this LSN.
    Rotate(u64),
}

struct State {
    queue: VecDeque<Item>,
    /// LSN the next record gets.
    next_lsn: u64,
    /// LSN of the last record queued.
    queued_lsn: u64,
    /// Set when writing failed: nothing can be made durable any more.
    failed: Option<String>,
    closing: bool,
}

/// The journal of one persistence file.
pub(crate) struct Journal {
    base: PathBuf,
    state: Mutex<State>,
    work: Condvar,
    durable: Mutex<Result<u64, String>>,
    durable_changed: Condvar,
    durable_watch: watch::Sender<Result<u64, String>>,
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

fn create_segment(base: &Path, lsn: u64) -> Result<File, PersistError> {
    let path = segment_path(base, lsn);
    let io = |e: std::io::Error| PersistError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(SEGMENT_MAGIC).map_err(io)?;
    file.sync_all().map_err(io)?;
    sync_dir(&path).map_err(io)?;
    Ok(file)
}

impl Journal {
    /// Opens a journal whose next record is `next_lsn`, in a new segment.
    pub(crate) fn open(base: &Path, next_lsn: u64) -> Result<Arc<Journal>, PersistError> {
        let file = create_segment(base, next_lsn)?;
        let durable = Ok(next_lsn.saturating_sub(1));
        let (durable_watch, _) = watch::channel(durable.clone());
        let journal = Arc::new(Journal {
            base: base.to_path_buf(),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                next_lsn,
                queued_lsn: next_lsn.saturating_sub(1),
                failed: None,
                closing: false,
            }),
            work: Condvar::new(),
            durable: Mutex::new(durable),
            durable_changed: Condvar::new(),
            durable_watch,
            committer: Mutex::new(None),
        });
        let worker = journal.clone();
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || worker.commit_loop(file))
            .map_err(|e| PersistError::Io {
                path: base.display().to_string(),
                reason: e.to_string(),
            })?;
        *journal.committer.lock() = Some(handle);
        Ok(journal)
    }

    /// Appends a record built for the next LSN; returns that LSN. Called
    /// with the store's write lock held, so LSN order is apply order.
    pub(crate) fn append(&self, build: impl FnOnce(u64) -> Vec<u8>) -> u64 {
        let mut state = self.state.lock();
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        state.queued_lsn = lsn;
        let payload = build(lsn);
        match state.queue.back_mut() {
            Some(Item::Records(buf)) => frame(buf, &payload),
            _ => {
                let mut buf = Vec::with_capacity(payload.len() + 8);
                frame(&mut buf, &payload);
                state.queue.push_back(Item::Records(buf));
            }
        }
        self.work.notify_one();
        lsn
    }

    /// Starts a new segment for records after the current last one; returns
    /// the LSN the new segment starts at. Called with the store's write lock
    /// held, at the moment a snapshot copies the store.
    pub(crate) fn rotate(&self) -> u64 {
        let mut state = self.state.lock();
        let start = state.next_lsn;
        state.queue.push_back(Item::Rotate(start));
        self.work.notify_one();
        start
    }

    /// Deletes segments wholly before `lsn` (their records are in a durable snapshot).
    pub(crate) fn remove_segments_before(&self, lsn: u64) {
        if let Ok(all) = segments(&self.base) {
            for (start, path) in all {
                if start < lsn {
                    if let Err(e) = std::fs::remove_file(&path) {
                        tracing::warn!(file = %path.display(), err = %e, "cannot remove an old journal segment");
                    }
                }
            }
        }
    }

    fn commit_loop(self: Arc<Journal>, mut file: File) {
        loop {
            let (items, upto) = {
                let mut state = self.state.lock();
                while state.queue.is_empty() && !state.closing {
                    self.work.wait(&mut state);
                }
                if state.queue.is_empty() && state.closing {
                    return;
                }
                (std::mem::take(&mut state.queue), state.queued_lsn)
            };
            let result = self.write_items(&mut file, items);
            let outcome = match result {
                Ok(()) => Ok(upto),
                Err(e) => {
                    tracing::error!(err = %e, "cannot write the persistence journal; pushes can no longer be made durable");
                    self.state.lock().failed = Some(e.clone());
                    Err(e)
                }
            };
            *self.durable.lock() = outcome.clone();
            self.durable_changed.notify_all();
            let _ = self.durable_watch.send_replace(outcome.clone());
            if outcome.is_err() {
                return;
            }
        }
    }

    fn write_items(&self, file: &mut File, items: VecDeque<Item>) -> Result<(), String> {
        let mut dirty = false;
        for item in items {
            match item {
                Item::Records(buf) => {
                    file.write_all(&buf).map_err(|e| e.to_string())?;
                    dirty = true;
                }
                Item::Rotate(start) => {
                    if dirty {
                        file.sync_data().map_err(|e| e.to_string())?;
                        dirty = false;
                    }
                    *file = create_segment(&self.base, start).map_err(|e| e.to_string())?;
                }
            }
        }
        if dirty {
            file.sync_data().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Blocks until `lsn` is durable.
    pub(crate) fn wait_blocking(&self, lsn: u64) -> Result<(), PersistError> {
        let mut durable = self.durable.lock();
        loop {
            match &*durable {
                Ok(d) if *d >= lsn => return Ok(()),
                Err(e) => return Err(PersistError::Journal(e.clone())),
                Ok(_) => self.durable_changed.wait(&mut durable),
            }
        }
    }

    /// Waits (asynchronously) until `lsn` is durable.
    pub(crate) async fn wait(&self, lsn: u64) -> Result<(), PersistError> {
        let mut rx = self.durable_watch.subscribe();
        let state = rx
            .wait_for(|d| match d {
                Ok(d) => *d >= lsn,
                Err(_) => true,
            })
            .await
            .map_err(|_| PersistError::Journal("the journal stopped".into()))?;
        match &*state {
            Ok(_) => Ok(()),
            Err(e) => Err(PersistError::Journal(e.clone())),
        }
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
