//! Damaged packs: what `get`, the quick check, `verify` and the quick-check index each see.

use std::os::unix::fs::FileExt;

use super::*;
use crate::store::index::Stamp;
use crate::store::pack::FOOTER_LEN;

/// The metadata of the whole pack at `path` (named for its key).
fn meta_of(path: &Path) -> EntryMeta {
    let name = file_name(path);
    let key = Key::from_hex(name.strip_suffix(PACK_SUFFIX).unwrap()).unwrap();
    let file = fs::File::open(path).unwrap();
    match packed::read_meta(&key, &file, path) {
        Ok((meta, _)) => meta,
        Err(_) => panic!("{} is not a whole pack", path.display()),
    }
}

/// Where table `name` lies in the pack: offset and bytes.
fn range_of(path: &Path, name: &str) -> (u64, u64) {
    let meta = meta_of(path);
    let t = meta.tables.iter().find(|t| t.name == name).unwrap();
    (t.offset.unwrap(), t.bytes)
}

fn write_at(path: &Path, at: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, at).unwrap();
}

/// Overwrites table `name` of the pack with `byte`s in place: same size, a new mtime.
pub(super) fn overwrite_table(path: &Path, name: &str, byte: u8) {
    let (at, bytes) = range_of(path, name);
    write_at(path, at, &vec![byte; bytes as usize]);
}

/// Flips a bit of the middle byte of table `name`.
fn flip_table(path: &Path, name: &str) {
    let (at, bytes) = range_of(path, name);
    let mid = at + bytes / 2;
    let mut byte = [0];
    fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut byte, mid)
        .unwrap();
    write_at(path, mid, &[byte[0] ^ 0x01]);
}

/// Overwrites the pack's metadata (between its tables and its footer) with spaces.
fn blank_metadata(path: &Path) {
    let meta = meta_of(path);
    let start = meta
        .tables
        .last()
        .map_or(16, |t| t.offset.unwrap() + t.bytes);
    let end = fs::metadata(path).unwrap().len() - FOOTER_LEN;
    write_at(path, start, &vec![b' '; (end - start) as usize]);
}

fn cut(path: &Path, len: impl FnOnce(u64) -> u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    let now = f.metadata().unwrap().len();
    f.set_len(len(now)).unwrap();
}

/// Damages the pack of `key(1)` with `damage`, then checks that `get` reports it, removes it,
/// and that a fresh `put` works again. Returns the reason given.
fn corrupted(damage: impl FnOnce(&Path)) -> String {
    let (dir, store) = with_sample();
    store.put(&key(2), &sample()).unwrap();
    let pack = store.pack_path(&key(1));
    damage(&pack);
    let reason = match store.get(&key(1)).unwrap() {
        Lookup::Corrupt(reason) => reason,
        other => panic!("damage went unnoticed: {other:?}"),
    };
    assert!(!store.contains(&key(1)));
    assert!(!pack.exists());
    assert_eq!(store.keys().unwrap(), vec![key(2)]);
    assert!(matches!(store.get(&key(1)).unwrap(), Lookup::Missing));
    assert_eq!(fs::read_dir(dir.path().join(".trash")).unwrap().count(), 0);
    store.put(&key(1), &sample()).unwrap();
    assert_eq!(present(&store, &key(1)), sample());
    reason
}

#[test]
fn a_cut_or_grown_pack_is_corrupt() {
    let r = corrupted(|p| cut(p, |n| n / 2));
    assert!(r.starts_with("the pack's footer"), "{r}");
    let r = corrupted(|p| cut(p, |_| 10));
    assert_eq!(r, format!("{}.pack ends before byte 16", key(1)));
    let r = corrupted(|p| cut(p, |n| n + 1));
    assert!(r.starts_with("the pack's footer"), "{r}");
}

#[test]
fn a_zeroed_or_flipped_table_is_corrupt() {
    let r = corrupted(|p| overwrite_table(p, "odd", 0));
    assert_eq!(r, "table `odd` fails its blake3 check");
    let r = corrupted(|p| flip_table(p, "empty"));
    assert_eq!(r, "table `empty` fails its blake3 check");
}

#[test]
fn damaged_metadata_header_or_footer_is_corrupt() {
    let r = corrupted(blank_metadata);
    assert_eq!(r, "the pack's metadata fails its blake3 check");
    let r = corrupted(|p| write_at(p, 0, b"PAR1"));
    assert_eq!(r, "the pack's header is not census's");
    let r = corrupted(|p| {
        let len = fs::metadata(p).unwrap().len();
        write_at(p, len - 1, b"?");
    });
    assert_eq!(r, "the pack's footer is not census's");
}

#[test]
fn an_undecodable_table_with_a_matching_hash_is_corrupt() {
    let r = corrupted(|p| {
        let garbage = b"PAR1 this is not parquet PAR1";
        let mut meta = meta_of(p);
        meta.tables = vec![TableMeta {
            name: "main".to_string(),
            file: None,
            offset: Some(16),
            bytes: garbage.len() as u64,
            blake3: blake3::hash(garbage).to_hex().to_string(),
            rows: 50,
        }];
        let mut bytes = crate::store::pack::header().to_vec();
        bytes.extend_from_slice(garbage);
        bytes.extend_from_slice(&crate::store::pack::tail(&meta));
        fs::write(p, bytes).unwrap();
    });
    assert!(r.starts_with("table `main` does not decode"), "{r}");
}

/// What `check` and `verify` say about `key(1)` after `damage`; `check` removes nothing.
fn checked(damage: impl FnOnce(&Path)) -> (Health, Health) {
    let (_dir, store) = with_sample();
    let pack = store.pack_path(&key(1));
    damage(&pack);
    let quick = store.check(&key(1));
    if quick != Health::Absent {
        assert!(pack.exists());
    }
    (quick, store.verify(&key(1)).unwrap())
}

#[test]
fn the_quick_check_sees_cuts_metadata_and_later_writes() {
    let damaged = |r: &str| Health::Damaged(r.to_string());
    let (quick, _) = checked(|p| cut(p, |n| n - 1));
    assert!(matches!(&quick, Health::Damaged(r) if r.starts_with("the pack's footer")));
    let garbage = checked(|p| overwrite_table(p, "odd", 7));
    assert_eq!(garbage.0, damaged("table `odd` fails its blake3 check"));
    let flipped = checked(|p| flip_table(p, "main"));
    assert_eq!(flipped.0, damaged("table `main` fails its blake3 check"));
    let meta = checked(blank_metadata);
    assert_eq!(
        meta.0,
        damaged("the pack's metadata fails its blake3 check")
    );
    let deleted = checked(|p| fs::remove_file(p).unwrap());
    assert_eq!(deleted, (Health::Absent, Health::Absent));
    let untouched = checked(|_| {});
    assert_eq!(untouched, (Health::Present, Health::Present));
    let touched = checked(|p| {
        let f = fs::OpenOptions::new().write(true).open(p).unwrap();
        f.set_modified(SystemTime::now()).unwrap();
    });
    assert_eq!(touched, (Health::Present, Health::Present));
}

#[test]
fn only_verify_sees_a_flip_that_kept_the_modification_time() {
    let (quick, full) = checked(|p| {
        let mtime = fs::metadata(p).unwrap().modified().unwrap();
        flip_table(p, "main");
        let f = fs::OpenOptions::new().write(true).open(p).unwrap();
        f.set_modified(mtime).unwrap();
    });
    assert_eq!(quick, Health::Present);
    assert_eq!(
        full,
        Health::Damaged("table `main` fails its blake3 check".to_string())
    );
}

#[test]
fn keys_list_damaged_entries_and_remove_if_damaged_removes_only_those() {
    let (_dir, store) = with_sample();
    store.put(&key(2), &sample()).unwrap();
    overwrite_table(&store.pack_path(&key(1)), "main", 0);
    assert_eq!(store.keys().unwrap().len(), 2);
    assert!(matches!(
        store.remove_if_damaged(&key(1)).unwrap(),
        Health::Damaged(_)
    ));
    assert_eq!(store.remove_if_damaged(&key(2)).unwrap(), Health::Present);
    assert_eq!(store.keys().unwrap(), vec![key(2)]);
}

/// Writes an entry in one layout.
pub(super) type Write = fn(&ParquetStore, &Key, &Output);

pub(super) fn as_pack(store: &ParquetStore, key: &Key, output: &Output) {
    store.put(key, output).unwrap();
}

/// The quick check of `key(1)` and `key(2)` in one batch, after a batch check indexed both and
/// `damage` changed the cache; `key(2)` is never damaged and must stay present.
pub(super) fn checked_with_index(write: Write, damage: impl FnOnce(&ParquetStore)) -> Health {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    write(&store, &key(1), &sample());
    write(&store, &key(2), &sample());
    let both = [key(1), key(2)];
    assert_eq!(store.check_all(&both), [Health::Present, Health::Present]);
    assert_eq!(index::load(&dir.path().join(INDEX_FILE)).len(), 2);
    std::thread::sleep(Duration::from_millis(20));
    damage(&store);
    let health = store.check_all(&both);
    assert_eq!(health[1], Health::Present, "a good entry was lost");
    assert_eq!(
        health[0],
        store.check(&key(1)),
        "the index changed the answer"
    );
    assert_eq!(
        store.check_all(&both),
        health,
        "the rewritten index changed the answer"
    );
    health[0].clone()
}

fn in_pack(f: impl FnOnce(&Path)) -> impl FnOnce(&ParquetStore) {
    move |store| f(&store.pack_path(&key(1)))
}

#[test]
fn an_index_never_hides_damage_the_quick_check_sees() {
    let damaged = |h: &Health, start: &str| matches!(h, Health::Damaged(r) if r.starts_with(start));
    let check = |f: fn(&Path)| checked_with_index(as_pack, in_pack(f));
    let cut_short = check(|p| cut(p, |n| n - 3));
    assert!(damaged(&cut_short, "the pack's footer"), "{cut_short:?}");
    let garbage = check(|p| overwrite_table(p, "odd", 7));
    assert!(damaged(&garbage, "table `odd` fails"), "{garbage:?}");
    let meta = check(blank_metadata);
    assert!(damaged(&meta, "the pack's metadata"), "{meta:?}");
    let header = check(|p| write_at(p, 0, b"PAR1"));
    assert!(damaged(&header, "the pack's header"), "{header:?}");
    assert_eq!(check(|p| fs::remove_file(p).unwrap()), Health::Absent);
    an_index_sees_removal_and_no_damage(as_pack);
}

/// With an index, an entry of `write`'s layout removed is absent, and one left alone present.
pub(super) fn an_index_sees_removal_and_no_damage(write: Write) {
    let removed = checked_with_index(write, |store| store.remove(&key(1)).unwrap());
    assert_eq!(removed, Health::Absent);
    assert_eq!(checked_with_index(write, |_| {}), Health::Present);
}

#[test]
fn a_touched_but_whole_pack_is_hashed_once_then_indexed_at_its_new_time() {
    let (dir, store) = with_sample();
    let pack = store.pack_path(&key(1));
    let index_path = dir.path().join(INDEX_FILE);
    assert_eq!(store.check_all(&[key(1)]), [Health::Present]);
    let written = index::load(&index_path)[&key(1)].meta;
    let f = fs::OpenOptions::new().write(true).open(&pack).unwrap();
    f.set_modified(SystemTime::now()).unwrap();
    assert_eq!(store.check_all(&[key(1)]), [Health::Present]);
    let touched = index::load(&index_path)[&key(1)].meta;
    assert_ne!(touched, written);
    assert_eq!(Some(touched), Stamp::of(&fs::metadata(&pack).unwrap()));
}

#[test]
fn an_index_of_a_rewritten_pack_is_not_trusted() {
    // The entry is replaced by one with other tables; its pack is then cut to the size the
    // index recorded, which the index alone would take for the old entry.
    let health = checked_with_index(as_pack, |store| {
        let recorded = index::load(&store.root().join(INDEX_FILE))[&key(1)].meta;
        store.remove(&key(1)).unwrap();
        let mut other = sample();
        other
            .tables
            .get_mut("empty")
            .unwrap()
            .clone_from(&every_type(3));
        store.put(&key(1), &other).unwrap();
        cut(&store.pack_path(&key(1)), |_| recorded.bytes);
    });
    assert!(matches!(&health, Health::Damaged(_)), "{health:?}");
}

#[test]
fn a_missing_corrupt_or_foreign_index_changes_nothing_and_is_rebuilt() {
    let other = tempfile::tempdir().unwrap();
    let foreign = ParquetStore::open(other.path()).unwrap();
    foreign
        .put(&key(1), &Output::new().with("main", every_type(2)))
        .unwrap();
    foreign.check_all(&[key(1)]);
    let foreign_index = fs::read(other.path().join(INDEX_FILE)).unwrap();
    let replace = |bytes: Option<Vec<u8>>| {
        move |store: &ParquetStore| {
            let path = store.root().join(INDEX_FILE);
            fs::remove_file(&path).unwrap();
            if let Some(bytes) = bytes {
                fs::write(&path, bytes).unwrap();
            }
            cut(&store.pack_path(&key(1)), |_| 10);
        }
    };
    let expected = Health::Damaged(format!("{}.pack ends before byte 16", key(1)));
    for index in [
        None,
        Some(b"censusix garbage".to_vec()),
        Some(Vec::new()),
        Some(foreign_index),
    ] {
        assert_eq!(checked_with_index(as_pack, replace(index)), expected);
    }
    // After a damaged entry is gone and recomputed, the index holds both entries again.
    let (dir, store) = with_sample();
    fs::write(dir.path().join(INDEX_FILE), b"not an index").unwrap();
    assert_eq!(
        store.check_all(&[key(1), key(3)]),
        [Health::Present, Health::Absent]
    );
    assert_eq!(
        index::load(&dir.path().join(INDEX_FILE))
            .keys()
            .collect::<Vec<_>>(),
        [&key(1)]
    );
}
