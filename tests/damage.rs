//! Damaged cache entries: the quick check that every `plan`, `status` and `apply` runs sees a
//! truncated, deleted, overwritten or bit-flipped table file; one `apply` repairs every damaged
//! entry; the full check (`census verify`, `apply --verify`) also sees damage that kept the
//! file's size and modification time; `export` names every damaged entry at once.

use crate::common::{apply, census_cli, manifest, TINY};
use census::exec::{Depth, Reason};
use census::ops::export::ExportError;
use census::ops::{plan_of, plan_report, ApplyOptions};
use census::plan::{Key, Plan};
use census::store::{Health, ParquetStore, Store};
use census::task::Registry;
use std::fs;
use std::path::{Path, PathBuf};

fn entry(cache: &Path, key: &Key) -> PathBuf {
    let hex = key.hex();
    cache.join("objects").join(&hex[..2]).join(hex)
}

/// The largest table file of an entry.
fn biggest_file(cache: &Path, key: &Key) -> PathBuf {
    fs::read_dir(entry(cache, key))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .max_by_key(|p| p.metadata().unwrap().len())
        .unwrap()
}

/// The keys of the first `count` tasks of `kind`, in plan order.
fn keys_of(plan: &Plan, kind: &str, count: usize) -> Vec<Key> {
    plan.nodes()
        .filter(|(_, n)| n.kind == kind)
        .take(count)
        .map(|(_, n)| n.key)
        .collect()
}

fn flip_middle_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

/// Flips a byte and puts the file's modification time back: only a hash sees it.
fn flip_keeping_mtime(path: &Path) {
    let mtime = path.metadata().unwrap().modified().unwrap();
    flip_middle_byte(path);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// Four entries damaged four ways: truncated, a file deleted, same-size garbage, a flipped byte.
fn damage_four(cache: &Path, plan: &Plan) -> Vec<Key> {
    let trains = keys_of(plan, "train", 2);
    let damaged = vec![
        trains[0],
        trains[1],
        keys_of(plan, "probe", 1)[0],
        keys_of(plan, "svcca", 1)[0],
    ];
    // Let the clock move past the writes of `apply` (file times are coarse).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let f = biggest_file(cache, &damaged[0]);
    let len = f.metadata().unwrap().len();
    fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    fs::remove_file(biggest_file(cache, &damaged[1])).unwrap();
    let f = biggest_file(cache, &damaged[2]);
    let len = f.metadata().unwrap().len() as usize;
    fs::write(&f, vec![0x5a; len]).unwrap();
    flip_middle_byte(&biggest_file(cache, &damaged[3]));
    damaged
}

#[test]
fn plan_sees_damaged_entries_and_one_apply_repairs_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    apply(TINY, &cache);
    let plan = plan_of(&manifest(TINY), &Registry::standard()).unwrap();
    let damaged = damage_four(&cache, &plan);

    let store = ParquetStore::open(&cache).unwrap();
    let report = plan_report(&plan, &store);
    let mut to_run: Vec<&str> = report
        .tasks
        .iter()
        .filter(|t| t.status == "run")
        .map(|t| {
            assert_eq!(t.reason, Some(Reason::Damaged), "{} {}", t.kind, t.label);
            t.key.as_str()
        })
        .collect();
    to_run.sort();
    let mut expected: Vec<String> = damaged.iter().map(|k| k.hex()).collect();
    expected.sort();
    assert_eq!(to_run, expected, "plan names exactly the damaged entries");

    let summary = apply(TINY, &cache);
    assert_eq!(summary.ran.len(), 4, "one apply reruns the four: {:?}", summary.ran);
    assert_eq!(plan_report(&plan, &store).to_run(), 0);
    for key in &damaged {
        assert_eq!(store.verify(key).unwrap(), Health::Present);
    }
}

#[test]
fn only_the_full_check_sees_a_flip_that_kept_size_and_time_and_it_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    apply(TINY, &cache);
    let plan = plan_of(&manifest(TINY), &Registry::standard()).unwrap();
    let probe = keys_of(&plan, "probe", 1)[0];
    flip_keeping_mtime(&biggest_file(&cache, &probe));

    let verify = |args: &[&str]| {
        let mut all = vec!["verify", "--cache", cache.to_str().unwrap()];
        all.extend_from_slice(args);
        census_cli(&all)
            .stdout(std::process::Stdio::piped())
            .output()
            .unwrap()
    };
    let found = verify(&[]);
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("damaged {}", probe.hex())) && stdout.contains("blake3"),
        "{stdout}"
    );
    assert!(entry(&cache, &probe).exists(), "verify alone removes nothing");

    let store = ParquetStore::open(&cache).unwrap();
    let opts = ApplyOptions {
        jobs: 2,
        depth: Depth::Full,
        limits: Default::default(),
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let summary = census::ops::apply_with(
        &manifest(TINY),
        &store,
        &opts,
        &cancel,
        &mut crate::common::Quiet,
    )
    .unwrap();
    let ran: Vec<&str> = summary.ran.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(ran, ["probe"], "only the damaged probe reruns");
    assert_eq!(verify(&[]).status.code(), Some(0));

    flip_keeping_mtime(&biggest_file(&cache, &probe));
    assert_eq!(verify(&["--repair"]).status.code(), Some(0));
    assert!(!entry(&cache, &probe).exists(), "--repair removes it");
    assert_eq!(plan_report(&plan, &store).to_run(), 1);
}

#[test]
fn export_names_every_damaged_entry_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    apply(TINY, &cache);
    let plan = plan_of(&manifest(TINY), &Registry::standard()).unwrap();
    let mut damaged = damage_four(&cache, &plan);
    let hidden = keys_of(&plan, "cka", 1)[0];
    flip_keeping_mtime(&biggest_file(&cache, &hidden));
    damaged.push(hidden);

    let store = ParquetStore::open(&cache).unwrap();
    let out = dir.path().join("out");
    let err = census::ops::export::export(&manifest(TINY), &store, &out, false).unwrap_err();
    let ExportError::Damaged(list) = &err else {
        panic!("{err}")
    };
    assert_eq!(list.len(), 5, "{err}");
    assert!(err.to_string().starts_with("5 damaged cache entries"), "{err}");
    assert!(!out.exists(), "nothing exported");

    assert_eq!(apply(TINY, &cache).ran.len(), 5, "one apply repairs all five");
    census::ops::export::export(&manifest(TINY), &store, &out, false).unwrap();
}
