//! `ParquetStore`: the on-disk cache, one pack file per entry holding its Parquet tables.
//!
//! Layout of a cache folder (default `cache/`):
//!
//! ```text
//! objects/<2 hex>/<64 hex key>.pack   one entry: header, each table's Parquet bytes, the
//!                                     metadata (per table: offset, byte size, blake3 hash,
//!                                     rows; the summary; the write time), footer (`pack`)
//! objects/<2 hex>/<64 hex key>/       one entry as census wrote it before packs (read, never
//!     <table>.parquet                 written): one file per table and `_entry.json`
//!     _entry.json
//! .tmp/<key>.<unique>                 a pack being written
//! .tmp/<key>.<unique>.lock            held (flock) by its writer while it writes
//! .trash/                             entries being deleted (renamed here first)
//! _locks/<key>                        per-key lock files (`lock_key`); never deleted
//! _cache.lock                         cache-wide lock: `gc` exclusive, `apply` shared
//! _slots/<blake3(slot)>.json          the keys that last ran in a task slot (`slots`)
//! _used.bin                           the key each slot last used, cached or run (`slots`)
//! _index.bin                          the quick-check index (`index`): a snapshot, never required
//! _failures/<key>.txt                 the last failure of a task
//! ```
//!
//! Everything that is not an entry starts with `.` or `_`. A key with both a pack and a folder
//! is the pack's (a folder is only left beside a pack when it was damaged).
//!
//! Tables are encoded by `codec`: Bool→Boolean, I64→Int64, F32→Float32, F64→Float64,
//! Str→Utf8, ListF32→`List<Float32>` (items non-nullable), snappy-compressed; column order, types
//! and the schema of zero-row tables survive the round trip.
//!
//! Guarantees:
//! - `put` writes the pack into `.tmp/<key>.<unique>`, gives it its recorded modification time,
//!   syncs it, then renames it into `objects/` unless an entry is already there (atomic on
//!   POSIX) and syncs the parent. A crash leaves only the temporary file, which no lookup sees.
//!   If another writer got there first and its pack is whole, the temporary file is dropped and
//!   `put` succeeds; a damaged pack there is replaced. On error (a full disk included) the
//!   temporary file is removed and the error names the operation and the file.
//! - `check` (run on every task by `plan`, `status` and `apply`) of a pack reads its header,
//!   footer and metadata (three reads of the open file): a pack missing is absent; one cut,
//!   grown, with a header, footer or metadata that fails its check (the metadata is hashed), or
//!   whose tables do not lie back to back up to the metadata is damaged. A pack whose
//!   modification time is not the one its writer recorded (written later: a flipped byte,
//!   same-size garbage) has its tables hashed as well. Only a change to a table's bytes that
//!   also restores that time escapes it. `verify` (`census verify`, `apply --verify`) checks
//!   header, footer and metadata the same way and hashes every table, whatever the time.
//!   Of an old-layout folder, `check` reads `_entry.json` and stats every table file: a missing
//!   file, a size other than the recorded one, or an unreadable `_entry.json` is damage; a
//!   table file modified after `_entry.json` is hashed.
//! - `check_all` (the batch form, used for a whole plan) gives the same answers faster: a pack
//!   whose size and modification time are those the index recorded is present after one stat
//!   (`objects/<2 hex>/<64 hex>.pack`, relative to the open `objects/`); a folder after one stat
//!   per file. Any other entry goes through `check`, and what that learns is written back to
//!   the index (a pack at the stamp `check` saw, whether its time was the recorded one or its
//!   tables were hashed). So through the index a change that keeps a pack's size and
//!   modification time is not seen (`check` without a record still sees one to its header,
//!   footer or metadata); any other change sends the pack back to `check`.
//! - `get` checks the metadata, then each table's size and blake3 hash before decoding it, and
//!   the decoded row count after. Any mismatch, undecodable Parquet or unreadable metadata
//!   removes the entry and returns `Lookup::Corrupt(reason)`.
//! - `remove` renames the entry (pack and folder) into `.trash/` (atomic), then deletes it.
//! - `open` removes temporary packs (and old temporary folders) whose writer is gone: a writer
//!   holds the lock on its `.lock` file from before the pack exists until after it is renamed
//!   or removed, so a lock that can be taken means a dead writer. `.trash/` is emptied, and
//!   temporary slot and failure files older than an hour are removed.
//!
//! Locks are `flock` locks (std's `File::lock`): they exclude other processes and other handles
//! within this process, and the kernel releases them when a process dies. Unix only.

mod folder;
mod packed;

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::codec::decode;
use super::durable::{
    create_dir, io_error, lock, lock_new, rename_new, sync_dir, try_lock, unique, write_atomic,
    LockGuard, Mode,
};
use super::index::{self, Objects, Record, Records, INDEX_FILE};
use super::meta::{check_table_name, entry_name, key_of, EntryMeta, TableMeta, PACK_SUFFIX};
use super::slots::{SlotHistory, SlotId, Used};
use super::{EntryInfo, Health, KeyLock, Lookup, SlotRecord, Store, StoreError};
use crate::key::Key;
use crate::table::{Output, Summary, Table};

const USED_FILE: &str = "_used.bin";
const TEMP_FILE_MAX_AGE: Duration = Duration::from_secs(3600);

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

/// How closely `inspect` looks at an entry's tables.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Metadata and sizes; hashes only of what was modified after it was written.
    Stat,
    /// Every table hashed.
    Hash,
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

/// Where a key's entry was found.
enum Found {
    Pack(PathBuf, fs::File),
    /// No pack: the old-layout folder, if there is one.
    Folder(PathBuf),
}

impl ParquetStore {
    /// Opens (creating if needed) the cache at `path` and clears what dead writers left.
    pub fn open(path: impl AsRef<Path>) -> Result<ParquetStore, StoreError> {
        let store = ParquetStore {
            root: path.as_ref().to_path_buf(),
            used: Mutex::new(None),
        };
        for dir in [
            "objects",
            ".tmp",
            ".trash",
            "_locks",
            "_slots",
            "_failures",
            "_actions",
        ] {
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

    /// Total bytes of an entry's tables, from its metadata (not verified).
    pub fn entry_size(&self, key: &Key) -> Option<u64> {
        self.entry_meta(key).map(|(meta, _)| meta.table_bytes())
    }

    fn entry_dir(&self, key: &Key) -> PathBuf {
        self.root.join("objects").join(entry_name(key))
    }

    fn pack_path(&self, key: &Key) -> PathBuf {
        self.root
            .join("objects")
            .join(format!("{}{PACK_SUFFIX}", entry_name(key)))
    }

    /// The key's pack, opened, or else its folder.
    fn find(&self, key: &Key) -> Result<Found, Damage> {
        let pack = self.pack_path(key);
        Ok(match packed::open(&pack)? {
            Some(file) => Found::Pack(pack, file),
            None => Found::Folder(self.entry_dir(key)),
        })
    }

    /// A readable entry's metadata and the bytes of its files.
    fn entry_meta(&self, key: &Key) -> Option<(EntryMeta, u64)> {
        match self.find(key).ok()? {
            Found::Pack(path, file) => {
                let (meta, stamp) = packed::read_meta(key, &file, &path).ok()?;
                Some((meta, stamp?.bytes))
            }
            Found::Folder(dir) => {
                let (meta, _) = folder::read_meta(key, &dir).ok()?;
                let bytes = folder::size(&meta, &dir)?;
                Some((meta, bytes))
            }
        }
    }

    /// Moves `path` (a pack or a folder) out of sight into `.trash/` and deletes it; absent is
    /// fine.
    fn discard(&self, path: &Path, label: &str) -> Result<(), StoreError> {
        let aside = self
            .root
            .join(".trash")
            .join(format!("{label}.{}", unique()));
        match fs::rename(path, &aside) {
            Ok(()) => {
                remove_any(&aside);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(path, "move aside", e)),
        }
    }

    /// `get` of the tables `wanted` accepts.
    fn lookup(&self, key: &Key, wanted: &dyn Fn(&str) -> bool) -> Result<Lookup, StoreError> {
        let (path, read) = match self.find(key) {
            Err(Damage::Io(e)) => return Err(e),
            Err(Damage::Corrupt(reason)) => return Ok(Lookup::Corrupt(reason)),
            Ok(Found::Pack(path, file)) => {
                let read = packed::read(key, &file, &path, wanted);
                (path, read)
            }
            Ok(Found::Folder(dir)) if !dir.exists() => return Ok(Lookup::Missing),
            Ok(Found::Folder(dir)) => {
                let read = folder::read(key, &dir, wanted);
                (dir, read)
            }
        };
        match read {
            Ok(output) => Ok(Lookup::Present(output)),
            Err(Damage::Io(e)) => Err(e),
            Err(Damage::Corrupt(reason)) => {
                self.discard(&path, &format!("{key}.corrupt"))?;
                Ok(Lookup::Corrupt(reason))
            }
        }
    }

    /// Renames the finished temporary pack into place; a whole entry already there wins, a
    /// damaged one is replaced, and a damaged old-layout folder of the key is removed.
    fn publish(&self, key: &Key, tmp: &Path) -> Result<(), StoreError> {
        let target = self.pack_path(key);
        let parent = target.parent().expect("packs have a parent folder");
        if !parent.exists() {
            create_dir(parent)?;
            sync_dir(&self.root.join("objects"))?;
        }
        if let Err(e) = rename_new(tmp, &target) {
            if self.contains(key) {
                return Ok(());
            }
            if e.kind() != ErrorKind::AlreadyExists {
                return Err(io_error(&target, "rename into place", e));
            }
            self.discard(&target, &format!("{key}.damaged"))?;
            if let Err(e) = rename_new(tmp, &target) {
                if !self.contains(key) {
                    return Err(io_error(&target, "rename into place", e));
                }
            }
        }
        sync_dir(parent)?;
        self.discard(&self.entry_dir(key), &format!("{key}.superseded"))
    }

    fn health(&self, key: &Key, depth: Depth) -> Result<Health, StoreError> {
        self.examine(key, depth).map(|(health, _)| health)
    }

    /// The entry's health, its summary when it is present, and its index record when it is
    /// also indexable.
    fn examine(&self, key: &Key, depth: Depth) -> Result<(Health, Inspected), StoreError> {
        let inspected = self.find(key).and_then(|found| match found {
            Found::Pack(path, file) => packed::inspect(key, &file, &path, depth),
            Found::Folder(dir) => folder::inspect(key, &dir, depth),
        });
        match inspected {
            Ok(found) => Ok((Health::Present, found)),
            Err(Damage::Corrupt(_))
                if !self.entry_dir(key).exists() && !self.pack_path(key).exists() =>
            {
                Ok((Health::Absent, Inspected::NONE))
            }
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
        let holds = |r: &&Record| objects.is_some_and(|o| r.holds(o, &entry_name(key)));
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
            if let Some(pack) = name.strip_suffix(".lock") {
                if !tmp.join(pack).exists() {
                    if let Ok(Some(_held)) = try_lock(&path) {
                        let _ = fs::remove_file(&path);
                    }
                }
                continue;
            }
            let lock_path = tmp.join(format!("{name}.lock"));
            if !lock_path.exists() {
                remove_any(&path);
            } else if let Ok(Some(_held)) = try_lock(&lock_path) {
                remove_any(&path);
                let _ = fs::remove_file(&lock_path);
            }
        }
        let trash = self.root.join(".trash");
        for name in dir_names(&trash) {
            remove_any(&trash.join(name));
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

/// Removes a file or a whole folder, best effort.
fn remove_any(path: &Path) {
    if fs::remove_file(path).is_err() {
        let _ = fs::remove_dir_all(path);
    }
}

fn older_than(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > TEMP_FILE_MAX_AGE)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// A missing file is damage to the entry; any other I/O error is not the entry's fault.
fn damage(path: &Path, op: &'static str, e: io::Error) -> Damage {
    match e.kind() {
        ErrorKind::NotFound => Damage::Corrupt(format!("{} is missing", file_name(path))),
        _ => Damage::Io(io_error(path, op, e)),
    }
}

/// Verifies one table's Parquet bytes against its metadata and decodes them.
fn decode_checked(t: &TableMeta, data: Vec<u8>) -> Result<Table, Damage> {
    t.check_size(data.len() as u64).map_err(Damage::Corrupt)?;
    t.check_hash(&blake3::hash(&data))
        .map_err(Damage::Corrupt)?;
    let table = decode(bytes::Bytes::from(data))
        .map_err(|e| Damage::Corrupt(format!("{} does not decode: {e}", t.label())))?;
    t.check_rows(table.num_rows()).map_err(Damage::Corrupt)?;
    Ok(table)
}

/// A pack being written in `.tmp/` and the lock that marks its writer alive; removed on drop
/// unless it was renamed away.
struct TempPack {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: LockGuard,
}

impl TempPack {
    fn create(root: &Path, key: &Key) -> Result<TempPack, StoreError> {
        let tmp = root.join(".tmp");
        loop {
            let name = format!("{key}.{}", unique());
            let lock_path = tmp.join(format!("{name}.lock"));
            let Some(lock) = lock_new(&lock_path)? else {
                continue;
            };
            return Ok(TempPack {
                path: tmp.join(name),
                lock_path,
                _lock: lock,
            });
        }
    }
}

impl Drop for TempPack {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        let _ = fs::remove_file(&self.lock_path);
    }
}

impl Store for ParquetStore {
    fn check(&self, key: &Key) -> Health {
        self.health(key, Depth::Stat)
            .unwrap_or_else(|e| Health::Damaged(e.to_string()))
    }

    /// The quick check of many entries: reads the index once, checks each entry through its
    /// record or its metadata, and rewrites the index when it learned something (best
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
        let tmp = TempPack::create(&self.root, key)?;
        packed::write(&tmp.path, key, output)?;
        self.publish(key, &tmp.path)
    }

    fn entry_info(&self, key: &Key) -> Option<EntryInfo> {
        let (meta, bytes) = self.entry_meta(key)?;
        Some(EntryInfo {
            bytes,
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
                keys.extend(key_of(&prefix_name, &name));
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn remove(&self, key: &Key) -> Result<(), StoreError> {
        self.discard(&self.pack_path(key), &key.hex())?;
        self.discard(&self.entry_dir(key), &key.hex())
    }

    fn lock_key(&self, key: &Key) -> Result<Box<dyn KeyLock>, StoreError> {
        let guard = lock(&self.root.join("_locks").join(key.hex()), Mode::Exclusive)?;
        Ok(Box::new(guard))
    }

    /// From the metadata: the tables' names, row counts and content hashes, and the summary.
    fn digest(&self, key: &Key) -> Option<Key> {
        self.entry_meta(key).map(|(meta, _)| meta.digest())
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
