//! Old-layout entries, `objects/<2 hex>/<64 hex>/` with one Parquet file per table and
//! `_entry.json`: what census wrote before packs. Still found, checked, read and verified as
//! they always were, so no cache loses an entry; nothing writes them but a test helper.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use super::{damage, decode_checked, Damage, Depth, Inspected};
use crate::key::Key;
use crate::store::index::{Layout, Record, Stamp};
use crate::store::meta::{EntryMeta, TableMeta, ENTRY_FILE};
use crate::table::{Output, Table};

/// An entry's `_entry.json`, checked to describe this key's entry, and its size and mtime.
pub(super) fn read_meta(key: &Key, dir: &Path) -> Result<(EntryMeta, Option<Stamp>), Damage> {
    let path = dir.join(ENTRY_FILE);
    let mut file = File::open(&path).map_err(|e| damage(&path, "open", e))?;
    let written = file.metadata().ok().as_ref().and_then(Stamp::of);
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| damage(&path, "read", e))?;
    let meta: EntryMeta = serde_json::from_slice(&text)
        .map_err(|e| Damage::Corrupt(format!("{ENTRY_FILE} is not valid: {e}")))?;
    meta.check_folder(key).map_err(Damage::Corrupt)?;
    Ok((meta, written))
}

/// The file of a table (its name checked by `read_meta`).
fn file_of(dir: &Path, t: &TableMeta) -> std::path::PathBuf {
    dir.join(t.file.as_deref().unwrap_or_default())
}

/// Checks an entry's table files against its `_entry.json` without decoding them: sizes, and
/// hashes of files modified after `_entry.json` (every file's at `Depth::Hash`). A whole entry
/// none of whose table files was modified after `_entry.json` gives its index record.
pub(super) fn inspect(key: &Key, dir: &Path, depth: Depth) -> Result<Inspected, Damage> {
    let (meta, written) = read_meta(key, dir)?;
    let mut untouched = written.is_some();
    for t in &meta.tables {
        let path = file_of(dir, t);
        let stat = fs::metadata(&path).map_err(|e| damage(&path, "stat", e))?;
        t.check_size(stat.len()).map_err(Damage::Corrupt)?;
        let touched = match (Stamp::of(&stat), written) {
            (Some(modified), Some(written)) => modified.modified > written.modified,
            _ => true,
        };
        untouched &= !touched;
        if depth == Depth::Hash || touched {
            let mut file = File::open(&path).map_err(|e| damage(&path, "open", e))?;
            let mut hasher = blake3::Hasher::new();
            io::copy(&mut file, &mut hasher).map_err(|e| damage(&path, "read", e))?;
            t.check_hash(&hasher.finalize()).map_err(Damage::Corrupt)?;
        }
    }
    let record = written.filter(|_| untouched).map(|meta_stamp| Record {
        layout: Layout::Folder,
        meta: meta_stamp,
        tables: meta
            .tables
            .iter()
            .map(|t| (t.file.clone().unwrap_or_default(), t.bytes))
            .collect(),
        summary: meta.summary.clone(),
    });
    Ok(Inspected {
        record,
        summary: meta.summary,
    })
}

/// The entry's tables that `wanted` accepts, read and verified.
pub(super) fn read(key: &Key, dir: &Path, wanted: &dyn Fn(&str) -> bool) -> Result<Output, Damage> {
    let (meta, _) = read_meta(key, dir)?;
    let mut output = Output::new().with_summary(meta.summary);
    for t in meta.tables.iter().filter(|t| wanted(&t.name)) {
        output.tables.insert(t.name.clone(), read_table(dir, t)?);
    }
    Ok(output)
}

fn read_table(dir: &Path, t: &TableMeta) -> Result<Table, Damage> {
    let path = file_of(dir, t);
    let data = fs::read(&path).map_err(|e| damage(&path, "read", e))?;
    decode_checked(t, data)
}

/// The bytes of the entry's files: its tables' and `_entry.json`'s.
pub(super) fn size(meta: &EntryMeta, dir: &Path) -> Option<u64> {
    let own = fs::metadata(dir.join(ENTRY_FILE)).ok()?.len();
    Some(own.saturating_add(meta.table_bytes()))
}

/// Writes `output` as an old-layout entry into the new folder `dir`, as census did before
/// packs, so tests can show such entries keep working.
#[cfg(test)]
pub(super) fn write(key: &Key, output: &Output, dir: &Path) {
    use crate::store::meta::FOLDER_FORMAT;
    fs::create_dir_all(dir).unwrap();
    let mut tables = Vec::new();
    for (name, table) in &output.tables {
        let file = format!("{name}.parquet");
        let mut bytes = Vec::new();
        crate::store::codec::encode(table, &mut bytes).unwrap();
        fs::write(dir.join(&file), &bytes).unwrap();
        tables.push(TableMeta {
            name: name.clone(),
            file: Some(file),
            offset: None,
            bytes: bytes.len() as u64,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
            rows: table.num_rows() as u64,
        });
    }
    let meta = EntryMeta {
        format: FOLDER_FORMAT,
        key: key.hex(),
        written: None,
        tables,
        summary: output.summary.clone(),
    };
    fs::write(
        dir.join(ENTRY_FILE),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
}
