//! A streamed write into the journal: hashed and written as the PDUs arrive, made durable
//! with its index entry by one `fdatasync`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::record::{encode_header, HEADER};
use super::{Checkout, JournaledStore, RecordRef};
use crate::store::{BlobWriter, StoreError, StoredBlob};

/// How much a writer buffers before a write system call.
const WRITE_BUFFER: usize = 256 * 1024;

/// A streamed write into the journal (see the module documentation).
pub(super) struct JournalWriter {
    journal: Arc<JournaledStore>,
    seg: u64,
    file: Arc<File>,
    start: u64,
    epoch: u64,
    /// Below this offset the segment's blocks are on disk already (see `Segment::prepared`).
    prepared: u64,
    /// Where the next buffered bytes go.
    pos: u64,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
    sealed: Option<StoredBlob>,
    entry: Vec<u8>,
    /// Finished (the record is durable) or given back.
    done: bool,
    /// The flush failed: the segment takes no more records (what the kernel kept of them is
    /// no longer known).
    flush_failed: bool,
}

impl JournalWriter {
    /// A writer adding a record to the segment checked out for it.
    pub(super) fn new(journal: Arc<JournaledStore>, c: Checkout) -> Self {
        JournalWriter {
            journal,
            seg: c.seg,
            file: c.file,
            start: c.start,
            epoch: c.epoch,
            prepared: c.prepared,
            pos: c.start + HEADER,
            buf: Vec::with_capacity(WRITE_BUFFER + 64 * 1024),
            hasher: Sha256::new(),
            size: 0,
            sealed: None,
            entry: Vec::new(),
            done: false,
            flush_failed: false,
        }
    }

    fn flush_buf(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.buf, self.pos)
            .map_err(|e| StoreError::Unavailable(format!("journal write: {e}")))?;
        let len = self.buf.len() as u64;
        if self.pos + len <= self.prepared {
            // Starts the writeback now, so that the flush at the end has little left to do.
            // Only advice (a kernel that ignores it costs a longer flush); not used where the
            // file grows, where it only adds work.
            let _ = rustix::fs::fadvise(
                &*self.file,
                self.pos,
                std::num::NonZeroU64::new(len),
                rustix::fs::Advice::DontNeed,
            );
        }
        self.pos += len;
        self.buf.clear();
        Ok(())
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        if !self.done {
            // Nothing of this record is kept: the next record is written over it. Its header
            // was never written, so recovery stops there until then.
            self.journal.checkin(self.seg, None, self.flush_failed);
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
        let s = StoredBlob::from_sha256(hex, self.size)?;
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
        let header = encode_header(stored.size, &stored.sha256, &self.entry, self.epoch)?;
        let file = self.file.clone();
        let (start, pos) = (self.start, self.pos);
        let entry = std::mem::take(&mut self.entry);
        let elen = entry.len() as u64;
        let r = tokio::task::spawn_blocking(move || -> io::Result<()> {
            file.write_all_at(&entry, pos)?;
            file.write_all_at(&header, start)?;
            file.sync_data()
        })
        .await;
        if !matches!(r, Ok(Ok(()))) {
            self.flush_failed = true;
        }
        r.map_err(|e| StoreError::Unavailable(format!("journal task: {e}")))?
            .map_err(|e| StoreError::Unavailable(format!("journal flush: {e}")))?;
        self.done = true;
        let record = RecordRef {
            seg: self.seg,
            offset: start,
            data_len: stored.size,
            accepted: false,
        };
        self.journal.checkin(
            self.seg,
            Some((stored.sha256.clone(), record, pos + elen)),
            false,
        );
        Ok(stored)
    }
}
