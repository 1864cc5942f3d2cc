//! `gc`: what it deletes and keeps, with sizes and tables, and that `--dry-run` deletes nothing;
//! entries in the layout of an older census (a folder per entry) are read, checked, verified,
//! measured and deleted like packs.

use crate::common::{apply, census_cli, manifest, TINY};
use census::plan::Key;
use census::store::{write_table_file, Health, Lookup, ParquetStore, Store};
use std::fs;
use std::path::{Path, PathBuf};

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                bytes_under(&e.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// The old-layout folder of an entry: `objects/<2 hex>/<64 hex>/`.
fn folder(cache: &Path, key: &Key) -> PathBuf {
    let hex = key.hex();
    cache.join("objects").join(&hex[..2]).join(hex)
}

fn pack(cache: &Path, key: &Key) -> PathBuf {
    folder(cache, key).with_extension("pack")
}

/// Rewrites an entry by hand in the layout census used before packs: one Parquet file per
/// table and `_entry.json` (format 1: per table its file, bytes, blake3 and rows; the
/// summary), then deletes its pack.
fn to_old_layout(store: &ParquetStore, cache: &Path, key: &Key) {
    let Lookup::Present(output) = store.get(key).unwrap() else {
        panic!("entry {key} is not readable")
    };
    let dir = folder(cache, key);
    let mut tables = Vec::new();
    for (name, table) in &output.tables {
        let file = format!("{name}.parquet");
        write_table_file(&dir.join(&file), table).unwrap();
        let bytes = fs::read(dir.join(&file)).unwrap();
        tables.push(serde_json::json!({
            "name": name,
            "file": file,
            "bytes": bytes.len(),
            "blake3": blake3::hash(&bytes).to_hex().as_str(),
            "rows": table.num_rows(),
        }));
    }
    let meta = serde_json::json!({
        "format": 1,
        "key": key.hex(),
        "tables": tables,
        "summary": output.summary,
    });
    fs::write(
        dir.join("_entry.json"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
    fs::remove_file(pack(cache, key)).unwrap();
}

/// Bytes of an entry's files, in whichever layout it is.
fn entry_bytes(cache: &Path, key: &Key) -> u64 {
    match fs::metadata(pack(cache, key)) {
        Ok(meta) => meta.len(),
        Err(_) => bytes_under(&folder(cache, key)),
    }
}

#[test]
fn gc_keeps_what_a_manifest_uses_and_reports_what_it_deletes_with_sizes() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let one_seed = TINY.replace("seeds = 2", "seeds = 1");
    let keep =
        census::ops::plan_of(&manifest(&one_seed), &census::task::Registry::standard()).unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let before = store.keys().unwrap();
    // Every other entry in the old layout: both are measured, kept and deleted alike.
    let old: Vec<Key> = before.iter().step_by(2).copied().collect();
    for key in &old {
        let digest = store.digest(key).unwrap();
        to_old_layout(&store, dir.path(), key);
        assert!(folder(dir.path(), key).is_dir() && !pack(dir.path(), key).exists());
        assert_eq!(store.check(key), Health::Present);
        assert_eq!(store.verify(key).unwrap(), Health::Present);
        assert!(matches!(store.get(key).unwrap(), Lookup::Present(_)));
        assert_eq!(
            store.digest(key),
            Some(digest),
            "the same tables and summary"
        );
    }
    assert_eq!(store.keys().unwrap(), before);
    let objects = dir.path().join("objects");
    let all_bytes = bytes_under(&objects);

    assert_eq!(
        std::fs::read_dir(dir.path().join("_actions"))
            .unwrap()
            .count(),
        15
    );
    let dry = census::ops::gc(&[manifest(&one_seed)], &store, true).unwrap();
    assert_eq!(store.keys().unwrap(), before, "a dry run deletes nothing");
    // The second seed's 4 networks and 4 probes, and every study-level task (their inputs
    // changed): svcca, cka, 2 mds, 2 clustering, findings.
    assert_eq!(dry.removed.len(), 8 + 7);
    // The first seed's networks and probes; the one-seed plan's study-level tasks are new.
    assert_eq!(dry.kept, keep.len() - 7);
    assert_eq!(dry.removed_bytes() + dry.kept_bytes, all_bytes);
    let sizes: Vec<u64> = dry.removed.iter().map(|(_, i)| i.bytes).collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {sizes:?}"
    );
    for (key, info) in &dry.removed {
        assert_eq!(info.bytes, entry_bytes(dir.path(), key));
    }
    assert!(dry.removed.iter().any(|(k, _)| old.contains(k)));
    assert!(dry.removed.iter().any(|(k, _)| !old.contains(k)));
    assert!(dry
        .removed
        .iter()
        .any(|(_, i)| i.tables == ["loss_curve", "network", "weights"]));

    let done = census::ops::gc(&[manifest(&one_seed)], &store, false).unwrap();
    assert_eq!(done.removed, dry.removed);
    assert_eq!(store.keys().unwrap().len(), keep.len() - 7);
    assert_eq!(bytes_under(&objects), dry.kept_bytes);
    for (key, _) in &done.removed {
        assert!(!folder(dir.path(), key).exists() && !pack(dir.path(), key).exists());
    }
    // Action records (early cutoff) of every task with inputs, less those of deleted entries:
    // 8 probes and 7 study-level tasks before, the first seed's 4 probes after.
    let actions = || {
        std::fs::read_dir(dir.path().join("_actions"))
            .unwrap()
            .count()
    };
    assert_eq!(actions(), 4);
}

#[test]
fn the_gc_command_prints_sizes_and_the_largest_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    apply(TINY, &cache);
    let small = dir.path().join("small.toml");
    std::fs::write(&small, TINY.replace("seeds = 2", "seeds = 1")).unwrap();
    let out = census_cli(&[
        "--cache",
        cache.to_str().unwrap(),
        "gc",
        small.to_str().unwrap(),
        "--dry-run",
    ])
    .stdout(std::process::Stdio::piped())
    .output()
    .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("would delete 15 entries (") && first.contains("), kept 8 ("),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + 15, "{text}");
    assert!(text.contains("loss_curve, network, weights"), "{text}");
}
