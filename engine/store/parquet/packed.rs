//! Pack entries, `objects/<2 hex>/<64 hex>.pack` (the format is `store::pack`): writing one,
//! and reading, checking and verifying it with positional reads of the open file.
//!
//! The writer gives the finished pack a modification time of whole seconds (`now`, truncated,
//! so every file system stores it exactly) and records it in the metadata: a pack whose stat
//! shows another time was modified after it was written, and `inspect` then hashes its tables.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{damage, decode_checked, file_name, Damage, Depth, Inspected};
use crate::key::Key;
use crate::store::codec::encode;
use crate::store::durable::{io_error, HashingWriter};
use crate::store::index::{Layout, Record, Stamp};
use crate::store::meta::{EntryMeta, TableMeta, PACK_FORMAT};
use crate::store::pack::{self, FOOTER_LEN, HEADER_LEN};
use crate::store::StoreError;
use crate::table::{Output, Table};

/// Writes `output` as a pack into the new file `path`, synced, with its recorded
/// modification time.
pub(super) fn write(path: &Path, key: &Key, output: &Output) -> Result<(), StoreError> {
    let file = File::create(path).map_err(|e| io_error(path, "create", e))?;
    let mut out = BufWriter::with_capacity(1 << 16, &file);
    out.write_all(&pack::header())
        .map_err(|e| io_error(path, "write", e))?;
    let mut tables = Vec::with_capacity(output.tables.len());
    let mut at = HEADER_LEN;
    for (name, table) in &output.tables {
        let (bytes, blake3) = write_table(&mut out, table, path, key, name)?;
        tables.push(TableMeta {
            name: name.clone(),
            file: None,
            offset: Some(at),
            bytes,
            blake3,
            rows: table.num_rows() as u64,
        });
        at += bytes;
    }
    let written = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let meta = EntryMeta {
        format: PACK_FORMAT,
        key: key.hex(),
        written: Some(written as i64),
        tables,
        summary: output.summary.clone(),
    };
    out.write_all(&pack::tail(&meta))
        .and_then(|()| out.flush())
        .map_err(|e| io_error(path, "write", e))?;
    drop(out);
    file.set_modified(UNIX_EPOCH + Duration::from_secs(written))
        .map_err(|e| io_error(path, "set the modification time of", e))?;
    file.sync_all().map_err(|e| io_error(path, "sync", e))
}

/// Appends one table's Parquet bytes; returns their size and blake3 hash.
fn write_table<W: Write + Send>(
    out: &mut W,
    table: &Table,
    path: &Path,
    key: &Key,
    name: &str,
) -> Result<(u64, String), StoreError> {
    let mut hashing = HashingWriter::new(out);
    if let Err(e) = encode(table, &mut hashing) {
        return Err(match hashing.take_error() {
            Some(io) => io_error(path, "write", io),
            None => StoreError::Encode {
                key: key.hex(),
                table: name.to_string(),
                message: e.to_string(),
            },
        });
    }
    let (_, bytes, hash) = hashing.finish();
    Ok((bytes, hash))
}

/// The pack at `path`, opened; `None` when there is none.
pub(super) fn open(path: &Path) -> Result<Option<File>, Damage> {
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Damage::Io(io_error(path, "open", e))),
    }
}

/// `buf.len()` bytes of the pack from `offset`; a pack too short for them is damaged.
fn read_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> Result<(), Damage> {
    file.read_exact_at(buf, offset).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => Damage::Corrupt(format!(
            "{} ends before byte {}",
            file_name(path),
            offset + buf.len() as u64
        )),
        _ => damage(path, "read", e),
    })
}

/// The pack's metadata, checked against its header, footer and length, and its stamp as one
/// stat of the open file gives it.
pub(super) fn read_meta(
    key: &Key,
    file: &File,
    path: &Path,
) -> Result<(EntryMeta, Option<Stamp>), Damage> {
    let stat = file.metadata().map_err(|e| damage(path, "stat", e))?;
    let len = stat.len();
    let mut head = [0; HEADER_LEN as usize];
    read_at(file, path, &mut head, 0)?;
    pack::check_header(&head).map_err(Damage::Corrupt)?;
    let mut foot = [0; FOOTER_LEN as usize];
    read_at(file, path, &mut foot, len.saturating_sub(FOOTER_LEN))?;
    let footer = pack::footer(&foot, len).map_err(Damage::Corrupt)?;
    let mut bytes = vec![0; (footer.meta.end - footer.meta.start) as usize];
    read_at(file, path, &mut bytes, footer.meta.start)?;
    let meta = pack::metadata(key, &footer, &bytes).map_err(Damage::Corrupt)?;
    Ok((meta, Stamp::of(&stat)))
}

/// Whether the pack's stat shows the modification time its writer recorded.
fn as_written(meta: &EntryMeta, stamp: Option<Stamp>) -> bool {
    let written = meta.written.map(|s| s as i128 * 1_000_000_000);
    stamp.is_some_and(|s| Some(s.modified) == written)
}

/// Checks a pack without decoding it: header, footer and metadata always; the tables' hashes
/// when its modification time is not the one its writer recorded, or at `Depth::Hash`. A pack
/// found whole gives its index record: its stamp vouches for what was just checked.
pub(super) fn inspect(
    key: &Key,
    file: &File,
    path: &Path,
    depth: Depth,
) -> Result<Inspected, Damage> {
    let (meta, stamp) = read_meta(key, file, path)?;
    if depth == Depth::Hash || !as_written(&meta, stamp) {
        for t in &meta.tables {
            let hash = hash_table(file, path, t)?;
            t.check_hash(&hash).map_err(Damage::Corrupt)?;
        }
    }
    let record = stamp.map(|stamp| Record {
        layout: Layout::Pack,
        meta: stamp,
        tables: Vec::new(),
        summary: meta.summary.clone(),
    });
    Ok(Inspected {
        record,
        summary: meta.summary,
    })
}

fn hash_table(file: &File, path: &Path, t: &TableMeta) -> Result<blake3::Hash, Damage> {
    let mut reader = file;
    let offset = t.offset.unwrap_or_default();
    reader
        .seek(SeekFrom::Start(offset))
        .map_err(|e| damage(path, "read", e))?;
    let mut hasher = blake3::Hasher::new();
    let copied =
        io::copy(&mut reader.take(t.bytes), &mut hasher).map_err(|e| damage(path, "read", e))?;
    t.check_size(copied).map_err(Damage::Corrupt)?;
    Ok(hasher.finalize())
}

/// The pack's tables that `wanted` accepts, read and verified.
pub(super) fn read(
    key: &Key,
    file: &File,
    path: &Path,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Output, Damage> {
    let (meta, _) = read_meta(key, file, path)?;
    let mut output = Output::new().with_summary(meta.summary);
    for t in meta.tables.iter().filter(|t| wanted(&t.name)) {
        let mut data = vec![0; t.bytes as usize];
        read_at(file, path, &mut data, t.offset.unwrap_or_default())?;
        output
            .tables
            .insert(t.name.clone(), decode_checked(t, data)?);
    }
    Ok(output)
}
