//! Tests of the Parquet store and the table codec: round trips, atomicity, corruption, locks.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use super::super::codec::encode;
use super::super::{read_table_file, write_table_file};
use super::*;
use crate::table::Column;

fn key(n: u64) -> Key {
    Key::compute("test", 1, &serde_json::json!({ "n": n }), &[])
}

fn every_type(rows: usize) -> Table {
    let n = rows as i64;
    Table::new()
        .with("flag", Column::Bool((0..n).map(|i| i % 3 == 0).collect()))
        .with(
            "id",
            Column::I64((0..n).map(|i| i * 1_000_003 - i64::MAX / 2).collect()),
        )
        .with(
            "x32",
            Column::F32(
                (0..n)
                    .map(|i| i as f32 * -0.25 + f32::MIN_POSITIVE)
                    .collect(),
            ),
        )
        .with(
            "x64",
            Column::F64((0..n).map(|i| (i as f64).sqrt() * 1e-300).collect()),
        )
        .with(
            "maybe",
            Column::OptF64((0..n).map(|i| (i % 3 != 0).then_some(i as f64)).collect()),
        )
        .with(
            "name",
            Column::Str((0..n).map(|i| "é".repeat(i as usize % 4)).collect()),
        )
        .with(
            "vec",
            Column::ListF32(
                (0..n)
                    .map(|i| (0..i % 5).map(|j| j as f32 / 3.0).collect())
                    .collect(),
            ),
        )
}

fn sample() -> Output {
    let odd = Table::new()
        .with("inf", Column::F64(vec![f64::INFINITY, -0.0, f64::MIN]))
        .with("ext", Column::I64(vec![i64::MIN, 0, i64::MAX]))
        .with(
            "empty_lists",
            Column::ListF32(vec![vec![], vec![], vec![1.5]]),
        );
    Output::new()
        .with("main", every_type(50))
        .with("empty", every_type(0))
        .with("odd", odd)
}

fn entry_dir(store: &ParquetStore, k: &Key) -> PathBuf {
    store.entry_dir(k)
}

fn present(store: &ParquetStore, k: &Key) -> Output {
    match store.get(k).unwrap() {
        Lookup::Present(o) => o,
        other => panic!("expected an entry, got {other:?}"),
    }
}

#[test]
fn every_column_type_round_trips_in_one_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let out = sample();
    store.put(&key(1), &out).unwrap();
    assert!(store.contains(&key(1)));
    let back = present(&store, &key(1));
    assert_eq!(back, out);
    let empty = back.table("empty").unwrap();
    assert_eq!(empty.num_rows(), 0);
    let types: Vec<_> = empty
        .columns()
        .iter()
        .map(|(n, c)| (n.as_str(), c.type_name()))
        .collect();
    assert_eq!(
        types,
        [
            ("flag", "bool"),
            ("id", "int64"),
            ("x32", "float32"),
            ("x64", "float64"),
            ("maybe", "float64 (nullable)"),
            ("name", "string"),
            ("vec", "list<float32>")
        ]
    );
    assert_eq!(store.keys().unwrap(), vec![key(1)]);
    let mut files = dir_names(&entry_dir(&store, &key(1)));
    files.sort();
    assert_eq!(
        files,
        [
            "_entry.json",
            "empty.parquet",
            "main.parquet",
            "odd.parquet"
        ]
    );
    assert!(store.entry_size(&key(1)).unwrap() > 0);
}

#[test]
fn many_rows_and_long_lists_cross_batch_boundaries() {
    let big = every_type(150_000);
    let long = Table::new()
        .with("i", Column::I64((0..300).collect()))
        .with(
            "h",
            Column::ListF32((0..300).map(|i| vec![i as f32; 10_000]).collect()),
        );
    let out = Output::new().with("big", big).with("long", long);
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(2), &out).unwrap();
    assert_eq!(present(&store, &key(2)), out);
}

#[test]
fn output_without_tables_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(3), &Output::new()).unwrap();
    assert_eq!(present(&store, &key(3)), Output::new());
}

#[test]
fn second_put_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let first = sample();
    store.put(&key(1), &first).unwrap();
    let meta = entry_dir(&store, &key(1)).join(ENTRY_FILE);
    let before = fs::read(&meta).unwrap();
    store
        .put(&key(1), &Output::new().with("other", every_type(3)))
        .unwrap();
    assert_eq!(fs::read(&meta).unwrap(), before);
    assert_eq!(present(&store, &key(1)), first);
}

#[test]
fn concurrent_puts_of_one_key_leave_one_valid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (root, barrier) = (root.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let store = ParquetStore::open(&root).unwrap();
                barrier.wait();
                store.put(&key(9), &sample()).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = ParquetStore::open(&root).unwrap();
    assert_eq!(present(&store, &key(9)), sample());
    assert_eq!(store.keys().unwrap(), vec![key(9)]);
    assert_eq!(fs::read_dir(root.join(".tmp")).unwrap().count(), 0);
}

/// Damages the entry of `key(1)` with `damage`, then checks that `get` reports it, removes it,
/// and that a fresh `put` works again. Returns the reason given.
fn corrupted(damage: impl FnOnce(&Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    store.put(&key(2), &sample()).unwrap();
    let entry = entry_dir(&store, &key(1));
    damage(&entry);
    let reason = match store.get(&key(1)).unwrap() {
        Lookup::Corrupt(reason) => reason,
        other => panic!("damage went unnoticed: {other:?}"),
    };
    assert!(!store.contains(&key(1)));
    assert!(!entry.exists());
    assert_eq!(store.keys().unwrap(), vec![key(2)]);
    assert!(matches!(store.get(&key(1)).unwrap(), Lookup::Missing));
    assert_eq!(fs::read_dir(dir.path().join(".trash")).unwrap().count(), 0);
    store.put(&key(1), &sample()).unwrap();
    assert_eq!(present(&store, &key(1)), sample());
    reason
}

#[test]
fn truncated_table_is_corrupt() {
    let r = corrupted(|d| {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(d.join("main.parquet"))
            .unwrap();
        f.set_len(f.metadata().unwrap().len() / 2).unwrap();
    });
    assert!(r.starts_with("main.parquet has "), "{r}");
}

#[test]
fn zeroed_table_is_corrupt() {
    let r = corrupted(|d| {
        let p = d.join("odd.parquet");
        let n = fs::metadata(&p).unwrap().len() as usize;
        fs::write(&p, vec![0u8; n]).unwrap();
    });
    assert_eq!(r, "odd.parquet fails its blake3 check");
}

#[test]
fn one_flipped_byte_is_corrupt() {
    let r = corrupted(|d| {
        let p = d.join("empty.parquet");
        let mut bytes = fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        fs::write(&p, bytes).unwrap();
    });
    assert_eq!(r, "empty.parquet fails its blake3 check");
}

#[test]
fn missing_or_garbage_entry_json_is_corrupt() {
    let r = corrupted(|d| fs::remove_file(d.join(ENTRY_FILE)).unwrap());
    assert_eq!(r, "_entry.json is missing");
    let r = corrupted(|d| fs::write(d.join(ENTRY_FILE), b"{\"format\": 1, \"ke").unwrap());
    assert!(r.starts_with("_entry.json is not valid"), "{r}");
    let r = corrupted(|d| fs::remove_file(d.join("main.parquet")).unwrap());
    assert_eq!(r, "main.parquet is missing");
}

/// What `check` and `verify` say about `key(1)` after `damage`; `check` removes nothing.
fn checked(damage: impl FnOnce(&Path)) -> (Health, Health) {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    damage(&entry_dir(&store, &key(1)));
    let quick = store.check(&key(1));
    assert!(entry_dir(&store, &key(1)).exists());
    (quick, store.verify(&key(1)).unwrap())
}

#[test]
fn the_quick_check_sees_sizes_missing_files_and_later_writes() {
    let damaged = |r: &str| Health::Damaged(r.to_string());
    let truncated = checked(|d| {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(d.join("main.parquet"))
            .unwrap();
        f.set_len(10).unwrap();
    });
    assert!(
        matches!(&truncated.0, Health::Damaged(r) if r.starts_with("main.parquet has 10 bytes"))
    );
    let missing = checked(|d| fs::remove_file(d.join("odd.parquet")).unwrap());
    assert_eq!(missing.0, damaged("odd.parquet is missing"));
    let garbage = checked(|d| {
        let p = d.join("odd.parquet");
        fs::write(&p, vec![7u8; fs::metadata(&p).unwrap().len() as usize]).unwrap();
    });
    assert_eq!(garbage.0, damaged("odd.parquet fails its blake3 check"));
    let no_meta = checked(|d| fs::remove_file(d.join(ENTRY_FILE)).unwrap());
    assert_eq!(no_meta.0, damaged("_entry.json is missing"));

    let untouched = checked(|_| {});
    assert_eq!(untouched, (Health::Present, Health::Present));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ParquetStore::open(dir.path()).unwrap().check(&key(1)),
        Health::Absent
    );
}

#[test]
fn only_verify_sees_a_flip_that_kept_the_modification_time() {
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
    assert_eq!(quick, Health::Present);
    assert_eq!(
        full,
        Health::Damaged("main.parquet fails its blake3 check".to_string())
    );
}

#[test]
fn keys_list_damaged_entries_and_remove_if_damaged_removes_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    store.put(&key(2), &sample()).unwrap();
    fs::remove_file(entry_dir(&store, &key(1)).join("main.parquet")).unwrap();
    assert_eq!(store.keys().unwrap().len(), 2);
    assert!(matches!(
        store.remove_if_damaged(&key(1)).unwrap(),
        Health::Damaged(_)
    ));
    assert_eq!(store.remove_if_damaged(&key(2)).unwrap(), Health::Present);
    assert_eq!(store.keys().unwrap(), vec![key(2)]);
}

#[test]
fn open_existing_refuses_a_folder_that_is_not_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let err = ParquetStore::open_existing(dir.path().join("typo")).unwrap_err();
    assert!(err.to_string().contains("is not a census cache"), "{err}");
    assert!(!dir.path().join("typo").exists());
    ParquetStore::open(dir.path()).unwrap();
    ParquetStore::open_existing(dir.path()).unwrap();
}

#[test]
fn undecodable_parquet_with_matching_hash_is_corrupt() {
    let r = corrupted(|d| {
        let garbage = b"PAR1 this is not parquet PAR1".to_vec();
        fs::write(d.join("main.parquet"), &garbage).unwrap();
        let path = d.join(ENTRY_FILE);
        let mut meta: EntryMeta = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let t = meta.tables.iter_mut().find(|t| t.name == "main").unwrap();
        t.bytes = garbage.len() as u64;
        t.blake3 = blake3::hash(&garbage).to_hex().to_string();
        fs::write(&path, serde_json::to_vec(&meta).unwrap()).unwrap();
    });
    assert!(r.starts_with("main.parquet does not decode"), "{r}");
}

#[test]
fn crashed_writes_are_invisible_and_cleaned_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    let tmp = dir.path().join(".tmp");
    // A dead writer: a complete-looking folder whose lock file nobody holds, and one without any.
    for (name, with_lock) in [("dead1", true), ("dead2", false)] {
        let folder = tmp.join(format!("{}.{name}", key(2)));
        fs::create_dir(&folder).unwrap();
        for f in fs::read_dir(entry_dir(&store, &key(1))).unwrap() {
            let f = f.unwrap();
            fs::copy(f.path(), folder.join(f.file_name())).unwrap();
        }
        if with_lock {
            fs::write(tmp.join(format!("{}.{name}.lock", key(2))), b"").unwrap();
        }
    }
    // A live writer: its lock is held.
    let live = tmp.join(format!("{}.live", key(3)));
    fs::create_dir(&live).unwrap();
    let held = lock(&tmp.join(format!("{}.live.lock", key(3))), Mode::Exclusive).unwrap();

    assert!(!store.contains(&key(2)));
    assert!(matches!(store.get(&key(2)).unwrap(), Lookup::Missing));
    assert_eq!(store.keys().unwrap(), vec![key(1)]);

    ParquetStore::open(dir.path()).unwrap();
    let mut left = dir_names(&tmp);
    left.sort();
    assert_eq!(
        left,
        [format!("{}.live", key(3)), format!("{}.live.lock", key(3))]
    );
    drop(held);
    ParquetStore::open(dir.path()).unwrap();
    assert!(dir_names(&tmp).is_empty());
    assert_eq!(present(&store, &key(1)), sample());
}

#[test]
fn failed_put_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let bad = Output::new().with("_hidden", every_type(1));
    let err = store.put(&key(1), &bad).unwrap_err();
    assert!(err.to_string().contains("`_hidden`"), "{err}");
    // The prefix folder is a file: the final rename fails after every file was written.
    let hex = key(1).hex();
    fs::write(dir.path().join("objects").join(&hex[..2]), b"").unwrap();
    let err = store.put(&key(1), &sample()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Io {
                op: "rename into place",
                ..
            }
        ),
        "{err}"
    );
    assert!(!store.contains(&key(1)));
    assert!(dir_names(&dir.path().join(".tmp")).is_empty());
}

#[test]
fn full_disk_is_an_io_error_naming_the_file() {
    let err = write_table(Path::new("/dev/full"), &every_type(1000), &key(1), "main").unwrap_err();
    match &err {
        StoreError::Io { path, op, source } => {
            assert_eq!((path.as_str(), *op), ("/dev/full", "write"));
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("cannot write /dev/full: No space left"),
        "{err}"
    );
}

#[test]
fn remove_hides_then_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    store.remove(&key(1)).unwrap();
    store.remove(&key(1)).unwrap();
    assert!(!store.contains(&key(1)));
    assert!(store.keys().unwrap().is_empty());
    assert!(dir_names(&dir.path().join(".trash")).is_empty());
}

/// Takes `first`, then from a second thread asks for the same lock through `second`; checks
/// that the second only succeeds after the first guard is dropped.
fn excludes<G: Send + 'static>(first: G, second: impl FnOnce() -> G + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let _g = second();
        tx.send(Instant::now()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "lock not exclusive"
    );
    let released = Instant::now();
    drop(first);
    assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap() >= released);
    t.join().unwrap();
}

#[test]
fn lock_key_excludes_other_handles_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ParquetStore::open(dir.path()).unwrap());
    let first = store.lock_key(&key(1)).unwrap();
    let _unrelated = store.lock_key(&key(2)).unwrap();
    let other = ParquetStore::open(dir.path()).unwrap();
    excludes(first, move || other.lock_key(&key(1)).unwrap());
}

#[test]
fn cache_lock_shared_excludes_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let a = store.lock_shared().unwrap();
    let b = store.lock_shared().unwrap();
    assert!(store.try_lock_exclusive().unwrap().is_none());
    drop(a);
    let other = ParquetStore::open(dir.path()).unwrap();
    excludes(b, move || other.lock_exclusive().unwrap());
    assert!(store.try_lock_exclusive().unwrap().is_some());
}

#[test]
fn slots_and_failures_persist() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let rec = SlotRecord {
        key: key(1).hex(),
        version: 3,
        params_hash: "abc".into(),
        deps: vec![key(2).hex()],
        params: Some(serde_json::json!({ "variance": 0.9 })),
    };
    assert_eq!(store.slot("study/train/a"), None);
    store.set_slot("study/train/a", &rec).unwrap();
    let reopened = ParquetStore::open(dir.path()).unwrap();
    assert_eq!(reopened.slot("study/train/a"), Some(rec.clone()));
    assert_eq!(reopened.slot("study/train/b"), None);
    fs::write(store.slot_path("study/train/a"), b"not json").unwrap();
    assert_eq!(store.slot("study/train/a"), None);

    store
        .set_failure(&key(1), Some("diverged: loss is NaN"))
        .unwrap();
    assert_eq!(
        reopened.failure(&key(1)).as_deref(),
        Some("diverged: loss is NaN")
    );
    store.set_failure(&key(1), None).unwrap();
    store.set_failure(&key(1), None).unwrap();
    assert_eq!(store.failure(&key(1)), None);
    assert!(dir_names(&dir.path().join("_slots"))
        .iter()
        .all(|n| !n.ends_with(".tmp")));
}

#[test]
fn table_files_round_trip_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out").join("networks.parquet");
    write_table_file(&path, &every_type(10)).unwrap();
    write_table_file(&path, &every_type(20)).unwrap();
    assert_eq!(read_table_file(&path).unwrap(), every_type(20));
    assert_eq!(dir_names(&dir.path().join("out")), ["networks.parquet"]);
    let empty = Table::new().with("x", Column::F64(vec![]));
    write_table_file(&path, &empty).unwrap();
    assert_eq!(read_table_file(&path).unwrap(), empty);
}

#[test]
fn reading_a_foreign_or_broken_file_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.parquet");
    fs::write(&junk, b"hello").unwrap();
    assert!(matches!(
        read_table_file(&junk),
        Err(StoreError::ReadFile { .. })
    ));

    let schema = Arc::new(arrow_schema::Schema::new(vec![arrow_schema::Field::new(
        "small",
        arrow_schema::DataType::Int32,
        false,
    )]));
    let batch = arrow_array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow_array::Int32Array::from(vec![1, 2]))],
    )
    .unwrap();
    let foreign = dir.path().join("foreign.parquet");
    let mut w =
        ::parquet::arrow::ArrowWriter::try_new(fs::File::create(&foreign).unwrap(), schema, None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let err = read_table_file(&foreign).unwrap_err().to_string();
    assert!(err.contains("column `small` has type Int32"), "{err}");
}

#[test]
fn table_without_columns_round_trips() {
    let mut buf = Vec::new();
    encode(&Table::new(), &mut buf).unwrap();
    assert_eq!(decode(bytes::Bytes::from(buf)).unwrap(), Table::new());
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let out = Output::new().with("nothing", Table::new());
    store.put(&key(1), &out).unwrap();
    assert_eq!(present(&store, &key(1)), out);
}

#[test]
fn decoding_damaged_bytes_never_panics() {
    let mut clean = Vec::new();
    encode(&every_type(200), &mut clean).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let (mut failed, mut decoded) = (0, 0);
    for _ in 0..300 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let mut bytes = clean.clone();
        let at = (state >> 33) as usize % bytes.len();
        bytes[at] ^= 1 << (state % 8);
        match decode(bytes::Bytes::from(bytes)) {
            Ok(_) => decoded += 1,
            Err(_) => failed += 1,
        }
    }
    assert_eq!(failed + decoded, 300);
    assert!(
        failed > 0,
        "some flips must be caught by the decoder itself"
    );
}

/// The quick check of `key(1)` and `key(2)` in one batch, after a batch check indexed both and
/// `damage` changed the cache; `key(2)` is never damaged and must stay present.
fn checked_with_index(damage: impl FnOnce(&ParquetStore)) -> Health {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    store.put(&key(2), &sample()).unwrap();
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

fn in_entry(f: impl FnOnce(&Path)) -> impl FnOnce(&ParquetStore) {
    move |store| f(&entry_dir(store, &key(1)))
}

#[test]
fn an_index_never_hides_damage_the_quick_check_sees() {
    let damaged = |h: &Health, start: &str| matches!(h, Health::Damaged(r) if r.starts_with(start));
    let truncated = checked_with_index(in_entry(|d| {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(d.join("main.parquet"))
            .unwrap();
        f.set_len(10).unwrap();
    }));
    assert!(
        damaged(&truncated, "main.parquet has 10 bytes"),
        "{truncated:?}"
    );
    let missing = checked_with_index(in_entry(|d| {
        fs::remove_file(d.join("odd.parquet")).unwrap()
    }));
    assert!(damaged(&missing, "odd.parquet is missing"), "{missing:?}");
    let garbage = checked_with_index(in_entry(|d| {
        let p = d.join("odd.parquet");
        fs::write(&p, vec![7u8; fs::metadata(&p).unwrap().len() as usize]).unwrap();
    }));
    assert!(
        damaged(&garbage, "odd.parquet fails its blake3 check"),
        "{garbage:?}"
    );
    let no_meta = checked_with_index(in_entry(|d| fs::remove_file(d.join(ENTRY_FILE)).unwrap()));
    assert!(damaged(&no_meta, "_entry.json is missing"), "{no_meta:?}");
    let bad_meta = checked_with_index(in_entry(|d| {
        let p = d.join(ENTRY_FILE);
        fs::write(&p, vec![b' '; fs::metadata(&p).unwrap().len() as usize]).unwrap();
    }));
    assert!(
        damaged(&bad_meta, "_entry.json is not valid"),
        "{bad_meta:?}"
    );
    let removed = checked_with_index(|store| store.remove(&key(1)).unwrap());
    assert_eq!(removed, Health::Absent);
    assert_eq!(checked_with_index(|_| {}), Health::Present);
}

#[test]
fn an_index_of_a_rewritten_entry_is_not_trusted() {
    // The entry is replaced by one with other tables; its first table file is then cut to the
    // size the index recorded for it, which the index alone would take for the old entry.
    let recorded = |store: &ParquetStore| {
        index::load(&store.root().join(INDEX_FILE))[&key(1)].tables[0].clone()
    };
    let health = checked_with_index(|store| {
        let (file, bytes) = recorded(store);
        store.remove(&key(1)).unwrap();
        let mut other = sample();
        other
            .tables
            .get_mut("empty")
            .unwrap()
            .clone_from(&every_type(3));
        store.put(&key(1), &other).unwrap();
        let f = fs::OpenOptions::new()
            .write(true)
            .open(entry_dir(store, &key(1)).join(file))
            .unwrap();
        f.set_len(bytes).unwrap();
    });
    assert!(
        matches!(&health, Health::Damaged(r) if r.contains("bytes, expected")),
        "{health:?}"
    );
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
            let f = fs::OpenOptions::new()
                .write(true)
                .open(entry_dir(store, &key(1)).join("main.parquet"))
                .unwrap();
            f.set_len(10).unwrap();
        }
    };
    let truncated =
        |h: Health| matches!(&h, Health::Damaged(r) if r.starts_with("main.parquet has 10"));
    assert!(truncated(checked_with_index(replace(None))));
    assert!(truncated(checked_with_index(replace(Some(
        b"censusix garbage".to_vec()
    )))));
    assert!(truncated(checked_with_index(replace(Some(Vec::new())))));
    assert!(truncated(checked_with_index(replace(Some(foreign_index)))));
    // After a damaged entry is gone and recomputed, the index holds both entries again.
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
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

#[test]
fn get_tables_reads_only_the_named_tables() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    fs::write(entry_dir(&store, &key(1)).join("odd.parquet"), b"x").unwrap();
    match store.get_tables(&key(1), &["main", "absent"]).unwrap() {
        Lookup::Present(o) => assert_eq!(o, Output::new().with("main", every_type(50))),
        other => panic!("expected the main table, got {other:?}"),
    }
    assert!(matches!(
        store.get_tables(&key(1), &["odd"]).unwrap(),
        Lookup::Corrupt(_)
    ));
    assert!(matches!(
        store.get_tables(&key(1), &["main"]).unwrap(),
        Lookup::Missing
    ));
}

#[test]
fn summaries_round_trip_through_get_entry_json_and_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let summary: Summary = [("status", "ok"), ("note", "é ü")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    store
        .put(&key(1), &sample().with_summary(summary.clone()))
        .unwrap();
    store.put(&key(2), &sample()).unwrap();
    assert_eq!(present(&store, &key(1)).summary, summary);
    assert!(present(&store, &key(2)).summary.is_empty());
    let keys = [key(1), key(2), key(3)];
    let expected = vec![
        (Health::Present, summary.clone()),
        (Health::Present, Summary::new()),
        (Health::Absent, Summary::new()),
    ];
    // The first survey reads `_entry.json` and writes the index; the second reads the index.
    assert_eq!(store.survey(&keys), expected);
    assert_eq!(
        index::load(&dir.path().join(INDEX_FILE))[&key(1)].summary,
        summary
    );
    assert_eq!(store.survey(&keys), expected);
    let objects = Objects::open(&dir.path().join("objects")).unwrap();
    let records = index::load(&dir.path().join(INDEX_FILE));
    for k in [key(1), key(2)] {
        assert!(
            records[&k].holds(&objects, &entry_name(&k), ENTRY_FILE),
            "the index must vouch for an untouched entry by its stats alone"
        );
    }
    assert_eq!(
        store.check_all(&keys),
        expected.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()
    );
}

#[test]
fn digests_follow_content_and_actions_persist_until_gc_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    assert_eq!(store.digest(&key(1)), None);
    store.put(&key(1), &sample()).unwrap();
    store.put(&key(2), &sample()).unwrap();
    let other = sample().with("extra", Table::new().with("x", Column::I64(vec![1])));
    store.put(&key(3), &other).unwrap();
    let summarised = sample().with_summary([("k".to_string(), "v".to_string())].into());
    store.put(&key(4), &summarised).unwrap();
    let d = |n| store.digest(&key(n)).unwrap();
    assert_eq!(d(1), d(2));
    assert_ne!(d(1), d(3));
    assert_ne!(d(1), d(4));

    let action = Key::action("test", 1, &serde_json::json!({}), &[d(1)]);
    assert_eq!(store.action(&action), None);
    store.set_action(&action, &key(2)).unwrap();
    let reopened = ParquetStore::open(dir.path()).unwrap();
    assert_eq!(reopened.action(&action), Some(key(2)));
    assert_eq!(reopened.retain_actions(&|k| *k == key(2)).unwrap(), 0);
    assert_eq!(reopened.retain_actions(&|k| *k == key(1)).unwrap(), 1);
    assert_eq!(reopened.action(&action), None);
}
