//! The ingest journal: a write-ahead log in front of the blob store, so that a C-STORE is
//! answered after ONE device flush instead of four (the blob's data, its rename, its
//! directory, the database's log).
//!
//! A streamed instance is appended to a journal segment (a plain file under the journal
//! directory, one per DICOM association at a time) together with its index entry (the
//! serialised [`shared::index::NewInstance`] and the audit context); one `fdatasync` makes
//! both durable. The ingest pipeline then commits the index rows without waiting for the
//! database's own flush ([`shared::index::Flush::Deferred`]): they are visible at once,
//! and if the machine loses power before the database flushed them, start-up replays the
//! journal ([`JournaledStore::recover`]) and indexes them again. A background thread copies
//! each accepted instance into the blob store proper (the content-addressed store of
//! [`super::fs`] or S3, written exactly as a direct `put`); until then reads are served from
//! the journal. A segment is finished once every record in it is in the blob store and a
//! flushed database commit ([`shared::index::mark_durable`]) has made the index rows durable.
//!
//! A finished segment is recycled rather than deleted while the journal holds fewer than
//! `recycle_bytes` of segments: it gets a new random *epoch* in its header (written and
//! flushed), and the next records are written over the old ones. Overwriting blocks that are
//! already on disk spares the flush the file system's allocation work (on this machine's
//! ext4 the flush of an instance went from 0.8 to 0.3 ms), and the writer starts each
//! buffer's writeback as soon as it is written, so the flush has little left to do. Every
//! record carries its segment's epoch, so the old records after the last new one are never
//! taken for new ones.
//!
//! Segment layout: a 4096-byte header (magic "EKJS", CRC-32 of bytes 8..16, epoch u64),
//! then the records. (A segment of the first format had no header: records from offset 0,
//! epoch 0. Recovery still reads them.) Record layout (little endian):
//!
//! ```text
//! 0   magic "EKJ1"
//! 4   CRC-32 of bytes 8..20, 24..64 and the entry
//! 8   data length (u64)
//! 16  entry length (u32)
//! 20  flags (u32; 1 = void: the instance was refused or its blob deleted; never replay it)
//!     — not in the CRC
//! 24  SHA-256 of the data (32 bytes)
//! 56  the segment's epoch (u64)
//! 64  data (the DICOM Part 10 file), then the entry (JSON)
//! ```
//!
//! The header is written last, just before the flush, so a record whose header is not
//! valid (a crash mid-write, or a record of the segment's earlier use) ends the segment:
//! recovery stops there. Every record's data is checked against its SHA-256 before it is
//! replayed.

mod copier;
mod record;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::fs::{fsync_dir, io_error};
use super::{BlobKey, BlobStore, BlobWriter, SharedStore, StoreError, StoredBlob};
use record::{
    encode_segment_header, mark_void, read_data, read_record, read_segment_header, SEGMENT_HEADER,
};
use writer::JournalWriter;

const SEGMENT_EXT: &str = "ekj";

/// Makes every database commit made so far durable (see [`shared::index::mark_durable`]).
pub type Barrier = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What recovery does with a replayed record's entry: index it again (if it is not) and say
/// whether its blob is wanted (`true`: copied into the blob store) or not (refused).
pub type Replay<'a> = dyn FnMut(&[u8], &StoredBlob) -> Result<bool, String> + 'a;

struct Segment {
    path: PathBuf,
    file: Arc<File>,
    /// Every record of this use of the segment carries it (see [`record::SEGMENT_HEADER`]).
    epoch: u64,
    /// The file's length when this use began: below it, a record overwrites blocks already
    /// on disk (a recycled segment), which a flush completes faster than a growing file.
    prepared: u64,
    /// End of the last complete record.
    len: u64,
    in_use: bool,
    /// Full (or idle): no new records; recycled or deleted once `unsettled` is zero.
    sealed: bool,
    /// Records written but not yet in the blob store (or voided).
    unsettled: usize,
    last_used: Instant,
}

/// One durable record whose blob is not (yet) in the blob store.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RecordRef {
    seg: u64,
    offset: u64,
    data_len: u64,
    /// The index accepted it; the copier has it queued.
    accepted: bool,
}

#[derive(Default)]
struct State {
    segments: HashMap<u64, Segment>,
    /// By SHA-256 (hex): records not yet in the blob store, readable from the journal.
    records: HashMap<String, Vec<RecordRef>>,
    queue: VecDeque<(String, RecordRef)>,
    /// Bytes of data in records not yet in the blob store.
    backlog_bytes: u64,
    /// The last time a writer started or finished.
    last_write: Option<Instant>,
}

/// The journal's sizes, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct JournalSizes {
    /// A segment takes no new record once it is this long.
    pub segment_bytes: u64,
    /// Over this much data not yet in the blob store, the copier does not wait for a pause.
    pub max_backlog: u64,
    /// Finished segments are kept for reuse up to this much (the rest are deleted).
    pub recycle_bytes: u64,
}

/// A [`BlobStore`] whose streamed writes go through the ingest journal; everything else is
/// the inner store's.
pub struct JournaledStore {
    dir: PathBuf,
    inner: SharedStore,
    segment_bytes: u64,
    /// Finished segments are recycled (not deleted) while the journal holds at most this
    /// many.
    keep_segments: usize,
    /// Over this backlog the copier does not wait for a pause.
    max_backlog: u64,
    state: Mutex<State>,
    work: Condvar,
    barrier: Mutex<Option<Barrier>>,
    /// Someone waits in `drain`: copy without waiting for a pause.
    draining: std::sync::atomic::AtomicUsize,
}

impl JournaledStore {
    fn draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// Opens the journal directory (creating it) in front of `inner` and starts the thread
    /// that copies accepted records into `inner`. Segments left by an earlier run are not
    /// touched until [`recover`](Self::recover) (run it before accepting new instances).
    pub fn open(
        dir: impl Into<PathBuf>,
        inner: SharedStore,
        sizes: JournalSizes,
    ) -> Result<Arc<JournaledStore>, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
        let segment_bytes = sizes.segment_bytes.max(1024 * 1024);
        let j = Arc::new(JournaledStore {
            dir,
            inner,
            segment_bytes,
            keep_segments: usize::try_from(sizes.recycle_bytes / segment_bytes)
                .unwrap_or(usize::MAX),
            max_backlog: sizes.max_backlog,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            barrier: Mutex::new(None),
            draining: std::sync::atomic::AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&j);
        std::thread::Builder::new()
            .name("ingest-journal".into())
            .spawn(move || copier::copier(weak))
            .map_err(|e| StoreError::Unavailable(format!("journal thread: {e}")))?;
        Ok(j)
    }

    /// Installs how to make the index's commits durable before a segment is recycled or deleted.
    pub fn set_barrier(&self, b: Barrier) {
        *lock(&self.barrier) = Some(b);
    }

    pub fn inner(&self) -> &SharedStore {
        &self.inner
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many records are durable in the journal but not yet in the blob store.
    pub fn backlog(&self) -> usize {
        lock(&self.state).records.values().map(Vec::len).sum()
    }

    /// Waits until every accepted record is in the blob store and every finished segment is
    /// recycled or deleted (tests, and an orderly shutdown); gives up after `timeout`.
    pub fn drain(&self, timeout: Duration) -> bool {
        use std::sync::atomic::Ordering;
        self.draining.fetch_add(1, Ordering::Relaxed);
        let r = self.drain_inner(timeout);
        self.draining.fetch_sub(1, Ordering::Relaxed);
        r
    }

    fn drain_inner(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            {
                let mut st = lock(&self.state);
                let idle = st.records.values().all(|v| v.iter().all(|r| !r.accepted))
                    && st.queue.is_empty();
                if idle {
                    for s in st.segments.values_mut() {
                        if !s.in_use && s.unsettled == 0 && s.len > SEGMENT_HEADER {
                            s.sealed = true;
                        }
                    }
                    if st.segments.values().all(|s| !s.sealed) {
                        return true;
                    }
                }
                self.work.notify_all();
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Tells the journal what the index made of a finished record: accepted (copy it into
    /// the blob store) or refused (mark it void so that it is never replayed).
    pub fn settle(&self, blob: &StoredBlob, accepted: bool) {
        let mut st = lock(&self.state);
        let Some(list) = st.records.get_mut(&blob.sha256) else {
            return;
        };
        let Some(i) = list.iter().position(|r| !r.accepted) else {
            return;
        };
        if accepted {
            list[i].accepted = true;
            let r = list[i];
            st.queue.push_back((blob.sha256.clone(), r));
        } else {
            let r = list.remove(i);
            if list.is_empty() {
                st.records.remove(&blob.sha256);
            }
            st.backlog_bytes = st.backlog_bytes.saturating_sub(r.data_len);
            if let Some(seg) = st.segments.get_mut(&r.seg) {
                // Not flushed: if a power loss drops it, replay decides again. An instance
                // the index refused by rule (a conflict, a study over its limit) is refused
                // again; one refused because the database was down is indexed then (the
                // sender, told to try later, gets a duplicate).
                if let Err(e) = mark_void(&seg.file, r.offset) {
                    tracing::warn!(error = %e, "could not mark a journal record void");
                }
                seg.unsettled = seg.unsettled.saturating_sub(1);
            }
        }
        self.work.notify_all();
    }

    /// Forgets the journal's records of a blob that is being deleted: each is marked void
    /// (flushed, so that start-up never replays it) and is neither read nor copied again. A
    /// copy already under way is undone by the copier once it sees the record gone. Like a
    /// delete from any store, this must not race a store of the same content.
    fn forget(&self, sha256: &str) -> Result<(), StoreError> {
        let gone = {
            let mut st = lock(&self.state);
            let Some(list) = st.records.remove(sha256) else {
                return Ok(());
            };
            st.queue.retain(|(s, _)| s != sha256);
            let bytes: u64 = list.iter().map(|r| r.data_len).sum();
            st.backlog_bytes = st.backlog_bytes.saturating_sub(bytes);
            list.into_iter()
                .filter_map(|r| st.segments.get(&r.seg).map(|s| (r, s.file.clone())))
                .collect::<Vec<_>>()
        };
        let mut result = Ok(());
        for (r, file) in &gone {
            // The segment is not recycled meanwhile: the record still counts as unsettled.
            if let Err(e) = mark_void(file, r.offset).and_then(|()| file.sync_data()) {
                result = Err(StoreError::Unavailable(format!("journal void: {e}")));
            }
        }
        let mut st = lock(&self.state);
        for (r, _) in &gone {
            if let Some(seg) = st.segments.get_mut(&r.seg) {
                seg.unsettled = seg.unsettled.saturating_sub(1);
            }
        }
        self.work.notify_all();
        result
    }

    /// Takes a segment for a new writer: an idle one (the fullest first: it has records
    /// already, or it is a recycled one), or a new file.
    fn checkout(self: &Arc<Self>) -> Result<Checkout, StoreError> {
        {
            let mut st = lock(&self.state);
            st.last_write = Some(Instant::now());
            if let Some((&id, seg)) = st
                .segments
                .iter_mut()
                .filter(|(_, s)| !s.in_use && !s.sealed)
                .max_by_key(|(_, s)| (s.len, s.prepared))
            {
                seg.in_use = true;
                return Ok(Checkout {
                    seg: id,
                    file: seg.file.clone(),
                    start: seg.len,
                    epoch: seg.epoch,
                    prepared: seg.prepared,
                });
            }
        }
        let id = rand::random::<u64>();
        let path = self.dir.join(format!("{id:016x}.{SEGMENT_EXT}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_error("create", &path, &e))?;
        let epoch = new_epoch();
        // The header is made durable by the first record's flush; the segment's directory
        // entry must survive a crash with the records in it. A failure (a full disk) leaves
        // no file behind.
        if let Err(e) = file
            .write_all_at(&encode_segment_header(epoch), 0)
            .map_err(|e| io_error("write", &path, &e))
            .and_then(|()| fsync_dir(&self.dir))
        {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let file = Arc::new(file);
        lock(&self.state).segments.insert(
            id,
            Segment {
                path,
                file: file.clone(),
                epoch,
                prepared: SEGMENT_HEADER,
                len: SEGMENT_HEADER,
                in_use: true,
                sealed: false,
                unsettled: 0,
                last_used: Instant::now(),
            },
        );
        Ok(Checkout {
            seg: id,
            file,
            start: SEGMENT_HEADER,
            epoch,
            prepared: SEGMENT_HEADER,
        })
    }

    /// Makes a finished segment (every record in the blob store, the index durable) ready
    /// for reuse, or deletes it when the journal holds enough: a recycled segment gets a new
    /// epoch in a flushed header, which ends its old records for recovery.
    fn recycle_or_remove(&self, id: u64, path: &Path, file: Arc<File>) -> Result<(), StoreError> {
        let others = lock(&self.state)
            .segments
            .keys()
            .filter(|k| **k != id)
            .count();
        if others >= self.keep_segments {
            match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error("remove", path, &e));
                }
                _ => {}
            }
            lock(&self.state).segments.remove(&id);
            return Ok(());
        }
        let epoch = new_epoch();
        file.write_all_at(&encode_segment_header(epoch), 0)
            .and_then(|()| file.sync_data())
            .map_err(|e| io_error("recycle", path, &e))?;
        let prepared = file
            .metadata()
            .map_err(|e| io_error("stat", path, &e))?
            .len();
        let mut st = lock(&self.state);
        st.segments.insert(
            id,
            Segment {
                path: path.to_owned(),
                file,
                epoch,
                prepared,
                len: SEGMENT_HEADER,
                in_use: false,
                sealed: false,
                unsettled: 0,
                last_used: Instant::now(),
            },
        );
        Ok(())
    }

    /// A writer gives its segment back: with a new record (`end` is its end) or none;
    /// `seal`: it takes no more records.
    fn checkin(&self, seg: u64, record: Option<(String, RecordRef, u64)>, seal: bool) {
        let mut st = lock(&self.state);
        st.last_write = Some(Instant::now());
        if let Some((sha, r, end)) = record {
            if let Some(s) = st.segments.get_mut(&seg) {
                s.len = end;
                s.unsettled += 1;
            }
            st.backlog_bytes += r.data_len;
            st.records.entry(sha).or_default().push(r);
        }
        let full = self.segment_bytes;
        if let Some(s) = st.segments.get_mut(&seg) {
            s.in_use = false;
            s.last_used = Instant::now();
            if s.len >= full || seal {
                s.sealed = true;
            }
        }
        self.work.notify_all();
    }

    /// Reads a record's data from the journal (checked against its SHA-256).
    fn read_pending(&self, key: &BlobKey) -> Option<Result<Bytes, StoreError>> {
        let (file, r) = {
            let st = lock(&self.state);
            let r = *st.records.get(key.sha256())?.first()?;
            (st.segments.get(&r.seg)?.file.clone(), r)
        };
        Some(read_data(&file, r.offset, r.data_len, key.sha256()))
    }

    /// Replays the segments an earlier run left behind (run at start-up, before any
    /// listener): each valid record's entry goes to `replay` (which indexes it unless it is
    /// already indexed), the blobs it wants are put into the blob store, then the segment
    /// is deleted. Returns (records replayed, blobs stored). A torn last record (a crash
    /// mid-write: never acknowledged) is skipped.
    pub fn recover(&self, replay: &mut Replay<'_>) -> Result<(u64, u64), StoreError> {
        let mut segments = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(|e| io_error("list", &self.dir, &e))?;
        {
            let st = lock(&self.state);
            for entry in entries {
                let entry = entry.map_err(|e| io_error("list", &self.dir, &e))?;
                let path = entry.path();
                let ours = st.segments.values().any(|s| s.path == path);
                if path.extension().and_then(|e| e.to_str()) == Some(SEGMENT_EXT) && !ours {
                    segments.push(path);
                }
            }
        }
        segments.sort();
        // Called on a blocking thread of the server's runtime (`Ingestor::recover_journal`).
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::Unavailable("journal recovery needs a runtime".into()))?;
        let (mut replayed, mut stored) = (0u64, 0u64);
        for path in segments {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io_error("open", &path, &e))?;
            let len = file
                .metadata()
                .map_err(|e| io_error("stat", &path, &e))?
                .len();
            let Some((mut offset, epoch)) = read_segment_header(&file) else {
                // Only a recycling cut short (whose records were all copied) or a failing
                // disk leaves a damaged header: keep the file for an operator to look at.
                let aside = path.with_extension("damaged");
                tracing::error!(segment = %path.display(), "journal segment header damaged; set aside, not replayed");
                fs::rename(&path, &aside).map_err(|e| io_error("rename", &path, &e))?;
                continue;
            };
            while let Some(rec) = read_record(&file, offset, len, epoch) {
                offset = rec.end;
                if rec.void {
                    continue;
                }
                replayed += 1;
                let wanted = replay(&rec.entry, &rec.blob).map_err(StoreError::Unavailable)?;
                if wanted {
                    let key = rec.blob.key.clone();
                    let inner = self.inner.clone();
                    let put = async move {
                        if !inner.exists(&key).await? {
                            inner.put(rec.data).await?;
                            return Ok::<bool, StoreError>(true);
                        }
                        Ok(false)
                    };
                    let fresh = rt.block_on(put)?;
                    stored += u64::from(fresh);
                }
            }
            if offset < len {
                tracing::warn!(
                    segment = %path.display(),
                    at = offset,
                    "journal segment ends in an incomplete record (never acknowledged); skipped"
                );
            }
            self.run_barrier().map_err(StoreError::Unavailable)?;
            let id = loop {
                let id = rand::random::<u64>();
                if !lock(&self.state).segments.contains_key(&id) {
                    break id;
                }
            };
            self.recycle_or_remove(id, &path, Arc::new(file))?;
        }
        if replayed > 0 {
            tracing::info!(replayed, stored, "ingest journal replayed");
        }
        Ok((replayed, stored))
    }

    fn run_barrier(&self) -> Result<(), String> {
        let b = lock(&self.barrier).clone();
        match b {
            Some(b) => b(),
            None => Ok(()),
        }
    }
}

/// What a writer gets from [`JournaledStore::checkout`].
struct Checkout {
    seg: u64,
    file: Arc<File>,
    start: u64,
    epoch: u64,
    prepared: u64,
}

/// A fresh segment epoch (never 0, the epoch of the first format's segments).
fn new_epoch() -> u64 {
    rand::random::<u64>().max(1)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl BlobStore for Arc<JournaledStore> {
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let c = self.checkout()?;
        Ok(Box::new(JournalWriter::new(self.clone(), c)))
    }

    async fn put(&self, data: Bytes) -> Result<StoredBlob, StoreError> {
        self.inner.put(data).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, StoreError> {
        let pending = {
            let j = self.clone();
            let key = key.clone();
            tokio::task::spawn_blocking(move || j.read_pending(&key))
                .await
                .map_err(|e| StoreError::Unavailable(format!("journal task: {e}")))?
        };
        match pending {
            Some(Ok(b)) => Ok(b),
            // Copied and deleted meanwhile, or unreadable: the blob store has the answer.
            _ => self.inner.get(key).await,
        }
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError> {
        if lock(&self.state).records.contains_key(key.sha256()) {
            return Ok(true);
        }
        self.inner.exists(key).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        let j = self.clone();
        let sha256 = key.sha256().to_owned();
        tokio::task::spawn_blocking(move || j.forget(&sha256))
            .await
            .map_err(|e| StoreError::Unavailable(format!("journal task: {e}")))??;
        self.inner.delete(key).await
    }

    async fn list(&self) -> Result<Vec<BlobKey>, StoreError> {
        let mut keys = self.inner.list().await?;
        let pending: Vec<BlobKey> = lock(&self.state)
            .records
            .keys()
            .filter_map(|s| BlobKey::for_sha256(s))
            .collect();
        keys.extend(pending);
        keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        keys.dedup();
        Ok(keys)
    }

    async fn sweep_temporary(&self) -> Result<u64, StoreError> {
        self.inner.sweep_temporary().await
    }
}
