//! Slot records: which entry a task slot (study, kind, label: a task independent of its
//! parameters) holds, so `plan` can say what changed when a task must run again.
//!
//! Two things are kept, because they change at different times:
//! - the record of each key that *ran* in a slot (`SlotHistory`: the latest and up to
//!   `EARLIER` before it), written when a task runs;
//! - the key each slot last *used* (`Used`), written by `apply` for every task of its plan that
//!   ends present, cached ones included.
//!
//! `current` answers with the record of the key last used when the history still holds it, so
//! after an edit is reverted (its cached entry used again) and then another edit made, `plan`
//! compares the new parameters with the reverted ones, not with those of the last run.
//!
//! `Used` is stored as a snapshot (in `ParquetStore`, `_used.bin`): a header (`MAGIC`,
//! `USED_FORMAT`), per slot the first 16 bytes of blake3(slot) and the 32-byte key, sorted,
//! then the blake3 hash of everything before. A snapshot that is short, of another format or
//! fails its hash is read as empty: no use known, so records answer with the last run, as
//! before the snapshot existed. Concurrent applies each rewrite it whole; a use lost that way
//! only makes one reason less precise.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::SlotRecord;
use crate::key::Key;

/// How many records of earlier keys a slot keeps besides the latest.
const EARLIER: usize = 7;
const MAGIC: &[u8; 8] = b"censusus";
const USED_FORMAT: u32 = 1;

/// The records of the keys that ran in one slot, latest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlotHistory {
    pub record: SlotRecord,
    /// Records of other keys that ran in the slot before, most recent first (absent in files
    /// written by an older census).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<SlotRecord>,
}

impl SlotHistory {
    /// The history after `record`'s key ran: it is the latest; the one before moves to
    /// `earlier`, and an older record of the same key is dropped.
    pub fn ran(previous: Option<SlotHistory>, record: &SlotRecord) -> SlotHistory {
        let mut earlier = Vec::new();
        if let Some(previous) = previous {
            earlier.push(previous.record);
            earlier.extend(previous.earlier);
        }
        earlier.retain(|r| r.key != record.key);
        earlier.truncate(EARLIER);
        SlotHistory {
            record: record.clone(),
            earlier,
        }
    }

    /// The record of `used` (the key the slot last used) if the history holds it, else the
    /// latest.
    pub fn current(self, used: Option<&Key>) -> SlotRecord {
        let Some(hex) = used.map(Key::hex).filter(|hex| *hex != self.record.key) else {
            return self.record;
        };
        self.earlier
            .into_iter()
            .find(|r| r.key == hex)
            .unwrap_or(self.record)
    }
}

/// A slot's name in `Used`: the first 16 bytes of blake3 of the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId([u8; 16]);

impl SlotId {
    pub fn of(slot: &str) -> SlotId {
        let hash = blake3::hash(slot.as_bytes());
        SlotId(hash.as_bytes()[..16].try_into().expect("16 bytes"))
    }
}

/// The key each slot last used, by slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Used(HashMap<SlotId, Key>);

impl Used {
    pub fn get(&self, slot: &str) -> Option<&Key> {
        self.0.get(&SlotId::of(slot))
    }

    /// Records each `(slot, key)`; whether anything changed.
    pub fn record(&mut self, used: &[(SlotId, Key)]) -> bool {
        let mut changed = false;
        for (slot, key) in used {
            changed |= self.0.insert(*slot, *key) != Some(*key);
        }
        changed
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut slots: Vec<(&SlotId, &Key)> = self.0.iter().collect();
        slots.sort();
        let mut out = Vec::with_capacity(52 + slots.len() * 48);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&USED_FORMAT.to_le_bytes());
        out.extend_from_slice(&(slots.len() as u64).to_le_bytes());
        for (slot, key) in slots {
            out.extend_from_slice(&slot.0);
            out.extend_from_slice(key.bytes());
        }
        let hash = blake3::hash(&out);
        out.extend_from_slice(hash.as_bytes());
        out
    }

    /// `None` for anything but a whole snapshot of this format.
    pub fn decode(bytes: &[u8]) -> Option<Used> {
        let body = bytes.get(..bytes.len().checked_sub(32)?)?;
        if blake3::hash(body).as_bytes() != &bytes[body.len()..] {
            return None;
        }
        let rest = body.strip_prefix(MAGIC)?;
        let (format, rest) = rest.split_at_checked(4)?;
        if u32::from_le_bytes(format.try_into().ok()?) != USED_FORMAT {
            return None;
        }
        let (count, rest) = rest.split_at_checked(8)?;
        let count = usize::try_from(u64::from_le_bytes(count.try_into().ok()?)).ok()?;
        if rest.len() != count.checked_mul(48)? {
            return None;
        }
        let slots = rest.chunks_exact(48).map(|pair| {
            let (slot, key) = pair.split_at(16);
            let key: [u8; 32] = key.try_into().expect("32 bytes");
            (SlotId(slot.try_into().expect("16 bytes")), Key::from_bytes(key))
        });
        Some(Used(slots.collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &Key, n: u32) -> SlotRecord {
        SlotRecord {
            key: key.hex(),
            version: n,
            params_hash: format!("p{n}"),
            deps: vec![],
            params: Some(serde_json::json!({ "n": n })),
        }
    }

    fn key(n: u8) -> Key {
        Key::from_bytes([n; 32])
    }

    #[test]
    fn history_answers_with_the_key_last_used() {
        let (a, b, c) = (key(1), key(2), key(3));
        let first = SlotHistory::ran(None, &record(&a, 1));
        let history = SlotHistory::ran(Some(first), &record(&b, 2));
        assert_eq!(history.clone().current(None), record(&b, 2));
        assert_eq!(history.clone().current(Some(&b)), record(&b, 2));
        assert_eq!(history.clone().current(Some(&a)), record(&a, 1));
        // A key the history no longer holds: the latest run.
        assert_eq!(history.current(Some(&c)), record(&b, 2));
    }

    #[test]
    fn history_keeps_each_key_once_and_a_bounded_past() {
        let mut history = None;
        for n in 0..20u8 {
            history = Some(SlotHistory::ran(history, &record(&key(n % 10), u32::from(n))));
        }
        let history = history.unwrap();
        assert_eq!(history.record.key, key(9).hex());
        assert_eq!(history.earlier.len(), EARLIER);
        let keys: Vec<&str> = history.earlier.iter().map(|r| r.key.as_str()).collect();
        let expected: Vec<String> = (2..9u8).rev().map(|n| key(n).hex()).collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn older_slot_files_read_as_a_history_of_one() {
        let text = serde_json::json!({ "record": record(&key(1), 1) }).to_string();
        let history: SlotHistory = serde_json::from_str(&text).unwrap();
        assert_eq!(history.earlier, vec![]);
        assert_eq!(history.current(Some(&key(2))), record(&key(1), 1));
    }

    #[test]
    fn used_round_trips_and_rejects_every_damage() {
        let mut used = Used::default();
        let slots: Vec<(SlotId, Key)> = (0..5u8)
            .map(|n| (SlotId::of(&format!("s/k/{n}")), key(n)))
            .collect();
        assert!(used.record(&slots));
        assert!(!used.record(&slots[..2]));
        assert!(used.record(&[(SlotId::of("s/k/0"), key(9))]));
        assert_eq!(used.get("s/k/0"), Some(&key(9)));
        assert_eq!(used.get("s/k/4"), Some(&key(4)));
        assert_eq!(used.get("s/k/5"), None);
        let bytes = used.encode();
        assert_eq!(Used::decode(&bytes), Some(used.clone()));
        for cut in 0..bytes.len() {
            assert_eq!(Used::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        for at in [0, 9, 13, 21, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert_eq!(Used::decode(&bad), None, "flip at {at}");
        }
    }
}
