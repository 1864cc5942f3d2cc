//! Durable-file building blocks shared by the Parquet store and the export writer.
//!
//! - `sync_dir` makes a rename or a new file name survive a power loss (POSIX needs the
//!   folder itself synced, not only the file).
//! - `write_atomic` replaces a small file whole: a temporary `.<name>.<unique>.tmp` beside it,
//!   synced, then renamed over the target.
//! - `LockGuard` is an advisory lock on a file (`flock` on Linux through std's `File::lock`);
//!   it excludes other processes and other handles of this process, and is released on drop.
//! - `HashingWriter` counts and hashes the bytes of a file while it is written, and keeps the
//!   first I/O error so a full disk is reported as such, not as an encoder error.
//! - `unique` names temporary files so no two writers, in any process, ever share one.
//! - `rename_new` moves a finished file into place unless something is there already.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{KeyLock, StoreError};

pub(super) fn io_error(path: &Path, op: &'static str, source: io::Error) -> StoreError {
    StoreError::Io {
        path: path.display().to_string(),
        op,
        source,
    }
}

/// `<pid>.<counter>.<nanoseconds>`: unique among live processes on this machine.
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}.{n}.{nanos}", std::process::id())
}

pub fn sync_dir(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(path, "sync folder", e))
}

pub(super) fn create_dir(path: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(path).map_err(|e| io_error(path, "create folder", e))
}

/// Writes `bytes` to `path` so that readers see the old content or the new, never a mix.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let (dir, name) = split(path);
    let tmp = dir.join(format!(".{name}.{}.tmp", unique()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| io_error(&tmp, "create", e))?;
        f.write_all(bytes).map_err(|e| io_error(&tmp, "write", e))?;
        f.sync_all().map_err(|e| io_error(&tmp, "sync", e))?;
        fs::rename(&tmp, path).map_err(|e| io_error(path, "rename into place", e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames `from` to `to`, atomically, unless `to` exists (then the error is `AlreadyExists`
/// and nothing moved): `renameat2(RENAME_NOREPLACE)` on Linux; where the file system lacks it,
/// a hard link then the removal of `from`.
pub(super) fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {}
            other => return other.map_err(io::Error::from),
        }
    }
    link_new(from, to)
}

/// `rename_new` where `RENAME_NOREPLACE` is missing: a hard link (which refuses an existing
/// `to`), then the removal of `from`.
fn link_new(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    let _ = fs::remove_file(from);
    Ok(())
}

/// The folder and file name of `path`; a bare name lives in the current folder.
pub(super) fn split(path: &Path) -> (&Path, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (dir, name)
}

/// An advisory file lock, released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl KeyLock for LockGuard {}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Shared,
    Exclusive,
}

/// Opens (creating if needed) a lock file; on a read-only cache an existing lock file is opened
/// read-only, which `flock` accepts, so reading commands still exclude `gc`.
fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .or_else(|e| match e.kind() {
            io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
                File::open(path).map_err(|_| e)
            }
            _ => Err(e),
        })
        .map_err(|e| io_error(path, "open lock file", e))
}

/// Blocks until the lock on `path` (created if absent) is held in `mode`.
pub(super) fn lock(path: &Path, mode: Mode) -> Result<LockGuard, StoreError> {
    let file = open_lock_file(path)?;
    match mode {
        Mode::Shared => file.lock_shared(),
        Mode::Exclusive => file.lock(),
    }
    .map_err(|e| io_error(path, "lock", e))?;
    Ok(LockGuard { file })
}

/// The exclusive lock on `path` if nobody holds it now, `None` if somebody does.
pub(super) fn try_lock(path: &Path) -> Result<Option<LockGuard>, StoreError> {
    let file = open_lock_file(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(LockGuard { file })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(io_error(path, "lock", e)),
    }
}

/// Exclusively locks a lock file this process just created, and checks that it is still the
/// file at `path` (a cleaner may have removed it between creation and locking).
pub(super) fn lock_new(path: &Path) -> Result<Option<LockGuard>, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_error(path, "create lock file", e))?;
    file.lock().map_err(|e| io_error(path, "lock", e))?;
    let held = file.metadata().map_err(|e| io_error(path, "stat", e))?;
    match fs::metadata(path) {
        Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
            Ok(Some(LockGuard { file }))
        }
        _ => Ok(None),
    }
}

/// A writer that hashes and counts what passes through it.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    bytes: u64,
    error: Option<io::Error>,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
            error: None,
        }
    }

    /// The first I/O error the inner writer returned, if any.
    pub(super) fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// The inner writer, the byte count and the blake3 hex digest.
    pub(super) fn finish(self) -> (W, u64, String) {
        (
            self.inner,
            self.bytes,
            self.hasher.finalize().to_hex().to_string(),
        )
    }

    fn keep(&mut self, e: &io::Error) {
        if self.error.is_none() && e.kind() != io::ErrorKind::Interrupted {
            self.error = Some(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            });
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.keep(&e);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| self.keep(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of `rename_new`: the file moves when `to` is free; otherwise `AlreadyExists`,
    /// and both files keep their bytes.
    #[test]
    fn a_new_name_is_taken_only_when_free() {
        let dir = tempfile::tempdir().unwrap();
        let move_new: [fn(&Path, &Path) -> io::Result<()>; 2] = [rename_new, link_new];
        for (i, move_new) in move_new.into_iter().enumerate() {
            let (from, to) = (
                dir.path().join(format!("a{i}")),
                dir.path().join(format!("b{i}")),
            );
            fs::write(&from, b"new").unwrap();
            move_new(&from, &to).unwrap();
            assert!(!from.exists());
            assert_eq!(fs::read(&to).unwrap(), b"new");
            fs::write(&from, b"late").unwrap();
            let e = move_new(&from, &to).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(fs::read(&to).unwrap(), b"new");
            assert_eq!(fs::read(&from).unwrap(), b"late");
        }
    }
}
