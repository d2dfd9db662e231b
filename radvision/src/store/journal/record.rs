//! The journal's record format (see the module documentation of `journal`): writing a
//! header, reading a record back and checking it.

use std::fs::File;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::store::{BlobKey, StoreError, StoredBlob};

/// Every record starts with these four bytes.
pub(super) const MAGIC: &[u8; 4] = b"EKJ1";
/// The header's length; the data follows it.
pub(super) const HEADER: u64 = 64;
/// The flags bit of a refused instance's record.
pub(super) const FLAG_VOID: u32 = 1;
/// Where the flags are in the header (the one field written after the flush).
pub(super) const FLAGS_AT: u64 = 20;

pub(super) fn read_data(
    file: &File,
    offset: u64,
    len: u64,
    sha: &str,
) -> Result<Bytes, StoreError> {
    let n = usize::try_from(len).map_err(|_| StoreError::Corrupt(sha.to_owned()))?;
    let mut data = vec![0u8; n];
    file.read_exact_at(&mut data, offset + HEADER)
        .map_err(|e| StoreError::Unavailable(format!("journal read: {e}")))?;
    if hex::encode(Sha256::digest(&data)) != sha {
        return Err(StoreError::Corrupt(format!("sha256/{sha}")));
    }
    Ok(Bytes::from(data))
}

pub(super) struct Record {
    pub(super) blob: StoredBlob,
    pub(super) data: Bytes,
    pub(super) entry: Vec<u8>,
    pub(super) void: bool,
    pub(super) end: u64,
}

fn header_crc(h: &[u8], entry: &[u8]) -> u32 {
    let mut c = crc32fast::Hasher::new();
    c.update(&h[8..20]);
    c.update(&h[24..64]);
    c.update(entry);
    c.finalize()
}

/// The record at `offset`, if a complete, valid one is there.
pub(super) fn read_record(file: &File, offset: u64, file_len: u64) -> Option<Record> {
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

/// The header of a record with this data (`size`, `sha256`) and index entry.
pub(super) fn encode_header(
    size: u64,
    sha256: &str,
    entry: &[u8],
) -> Result<[u8; HEADER as usize], StoreError> {
    let mut h = [0u8; HEADER as usize];
    h[0..4].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&size.to_le_bytes());
    let elen = u32::try_from(entry.len())
        .map_err(|_| StoreError::Unavailable("journal entry too large".into()))?;
    h[16..20].copy_from_slice(&elen.to_le_bytes());
    let digest = hex::decode(sha256).map_err(|_| StoreError::Unavailable("bad digest".into()))?;
    h[24..56].copy_from_slice(&digest);
    let crc = header_crc(&h, entry);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(h)
}
