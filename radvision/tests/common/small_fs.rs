//! A real full disk for the fault tests: a small tmpfs of the test's own (mounting needs
//! root, as on CI; elsewhere the tests that need it say they are skipped), filled to its
//! last page and given back page by page.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A tmpfs mounted for one test, unmounted when dropped (declare it first, so that it is
/// dropped last).
pub struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    /// A tmpfs of `mib` MiB, or `None` (with a notice) where it cannot be mounted.
    pub fn mount(mib: u32) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700")])
            .arg("enkaku-test")
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root, as on CI)");
        }
        mounted.then_some(SmallFs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system to its last page; returns the filler file.
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = File::create(&path).unwrap();
        let block = vec![0xa5u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the small file system: {e}"),
            }
        }
        path
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(self.dir.path())
            .status();
    }
}

/// Gives `bytes` (whole pages) of the filler back to the file system.
pub fn free(filler: &Path, bytes: u64) {
    let f = OpenOptions::new().write(true).open(filler).unwrap();
    let len = f.metadata().unwrap().len();
    assert!(len >= bytes);
    f.set_len(len - bytes).unwrap();
}
