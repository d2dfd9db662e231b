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
/// The flags bit of a record never to be replayed (refused, or its blob deleted).
const FLAG_VOID: u32 = 1;
/// Where the flags are in the header (the one field written after the flush).
const FLAGS_AT: u64 = 20;

/// Marks the record at `offset` of `file` void (not flushed: the caller decides).
pub(super) fn mark_void(file: &File, offset: u64) -> std::io::Result<()> {
    file.write_all_at(&FLAG_VOID.to_le_bytes(), offset + FLAGS_AT)
}

/// A segment starts with this header; its records follow at [`SEGMENT_HEADER`].
const SEGMENT_MAGIC: &[u8; 4] = b"EKJS";
/// The segment header's length (one page, so that records start page-aligned).
pub(super) const SEGMENT_HEADER: u64 = 4096;

/// The header of a segment whose records carry `epoch`.
pub(super) fn encode_segment_header(epoch: u64) -> Vec<u8> {
    let mut h = vec![0u8; SEGMENT_HEADER as usize];
    h[0..4].copy_from_slice(SEGMENT_MAGIC);
    h[8..16].copy_from_slice(&epoch.to_le_bytes());
    let crc = crc32fast::hash(&h[8..16]);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Where a segment's records start and the epoch they must carry: after a segment header,
/// or at 0 with epoch 0 in a segment of the first format (records only). `None`: the
/// header is damaged, so no record in the segment can be trusted.
pub(super) fn read_segment_header(file: &File) -> Option<(u64, u64)> {
    let mut h = [0u8; 16];
    match file.read_exact_at(&mut h, 0) {
        Ok(()) => {}
        // Shorter than a header: an empty segment of the first format.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Some((0, 0)),
        Err(_) => return None,
    }
    if &h[0..4] == MAGIC {
        return Some((0, 0));
    }
    if h.iter().all(|b| *b == 0) {
        // A new segment whose header never reached the disk: no record did either.
        return Some((SEGMENT_HEADER, 0));
    }
    if &h[0..4] != SEGMENT_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(h[4..8].try_into().ok()?);
    if crc32fast::hash(&h[8..16]) != crc {
        return None;
    }
    Some((
        SEGMENT_HEADER,
        u64::from_le_bytes(h[8..16].try_into().ok()?),
    ))
}

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

/// The record at `offset`, if a complete, valid one of this `epoch` is there.
pub(super) fn read_record(file: &File, offset: u64, file_len: u64, epoch: u64) -> Option<Record> {
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
    if u64::from_le_bytes(h[56..64].try_into().ok()?) != epoch {
        // A record of the segment's earlier use (it was recycled): the segment ends here.
        return None;
    }
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

/// The header of a record with this data (`size`, `sha256`) and index entry, in a segment
/// of this `epoch`.
pub(super) fn encode_header(
    size: u64,
    sha256: &str,
    entry: &[u8],
    epoch: u64,
) -> Result<[u8; HEADER as usize], StoreError> {
    let mut h = [0u8; HEADER as usize];
    h[0..4].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&size.to_le_bytes());
    let elen = u32::try_from(entry.len())
        .map_err(|_| StoreError::Unavailable("journal entry too large".into()))?;
    h[16..20].copy_from_slice(&elen.to_le_bytes());
    let digest: [u8; 32] = hex::decode(sha256)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| StoreError::Unavailable("bad digest".into()))?;
    h[24..56].copy_from_slice(&digest);
    h[56..64].copy_from_slice(&epoch.to_le_bytes());
    let crc = header_crc(&h, entry);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(data: &[u8], entry: &[u8], epoch: u64) -> Vec<u8> {
        let sha = hex::encode(Sha256::digest(data));
        let mut r = encode_header(data.len() as u64, &sha, entry, epoch)
            .unwrap()
            .to_vec();
        r.extend_from_slice(data);
        r.extend_from_slice(entry);
        r
    }

    fn file(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let file = f.reopen().unwrap();
        (f, file)
    }

    #[test]
    fn a_digest_that_is_not_32_bytes_of_hex_is_an_error_not_a_panic() {
        for bad in ["", "abcd", "zz", &"0".repeat(66)] {
            assert!(encode_header(1, bad, b"{}", 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_segment_of_the_first_format_is_read_from_offset_zero_with_epoch_zero() {
        let bytes = [record(b"first", b"{}", 0), record(b"second", b"{}", 0)].concat();
        let (_t, f) = file(&bytes);
        assert_eq!(read_segment_header(&f), Some((0, 0)));
        let a = read_record(&f, 0, bytes.len() as u64, 0).unwrap();
        let b = read_record(&f, a.end, bytes.len() as u64, 0).unwrap();
        assert_eq!(&b.data[..], b"second");
        assert_eq!(b.end, bytes.len() as u64);
    }

    #[test]
    fn records_of_another_epoch_and_damaged_headers_are_not_read() {
        let mut bytes = encode_segment_header(7);
        bytes.extend(record(b"new", b"{}", 7));
        let old_at = bytes.len() as u64;
        bytes.extend(record(b"old", b"{}", 6));
        let (_t, f) = file(&bytes);
        let len = bytes.len() as u64;
        assert_eq!(read_segment_header(&f), Some((SEGMENT_HEADER, 7)));
        let r = read_record(&f, SEGMENT_HEADER, len, 7).unwrap();
        assert_eq!(r.end, old_at);
        assert!(read_record(&f, old_at, len, 7).is_none());
        // A header never written reads as an empty segment; a damaged one as nothing.
        let (_t, zeros) = file(&[0u8; 8192]);
        assert_eq!(read_segment_header(&zeros), Some((SEGMENT_HEADER, 0)));
        let mut damaged = bytes.clone();
        damaged[9] ^= 1;
        let (_t, d) = file(&damaged);
        assert_eq!(read_segment_header(&d), None);
    }
}
