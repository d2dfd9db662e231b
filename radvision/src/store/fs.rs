//! The filesystem blob store (the default backend).
//!
//! Layout under the root:
//!
//! ```text
//! <root>/sha256/<hex[0..2]>/<64 hex>               one file per blob (256 directories,
//!                                                  made once when the store is opened)
//! <root>/tmp/<random>.tmp                          writes in progress
//! ```
//!
//! A `put` writes the content to a randomly named file in `tmp/` (never a name taken from
//! the input), fsyncs it, renames it into place and fsyncs the destination directory, so a
//! blob path either holds the complete content or does not exist. A crash mid-write can
//! only leave files in `tmp/`, which [`BlobStore::sweep_temporary`] removes at start-up.
//! All blocking IO runs in `tokio::task::spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{BlobKey, BlobStore, BlobWriter, StoreError, StoredBlob};

const BLOBS_DIR: &str = "sha256";
const TMP_DIR: &str = "tmp";

/// Content-addressed files under one root directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsStore, StoreError> {
        let root = root.into();
        for dir in [root.join(BLOBS_DIR), root.join(TMP_DIR)] {
            fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, &e))?;
        }
        // The 256 fan-out directories exist from the start, so that storing a blob costs
        // two fsyncs (the file and its directory) and never a directory creation.
        let blobs = root.join(BLOBS_DIR);
        let mut created = false;
        for i in 0..=255u8 {
            let d = blobs.join(format!("{i:02x}"));
            if !d.is_dir() {
                fs::create_dir_all(&d).map_err(|e| io_error("create", &d, &e))?;
                created = true;
            }
        }
        if created {
            fsync_dir(&blobs)?;
        }
        Ok(FsStore { root })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this key lives (whether or not it exists).
    pub fn blob_path(&self, key: &BlobKey) -> PathBuf {
        blob_path(&self.root, key.sha256())
    }

    /// The directory for temporary files.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }
}

fn blob_path(root: &Path, hex: &str) -> PathBuf {
    root.join(BLOBS_DIR).join(&hex[0..2]).join(hex)
}

/// Every IO failure is "try later" for the caller; the message says what failed and why.
pub(super) fn io_error(op: &str, path: &Path, e: &io::Error) -> StoreError {
    let why = match e.kind() {
        io::ErrorKind::StorageFull => "disk full".to_owned(),
        io::ErrorKind::QuotaExceeded => "disk quota exceeded".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    StoreError::Unavailable(format!("{op} {}: {why}", path.display()))
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("blob store task failed: {e}")))?
}

/// A temporary file that is removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = fs::remove_file(&self.path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.path.display(), error = %e, "could not remove temporary blob file");
                }
            }
        }
    }
}

pub(super) fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("fsync", dir, &e))
}

fn put_blocking(root: &Path, data: &[u8], known: Option<&str>) -> Result<StoredBlob, StoreError> {
    let hex = match known {
        Some(h) => h.to_owned(),
        None => sha256_hex(data),
    };
    let size = data.len() as u64;
    let stored = StoredBlob::from_sha256(hex.clone(), size)?;
    let dest = blob_path(root, &hex);

    // Already stored (same content, same name): nothing to do. A file of the wrong size
    // (damaged) is replaced by the rename below.
    if let Ok(meta) = fs::metadata(&dest) {
        if meta.is_file() && meta.len() == size {
            return Ok(stored);
        }
    }

    let (mut file, mut tmp) = create_temp(root)?;
    file.write_all(data)
        .map_err(|e| io_error("write", &tmp.path, &e))?;
    file.sync_all()
        .map_err(|e| io_error("fsync", &tmp.path, &e))?;
    drop(file);
    publish(root, &mut tmp, &dest)?;
    Ok(stored)
}

/// A new, randomly named file in `tmp/` (never a name taken from the input), removed on
/// drop unless it is published.
fn create_temp(root: &Path) -> Result<(File, TempFile), StoreError> {
    let tmp_path = root
        .join(TMP_DIR)
        .join(format!("{:032x}.tmp", rand::random::<u128>()));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp_path)
        .map_err(|e| io_error("create", &tmp_path, &e))?;
    Ok((
        file,
        TempFile {
            path: tmp_path,
            keep: false,
        },
    ))
}

/// Renames a durable temporary file into place and makes the new directory entry durable.
fn publish(root: &Path, tmp: &mut TempFile, dest: &Path) -> Result<(), StoreError> {
    // The fan-out directories; new directory entries are made durable too.
    let leaf = dest
        .parent()
        .ok_or_else(|| StoreError::Unavailable("blob path has no parent".into()))?;
    if !leaf.is_dir() {
        // Only if someone removed it since the store was opened.
        fs::create_dir_all(leaf).map_err(|e| io_error("create", leaf, &e))?;
        fsync_dir(&root.join(BLOBS_DIR))?;
    }
    fs::rename(&tmp.path, dest).map_err(|e| io_error("rename into", dest, &e))?;
    tmp.keep = true;
    fsync_dir(leaf)
}

/// How much a streamed write buffers before a `write` system call.
const WRITE_BUFFER: usize = 256 * 1024;

/// A streamed write: each chunk is hashed and written to the temporary file as it comes,
/// and the kernel is asked to start writing each flushed piece to disk at once
/// (`posix_fadvise(DONTNEED)` starts writeback of dirty pages on Linux), so that most of
/// the data is on disk by the time the last PDU arrives; `finish` then `fdatasync`s (now
/// little more than a cache flush) and publishes under the content's name (or drops the
/// copy when that content is already stored).
struct FsWriter {
    root: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Bytes already handed to the kernel.
    written: u64,
    tmp: TempFile,
    hasher: Sha256,
    size: u64,
    sealed: Option<StoredBlob>,
}

impl FsWriter {
    /// Writes the buffer out and starts its writeback.
    fn flush_buf(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| io_error("write", &self.tmp.path, &e))?;
        let len = std::num::NonZeroU64::new(self.buf.len() as u64);
        // Only advice: a kernel that ignores it costs a longer fdatasync, nothing else.
        let _ = rustix::fs::fadvise(&self.file, self.written, len, rustix::fs::Advice::DontNeed);
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for FsWriter {
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

    async fn finish(mut self: Box<Self>) -> Result<StoredBlob, StoreError> {
        let stored = self.seal()?;
        self.flush_buf()?;
        let FsWriter {
            root,
            file,
            mut tmp,
            size,
            ..
        } = *self;
        blocking(move || {
            let dest = blob_path(&root, &stored.sha256);
            if let Ok(meta) = fs::metadata(&dest) {
                if meta.is_file() && meta.len() == size {
                    // Already stored: the temporary copy goes (TempFile's drop).
                    return Ok(stored);
                }
            }
            file.sync_data()
                .map_err(|e| io_error("fsync", &tmp.path, &e))?;
            drop(file);
            publish(&root, &mut tmp, &dest)?;
            Ok(stored)
        })
        .await
    }
}

fn get_blocking(path: &Path, key: &BlobKey) -> Result<Bytes, StoreError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(e) => return Err(io_error("read", path, &e)),
    };
    if sha256_hex(&data) != key.sha256() {
        return Err(StoreError::Corrupt(key.as_str().to_owned()));
    }
    Ok(Bytes::from(data))
}

fn is_hex_of_len(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The subdirectories of `dir` whose names are two lowercase hex digits.
fn hex_subdirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_error("list", dir, &e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", dir, &e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir && is_hex_of_len(&name, 2) {
            out.push((name, entry.path()));
        }
    }
    Ok(out)
}

fn list_blocking(root: &Path) -> Result<Vec<BlobKey>, StoreError> {
    let mut keys = Vec::new();
    for (a, dir_a) in hex_subdirs(&root.join(BLOBS_DIR))? {
        let entries = match fs::read_dir(&dir_a) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error("list", &dir_a, &e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error("list", &dir_a, &e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            // Only a valid digest filed under its own fan-out directory is a blob.
            if let Some(key) = BlobKey::for_sha256(&name) {
                if is_file && name[0..2] == a {
                    keys.push(key);
                }
            }
        }
    }
    keys.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    Ok(keys)
}

fn sweep_blocking(tmp_dir: &Path) -> Result<u64, StoreError> {
    let entries = match fs::read_dir(tmp_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error("list", tmp_dir, &e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("list", tmp_dir, &e))?;
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let result = if is_dir {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &path, &e)),
        }
    }
    Ok(removed)
}

#[async_trait::async_trait]
impl BlobStore for FsStore {
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let (file, tmp) = create_temp(&self.root)?;
        Ok(Box::new(FsWriter {
            root: self.root.clone(),
            file,
            buf: Vec::with_capacity(WRITE_BUFFER + 64 * 1024),
            written: 0,
            tmp,
            hasher: Sha256::new(),
            size: 0,
            sealed: None,
        }))
    }

    async fn put(&self, data: Bytes) -> Result<StoredBlob, StoreError> {
        let root = self.root.clone();
        blocking(move || put_blocking(&root, &data, None)).await
    }

    async fn put_hashed(&self, data: Bytes, sha256: &str) -> Result<StoredBlob, StoreError> {
        let root = self.root.clone();
        let sha = sha256.to_owned();
        blocking(move || put_blocking(&root, &data, Some(&sha))).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Bytes, StoreError> {
        let path = self.blob_path(key);
        let key = key.clone();
        blocking(move || get_blocking(&path, &key)).await
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError> {
        let path = self.blob_path(key);
        blocking(move || match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("stat", &path, &e)),
        })
        .await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        let path = self.blob_path(key);
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path, &e)),
        })
        .await
    }

    async fn list(&self) -> Result<Vec<BlobKey>, StoreError> {
        let root = self.root.clone();
        blocking(move || list_blocking(&root)).await
    }

    async fn sweep_temporary(&self) -> Result<u64, StoreError> {
        let tmp_dir = self.tmp_dir();
        let removed = blocking(move || sweep_blocking(&tmp_dir)).await?;
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary blob files left by an interrupted write"
            );
        }
        Ok(removed)
    }
}
