//! A streamed write into the journal: hashed and written as the PDUs arrive, made durable
//! with its index entry by one `fdatasync`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::record::{encode_header, HEADER};
use super::{JournaledStore, RecordRef};
use crate::store::{BlobKey, BlobWriter, StoreError, StoredBlob};

/// How much a writer buffers before a write system call.
const WRITE_BUFFER: usize = 256 * 1024;

/// A streamed write into the journal (see the module documentation).
pub(super) struct JournalWriter {
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
    /// A writer appending a record at `start` of segment `seg` (checked out for it).
    pub(super) fn new(journal: Arc<JournaledStore>, seg: u64, file: Arc<File>, start: u64) -> Self {
        JournalWriter {
            journal,
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
        }
    }

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
        let header = encode_header(stored.size, &stored.sha256, &self.entry)?;
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
