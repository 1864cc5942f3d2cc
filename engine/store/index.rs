//! The quick-check index (`_index.bin` in a cache folder): what the last quick check learned
//! about each whole entry, so the next one stats one file per entry instead of reading its
//! metadata.
//!
//! A record holds, for one key, the entry's layout, the size and modification time (its stamp)
//! of its pack or, for an old-layout folder, of its `_entry.json` and the file name and byte
//! size of each table file, and the entry's summary (`Output::summary`), so a summary costs no
//! read either. A record vouches for an entry only while every stat agrees with it: a pack of
//! exactly that stamp (one stat); or `_entry.json` of exactly that stamp and each table file of
//! the recorded size and not modified after `_entry.json`. Anything else (a record missing,
//! stale, or for an entry since removed and rewritten) sends the check to the entry's metadata,
//! which decides as before. So the index can make a check faster, never different, except for
//! a change that keeps the stamp (the same blind spot the check has; `verify` reads
//! everything). A pack's record is written only after the check found its tables as written:
//! its stamp is the one the writer set, or its tables were hashed at that stamp.
//!
//! The file is a snapshot, rewritten whole (atomically) by a check that learned something, and
//! read once per check of a whole plan. Its layout: a header (`MAGIC`, `INDEX_FORMAT`), the
//! records, and the blake3 hash of everything before it; a file that is short, of another
//! format or fails its hash is ignored (every entry is then checked through its metadata and a
//! new snapshot written). Concurrent writers each rename a whole file over it: the last one
//! wins, and a record lost that way only costs the next check time.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::path::Path;
use std::time::UNIX_EPOCH;

use super::durable::write_atomic;
use super::meta::{ENTRY_FILE, PACK_SUFFIX};
use super::StoreError;
use crate::key::Key;
use crate::table::Summary;

pub(super) const INDEX_FILE: &str = "_index.bin";
const MAGIC: &[u8; 8] = b"censusix";
/// Version of the index layout; an index of another version is ignored.
const INDEX_FORMAT: u32 = 3;

/// The size and modification time of a file, as a stat reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub bytes: u64,
    /// Nanoseconds since the Unix epoch (before it: negative).
    pub modified: i128,
}

impl Stamp {
    /// `None` when the platform gives no modification time.
    pub fn of(meta: &Metadata) -> Option<Stamp> {
        let modified = meta.modified().ok()?;
        let nanos = match modified.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        };
        Some(Stamp {
            bytes: meta.len(),
            modified: nanos,
        })
    }
}

/// How an entry is stored (see `meta`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// One file, `<2 hex>/<64 hex>.pack`.
    Pack,
    /// An old-layout folder `<2 hex>/<64 hex>/`.
    Folder,
}

/// What the index knows about one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Record {
    pub layout: Layout,
    /// The pack, or the folder's `_entry.json`.
    pub meta: Stamp,
    /// A folder's table files, name and byte size, as `_entry.json` records them (none for a
    /// pack).
    pub tables: Vec<(String, u64)>,
    /// The summary the entry records.
    pub summary: Summary,
}

impl Record {
    /// Whether the files of the entry at `entry` (`<2 hex>/<64 hex>`) under `objects` are
    /// still the ones this record describes (one stat per file, nothing read).
    pub fn holds(&self, objects: &Objects, entry: &str) -> bool {
        let mut path = String::with_capacity(entry.len() + 64);
        path.push_str(entry);
        if self.layout == Layout::Pack {
            path.push_str(PACK_SUFFIX);
            return objects.stamp(&path) == Some(self.meta);
        }
        path.push('/');
        let folder = path.len();
        let mut stamp = |name: &str| {
            path.truncate(folder);
            path.push_str(name);
            objects.stamp(&path)
        };
        if stamp(ENTRY_FILE) != Some(self.meta) {
            return false;
        }
        self.tables.iter().all(|(file, bytes)| {
            stamp(file).is_some_and(|s| s.bytes == *bytes && s.modified <= self.meta.modified)
        })
    }
}

/// A cache's `objects` folder, opened once for a batch of quick checks. On Unix files are
/// stat-ed relative to it, so a stat walks `<2 hex>/<64 hex>/<file>`, not the whole path.
pub(super) struct Objects {
    #[cfg(unix)]
    folder: rustix::fd::OwnedFd,
    #[cfg(not(unix))]
    folder: std::path::PathBuf,
}

impl Objects {
    #[cfg(unix)]
    pub fn open(path: &Path) -> Option<Objects> {
        use rustix::fs::{open, Mode, OFlags};
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let read = OFlags::PATH;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let read = OFlags::RDONLY;
        let flags = read | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let folder = open(path, flags, Mode::empty()).ok()?;
        Some(Objects { folder })
    }

    /// The stamp of the file at `path` under the folder.
    #[cfg(unix)]
    fn stamp(&self, path: &str) -> Option<Stamp> {
        let stat = rustix::fs::statat(&self.folder, path, rustix::fs::AtFlags::empty()).ok()?;
        Some(Stamp {
            bytes: u64::try_from(stat.st_size).ok()?,
            modified: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
        })
    }

    #[cfg(not(unix))]
    pub fn open(path: &Path) -> Option<Objects> {
        Some(Objects {
            folder: path.to_path_buf(),
        })
    }

    #[cfg(not(unix))]
    fn stamp(&self, path: &str) -> Option<Stamp> {
        fs::metadata(self.folder.join(path))
            .ok()
            .as_ref()
            .and_then(Stamp::of)
    }
}

/// Every record of an index file, by key.
pub(super) type Records = HashMap<Key, Record>;

/// The records of the index file at `path`; none when it is absent, damaged or of another
/// format.
pub(super) fn load(path: &Path) -> Records {
    fs::read(path)
        .ok()
        .and_then(|bytes| decode(&bytes))
        .unwrap_or_default()
}

/// Replaces the index file at `path` with `records`, atomically.
pub(super) fn save(path: &Path, records: &Records) -> Result<(), StoreError> {
    write_atomic(path, &encode(records))
}

fn encode(records: &Records) -> Vec<u8> {
    let mut keys: Vec<&Key> = records.keys().collect();
    keys.sort();
    let mut out = Vec::with_capacity(64 + records.len() * 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&INDEX_FORMAT.to_le_bytes());
    out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
    for key in keys {
        let r = &records[key];
        out.extend_from_slice(key.bytes());
        out.push(match r.layout {
            Layout::Pack => 0,
            Layout::Folder => 1,
        });
        out.extend_from_slice(&r.meta.bytes.to_le_bytes());
        out.extend_from_slice(&r.meta.modified.to_le_bytes());
        out.extend_from_slice(&(r.tables.len() as u32).to_le_bytes());
        for (file, bytes) in &r.tables {
            put_str(&mut out, file);
            out.extend_from_slice(&bytes.to_le_bytes());
        }
        out.extend_from_slice(&(r.summary.len() as u32).to_le_bytes());
        for (name, value) in &r.summary {
            put_str(&mut out, name);
            put_str(&mut out, value);
        }
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn decode(bytes: &[u8]) -> Option<Records> {
    let (body, hash) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if blake3::hash(body).as_bytes() != hash {
        return None;
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != INDEX_FORMAT {
        return None;
    }
    let count = r.u64()?;
    let mut records = Records::with_capacity(count.min(body.len() as u64 / 64) as usize);
    for _ in 0..count {
        let key = Key::from_bytes(r.take(32)?.try_into().ok()?);
        let layout = match r.take(1)?[0] {
            0 => Layout::Pack,
            1 => Layout::Folder,
            _ => return None,
        };
        let meta = Stamp {
            bytes: r.u64()?,
            modified: i128::from_le_bytes(r.take(16)?.try_into().ok()?),
        };
        let n = r.u32()?;
        let mut tables = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let file = r.str()?;
            tables.push((file, r.u64()?));
        }
        let mut summary = Summary::new();
        for _ in 0..r.u32()? {
            let name = r.str()?;
            summary.insert(name, r.str()?);
        }
        records.insert(
            key,
            Record {
                layout,
                meta,
                tables,
                summary,
            },
        );
    }
    r.0.is_empty().then_some(records)
}

/// Reads little-endian fields off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        Some(std::str::from_utf8(self.take(len)?).ok()?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Records {
        let mut records = Records::new();
        for i in 0..3u8 {
            records.insert(
                Key::from_bytes([i; 32]),
                Record {
                    layout: if i == 1 { Layout::Pack } else { Layout::Folder },
                    meta: Stamp {
                        bytes: 400 + i as u64,
                        modified: -5 + 1_700_000_000_123_456_789 * i as i128,
                    },
                    tables: (0..i)
                        .map(|t| (format!("t{t}.parquet"), 10 * t as u64))
                        .collect(),
                    summary: (0..i)
                        .map(|t| (format!("fact{t}"), "é".repeat(t as usize)))
                        .collect(),
                },
            );
        }
        records
    }

    #[test]
    fn records_round_trip() {
        let records = sample();
        assert_eq!(decode(&encode(&records)), Some(records));
        assert_eq!(decode(&encode(&Records::new())), Some(Records::new()));
    }

    #[test]
    fn a_damaged_or_foreign_index_reads_as_empty() {
        let good = encode(&sample());
        for cut in [0, 1, 12, good.len() / 2, good.len() - 1] {
            assert_eq!(decode(&good[..cut]), None, "cut at {cut}");
        }
        for at in [0, 9, 20, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode(&bad), None, "flip at {at}");
        }
        let mut other = encode(&Records::new());
        other[8..12].copy_from_slice(&(INDEX_FORMAT + 1).to_le_bytes());
        let n = other.len() - 32;
        let hash = blake3::hash(&other[..n]);
        other[n..].copy_from_slice(hash.as_bytes());
        assert_eq!(decode(&other), None, "another format");
    }
}
