//! Entries census wrote before packs (`objects/<2 hex>/<64 hex>/`, one file per table and
//! `_entry.json`): still read, checked, verified, indexed, listed and removed as before, and
//! superseded by a pack when damaged.

use super::damage::{an_index_sees_removal_and_no_damage, checked_with_index};
use super::*;
use crate::store::meta::ENTRY_FILE;

fn as_folder(store: &ParquetStore, key: &Key, output: &Output) {
    folder::write(key, output, &store.entry_dir(key));
}

fn bytes_under(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn an_old_layout_entry_is_read_checked_verified_indexed_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let summary: Summary = [("solved".to_string(), "true".to_string())].into();
    let out = sample().with_summary(summary.clone());
    as_folder(&store, &key(1), &out);
    store.put(&key(2), &out).unwrap();
    assert!(!store.pack_path(&key(1)).exists());
    assert_eq!(present(&store, &key(1)), out);
    assert_eq!(store.check(&key(1)), Health::Present);
    assert_eq!(store.verify(&key(1)).unwrap(), Health::Present);
    let both = [key(1), key(2)];
    let expected = vec![(Health::Present, summary.clone()); 2];
    assert_eq!(store.survey(&both), expected);
    let records = index::load(&dir.path().join(INDEX_FILE));
    assert_eq!(records[&key(1)].layout, index::Layout::Folder);
    let objects = Objects::open(&dir.path().join("objects")).unwrap();
    assert!(records[&key(1)].holds(&objects, &entry_name(&key(1))));
    assert_eq!(store.survey(&both), expected, "through the index");

    let mut keys = both.to_vec();
    keys.sort();
    assert_eq!(store.keys().unwrap(), keys);
    assert_eq!(store.digest(&key(1)), store.digest(&key(2)), "same content");
    let folder = store.entry_dir(&key(1));
    let info = store.entry_info(&key(1)).unwrap();
    assert_eq!(info.bytes, bytes_under(&folder));
    assert_eq!(info.tables, ["empty", "main", "odd"]);
    let json = fs::metadata(folder.join(ENTRY_FILE)).unwrap().len();
    assert_eq!(store.entry_size(&key(1)), Some(info.bytes - json));
    assert_eq!(store.entry_size(&key(1)), store.entry_size(&key(2)));

    store.remove(&key(1)).unwrap();
    assert!(!folder.exists());
    assert_eq!(store.check(&key(1)), Health::Absent);
    assert_eq!(store.keys().unwrap(), vec![key(2)]);
}

/// What `check` and `verify` say about an old-layout `key(1)` after `damage` to its folder.
fn checked(damage: impl FnOnce(&Path)) -> (Health, Health) {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    as_folder(&store, &key(1), &sample());
    std::thread::sleep(Duration::from_millis(20));
    damage(&store.entry_dir(&key(1)));
    let quick = store.check(&key(1));
    assert!(store.entry_dir(&key(1)).exists());
    (quick, store.verify(&key(1)).unwrap())
}

fn truncate(path: &Path) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(10).unwrap();
}

fn garbage(path: &Path) {
    fs::write(path, vec![7u8; fs::metadata(path).unwrap().len() as usize]).unwrap();
}

#[test]
fn the_quick_check_of_an_old_layout_entry_sees_sizes_missing_files_and_later_writes() {
    let damaged = |r: &str| Health::Damaged(r.to_string());
    let truncated = checked(|d| truncate(&d.join("main.parquet")));
    assert!(
        matches!(&truncated.0, Health::Damaged(r) if r.starts_with("main.parquet has 10 bytes")),
        "{truncated:?}"
    );
    let missing = checked(|d| fs::remove_file(d.join("odd.parquet")).unwrap());
    assert_eq!(missing.0, damaged("odd.parquet is missing"));
    let overwritten = checked(|d| garbage(&d.join("odd.parquet")));
    assert_eq!(overwritten.0, damaged("odd.parquet fails its blake3 check"));
    let no_meta = checked(|d| fs::remove_file(d.join(ENTRY_FILE)).unwrap());
    assert_eq!(no_meta.0, damaged("_entry.json is missing"));
    assert_eq!(checked(|_| {}), (Health::Present, Health::Present));
    let (quick, full) = checked(|d| {
        let p = d.join("main.parquet");
        let mtime = fs::metadata(&p).unwrap().modified().unwrap();
        let mut bytes = fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&p, bytes).unwrap();
        let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(mtime).unwrap();
    });
    assert_eq!(
        quick,
        Health::Present,
        "only verify sees a flip that kept the mtime"
    );
    assert_eq!(full, damaged("main.parquet fails its blake3 check"));
}

#[test]
fn get_removes_a_damaged_old_layout_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    as_folder(&store, &key(1), &sample());
    fs::write(
        store.entry_dir(&key(1)).join(ENTRY_FILE),
        b"{\"format\": 1, \"ke",
    )
    .unwrap();
    match store.get(&key(1)).unwrap() {
        Lookup::Corrupt(r) => assert!(r.starts_with("_entry.json is not valid"), "{r}"),
        other => panic!("{other:?}"),
    }
    assert!(!store.entry_dir(&key(1)).exists());
    assert!(matches!(store.get(&key(1)).unwrap(), Lookup::Missing));
}

#[test]
fn an_index_never_hides_damage_to_an_old_layout_entry() {
    let damaged = |h: &Health, start: &str| matches!(h, Health::Damaged(r) if r.starts_with(start));
    let in_folder = |f: fn(&Path)| move |store: &ParquetStore| f(&store.entry_dir(&key(1)));
    let check = |f: fn(&Path)| checked_with_index(as_folder, in_folder(f));
    let truncated = check(|d| truncate(&d.join("main.parquet")));
    assert!(
        damaged(&truncated, "main.parquet has 10 bytes"),
        "{truncated:?}"
    );
    let missing = check(|d| fs::remove_file(d.join("odd.parquet")).unwrap());
    assert!(damaged(&missing, "odd.parquet is missing"), "{missing:?}");
    let overwritten = check(|d| garbage(&d.join("odd.parquet")));
    assert!(
        damaged(&overwritten, "odd.parquet fails"),
        "{overwritten:?}"
    );
    let bad_meta = check(|d| {
        let p = d.join(ENTRY_FILE);
        fs::write(&p, vec![b' '; fs::metadata(&p).unwrap().len() as usize]).unwrap();
    });
    assert!(
        damaged(&bad_meta, "_entry.json is not valid"),
        "{bad_meta:?}"
    );
    an_index_sees_removal_and_no_damage(as_folder);
}

#[test]
fn a_pack_supersedes_a_damaged_old_layout_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    as_folder(&store, &key(1), &sample());
    fs::remove_file(store.entry_dir(&key(1)).join("main.parquet")).unwrap();
    assert!(matches!(store.check(&key(1)), Health::Damaged(_)));
    store.put(&key(1), &sample()).unwrap();
    assert!(
        !store.entry_dir(&key(1)).exists(),
        "the damaged folder is gone"
    );
    assert_eq!(store.check(&key(1)), Health::Present);
    assert_eq!(present(&store, &key(1)), sample());
    assert_eq!(store.keys().unwrap(), vec![key(1)]);
    assert!(dir_names(&dir.path().join(".trash")).is_empty());
}
