//! Reading a manifest file: only a regular file, at most `MAX_BYTES`, UTF-8. A FIFO, a device
//! (`/dev/zero`) or a directory is refused before it is read, so nothing waits for a writer or
//! reads without end.

use super::error::ManifestError;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

/// The largest manifest read (1 MiB); the paper's full grid takes a few kilobytes.
pub const MAX_BYTES: u64 = 1 << 20;

/// The text of the manifest at `path`.
pub fn read(path: &Path) -> Result<String, ManifestError> {
    let fail = |message: String| ManifestError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message,
        also: Box::default(),
        unshown: 0,
        stopped: false,
    };
    let cannot = |e: std::io::Error| fail(format!("cannot read the manifest: {e}"));
    regular(&std::fs::metadata(path).map_err(cannot)?).map_err(fail)?;
    let file = open(path).map_err(cannot)?;
    // The path may have been replaced between the two looks: check what was opened.
    regular(&file.metadata().map_err(cannot)?).map_err(fail)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(fail(format!(
            "the manifest is larger than {} KiB: give a manifest, not a data file",
            MAX_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let mut err = fail(format!(
            "the manifest is not UTF-8 text: invalid byte at offset {at}"
        ));
        err.line = line;
        err.column = 1 + at
            - e.as_bytes()[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
        err
    })
}

fn regular(meta: &std::fs::Metadata) -> Result<(), String> {
    let t = meta.file_type();
    if t.is_file() {
        return Ok(());
    }
    let what = if t.is_dir() {
        "a directory"
    } else if is_fifo(&t) {
        "a FIFO (named pipe)"
    } else {
        "a device or other special file"
    };
    Err(format!(
        "the manifest must be a regular file, and this is {what}: give the path of a .toml file"
    ))
}

#[cfg(unix)]
fn is_fifo(t: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(t)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Opens without blocking: opening a FIFO for reading would otherwise wait for a writer.
#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}
