//! Damaged cache entries: the quick check that every `plan`, `status` and `apply` runs sees a
//! cut pack, garbage written over one, a flipped byte in a table or damaged metadata; a deleted
//! pack is missing; one `apply` repairs every damaged entry; the full check (`census verify`,
//! `apply --verify`) also sees damage that kept the pack's size and modification time; `export`
//! names every damaged entry at once.

use crate::common::{apply, census_cli, manifest, TINY};
use census::exec::{Depth, Reason};
use census::ops::export::ExportError;
use census::ops::{plan_of, plan_report, ApplyOptions};
use census::plan::{Key, Plan};
use census::store::{Health, ParquetStore, Store};
use census::task::Registry;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The entry's pack: `objects/<2 hex>/<64 hex>.pack`.
fn pack(cache: &Path, key: &Key) -> PathBuf {
    let hex = key.hex();
    cache
        .join("objects")
        .join(&hex[..2])
        .join(format!("{hex}.pack"))
}

/// The pack's metadata, read as its format says: the footer's last 52 bytes start with the
/// metadata's length, and the metadata (JSON) ends where the footer starts.
fn metadata(pack: &Path) -> (serde_json::Value, std::ops::Range<u64>) {
    let bytes = fs::read(pack).unwrap();
    let footer = bytes.len() - 52;
    let len = u64::from_le_bytes(bytes[footer..footer + 8].try_into().unwrap()) as usize;
    let meta = serde_json::from_slice(&bytes[footer - len..footer]).unwrap();
    (meta, (footer - len) as u64..footer as u64)
}

/// Where the pack's largest table lies.
fn largest_table(pack: &Path) -> std::ops::Range<u64> {
    let (meta, _) = metadata(pack);
    let t = meta["tables"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|t| t["bytes"].as_u64().unwrap())
        .unwrap()
        .clone();
    let offset = t["offset"].as_u64().unwrap();
    offset..offset + t["bytes"].as_u64().unwrap()
}

/// Flips a bit of the byte in the middle of `range` of the file, in place.
fn flip_middle_byte(path: &Path, range: std::ops::Range<u64>) {
    let at = (range.start + range.end) / 2;
    let file = fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x10], at).unwrap();
}

/// Flips a byte of the pack's largest table and puts its modification time back: only a hash
/// sees it.
fn flip_keeping_mtime(path: &Path) {
    let mtime = path.metadata().unwrap().modified().unwrap();
    flip_middle_byte(path, largest_table(path));
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// The keys of the first `count` tasks of `kind`, in plan order.
fn keys_of(plan: &Plan, kind: &str, count: usize) -> Vec<Key> {
    plan.nodes()
        .filter(|(_, n)| n.kind == kind)
        .take(count)
        .map(|(_, n)| n.key)
        .collect()
}

/// Four entries damaged four ways: cut, same-size garbage, a flipped byte in a table, a flipped
/// byte in the metadata.
fn damage_four(cache: &Path, plan: &Plan) -> Vec<Key> {
    let trains = keys_of(plan, "train", 2);
    let damaged = vec![
        trains[0],
        trains[1],
        keys_of(plan, "probe", 1)[0],
        keys_of(plan, "svcca", 1)[0],
    ];
    let p = pack(cache, &damaged[0]);
    let len = p.metadata().unwrap().len();
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let p = pack(cache, &damaged[1]);
    let len = p.metadata().unwrap().len() as usize;
    fs::write(&p, vec![0x5a; len]).unwrap();
    let p = pack(cache, &damaged[2]);
    flip_middle_byte(&p, largest_table(&p));
    let p = pack(cache, &damaged[3]);
    flip_middle_byte(&p, metadata(&p).1);
    damaged
}

#[test]
fn plan_sees_damaged_entries_and_one_apply_repairs_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    apply(TINY, &cache);
    let plan = plan_of(&manifest(TINY), &Registry::standard()).unwrap();
    let mut damaged = damage_four(&cache, &plan);
    let deleted = keys_of(&plan, "cka", 1)[0];
    fs::remove_file(pack(&cache, &deleted)).unwrap();

    let store = ParquetStore::open(&cache).unwrap();
    let report = plan_report(&plan, &store);
    let mut to_run: Vec<&str> = report
        .tasks
        .iter()
        .filter(|t| t.status == "run")
        .map(|t| {
            let reason = match t.key == deleted.hex() {
                true => Reason::Missing,
                false => Reason::Damaged,
            };
            assert_eq!(t.reason, Some(reason), "{} {}", t.kind, t.label);
            t.key.as_str()
        })
        .collect();
    to_run.sort();
    damaged.push(deleted);
    let mut expected: Vec<String> = damaged.iter().map(|k| k.hex()).collect();
    expected.sort();
    assert_eq!(
        to_run, expected,
        "plan names exactly the damaged and deleted entries"
    );

    let summary = apply(TINY, &cache);
    assert_eq!(
        summary.ran.len(),
        5,
        "one apply reruns the five: {:?}",
        summary.ran
    );
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
    flip_keeping_mtime(&pack(&cache, &probe));

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
    assert!(
        pack(&cache, &probe).exists(),
        "verify alone removes nothing"
    );

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

    flip_keeping_mtime(&pack(&cache, &probe));
    assert_eq!(verify(&["--repair"]).status.code(), Some(0));
    assert!(!pack(&cache, &probe).exists(), "--repair removes it");
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
    flip_keeping_mtime(&pack(&cache, &hidden));
    damaged.push(hidden);

    let store = ParquetStore::open(&cache).unwrap();
    let out = dir.path().join("out");
    let err = census::ops::export::export(&manifest(TINY), &store, &out, false).unwrap_err();
    let ExportError::Damaged(list) = &err else {
        panic!("{err}")
    };
    assert_eq!(list.len(), 5, "{err}");
    assert!(
        err.to_string().starts_with("5 damaged cache entries"),
        "{err}"
    );
    assert!(!out.exists(), "nothing exported");

    assert_eq!(
        apply(TINY, &cache).ran.len(),
        5,
        "one apply repairs all five"
    );
    census::ops::export::export(&manifest(TINY), &store, &out, false).unwrap();
}
