//! `gc`: what it deletes and keeps, with sizes and tables, and that `--dry-run` deletes nothing.

use crate::common::{apply, census_cli, manifest, TINY};
use census::store::{ParquetStore, Store};
use std::path::Path;

/// Bytes of every file under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
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

#[test]
fn gc_keeps_what_a_manifest_uses_and_reports_what_it_deletes_with_sizes() {
    let dir = tempfile::tempdir().unwrap();
    apply(TINY, dir.path());
    let one_seed = TINY.replace("seeds = 2", "seeds = 1");
    let keep =
        census::ops::plan_of(&manifest(&one_seed), &census::task::Registry::standard()).unwrap();
    let store = ParquetStore::open(dir.path()).unwrap();
    let before = store.keys().unwrap();
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
    let hex = dry.removed[0].0.hex();
    assert_eq!(
        dry.removed[0].1.bytes,
        bytes_under(&objects.join(&hex[..2]).join(&hex))
    );
    assert!(dry
        .removed
        .iter()
        .any(|(_, i)| i.tables == ["loss_curve", "network", "weights"]));

    let done = census::ops::gc(&[manifest(&one_seed)], &store, false).unwrap();
    assert_eq!(done.removed, dry.removed);
    assert_eq!(store.keys().unwrap().len(), keep.len() - 7);
    assert_eq!(bytes_under(&objects), dry.kept_bytes);
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
