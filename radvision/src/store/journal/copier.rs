//! The journal's background thread: copies accepted records into the blob store in the
//! pauses between writes and recycles (or deletes) finished segments.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::record::{HEADER, SEGMENT_HEADER};
use super::{lock, JournaledStore, RecordRef};
use crate::store::StoreError;

/// An unused segment whose records are all in the blob store is retired after this long.
const IDLE_RETIRE: Duration = Duration::from_secs(5);
/// The copier waits for a pause this long in the journal's writes before it copies (so the
/// copies do not compete with a study arriving), unless the backlog is over its limit.
const QUIET: Duration = Duration::from_millis(250);

/// The background thread: copies accepted records into the blob store, retires finished
/// segments. Ends when the store is dropped.
pub(super) fn copier(weak: Weak<JournaledStore>) {
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
                    if !copied(&j, &sha, r) {
                        // Deleted while it was being copied: the copy must not outlive the
                        // delete.
                        if let Some(key) = crate::store::BlobKey::for_sha256(&sha) {
                            if let Err(e) = rt.block_on(j.inner.delete(&key)) {
                                tracing::error!(error = %e, "ingest journal: could not undo the copy of a deleted blob");
                            }
                        }
                    }
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

/// Settles a record now in the blob store; `false` if it was forgotten meanwhile (its
/// blob was deleted: [`JournaledStore::forget`] settled it).
fn copied(j: &JournaledStore, sha: &str, r: RecordRef) -> bool {
    let mut st = lock(&j.state);
    let Some(list) = st.records.get_mut(sha) else {
        return false;
    };
    let before = list.len();
    list.retain(|x| *x != r);
    let found = list.len() < before;
    if list.is_empty() {
        st.records.remove(sha);
    }
    if found {
        if let Some(s) = st.segments.get_mut(&r.seg) {
            s.unsettled = s.unsettled.saturating_sub(1);
        }
        st.backlog_bytes = st.backlog_bytes.saturating_sub(r.data_len);
    }
    found
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

/// Recycles (or deletes) the segments that are finished (full, or unused for a while) and
/// whose records are all in the blob store, after making the index's commits durable.
fn retire(j: &JournaledStore) {
    let done: Vec<(u64, PathBuf, Arc<File>)> = {
        let mut st = lock(&j.state);
        let now = Instant::now();
        for s in st.segments.values_mut() {
            let has_records = s.len > SEGMENT_HEADER;
            if !s.in_use
                && s.unsettled == 0
                && has_records
                && now.duration_since(s.last_used) >= IDLE_RETIRE
            {
                s.sealed = true;
            }
        }
        st.segments
            .iter()
            .filter(|(_, s)| s.sealed && !s.in_use && s.unsettled == 0)
            .map(|(id, s)| (*id, s.path.clone(), s.file.clone()))
            .collect()
    };
    if done.is_empty() {
        return;
    }
    if let Err(e) = j.run_barrier() {
        tracing::error!(error = %e, "ingest journal: could not flush the index; segments kept");
        return;
    }
    for (id, path, file) in done {
        if let Err(e) = j.recycle_or_remove(id, &path, file) {
            // Stays sealed: tried again at the next pass.
            tracing::error!(segment = %path.display(), error = %e, "ingest journal: could not recycle or delete a segment");
        }
    }
}
