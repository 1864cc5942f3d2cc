//! `ParquetStore`: the on-disk cache, one folder per entry, one Parquet file per table.
//!
//! Layout of a cache folder (default `cache/`):
//!
//! ```text
//! objects/<2 hex>/<64 hex key>/   one entry
//!     <table>.parquet             one file per table of the task's `Output`
//!     _entry.json                 format, per table: file, byte size, blake3 hash, rows;
//!                                 and the output's summary, if it has one
//! .tmp/<key>.<unique>/            an entry being written
//! .tmp/<key>.<unique>.lock        held (flock) by its writer while it writes
//! .trash/                         entries being deleted (renamed here first)
//! _locks/<key>                    per-key lock files (`lock_key`); never deleted
//! _cache.lock                     cache-wide lock: `gc` exclusive, `apply` shared
//! _slots/<blake3(slot)>.json      the keys that last ran in a task slot (`slots`)
//! _used.bin                       the key each slot last used, cached or run (`slots`)
//! _index.bin                      the quick-check index (`index`): a snapshot, never required
//! _failures/<key>.txt             the last failure of a task
//! ```
//!
//! Everything that is not an entry starts with `.` or `_`, which pyarrow, polars and DuckDB skip.
//!
//! Tables are encoded by `codec`: Bool→Boolean, I64→Int64, F32→Float32, F64→Float64,
//! Str→Utf8, ListF32→`List<Float32>` (items non-nullable), snappy-compressed; column order, types
//! and the schema of zero-row tables survive the round trip.
//!
//! Guarantees:
//! - `put` writes every file into `.tmp/<key>.<unique>/`, syncs each file and the folder, then
//!   renames the folder into `objects/` (atomic on POSIX) and syncs the parent. A crash leaves
//!   only the temporary folder, which no lookup sees. If another writer got there first, the
//!   temporary folder is dropped and `put` succeeds. On error (a full disk included) the
//!   temporary folder is removed and the error names the operation and the file.
//! - `check` (run on every task by `plan`, `status` and `apply`) reads `_entry.json` and stats
//!   every table file: a missing file, a size other than the recorded one, or an unreadable
//!   `_entry.json` is damage. A table file modified after `_entry.json` was written (its mtime is
//!   later; `_entry.json` is written last) is hashed as well, so a flipped byte or same-size
//!   garbage written later is caught too. Only a change that also restores the mtime escapes it;
//!   `verify` (`census verify`, `apply --verify`) hashes every file.
//! - `check_all` (the batch form, used for a whole plan) gives the same answers faster: an
//!   entry whose `_entry.json` and table files still have the size and mtime the index recorded
//!   (tables not modified after `_entry.json`) is present after one stat per file; any other
//!   goes through `check`, and what that learns is written back to the index.
//! - `get` checks every file's size and blake3 hash against `_entry.json` before decoding, and
//!   the decoded row counts after. Any mismatch, a missing file, undecodable Parquet or an
//!   unreadable `_entry.json` removes the entry and returns `Lookup::Corrupt(reason)`.
//! - `remove` renames the entry into `.trash/` (atomic), then deletes it.
//! - `open` removes temporary folders whose writer is gone: a writer holds the lock on its
//!   `.lock` file from before the folder exists until after the folder is renamed or removed,
//!   so a lock that can be taken means a dead writer. `.trash/` is emptied, and temporary slot
//!   and failure files older than an hour are removed.
//!
//! Locks are `flock` locks (std's `File::lock`): they exclude other processes and other handles
//! within this process, and the kernel releases them when a process dies. Unix only.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::durable::{
    create_dir, io_error, lock, lock_new, sync_dir, try_lock, unique, write_atomic, HashingWriter,
    LockGuard, Mode,
};
use super::index::{self, Objects, Record, Records, Stamp, INDEX_FILE};
use super::slots::{SlotHistory, SlotId, Used};
use super::{EntryInfo, Health, KeyLock, Lookup, SlotRecord, Store, StoreError};
use crate::key::Key;
use crate::table::{Output, Summary, Table};

/// Version of `_entry.json` and of the entry folder layout.
const ENTRY_FORMAT: u32 = 1;
const ENTRY_FILE: &str = "_entry.json";
const USED_FILE: &str = "_used.bin";
const TEMP_FILE_MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Serialize, Deserialize)]
struct EntryMeta {
    format: u32,
    key: String,
    tables: Vec<TableMeta>,
    #[serde(default, skip_serializing_if = "Summary::is_empty")]
    summary: Summary,
}

#[derive(Serialize, Deserialize)]
struct TableMeta {
    name: String,
    file: String,
    bytes: u64,
    blake3: String,
    rows: u64,
}

#[derive(Serialize, Deserialize)]
struct SlotFile {
    slot: String,
    #[serde(flatten)]
    history: SlotHistory,
}

/// The on-disk cache rooted at a folder.
#[derive(Debug)]
pub struct ParquetStore {
    root: PathBuf,
    /// `_used.bin`, read once when a slot is first asked for.
    used: Mutex<Option<Arc<Used>>>,
}

/// Table names become file names: plain ASCII, not hidden, not a marker.
fn check_table_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['.', '_'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "table name `{name}` must be ASCII letters, digits, `_`, `-` or `.` and not start \
             with `.` or `_`"
        ))
    }
}

/// What a quick check of one entry changes in the index.
enum Update {
    Keep,
    Set(Record),
    Drop,
}

/// The index after a check: `None` when the check changed nothing in it.
fn updated(
    key_updates: impl Iterator<Item = (Key, Update)>,
    mut records: Records,
) -> Option<Records> {
    let mut changed = false;
    for (key, update) in key_updates {
        match update {
            Update::Keep => continue,
            Update::Set(record) => records.insert(key, record),
            Update::Drop => records.remove(&key),
        };
        changed = true;
    }
    changed.then_some(records)
}

/// Why an entry is damaged, or an I/O failure that says nothing about the entry.
enum Damage {
    Corrupt(String),
    Io(StoreError),
}

/// How closely `inspect` looks at an entry's table files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Sizes; hashes only of files modified after `_entry.json`.
    Stat,
    /// Every file hashed.
    Hash,
}

impl ParquetStore {
    /// Opens (creating if needed) the cache at `path` and clears what dead writers left.
    pub fn open(path: impl AsRef<Path>) -> Result<ParquetStore, StoreError> {
        let store = ParquetStore {
            root: path.as_ref().to_path_buf(),
            used: Mutex::new(None),
        };
        for dir in ["objects", ".tmp", ".trash", "_locks", "_slots", "_failures", "_actions"] {
            create_dir(&store.root.join(dir))?;
        }
        store.clean_temporaries();
        Ok(store)
    }

    /// Opens the cache at `path`, which must already be one (a mistyped `--cache` is an error,
    /// not a new empty cache).
    pub fn open_existing(path: impl AsRef<Path>) -> Result<ParquetStore, StoreError> {
        let path = path.as_ref();
        if !path.join("objects").is_dir() {
            return Err(StoreError::NotACache {
                path: path.display().to_string(),
            });
        }
        ParquetStore::open(path)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Held by every process that reads or writes entries (`apply`, `export`).
    pub fn lock_shared(&self) -> Result<LockGuard, StoreError> {
        lock(&self.root.join("_cache.lock"), Mode::Shared)
    }

    /// Held by `gc` while it deletes entries.
    pub fn lock_exclusive(&self) -> Result<LockGuard, StoreError> {
        lock(&self.root.join("_cache.lock"), Mode::Exclusive)
    }

    /// The cache-wide exclusive lock if no other process uses the cache now.
    pub fn try_lock_exclusive(&self) -> Result<Option<LockGuard>, StoreError> {
        try_lock(&self.root.join("_cache.lock"))
    }

    /// Total bytes of an entry's table files, from its `_entry.json` (not verified).
    pub fn entry_size(&self, key: &Key) -> Option<u64> {
        let text = fs::read(self.entry_dir(key).join(ENTRY_FILE)).ok()?;
        let meta: EntryMeta = serde_json::from_slice(&text).ok()?;
        Some(meta.tables.iter().map(|t| t.bytes).sum())
    }

    fn entry_dir(&self, key: &Key) -> PathBuf {
        self.root.join("objects").join(entry_name(key))
    }

    /// Moves `dir` out of sight into `.trash/` and deletes it; absent is fine.
    fn discard(&self, dir: &Path, label: &str) -> Result<(), StoreError> {
        let aside = self
            .root
            .join(".trash")
            .join(format!("{label}.{}", unique()));
        match fs::rename(dir, &aside) {
            Ok(()) => {
                let _ = fs::remove_dir_all(&aside);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(dir, "move aside", e)),
        }
    }

    /// The entry's tables that `wanted` accepts, read and verified.
    fn read_entry(
        &self,
        key: &Key,
        dir: &Path,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Output, Damage> {
        let (meta, _) = read_meta(key, dir)?;
        let mut output = Output::new().with_summary(meta.summary);
        for t in meta.tables.iter().filter(|t| wanted(&t.name)) {
            output.tables.insert(t.name.clone(), read_table(dir, t)?);
        }
        Ok(output)
    }

    /// `get` of the tables `wanted` accepts.
    fn lookup(&self, key: &Key, wanted: &dyn Fn(&str) -> bool) -> Result<Lookup, StoreError> {
        let dir = self.entry_dir(key);
        if !dir.exists() {
            return Ok(Lookup::Missing);
        }
        match self.read_entry(key, &dir, wanted) {
            Ok(output) => Ok(Lookup::Present(output)),
            Err(Damage::Io(e)) => Err(e),
            Err(Damage::Corrupt(reason)) => {
                self.discard(&dir, &format!("{key}.corrupt"))?;
                Ok(Lookup::Corrupt(reason))
            }
        }
    }

    fn write_entry(&self, key: &Key, output: &Output, dir: &Path) -> Result<(), StoreError> {
        let mut tables = Vec::new();
        for (name, table) in &output.tables {
            let file = format!("{name}.parquet");
            let (bytes, blake3) = write_table(&dir.join(&file), table, key, name)?;
            tables.push(TableMeta {
                name: name.clone(),
                file,
                bytes,
                blake3,
                rows: table.num_rows() as u64,
            });
        }
        let meta = EntryMeta {
            format: ENTRY_FORMAT,
            key: key.hex(),
            tables,
            summary: output.summary.clone(),
        };
        let path = dir.join(ENTRY_FILE);
        let text = serde_json::to_vec_pretty(&meta).expect("entry metadata serialises");
        write_synced(&path, &text)?;
        sync_dir(dir)
    }

    /// Renames the finished temporary folder into place; a complete entry already there wins.
    fn publish(&self, key: &Key, tmp: &Path) -> Result<(), StoreError> {
        let target = self.entry_dir(key);
        let parent = target.parent().expect("entry folders have a parent");
        if !parent.exists() {
            create_dir(parent)?;
            sync_dir(&self.root.join("objects"))?;
        }
        if let Err(e) = fs::rename(tmp, &target) {
            if self.contains(key) {
                return Ok(());
            }
            if !target.exists() {
                return Err(io_error(&target, "rename into place", e));
            }
            // A folder without `_entry.json` is a damaged entry: replace it.
            self.discard(&target, &format!("{key}.damaged"))?;
            if let Err(e) = fs::rename(tmp, &target) {
                if !self.contains(key) {
                    return Err(io_error(&target, "rename into place", e));
                }
            }
        }
        sync_dir(parent)
    }

    fn health(&self, key: &Key, depth: Depth) -> Result<Health, StoreError> {
        self.examine(key, depth).map(|(health, _)| health)
    }

    /// The entry's health, its summary when it is present, and its index record when it is
    /// also indexable.
    fn examine(&self, key: &Key, depth: Depth) -> Result<(Health, Inspected), StoreError> {
        let dir = self.entry_dir(key);
        match inspect(key, &dir, depth) {
            Ok(found) => Ok((Health::Present, found)),
            Err(Damage::Corrupt(_)) if !dir.exists() => Ok((Health::Absent, Inspected::NONE)),
            Err(Damage::Corrupt(reason)) => Ok((Health::Damaged(reason), Inspected::NONE)),
            Err(Damage::Io(e)) => Err(e),
        }
    }

    /// `check_all`, with the summaries when asked for (`survey`).
    fn batch_check(&self, keys: &[Key], summaries: bool) -> Vec<(Health, Summary)> {
        if keys.is_empty() {
            return Vec::new();
        }
        let path = self.root.join(INDEX_FILE);
        let known = index::load(&path);
        let objects = Objects::open(&self.root.join("objects"));
        let checked: Vec<(Health, Summary, Update)> = keys
            .par_iter()
            .map(|k| self.quick(k, known.get(k), objects.as_ref(), summaries))
            .collect();
        let mut found = Vec::with_capacity(keys.len());
        let mut updates = Vec::with_capacity(keys.len());
        for (health, summary, update) in checked {
            found.push((health, summary));
            updates.push(update);
        }
        if let Some(records) = updated(keys.iter().copied().zip(updates), known) {
            let _ = index::save(&path, &records);
        }
        found
    }

    /// The quick check of one entry, through its index record when that still holds.
    fn quick(
        &self,
        key: &Key,
        known: Option<&Record>,
        objects: Option<&Objects>,
        summary: bool,
    ) -> (Health, Summary, Update) {
        let holds = |r: &&Record| objects.is_some_and(|o| r.holds(o, &entry_name(key), ENTRY_FILE));
        if let Some(record) = known.filter(holds) {
            let summary = if summary {
                record.summary.clone()
            } else {
                Summary::new()
            };
            return (Health::Present, summary, Update::Keep);
        }
        match self.examine(key, Depth::Stat) {
            Ok((
                Health::Present,
                Inspected {
                    record: Some(record),
                    summary,
                },
            )) if known != Some(&record) => (Health::Present, summary, Update::Set(record)),
            Ok((
                health,
                Inspected {
                    record: None,
                    summary,
                },
            )) if known.is_some() => (health, summary, Update::Drop),
            Ok((health, found)) => (health, found.summary, Update::Keep),
            Err(e) => (Health::Damaged(e.to_string()), Summary::new(), Update::Keep),
        }
    }

    /// Best effort: what crashed writers and interrupted deletions left behind.
    fn clean_temporaries(&self) {
        let tmp = self.root.join(".tmp");
        for name in dir_names(&tmp) {
            let path = tmp.join(&name);
            if let Some(folder) = name.strip_suffix(".lock") {
                if !tmp.join(folder).exists() {
                    if let Ok(Some(_held)) = try_lock(&path) {
                        let _ = fs::remove_file(&path);
                    }
                }
                continue;
            }
            let lock_path = tmp.join(format!("{name}.lock"));
            if !lock_path.exists() {
                let _ = fs::remove_dir_all(&path);
            } else if let Ok(Some(_held)) = try_lock(&lock_path) {
                let _ = fs::remove_dir_all(&path);
                let _ = fs::remove_file(&lock_path);
            }
        }
        let trash = self.root.join(".trash");
        for name in dir_names(&trash) {
            let _ = fs::remove_dir_all(trash.join(name));
        }
        for dir in [".", "_slots", "_failures"] {
            let dir = self.root.join(dir);
            for name in dir_names(&dir) {
                let path = dir.join(&name);
                if name.starts_with('.') && name.ends_with(".tmp") && older_than(&path) {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }

    fn slot_history(&self, slot: &str) -> Option<SlotHistory> {
        let text = fs::read(self.slot_path(slot)).ok()?;
        let file: SlotFile = serde_json::from_slice(&text).ok()?;
        (file.slot == slot).then_some(file.history)
    }

    /// The keys slots last used, as `_used.bin` said when first asked (or as this process
    /// last recorded them).
    fn used(&self) -> Arc<Used> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(used.get_or_insert_with(|| Arc::new(load_used(&self.root.join(USED_FILE)))))
    }

    fn slot_path(&self, slot: &str) -> PathBuf {
        let hash = blake3::hash(slot.as_bytes()).to_hex();
        self.root.join("_slots").join(format!("{hash}.json"))
    }

    fn failure_path(&self, key: &Key) -> PathBuf {
        self.root.join("_failures").join(format!("{key}.txt"))
    }

    fn action_path(&self, action: &Key) -> PathBuf {
        self.root.join("_actions").join(format!("{action}.txt"))
    }
}

/// `_used.bin`; empty when absent or unreadable (see `slots`).
fn load_used(path: &Path) -> Used {
    fs::read(path)
        .ok()
        .and_then(|bytes| Used::decode(&bytes))
        .unwrap_or_default()
}

fn dir_names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn older_than(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > TEMP_FILE_MAX_AGE)
}

fn read_or_damage(path: &Path) -> Result<Vec<u8>, Damage> {
    fs::read(path).map_err(|e| damage(path, "read", e))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// An entry's `_entry.json`, checked to describe this key's entry, and its size and mtime.
fn read_meta(key: &Key, dir: &Path) -> Result<(EntryMeta, Option<Stamp>), Damage> {
    let path = dir.join(ENTRY_FILE);
    let mut file = File::open(&path).map_err(|e| damage(&path, "open", e))?;
    let written = file.metadata().ok().as_ref().and_then(Stamp::of);
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| damage(&path, "read", e))?;
    let meta: EntryMeta = serde_json::from_slice(&text)
        .map_err(|e| Damage::Corrupt(format!("{ENTRY_FILE} is not valid: {e}")))?;
    if meta.format != ENTRY_FORMAT || meta.key != key.hex() {
        return Err(Damage::Corrupt(format!(
            "{ENTRY_FILE} is for format {} key {}, expected format {ENTRY_FORMAT} key {key}",
            meta.format, meta.key
        )));
    }
    if let Some(t) = meta
        .tables
        .iter()
        .find(|t| check_table_name(&t.name).is_err() || t.file != format!("{}.parquet", t.name))
    {
        return Err(Damage::Corrupt(format!(
            "{ENTRY_FILE} names table `{}` in file `{}`",
            t.name, t.file
        )));
    }
    Ok((meta, written))
}

/// Checks an entry's table files against its `_entry.json` without decoding them (see the
/// module doc for what each depth looks at). A whole entry none of whose table files was
/// modified after `_entry.json` gives its index record.
fn inspect(key: &Key, dir: &Path, depth: Depth) -> Result<Inspected, Damage> {
    let (meta, written) = read_meta(key, dir)?;
    let mut untouched = written.is_some();
    for t in &meta.tables {
        let path = dir.join(&t.file);
        let stat = fs::metadata(&path).map_err(|e| damage(&path, "stat", e))?;
        check_size(t, stat.len())?;
        let touched = match (Stamp::of(&stat), written) {
            (Some(modified), Some(written)) => modified.modified > written.modified,
            _ => true,
        };
        untouched &= !touched;
        if depth == Depth::Hash || touched {
            let mut file = File::open(&path).map_err(|e| damage(&path, "open", e))?;
            let mut hasher = blake3::Hasher::new();
            io::copy(&mut file, &mut hasher).map_err(|e| damage(&path, "read", e))?;
            check_hash(t, &hasher.finalize())?;
        }
    }
    let record = written.filter(|_| untouched).map(|meta_stamp| Record {
        meta: meta_stamp,
        tables: meta.tables.into_iter().map(|t| (t.file, t.bytes)).collect(),
        summary: meta.summary.clone(),
    });
    Ok(Inspected {
        record,
        summary: meta.summary,
    })
}

/// What `inspect` learned of an entry it found present.
struct Inspected {
    /// Its index record, when it can vouch for the entry.
    record: Option<Record>,
    summary: Summary,
}

impl Inspected {
    const NONE: Inspected = Inspected {
        record: None,
        summary: Summary::new(),
    };
}

/// An entry's folder under `objects/`: `<2 hex>/<64 hex>`.
fn entry_name(key: &Key) -> String {
    let hex = key.hex();
    format!("{}/{hex}", &hex[..2])
}

/// A missing file is damage to the entry; any other I/O error is not the entry's fault.
fn damage(path: &Path, op: &'static str, e: io::Error) -> Damage {
    match e.kind() {
        ErrorKind::NotFound => Damage::Corrupt(format!("{} is missing", file_name(path))),
        _ => Damage::Io(io_error(path, op, e)),
    }
}

fn check_size(t: &TableMeta, bytes: u64) -> Result<(), Damage> {
    if bytes == t.bytes {
        return Ok(());
    }
    Err(Damage::Corrupt(format!(
        "{} has {bytes} bytes, expected {}",
        t.file, t.bytes
    )))
}

fn check_hash(t: &TableMeta, hash: &blake3::Hash) -> Result<(), Damage> {
    if hash.to_hex().as_str() == t.blake3 {
        return Ok(());
    }
    Err(Damage::Corrupt(format!(
        "{} fails its blake3 check",
        t.file
    )))
}

/// Reads, verifies and decodes one table file of an entry (its name already checked).
fn read_table(dir: &Path, t: &TableMeta) -> Result<Table, Damage> {
    let data = read_or_damage(&dir.join(&t.file))?;
    check_size(t, data.len() as u64)?;
    check_hash(t, &blake3::hash(&data))?;
    let table = decode(bytes::Bytes::from(data))
        .map_err(|e| Damage::Corrupt(format!("{} does not decode: {e}", t.file)))?;
    if table.num_rows() as u64 != t.rows {
        return Err(Damage::Corrupt(format!(
            "{} has {} rows, expected {}",
            t.file,
            table.num_rows(),
            t.rows
        )));
    }
    Ok(table)
}

/// Encodes `table` into a new synced file; returns its size and blake3 hash.
fn write_table(
    path: &Path,
    table: &Table,
    key: &Key,
    name: &str,
) -> Result<(u64, String), StoreError> {
    let file = File::create(path).map_err(|e| io_error(path, "create", e))?;
    let mut out = HashingWriter::new(file);
    if let Err(e) = encode(table, &mut out) {
        return Err(match out.take_error() {
            Some(io) => io_error(path, "write", io),
            None => StoreError::Encode {
                key: key.hex(),
                table: name.to_string(),
                message: e.to_string(),
            },
        });
    }
    let (file, bytes, hash) = out.finish();
    file.sync_all().map_err(|e| io_error(path, "sync", e))?;
    Ok((bytes, hash))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut f = File::create(path).map_err(|e| io_error(path, "create", e))?;
    f.write_all(bytes).map_err(|e| io_error(path, "write", e))?;
    f.sync_all().map_err(|e| io_error(path, "sync", e))
}

/// A temporary entry folder and the lock that marks its writer alive; removed on drop unless
/// it was renamed away.
struct TempEntry {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: LockGuard,
}

impl TempEntry {
    fn create(root: &Path, key: &Key) -> Result<TempEntry, StoreError> {
        let tmp = root.join(".tmp");
        loop {
            let name = format!("{key}.{}", unique());
            let lock_path = tmp.join(format!("{name}.lock"));
            let Some(lock) = lock_new(&lock_path)? else {
                continue;
            };
            let dir = tmp.join(name);
            fs::create_dir(&dir).map_err(|e| io_error(&dir, "create folder", e))?;
            return Ok(TempEntry {
                dir,
                lock_path,
                _lock: lock,
            });
        }
    }
}

impl Drop for TempEntry {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

impl Store for ParquetStore {
    fn check(&self, key: &Key) -> Health {
        self.health(key, Depth::Stat)
            .unwrap_or_else(|e| Health::Damaged(e.to_string()))
    }

    /// The quick check of many entries: reads the index once, checks each entry through its
    /// record or its `_entry.json`, and rewrites the index when it learned something (best
    /// effort: a cache this process cannot write is still checked).
    fn check_all(&self, keys: &[Key]) -> Vec<Health> {
        self.batch_check(keys, false)
            .into_iter()
            .map(|(health, _)| health)
            .collect()
    }

    fn survey(&self, keys: &[Key]) -> Vec<(Health, Summary)> {
        self.batch_check(keys, true)
    }

    fn verify(&self, key: &Key) -> Result<Health, StoreError> {
        self.health(key, Depth::Hash)
    }

    fn get(&self, key: &Key) -> Result<Lookup, StoreError> {
        self.lookup(key, &|_| true)
    }

    fn get_tables(&self, key: &Key, names: &[&str]) -> Result<Lookup, StoreError> {
        self.lookup(key, &|name| names.contains(&name))
    }

    fn put(&self, key: &Key, output: &Output) -> Result<(), StoreError> {
        if self.contains(key) {
            return Ok(());
        }
        for name in output.tables.keys() {
            check_table_name(name).map_err(|message| StoreError::Encode {
                key: key.hex(),
                table: name.clone(),
                message,
            })?;
        }
        let tmp = TempEntry::create(&self.root, key)?;
        self.write_entry(key, output, &tmp.dir)?;
        self.publish(key, &tmp.dir)
    }

    fn entry_info(&self, key: &Key) -> Option<EntryInfo> {
        let dir = self.entry_dir(key);
        let (meta, _) = read_meta(key, &dir).ok()?;
        let own = fs::metadata(dir.join(ENTRY_FILE)).ok()?.len();
        Some(EntryInfo {
            bytes: meta.tables.iter().fold(own, |sum, t| sum.saturating_add(t.bytes)),
            tables: meta.tables.into_iter().map(|t| t.name).collect(),
        })
    }

    fn keys(&self) -> Result<Vec<Key>, StoreError> {
        let objects = self.root.join("objects");
        let mut keys = Vec::new();
        let prefixes = fs::read_dir(&objects).map_err(|e| io_error(&objects, "list", e))?;
        for prefix in prefixes {
            let prefix = prefix.map_err(|e| io_error(&objects, "list", e))?;
            let prefix_name = prefix.file_name().to_string_lossy().into_owned();
            for name in dir_names(&prefix.path()) {
                if let Some(key) = Key::from_hex(&name) {
                    if name.starts_with(&prefix_name) {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn remove(&self, key: &Key) -> Result<(), StoreError> {
        self.discard(&self.entry_dir(key), &key.hex())
    }

    fn lock_key(&self, key: &Key) -> Result<Box<dyn KeyLock>, StoreError> {
        let guard = lock(&self.root.join("_locks").join(key.hex()), Mode::Exclusive)?;
        Ok(Box::new(guard))
    }

    /// From `_entry.json`: the tables' names, row counts and content hashes, and the summary.
    fn digest(&self, key: &Key) -> Option<Key> {
        let (meta, _) = read_meta(key, &self.entry_dir(key)).ok()?;
        let mut h = blake3::Hasher::new();
        for t in &meta.tables {
            for field in [t.name.as_bytes(), t.blake3.as_bytes(), &t.rows.to_le_bytes()] {
                h.update(&(field.len() as u64).to_le_bytes());
                h.update(field);
            }
        }
        h.update(&serde_json::to_vec(&meta.summary).expect("a summary serialises"));
        Some(Key::from_bytes(*h.finalize().as_bytes()))
    }

    fn action(&self, action: &Key) -> Option<Key> {
        Key::from_hex(fs::read_to_string(self.action_path(action)).ok()?.trim())
    }

    fn set_action(&self, action: &Key, key: &Key) -> Result<(), StoreError> {
        write_atomic(&self.action_path(action), key.hex().as_bytes())
    }

    fn retain_actions(&self, keep: &dyn Fn(&Key) -> bool) -> Result<usize, StoreError> {
        let mut removed = 0;
        for name in dir_names(&self.root.join("_actions")) {
            let Some(action) = name.strip_suffix(".txt").and_then(Key::from_hex) else {
                continue;
            };
            if self.action(&action).is_some_and(|key| !keep(&key)) {
                let path = self.action_path(&action);
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(io_error(&path, "remove", e))
                    }
                    _ => removed += 1,
                }
            }
        }
        Ok(removed)
    }

    fn slot(&self, slot: &str) -> Option<SlotRecord> {
        let history = self.slot_history(slot)?;
        Some(history.current(self.used().get(slot)))
    }

    fn set_slot(&self, slot: &str, record: &SlotRecord) -> Result<(), StoreError> {
        let file = SlotFile {
            slot: slot.to_string(),
            history: SlotHistory::ran(self.slot_history(slot), record),
        };
        let text = serde_json::to_vec_pretty(&file).expect("slot records serialise");
        write_atomic(&self.slot_path(slot), &text)
    }

    fn record_use(&self, used: &[(SlotId, Key)]) -> Result<(), StoreError> {
        let path = self.root.join(USED_FILE);
        let mut snapshot = load_used(&path);
        if snapshot.record(used) {
            write_atomic(&path, &snapshot.encode())?;
        }
        *self.used.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(snapshot));
        Ok(())
    }

    fn set_failure(&self, key: &Key, message: Option<&str>) -> Result<(), StoreError> {
        let path = self.failure_path(key);
        match message {
            Some(m) => write_atomic(&path, m.as_bytes()),
            None => match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&path, "remove", e)),
                _ => Ok(()),
            },
        }
    }

    fn failure(&self, key: &Key) -> Option<String> {
        fs::read_to_string(self.failure_path(key)).ok()
    }
}

#[cfg(test)]
mod tests;
