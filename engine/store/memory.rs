//! `MemoryStore`: the `Store` contract in memory, for tests of the executor and the commands.
//!
//! Entries, slots and failures live in one `Mutex`; `lock_key` waits on a condition variable
//! while another guard holds the key. `corrupt` makes the next `get` of a key report
//! `Lookup::Corrupt` (and drop the entry), and `verify` report it damaged, as a flipped byte on
//! disk would; the cheap `check` does not see it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::slots::{SlotHistory, SlotId, Used};
use super::{Health, KeyLock, Lookup, SlotRecord, Store, StoreError};
use crate::key::Key;
use crate::table::{Column, Output, Summary};

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Output>,
    corrupt: HashSet<Key>,
    slots: HashMap<String, SlotHistory>,
    used: Used,
    failures: HashMap<Key, String>,
    actions: HashMap<Key, Key>,
}

#[derive(Default)]
struct Locks {
    held: Mutex<HashSet<Key>>,
    released: Condvar,
}

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    locks: Arc<Locks>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Marks the entry of `key` as damaged: the next `get` removes it and reports it corrupt.
    pub fn corrupt(&self, key: &Key) {
        let mut inner = self.inner();
        if inner.entries.contains_key(key) {
            inner.corrupt.insert(*key);
        }
    }

    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A panic in another test thread must not hide the store's state.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A digest of every value of an output, its summary included.
fn digest_of(output: &Output) -> Key {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for (name, table) in &output.tables {
        field(name.as_bytes());
        for (column, values) in table.columns() {
            field(column.as_bytes());
            field(values.type_name().as_bytes());
            let mut bytes = Vec::new();
            match values {
                Column::Bool(v) => bytes.extend(v.iter().map(|&b| u8::from(b))),
                Column::I64(v) => v.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
                Column::F32(v) => v.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
                Column::F64(v) => v.iter().for_each(|x| bytes.extend(x.to_le_bytes())),
                Column::OptF64(v) => v.iter().for_each(|x| match x {
                    Some(x) => bytes.extend([1].into_iter().chain(x.to_le_bytes())),
                    None => bytes.push(0),
                }),
                Column::Str(v) => v.iter().for_each(|x| {
                    bytes.extend((x.len() as u64).to_le_bytes());
                    bytes.extend(x.as_bytes());
                }),
                Column::ListF32(v) => v.iter().for_each(|x| {
                    bytes.extend((x.len() as u64).to_le_bytes());
                    x.iter().for_each(|y| bytes.extend(y.to_le_bytes()));
                }),
            }
            field(&bytes);
        }
    }
    for (k, v) in &output.summary {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    Key::from_bytes(*h.finalize().as_bytes())
}

struct MemoryLock {
    locks: Arc<Locks>,
    key: Key,
}

impl KeyLock for MemoryLock {}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(&self.key);
        self.locks.released.notify_all();
    }
}

impl Store for MemoryStore {
    fn check(&self, key: &Key) -> Health {
        if self.inner().entries.contains_key(key) {
            Health::Present
        } else {
            Health::Absent
        }
    }

    fn survey(&self, keys: &[Key]) -> Vec<(Health, Summary)> {
        let inner = self.inner();
        keys.iter()
            .map(|k| match inner.entries.get(k) {
                Some(output) => (Health::Present, output.summary.clone()),
                None => (Health::Absent, Summary::new()),
            })
            .collect()
    }

    fn verify(&self, key: &Key) -> Result<Health, StoreError> {
        if self.inner().corrupt.contains(key) {
            return Ok(Health::Damaged("marked corrupt by the test".to_string()));
        }
        Ok(self.check(key))
    }

    fn get(&self, key: &Key) -> Result<Lookup, StoreError> {
        let mut inner = self.inner();
        if inner.corrupt.remove(key) {
            inner.entries.remove(key);
            return Ok(Lookup::Corrupt("marked corrupt by the test".to_string()));
        }
        Ok(match inner.entries.get(key) {
            Some(output) => Lookup::Present(output.clone()),
            None => Lookup::Missing,
        })
    }

    fn put(&self, key: &Key, output: &Output) -> Result<(), StoreError> {
        self.inner()
            .entries
            .entry(*key)
            .or_insert_with(|| output.clone());
        Ok(())
    }

    fn digest(&self, key: &Key) -> Option<Key> {
        self.inner().entries.get(key).map(digest_of)
    }

    fn action(&self, action: &Key) -> Option<Key> {
        self.inner().actions.get(action).copied()
    }

    fn set_action(&self, action: &Key, key: &Key) -> Result<(), StoreError> {
        self.inner().actions.insert(*action, *key);
        Ok(())
    }

    fn retain_actions(&self, keep: &dyn Fn(&Key) -> bool) -> Result<usize, StoreError> {
        let actions = &mut self.inner().actions;
        let before = actions.len();
        actions.retain(|_, key| keep(key));
        Ok(before - actions.len())
    }

    fn keys(&self) -> Result<Vec<Key>, StoreError> {
        let mut keys: Vec<Key> = self.inner().entries.keys().copied().collect();
        keys.sort();
        Ok(keys)
    }

    fn remove(&self, key: &Key) -> Result<(), StoreError> {
        let mut inner = self.inner();
        inner.entries.remove(key);
        inner.corrupt.remove(key);
        Ok(())
    }

    fn lock_key(&self, key: &Key) -> Result<Box<dyn KeyLock>, StoreError> {
        let mut held = self.locks.held.lock().unwrap_or_else(|e| e.into_inner());
        while held.contains(key) {
            held = self
                .locks
                .released
                .wait(held)
                .unwrap_or_else(|e| e.into_inner());
        }
        held.insert(*key);
        Ok(Box::new(MemoryLock {
            locks: Arc::clone(&self.locks),
            key: *key,
        }))
    }

    fn slot(&self, slot: &str) -> Option<SlotRecord> {
        let inner = self.inner();
        let history = inner.slots.get(slot)?.clone();
        Some(history.current(inner.used.get(slot)))
    }

    fn set_slot(&self, slot: &str, record: &SlotRecord) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let previous = inner.slots.remove(slot);
        inner
            .slots
            .insert(slot.to_string(), SlotHistory::ran(previous, record));
        Ok(())
    }

    fn record_use(&self, used: &[(SlotId, Key)]) -> Result<(), StoreError> {
        self.inner().used.record(used);
        Ok(())
    }

    fn set_failure(&self, key: &Key, message: Option<&str>) -> Result<(), StoreError> {
        let mut inner = self.inner();
        match message {
            Some(m) => inner.failures.insert(*key, m.to_string()),
            None => inner.failures.remove(key),
        };
        Ok(())
    }

    fn failure(&self, key: &Key) -> Option<String> {
        self.inner().failures.get(key).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Column, Table};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn key(n: u64) -> Key {
        Key::compute("test", 1, &serde_json::json!({ "n": n }), &[])
    }

    #[test]
    fn put_get_corrupt_remove() {
        let s = MemoryStore::new();
        let out = Output::new().with("t", Table::new().with("x", Column::I64(vec![7])));
        s.put(&key(1), &out).unwrap();
        s.put(&key(1), &Output::new()).unwrap();
        assert!(matches!(s.get(&key(1)).unwrap(), Lookup::Present(o) if o == out));
        assert!(matches!(s.get(&key(2)).unwrap(), Lookup::Missing));
        s.corrupt(&key(1));
        assert!(matches!(s.get(&key(1)).unwrap(), Lookup::Corrupt(_)));
        assert!(!s.contains(&key(1)));
        assert!(s.is_empty());
    }

    #[test]
    fn lock_key_blocks_until_guard_drops() {
        let s = Arc::new(MemoryStore::new());
        let first = s.lock_key(&key(1)).unwrap();
        let _other = s.lock_key(&key(2)).unwrap();
        let (tx, rx) = mpsc::channel();
        let s2 = Arc::clone(&s);
        let t = std::thread::spawn(move || {
            let _g = s2.lock_key(&key(1)).unwrap();
            tx.send(Instant::now()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        let released = Instant::now();
        drop(first);
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap() >= released);
        t.join().unwrap();
    }
}
