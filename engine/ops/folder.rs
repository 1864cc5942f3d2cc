//! The `export --out` folder, replaced whole so that it holds exactly one export.
//!
//! 1. `check`: a folder that exists must be census's (it holds the marker `_census_export.json`)
//!    or empty, unless forced, so a typo cannot delete someone's files.
//! 2. `replace`: every table is written into a staging folder beside it
//!    (`.<name>.census-staging.<unique>`), with the marker, synced; then the old folder is renamed
//!    aside (`.<name>.census-old.<unique>`), the staging folder renamed into its place, the parent
//!    synced and the old folder deleted. Readers see the old export or the new one; a crash
//!    between the two renames leaves the old export aside under its hidden name, never a mix.

use crate::store::{sync_dir, unique, write_table_file, StoreError};
use crate::table::Table;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The file that says census wrote a folder.
pub const MARKER: &str = "_census_export.json";

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("--out {0}: the folder holds files census did not write (no {MARKER}); nothing was written. Give another folder, empty it, or pass --force to replace it")]
    Foreign(String),
    #[error("--out {0}: not a folder")]
    NotAFolder(String),
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FolderError + 'a {
    move |source| FolderError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Whether `out` may be replaced: absent, empty, census's, or `force`.
pub fn check(out: &Path, force: bool) -> Result<(), FolderError> {
    let mut entries = match std::fs::read_dir(out) {
        Ok(it) => it,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == ErrorKind::NotADirectory => {
            return Err(FolderError::NotAFolder(out.display().to_string()))
        }
        Err(e) => return Err(io("read", out)(e)),
    };
    if force || out.join(MARKER).is_file() || entries.next().is_none() {
        return Ok(());
    }
    Err(FolderError::Foreign(out.display().to_string()))
}

/// Replaces `out` with a folder holding `<table>.parquet` for every table and the marker.
pub fn replace(out: &Path, tables: &BTreeMap<&'static str, Table>) -> Result<(), FolderError> {
    let staging = beside(out, "census-staging")?;
    let result = fill(&staging, tables).and_then(|()| swap(out, &staging));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

/// A new hidden path next to `out`: `.<name>.<what>.<unique>`.
fn beside(out: &Path, what: &str) -> Result<PathBuf, FolderError> {
    let name = out
        .file_name()
        .ok_or_else(|| FolderError::NotAFolder(out.display().to_string()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(io("create folder", parent))?;
    Ok(parent.join(format!(".{}.{what}.{}", name.to_string_lossy(), unique())))
}

fn fill(staging: &Path, tables: &BTreeMap<&'static str, Table>) -> Result<(), FolderError> {
    std::fs::create_dir(staging).map_err(io("create folder", staging))?;
    for (name, table) in tables {
        write_table_file(&staging.join(format!("{name}.parquet")), table)?;
    }
    let names: Vec<&str> = tables.keys().copied().collect();
    let marker = serde_json::json!({ "written_by": "census export", "tables": names });
    let path = staging.join(MARKER);
    std::fs::write(&path, serde_json::to_vec_pretty(&marker).expect("marker serialises"))
        .map_err(io("write", &path))?;
    Ok(sync_dir(staging)?)
}

fn swap(out: &Path, staging: &Path) -> Result<(), FolderError> {
    let old = beside(out, "census-old")?;
    let moved = match std::fs::rename(out, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => return Err(io("move aside", out)(e)),
    };
    if let Err(e) = std::fs::rename(staging, out) {
        if moved {
            let _ = std::fs::rename(&old, out);
        }
        return Err(io("rename into place", out)(e));
    }
    sync_dir(old.parent().expect("a path beside `out` has a parent"))?;
    if moved {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;

    fn tables(names: &[&'static str]) -> BTreeMap<&'static str, Table> {
        names
            .iter()
            .map(|&n| (n, Table::new().with("x", Column::I64(vec![1, 2]))))
            .collect()
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_second_export_leaves_exactly_its_own_tables() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        replace(&out, &tables(&["a", "b"])).unwrap();
        check(&out, false).unwrap();
        replace(&out, &tables(&["b"])).unwrap();
        assert_eq!(files(&out), [MARKER, "b.parquet"]);
        assert_eq!(files(dir.path()), ["out"], "no staging or old folder left");
    }

    #[test]
    fn a_foreign_folder_is_refused_unless_forced_and_an_empty_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("thesis");
        std::fs::create_dir(&out).unwrap();
        check(&out, false).unwrap();
        std::fs::write(out.join("chapter1.tex"), b"...").unwrap();
        let err = check(&out, false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        check(&out, true).unwrap();
        std::fs::write(dir.path().join("file"), b"").unwrap();
        assert!(matches!(
            check(&dir.path().join("file"), true),
            Err(FolderError::NotAFolder(_))
        ));
    }
}
