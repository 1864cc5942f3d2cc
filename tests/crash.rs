//! Crash safety: `apply` killed with SIGKILL mid-run leaves only valid entries, and a rerun
//! finishes with tables identical to an uninterrupted run.

use crate::common::{apply_cli, assert_same_tables, census_cli, export_cli, TINY};
use census::store::{Lookup, ParquetStore, Store};
use std::path::Path;
use std::time::Duration;

#[test]
fn sigkill_at_20_points_loses_nothing_finished() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(
        &manifest,
        TINY.replace("iterations = 5", "iterations = 1500")
            .replace("seeds = 2", "seeds = 3"),
    )
    .unwrap();
    let reference = dir.path().join("reference");
    apply_cli(&manifest, &reference, "2");
    let expected = export_cli(&manifest, &reference, &dir.path().join("expected"));

    let cache = dir.path().join("killed");
    // 20 kill points, spread (seeded, reproducible) over the first ~1.2 s of each restart: every
    // run resumes from what the previous ones finished, so the kills land at different tasks.
    let mut state = 0x9e3779b97f4a7c15u64;
    let delays: Vec<u64> = (0..20)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            30 + (state >> 33) % 1200
        })
        .collect();
    for delay_ms in delays {
        let mut child = census_cli(&[
            "apply",
            manifest.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--jobs",
            "2",
        ])
        .spawn()
        .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = ParquetStore::open(&cache).unwrap();
        for key in store.keys().unwrap() {
            assert!(
                matches!(store.get(&key).unwrap(), Lookup::Present(_)),
                "entry {key} is not valid after a kill"
            );
        }
    }
    apply_cli(&manifest, &cache, "2");
    let got = export_cli(&manifest, &cache, &dir.path().join("got"));
    assert_same_tables(
        &got,
        &expected,
        "after 20 kills, against an uninterrupted run",
    );
}

#[test]
fn tables_are_bit_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY.replace("[[study.analysis]]\nkind = \"mds\"", "[[study.analysis]]\nkind = \"fixed_points\"\ninits = 16\n\n[[study.analysis]]\nkind = \"mds\"")).unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    apply_cli(&manifest, &one, "1");
    apply_cli(&manifest, &two, "2");
    let a = export_cli(&manifest, &one, &dir.path().join("out1"));
    let b = export_cli(&manifest, &two, &dir.path().join("out2"));
    assert_same_tables(&a, &b, "--jobs 1 against --jobs 2");
}

#[test]
fn a_bad_manifest_writes_nothing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/bad/units_negative.toml");
    let status = census_cli(&[
        "apply",
        bad.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ])
    .status()
    .unwrap();
    assert_eq!(status.code(), Some(2));
    assert!(!cache.exists(), "the cache was touched");
}
