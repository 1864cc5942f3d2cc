//! What a cache entry records about itself, in either layout, and what its files are called.
//!
//! An entry is one pack `objects/<2 hex>/<64 hex>.pack` (written by this census; `pack`), or an
//! old-layout folder `objects/<2 hex>/<64 hex>/` with one Parquet file per table and
//! `_entry.json` (written by census before packs; still read). Both record the same
//! `EntryMeta`: the key, per table its name, byte size, blake3 hash of its Parquet bytes and row
//! count, and the output's summary. A folder's tables name their `file`; a pack's their
//! `offset` in the pack, and the pack records the modification time its writer gave it.

use serde::{Deserialize, Serialize};

use super::pack::HEADER_LEN;
use crate::key::Key;
use crate::table::Summary;

/// `EntryMeta::format` of an old-layout folder's `_entry.json`.
pub(super) const FOLDER_FORMAT: u32 = 1;
/// `EntryMeta::format` of a pack (and the pack's own format number).
pub(super) const PACK_FORMAT: u32 = 2;
/// The metadata file of an old-layout folder.
pub(super) const ENTRY_FILE: &str = "_entry.json";
/// Appended to `<2 hex>/<64 hex>` to name a pack.
pub(super) const PACK_SUFFIX: &str = ".pack";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct EntryMeta {
    pub format: u32,
    pub key: String,
    /// A pack's modification time as its writer set it, in whole seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<i64>,
    pub tables: Vec<TableMeta>,
    #[serde(default, skip_serializing_if = "Summary::is_empty")]
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct TableMeta {
    pub name: String,
    /// Folder layout: the table's file, `<name>.parquet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Pack layout: where the table's Parquet bytes start in the pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub bytes: u64,
    pub blake3: String,
    pub rows: u64,
}

/// An entry's place under `objects/`: `<2 hex>/<64 hex>` (a folder, or with `PACK_SUFFIX` a
/// pack).
pub(super) fn entry_name(key: &Key) -> String {
    let hex = key.hex();
    format!("{}/{hex}", &hex[..2])
}

/// The key of a name in the `objects/<prefix>` folder: a folder `<64 hex>` or a pack
/// `<64 hex>.pack` whose hex starts with `prefix`.
pub(super) fn key_of(prefix: &str, name: &str) -> Option<Key> {
    let hex = name.strip_suffix(PACK_SUFFIX).unwrap_or(name);
    Key::from_hex(hex).filter(|_| hex.starts_with(prefix))
}

/// Table names become file names: plain ASCII, not hidden, not a marker.
pub(super) fn check_table_name(name: &str) -> Result<(), String> {
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

impl EntryMeta {
    /// A digest of the content: table names, content hashes and row counts, and the summary.
    /// Equal in both layouts for equal content (they hold the same Parquet bytes).
    pub fn digest(&self) -> Key {
        let mut h = blake3::Hasher::new();
        for t in &self.tables {
            for field in [
                t.name.as_bytes(),
                t.blake3.as_bytes(),
                &t.rows.to_le_bytes(),
            ] {
                h.update(&(field.len() as u64).to_le_bytes());
                h.update(field);
            }
        }
        h.update(&serde_json::to_vec(&self.summary).expect("a summary serialises"));
        Key::from_bytes(*h.finalize().as_bytes())
    }

    /// Bytes of the tables' Parquet data.
    pub fn table_bytes(&self) -> u64 {
        self.tables
            .iter()
            .fold(0, |sum, t| sum.saturating_add(t.bytes))
    }

    /// That this is an old-layout `_entry.json` of `key` naming valid table files.
    pub fn check_folder(&self, key: &Key) -> Result<(), String> {
        self.check_key(key, FOLDER_FORMAT, ENTRY_FILE)?;
        let wrong = |t: &&TableMeta| {
            check_table_name(&t.name).is_err()
                || t.file.as_deref() != Some(&format!("{}.parquet", t.name))
        };
        match self.tables.iter().find(wrong) {
            Some(t) => Err(format!(
                "{ENTRY_FILE} names table `{}` in file `{}`",
                t.name,
                t.file.as_deref().unwrap_or("")
            )),
            None => Ok(()),
        }
    }

    /// That this is the metadata of a pack of `key` whose tables lie back to back from the
    /// header to `end` (where the metadata starts).
    pub fn check_pack(&self, key: &Key, end: u64) -> Result<(), String> {
        self.check_key(key, PACK_FORMAT, "the pack's metadata")?;
        if self.written.is_none() {
            return Err("the pack's metadata records no write time".to_string());
        }
        let mut at = HEADER_LEN;
        for t in &self.tables {
            check_table_name(&t.name)?;
            if t.offset != Some(at) || t.file.is_some() {
                return Err(format!(
                    "the pack's metadata places table `{}` at {:?}, expected {at}",
                    t.name, t.offset
                ));
            }
            at = at
                .checked_add(t.bytes)
                .ok_or_else(|| format!("table `{}` has {} bytes", t.name, t.bytes))?;
        }
        if at != end {
            return Err(format!(
                "the pack's tables end at byte {at}, but its metadata starts at {end}"
            ));
        }
        Ok(())
    }

    fn check_key(&self, key: &Key, format: u32, what: &str) -> Result<(), String> {
        if self.format == format && self.key == key.hex() {
            return Ok(());
        }
        Err(format!(
            "{what} is for format {} key {}, expected format {format} key {key}",
            self.format, self.key
        ))
    }
}

impl TableMeta {
    /// How damage reasons name the table: its file, or in a pack the table.
    pub fn label(&self) -> String {
        match &self.file {
            Some(file) => file.clone(),
            None => format!("table `{}`", self.name),
        }
    }

    pub fn check_size(&self, bytes: u64) -> Result<(), String> {
        if bytes == self.bytes {
            return Ok(());
        }
        Err(format!(
            "{} has {bytes} bytes, expected {}",
            self.label(),
            self.bytes
        ))
    }

    pub fn check_hash(&self, hash: &blake3::Hash) -> Result<(), String> {
        if hash.to_hex().as_str() == self.blake3 {
            return Ok(());
        }
        Err(format!("{} fails its blake3 check", self.label()))
    }

    pub fn check_rows(&self, rows: usize) -> Result<(), String> {
        if rows as u64 == self.rows {
            return Ok(());
        }
        Err(format!(
            "{} has {rows} rows, expected {}",
            self.label(),
            self.rows
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, offset: u64, bytes: u64) -> TableMeta {
        TableMeta {
            name: name.to_string(),
            file: None,
            offset: Some(offset),
            bytes,
            blake3: "00".repeat(32),
            rows: 1,
        }
    }

    fn pack_meta(key: &Key, tables: Vec<TableMeta>) -> EntryMeta {
        EntryMeta {
            format: PACK_FORMAT,
            key: key.hex(),
            written: Some(1),
            tables,
            summary: Summary::new(),
        }
    }

    #[test]
    fn a_pack_s_tables_must_lie_back_to_back_up_to_the_metadata() {
        let k = Key::from_bytes([7; 32]);
        let good = pack_meta(&k, vec![table("a", 16, 10), table("b", 26, 5)]);
        assert_eq!(good.check_pack(&k, 31), Ok(()));
        assert!(
            good.check_pack(&k, 32).is_err(),
            "a gap before the metadata"
        );
        assert!(good.check_pack(&Key::from_bytes([8; 32]), 31).is_err());
        let gap = pack_meta(&k, vec![table("a", 16, 10), table("b", 27, 4)]);
        assert!(gap.check_pack(&k, 31).is_err());
        let overflow = pack_meta(&k, vec![table("a", 16, u64::MAX)]);
        assert!(overflow.check_pack(&k, 31).is_err());
        let hidden = pack_meta(&k, vec![table("_a", 16, 15)]);
        assert!(hidden.check_pack(&k, 31).is_err());
        let empty = pack_meta(&k, vec![]);
        assert_eq!(empty.check_pack(&k, HEADER_LEN), Ok(()));
    }

    #[test]
    fn keys_are_read_from_folder_and_pack_names_under_their_prefix() {
        let k = Key::from_bytes([0xab; 32]);
        let hex = k.hex();
        assert_eq!(key_of("ab", &hex), Some(k));
        assert_eq!(key_of("ab", &format!("{hex}.pack")), Some(k));
        assert_eq!(key_of("cd", &hex), None);
        assert_eq!(key_of("ab", &format!("{hex}.tmp")), None);
        assert_eq!(entry_name(&k), format!("ab/{hex}"));
    }
}
