//! Where finished task outputs live, addressed by task key.
//!
//! `Store` is the only door to persistence; the executor and the commands see nothing else.
//! Two implementations: `ParquetStore`, the on-disk cache (one pack file per entry holding each
//! table's Parquet bytes and their blake3 hashes, written to a temporary file, synced and renamed
//! into place, hashes checked on read; folders of an older census still read), and
//! `MemoryStore` for tests.
//!
//! Guarantees every implementation keeps:
//! - `put` is atomic: after a crash an entry is either whole or absent.
//! - `check` is cheap enough to run on every task of every `plan`, `status` and `apply`, and
//!   reports an entry it can tell is damaged as `Health::Damaged`, never as present.
//! - `verify` looks at every byte of an entry (the on-demand full check).
//! - `get` never serves damaged data: a corrupt entry is removed and reported as
//!   `Lookup::Corrupt`, so the caller recomputes it.
//! - Per-key locks let several processes share one store without running a task twice at once.
//! - An action record (`set_action`) maps a task's action key to the entry it produced, so a
//!   task whose inputs' outputs are unchanged reuses that entry (early cutoff); a record whose
//!   entry is gone is simply a miss.

mod codec;
mod durable;
mod index;
mod memory;
mod meta;
mod pack;
mod parquet;
mod slots;

pub use codec::{read_table_file, write_table_file};
pub use durable::{sync_dir, unique, LockGuard};
pub use memory::MemoryStore;
pub use parquet::ParquetStore;
pub use slots::SlotId;

use crate::key::Key;
use crate::table::{Output, Summary};

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Present(Output),
    Missing,
    /// The entry was there but damaged; it has been removed. The string says what was wrong.
    Corrupt(String),
}

/// What a check of an entry found, without decoding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Present,
    Absent,
    /// There is an entry, but it is damaged; the string says how. Nothing has been removed.
    Damaged(String),
}

/// What `gc` tells a user about an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryInfo {
    /// Bytes of its files (its pack, or an old-layout folder's files).
    pub bytes: u64,
    pub tables: Vec<String>,
}

/// A record kept beside the entries: which key last filled a task slot, so `plan` can say why a
/// task reruns. Slots name a task independently of its parameters (study, kind, label).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotRecord {
    pub key: String,
    pub version: u32,
    pub params_hash: String,
    pub deps: Vec<String>,
    /// The parameters it ran with, so `plan` can say which one changed (absent in records
    /// written by an older census).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {op} {path}: {source}")]
    Io {
        path: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a census cache (no `objects/` folder in it); check --cache")]
    NotACache { path: String },
    #[error("cache entry {key}: cannot encode table `{table}`: {message}")]
    Encode {
        key: String,
        table: String,
        message: String,
    },
    #[error("cannot write Parquet file {path}: {message}")]
    WriteFile { path: String, message: String },
    #[error("cannot read Parquet file {path}: {message}")]
    ReadFile { path: String, message: String },
}

/// Held while a task runs; dropping it releases the lock.
pub trait KeyLock: Send {}

pub trait Store: Send + Sync {
    /// The cheap check run by `plan`, `status` and every `apply` (see the implementation for
    /// what it looks at). Removes nothing.
    fn check(&self, key: &Key) -> Health;
    /// `check` of every key, in order (an implementation may share work between them).
    fn check_all(&self, keys: &[Key]) -> Vec<Health> {
        use rayon::prelude::*;
        keys.par_iter().map(|k| self.check(k)).collect()
    }
    /// `check_all`, with the summary (`Output::summary`) each present entry was written with;
    /// an empty summary where the entry has none or the store does not keep them apart.
    fn survey(&self, keys: &[Key]) -> Vec<(Health, Summary)> {
        let health = self.check_all(keys);
        health.into_iter().map(|h| (h, Summary::new())).collect()
    }
    /// The full check: every file of the entry read and hashed. Removes nothing.
    fn verify(&self, key: &Key) -> Result<Health, StoreError>;
    /// Whether `check` finds the entry present.
    fn contains(&self, key: &Key) -> bool {
        self.check(key) == Health::Present
    }
    /// Reads and verifies an entry.
    fn get(&self, key: &Key) -> Result<Lookup, StoreError>;
    /// `get` of only the named tables the entry has (the others are neither read nor checked).
    fn get_tables(&self, key: &Key, names: &[&str]) -> Result<Lookup, StoreError> {
        Ok(match self.get(key)? {
            Lookup::Present(mut output) => {
                output
                    .tables
                    .retain(|name, _| names.contains(&name.as_str()));
                Lookup::Present(output)
            }
            other => other,
        })
    }
    /// Writes an entry atomically. Writing a key that exists is a no-op.
    fn put(&self, key: &Key, output: &Output) -> Result<(), StoreError>;
    /// A digest of a present entry's content (equal content, equal digest; `None` when there
    /// is no readable entry). Cheap: from the entry's metadata where the store keeps hashes.
    fn digest(&self, key: &Key) -> Option<Key>;
    /// The key of the entry an earlier task with this action key (`Key::action`) produced.
    fn action(&self, action: &Key) -> Option<Key>;
    /// Records that the task with this action key produced the entry of `key`.
    fn set_action(&self, action: &Key, key: &Key) -> Result<(), StoreError>;
    /// Removes every action record whose entry `keep` rejects (`gc`); how many it removed.
    fn retain_actions(&self, keep: &dyn Fn(&Key) -> bool) -> Result<usize, StoreError>;
    /// Under the key's lock, checks every byte of the entry and removes it if damaged; returns
    /// what the check found.
    fn remove_if_damaged(&self, key: &Key) -> Result<Health, StoreError> {
        let _lock = self.lock_key(key)?;
        let health = self.verify(key)?;
        if let Health::Damaged(_) = &health {
            self.remove(key)?;
        }
        Ok(health)
    }
    /// An entry's size on disk and table names, from its metadata (no table read); `None` when
    /// there is no readable entry, or the store does not keep files.
    fn entry_info(&self, _key: &Key) -> Option<EntryInfo> {
        None
    }
    /// Every key with an entry, damaged ones included.
    fn keys(&self) -> Result<Vec<Key>, StoreError>;
    fn remove(&self, key: &Key) -> Result<(), StoreError>;
    /// Blocks until this process holds the exclusive lock for `key`.
    fn lock_key(&self, key: &Key) -> Result<Box<dyn KeyLock>, StoreError>;
    /// The record of the key the slot last used (`record_use`) when the store still has it,
    /// else of the key that last ran in it.
    fn slot(&self, slot: &str) -> Option<SlotRecord>;
    /// Records that `record`'s key ran in the slot.
    fn set_slot(&self, slot: &str, record: &SlotRecord) -> Result<(), StoreError>;
    /// Records, for each slot, the key a run used there (cached, restored or run), which
    /// `slot` then answers with.
    fn record_use(&self, used: &[(SlotId, Key)]) -> Result<(), StoreError>;
    /// Records a task failure (kept so `status` can show it); cleared by a later success.
    fn set_failure(&self, key: &Key, message: Option<&str>) -> Result<(), StoreError>;
    fn failure(&self, key: &Key) -> Option<String>;
}
