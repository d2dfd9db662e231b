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
//! the journal. A segment is deleted once every record in it is in the blob store and a
//! flushed database commit ([`shared::index::mark_durable`]) has made the index rows durable.
//!
//! Record layout (little endian), appended at the end of a segment:
//!
//! ```text
//! 0   magic "EKJ1"
//! 4   CRC-32 of bytes 8..20, 24..64 and the entry
//! 8   data length (u64)
//! 16  entry length (u32)
//! 20  flags (u32; 1 = void: the instance was refused, never replay it) — not in the CRC
//! 24  SHA-256 of the data (32 bytes)
//! 56  reserved (zero)
//! 64  data (the DICOM Part 10 file), then the entry (JSON)
//! ```
//!
//! The header is written last, just before the flush, so a record whose header is not
//! valid (a crash mid-write) ends the segment: recovery stops there. Every record's data is
//! checked against its SHA-256 before it is replayed.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{BlobKey, BlobStore, BlobWriter, SharedStore, StoreError, StoredBlob};

const MAGIC: &[u8; 4] = b"EKJ1";
const HEADER: u64 = 64;
const FLAG_VOID: u32 = 1;
const SEGMENT_EXT: &str = "ekj";
/// How much a writer buffers before a write system call.
const WRITE_BUFFER: usize = 256 * 1024;
/// An unused segment whose records are all in the blob store is retired after this long.
const IDLE_RETIRE: Duration = Duration::from_secs(5);
/// The copier waits for a pause this long in the journal's writes before it copies (so the
/// copies do not compete with a study arriving), unless the backlog is over its limit.
const QUIET: Duration = Duration::from_millis(250);

/// Makes every database commit made so far durable (see [`shared::index::mark_durable`]).
pub type Barrier = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What recovery does with a replayed record's entry: index it again (if it is not) and say
/// whether its blob is wanted (`true`: copied into the blob store) or not (refused).
pub type Replay<'a> = dyn FnMut(&[u8], &StoredBlob) -> Result<bool, String> + 'a;

fn io_error(op: &str, path: &Path, e: &io::Error) -> StoreError {
    let why = match e.kind() {
        io::ErrorKind::StorageFull => "disk full".to_owned(),
        io::ErrorKind::QuotaExceeded => "disk quota exceeded".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    StoreError::Unavailable(format!("journal {op} {}: {why}", path.display()))
}

fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("fsync", dir, &e))
}

struct Segment {
    path: PathBuf,
    file: Arc<File>,
    /// End of the last complete record.
    len: u64,
    in_use: bool,
    /// Full (or idle): no new records; deleted once `unsettled` is zero.
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

/// A [`BlobStore`] whose streamed writes go through the ingest journal; everything else is
/// the inner store's.
pub struct JournaledStore {
    dir: PathBuf,
    inner: SharedStore,
    segment_bytes: u64,
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
        segment_bytes: u64,
        max_backlog: u64,
    ) -> Result<Arc<JournaledStore>, StoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
        let j = Arc::new(JournaledStore {
            dir,
            inner,
            segment_bytes: segment_bytes.max(1024 * 1024),
            max_backlog,
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            barrier: Mutex::new(None),
            draining: std::sync::atomic::AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&j);
        std::thread::Builder::new()
            .name("ingest-journal".into())
            .spawn(move || copier(weak))
            .map_err(|e| StoreError::Unavailable(format!("journal thread: {e}")))?;
        Ok(j)
    }

    /// Installs how to make the index's commits durable before a segment is deleted.
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
    /// deleted (tests, and an orderly shutdown); gives up after `timeout`.
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
                        if !s.in_use && s.unsettled == 0 {
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
                // Not flushed: if it is lost in a crash, replay refuses the instance again.
                if let Err(e) = seg
                    .file
                    .write_all_at(&FLAG_VOID.to_le_bytes(), r.offset + 20)
                {
                    tracing::warn!(error = %e, "could not mark a journal record void");
                }
                seg.unsettled = seg.unsettled.saturating_sub(1);
            }
        }
        self.work.notify_all();
    }

    /// Takes a segment for a new writer (an idle one, or a new file).
    fn checkout(self: &Arc<Self>) -> Result<(u64, Arc<File>, u64), StoreError> {
        {
            let mut st = lock(&self.state);
            st.last_write = Some(Instant::now());
            if let Some((&id, seg)) = st.segments.iter_mut().find(|(_, s)| !s.in_use && !s.sealed) {
                seg.in_use = true;
                return Ok((id, seg.file.clone(), seg.len));
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
        // The segment's directory entry must survive a crash with the records in it.
        fsync_dir(&self.dir)?;
        let file = Arc::new(file);
        lock(&self.state).segments.insert(
            id,
            Segment {
                path,
                file: file.clone(),
                len: 0,
                in_use: true,
                sealed: false,
                unsettled: 0,
                last_used: Instant::now(),
            },
        );
        Ok((id, file, 0))
    }

    /// A writer gives its segment back: with a new record (`end` is its end) or none.
    fn checkin(&self, seg: u64, record: Option<(String, RecordRef, u64)>) {
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
            if s.len >= full {
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
        let rt = tokio::runtime::Handle::try_current().ok();
        let (mut replayed, mut stored) = (0u64, 0u64);
        for path in segments {
            let file = File::open(&path).map_err(|e| io_error("open", &path, &e))?;
            let len = file
                .metadata()
                .map_err(|e| io_error("stat", &path, &e))?
                .len();
            let mut offset = 0u64;
            while let Some(rec) = read_record(&file, offset, len) {
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
                    let fresh = match &rt {
                        Some(h) => h.block_on(put)?,
                        None => tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(|e| StoreError::Unavailable(e.to_string()))?
                            .block_on(put)?,
                    };
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
            fs::remove_file(&path).map_err(|e| io_error("remove", &path, &e))?;
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read_data(file: &File, offset: u64, len: u64, sha: &str) -> Result<Bytes, StoreError> {
    let n = usize::try_from(len).map_err(|_| StoreError::Corrupt(sha.to_owned()))?;
    let mut data = vec![0u8; n];
    file.read_exact_at(&mut data, offset + HEADER)
        .map_err(|e| StoreError::Unavailable(format!("journal read: {e}")))?;
    if hex::encode(Sha256::digest(&data)) != sha {
        return Err(StoreError::Corrupt(format!("sha256/{sha}")));
    }
    Ok(Bytes::from(data))
}

struct Record {
    blob: StoredBlob,
    data: Bytes,
    entry: Vec<u8>,
    void: bool,
    end: u64,
}

fn header_crc(h: &[u8], entry: &[u8]) -> u32 {
    let mut c = crc32fast::Hasher::new();
    c.update(&h[8..20]);
    c.update(&h[24..64]);
    c.update(entry);
    c.finalize()
}

/// The record at `offset`, if a complete, valid one is there.
fn read_record(file: &File, offset: u64, file_len: u64) -> Option<Record> {
    if offset.checked_add(HEADER)? > file_len {
        return None;
    }
    let mut h = [0u8; HEADER as usize];
    file.read_exact_at(&mut h, offset).ok()?;
    if &h[0..4] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(h[4..8].try_into().ok()?);
    let data_len = u64::from_le_bytes(h[8..16].try_into().ok()?);
    let entry_len = u64::from(u32::from_le_bytes(h[16..20].try_into().ok()?));
    let flags = u32::from_le_bytes(h[20..24].try_into().ok()?);
    let sha = hex::encode(&h[24..56]);
    let end = offset
        .checked_add(HEADER)?
        .checked_add(data_len)?
        .checked_add(entry_len)?;
    if end > file_len {
        return None;
    }
    let mut entry = vec![0u8; usize::try_from(entry_len).ok()?];
    file.read_exact_at(&mut entry, offset + HEADER + data_len)
        .ok()?;
    if header_crc(&h, &entry) != crc {
        return None;
    }
    let data = read_data(file, offset, data_len, &sha).ok()?;
    Some(Record {
        blob: StoredBlob {
            key: BlobKey::for_sha256(&sha)?,
            sha256: sha,
            size: data_len,
        },
        data,
        entry,
        void: flags & FLAG_VOID != 0,
        end,
    })
}

/// The background thread: copies accepted records into the blob store, retires finished
/// segments. Ends when the store is dropped.
fn copier(weak: Weak<JournaledStore>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "ingest journal: no runtime; records stay in the journal");
            return;
        }
    };
    let mut failures = 0u32;
    loop {
        let Some(j) = weak.upgrade() else { return };
        let job = {
            let mut st = lock(&j.state);
            let quiet = st.last_write.is_none_or(|t| t.elapsed() >= QUIET);
            if st.queue.is_empty() || !(quiet || st.backlog_bytes > j.max_backlog || j.draining()) {
                let wait = if st.queue.is_empty() {
                    Duration::from_millis(500)
                } else {
                    QUIET / 2
                };
                st = j
                    .work
                    .wait_timeout(st, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
                let quiet = st.last_write.is_none_or(|t| t.elapsed() >= QUIET);
                if quiet || st.backlog_bytes > j.max_backlog || j.draining() {
                    st.queue.pop_front()
                } else {
                    None
                }
            } else {
                st.queue.pop_front()
            }
        };
        if let Some((sha, r)) = job {
            match copy_one(&j, &rt, &sha, r) {
                Ok(()) => {
                    failures = 0;
                    let mut st = lock(&j.state);
                    if let Some(list) = st.records.get_mut(&sha) {
                        list.retain(|x| *x != r);
                        if list.is_empty() {
                            st.records.remove(&sha);
                        }
                    }
                    if let Some(s) = st.segments.get_mut(&r.seg) {
                        s.unsettled = s.unsettled.saturating_sub(1);
                    }
                    st.backlog_bytes = st.backlog_bytes.saturating_sub(r.data_len);
                }
                Err(e) => {
                    // The blob store is down or full: the record stays readable from the
                    // journal and is tried again.
                    failures = failures.saturating_add(1);
                    tracing::error!(error = %e, "ingest journal: could not copy a record into the blob store; will retry");
                    lock(&j.state).queue.push_front((sha, r));
                    let wait = Duration::from_millis(100u64 << failures.min(8));
                    drop(j);
                    std::thread::sleep(wait);
                    continue;
                }
            }
        }
        retire(&j);
    }
}

fn copy_one(
    j: &JournaledStore,
    rt: &tokio::runtime::Runtime,
    sha: &str,
    r: RecordRef,
) -> Result<(), StoreError> {
    let file = lock(&j.state)
        .segments
        .get(&r.seg)
        .map(|s| s.file.clone())
        .ok_or_else(|| StoreError::Unavailable("journal segment gone".into()))?;
    // Hashed as it was written; every read from the blob store checks it again.
    let n = usize::try_from(r.data_len).map_err(|_| StoreError::Corrupt(sha.to_owned()))?;
    let mut data = vec![0u8; n];
    file.read_exact_at(&mut data, r.offset + HEADER)
        .map_err(|e| StoreError::Unavailable(format!("journal read: {e}")))?;
    rt.block_on(j.inner.put_hashed(Bytes::from(data), sha))?;
    Ok(())
}

/// Deletes the segments that are finished (full, or unused for a while) and whose records
/// are all in the blob store, after making the index's commits durable.
fn retire(j: &JournaledStore) {
    let done: Vec<(u64, PathBuf)> = {
        let mut st = lock(&j.state);
        let now = Instant::now();
        for s in st.segments.values_mut() {
            if !s.in_use && s.unsettled == 0 && now.duration_since(s.last_used) >= IDLE_RETIRE {
                s.sealed = true;
            }
        }
        st.segments
            .iter()
            .filter(|(_, s)| s.sealed && !s.in_use && s.unsettled == 0)
            .map(|(id, s)| (*id, s.path.clone()))
            .collect()
    };
    if done.is_empty() {
        return;
    }
    if let Err(e) = j.run_barrier() {
        tracing::error!(error = %e, "ingest journal: could not flush the index; segments kept");
        return;
    }
    for (id, path) in done {
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(segment = %path.display(), error = %e, "ingest journal: could not delete a segment");
                continue;
            }
        }
        lock(&j.state).segments.remove(&id);
    }
}

/// A streamed write into the journal (see the module documentation).
struct JournalWriter {
    journal: Arc<JournaledStore>,
    seg: u64,
    file: Arc<File>,
    start: u64,
    /// Where the next buffered bytes go.
    pos: u64,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
    sealed: Option<StoredBlob>,
    entry: Vec<u8>,
    /// Finished (the record is durable) or given back.
    done: bool,
}

impl JournalWriter {
    fn flush_buf(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.buf, self.pos)
            .map_err(|e| StoreError::Unavailable(format!("journal write: {e}")))?;
        self.pos += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn header(&self, s: &StoredBlob) -> Result<[u8; HEADER as usize], StoreError> {
        let mut h = [0u8; HEADER as usize];
        h[0..4].copy_from_slice(MAGIC);
        h[8..16].copy_from_slice(&s.size.to_le_bytes());
        let elen = u32::try_from(self.entry.len())
            .map_err(|_| StoreError::Unavailable("journal entry too large".into()))?;
        h[16..20].copy_from_slice(&elen.to_le_bytes());
        let digest =
            hex::decode(&s.sha256).map_err(|_| StoreError::Unavailable("bad digest".into()))?;
        h[24..56].copy_from_slice(&digest);
        let crc = header_crc(&h, &self.entry);
        h[4..8].copy_from_slice(&crc.to_le_bytes());
        Ok(h)
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        if !self.done {
            // Nothing of this record is kept: cut the segment back to its last record.
            if let Err(e) = self.file.set_len(self.start) {
                tracing::warn!(error = %e, "could not trim a journal segment");
            }
            self.journal.checkin(self.seg, None);
        }
    }
}

#[async_trait::async_trait]
impl BlobWriter for JournalWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if self.sealed.is_some() {
            return Err(StoreError::Unavailable("write after seal".into()));
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn seal(&mut self) -> Result<StoredBlob, StoreError> {
        if let Some(s) = &self.sealed {
            return Ok(s.clone());
        }
        let hex = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let key = BlobKey::for_sha256(&hex)
            .ok_or_else(|| StoreError::Unavailable("sha256 produced an invalid key".into()))?;
        let s = StoredBlob {
            key,
            sha256: hex,
            size: self.size,
        };
        self.sealed = Some(s.clone());
        Ok(s)
    }

    fn set_recovery_entry(&mut self, entry: Vec<u8>) -> bool {
        self.entry = entry;
        true
    }

    async fn finish(mut self: Box<Self>) -> Result<StoredBlob, StoreError> {
        let stored = self.seal()?;
        self.flush_buf()?;
        let header = self.header(&stored)?;
        let file = self.file.clone();
        let (start, pos) = (self.start, self.pos);
        let entry = std::mem::take(&mut self.entry);
        let elen = entry.len() as u64;
        let r = tokio::task::spawn_blocking(move || -> io::Result<()> {
            file.write_all_at(&entry, pos)?;
            file.write_all_at(&header, start)?;
            file.sync_data()
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("journal task: {e}")))?;
        r.map_err(|e| StoreError::Unavailable(format!("journal flush: {e}")))?;
        self.done = true;
        let record = RecordRef {
            seg: self.seg,
            offset: start,
            data_len: stored.size,
            accepted: false,
        };
        self.journal
            .checkin(self.seg, Some((stored.sha256.clone(), record, pos + elen)));
        Ok(stored)
    }
}

#[async_trait::async_trait]
impl BlobStore for Arc<JournaledStore> {
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let (seg, file, start) = self.checkout()?;
        Ok(Box::new(JournalWriter {
            journal: self.clone(),
            seg,
            file,
            start,
            pos: start + HEADER,
            buf: Vec::with_capacity(WRITE_BUFFER + 64 * 1024),
            hasher: Sha256::new(),
            size: 0,
            sealed: None,
            entry: Vec::new(),
            done: false,
        }))
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
