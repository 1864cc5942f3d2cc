//! Tests of the Parquet store and the table codec: round trips, atomicity, locks, slots
//! (`damage`: damaged packs and the index; `old_layout`: entries census wrote before packs).

mod damage;
mod old_layout;

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

fn present(store: &ParquetStore, k: &Key) -> Output {
    match store.get(k).unwrap() {
        Lookup::Present(o) => o,
        other => panic!("expected an entry, got {other:?}"),
    }
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
fn remove_hides_then_deletes() {
    let (dir, store) = with_sample();
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

/// A new store in a temporary folder holding `sample()` under `key(1)`.
fn with_sample() -> (tempfile::TempDir, ParquetStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    store.put(&key(1), &sample()).unwrap();
    (dir, store)
}

/// The objects folder's prefix folder of `k`.
fn prefix_dir(store: &ParquetStore, k: &Key) -> PathBuf {
    store.root().join("objects").join(&k.hex()[..2])
}

#[test]
fn every_column_type_round_trips_in_one_pack() {
    let (_dir, store) = with_sample();
    let out = sample();
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
    assert_eq!(
        dir_names(&prefix_dir(&store, &key(1))),
        [format!("{}.pack", key(1))],
        "one file per entry"
    );
    let pack = fs::metadata(store.pack_path(&key(1))).unwrap();
    let info = store.entry_info(&key(1)).unwrap();
    assert_eq!(info.bytes, pack.len());
    assert_eq!(info.tables, ["empty", "main", "odd"]);
    let tables = store.entry_size(&key(1)).unwrap();
    assert!(tables > 0 && tables < pack.len());
}

#[test]
fn a_pack_holds_each_table_as_the_codec_writes_it_and_its_write_time() {
    let (_dir, store) = with_sample();
    let path = store.pack_path(&key(1));
    let bytes = fs::read(&path).unwrap();
    let meta = crate::store::pack::parse(&key(1), &bytes).unwrap();
    for t in &meta.tables {
        let mut expected = Vec::new();
        encode(sample().table(&t.name).unwrap(), &mut expected).unwrap();
        let at = t.offset.unwrap() as usize;
        assert_eq!(
            &bytes[at..at + t.bytes as usize],
            &expected[..],
            "{}",
            t.name
        );
    }
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    let since = modified.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(since.subsec_nanos(), 0, "whole seconds");
    assert_eq!(meta.written, Some(since.as_secs() as i64));
}

#[test]
fn second_put_is_a_no_op() {
    let (_dir, store) = with_sample();
    let first = sample();
    let pack = store.pack_path(&key(1));
    let before = fs::read(&pack).unwrap();
    store
        .put(&key(1), &Output::new().with("other", every_type(3)))
        .unwrap();
    assert_eq!(fs::read(&pack).unwrap(), before);
    assert_eq!(present(&store, &key(1)), first);
}

/// Writes `output` for `key` into a temporary pack and publishes it, as a writer that lost
/// the race to an entry already there would.
fn publish_late(store: &ParquetStore, key: &Key, output: &Output) {
    let tmp = TempPack::create(store.root(), key).unwrap();
    packed::write(&tmp.path, key, output).unwrap();
    store.publish(key, &tmp.path).unwrap();
}

#[test]
fn a_late_writer_keeps_a_whole_pack_and_replaces_a_damaged_one() {
    let (dir, store) = with_sample();
    let other = Output::new().with("other", every_type(3));
    publish_late(&store, &key(1), &other);
    assert_eq!(
        present(&store, &key(1)),
        sample(),
        "the first whole pack wins"
    );
    fs::write(store.pack_path(&key(1)), b"half a pack").unwrap();
    publish_late(&store, &key(1), &other);
    assert_eq!(
        present(&store, &key(1)),
        other,
        "a damaged pack is replaced"
    );
    assert!(dir_names(&dir.path().join(".tmp")).is_empty());
    assert!(dir_names(&dir.path().join(".trash")).is_empty());
}

#[test]
fn crashed_writes_are_invisible_and_cleaned_at_open() {
    let (dir, store) = with_sample();
    let tmp = dir.path().join(".tmp");
    // Dead writers: a complete-looking pack whose lock file nobody holds, one without any, and
    // a folder an older census left.
    for (name, with_lock) in [("dead1", true), ("dead2", false)] {
        let pack = tmp.join(format!("{}.{name}", key(2)));
        fs::copy(store.pack_path(&key(1)), pack).unwrap();
        if with_lock {
            fs::write(tmp.join(format!("{}.{name}.lock", key(2))), b"").unwrap();
        }
    }
    let old = tmp.join(format!("{}.dead3", key(2)));
    fs::create_dir(&old).unwrap();
    fs::write(old.join("main.parquet"), b"PAR1").unwrap();
    // A live writer: its lock is held.
    let live = tmp.join(format!("{}.live", key(3)));
    fs::write(&live, b"cens").unwrap();
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
    // The prefix folder is a file: the final rename fails after the pack was written.
    fs::write(prefix_dir(&store, &key(1)), b"").unwrap();
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
    let out = Output::new().with("main", every_type(1000));
    let err = packed::write(Path::new("/dev/full"), &key(1), &out).unwrap_err();
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
fn get_tables_reads_only_the_named_tables() {
    let (_dir, store) = with_sample();
    damage::overwrite_table(&store.pack_path(&key(1)), "odd", 0x00);
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
fn summaries_round_trip_through_get_the_pack_and_the_index() {
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
    // The first survey reads the packs' metadata and writes the index; the second reads the
    // index.
    assert_eq!(store.survey(&keys), expected);
    let records = index::load(&dir.path().join(INDEX_FILE));
    assert_eq!(records[&key(1)].summary, summary);
    assert_eq!(store.survey(&keys), expected);
    let objects = Objects::open(&dir.path().join("objects")).unwrap();
    for k in [key(1), key(2)] {
        let record = &records[&k];
        assert_eq!(record.layout, index::Layout::Pack);
        assert_eq!(
            record.meta.bytes,
            fs::metadata(store.pack_path(&k)).unwrap().len()
        );
        assert!(
            record.holds(&objects, &entry_name(&k)),
            "the index must vouch for an untouched pack by one stat"
        );
    }
    assert_eq!(
        store.check_all(&keys),
        expected.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()
    );
}
