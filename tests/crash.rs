//! Crash safety: `apply` killed with SIGKILL mid-run leaves only valid entries, and a rerun
//! finishes with tables identical to an uninterrupted run.

use crate::common::TINY;
use census::store::{read_table_file, Lookup, ParquetStore, Store};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn census(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_census"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

fn apply_to_end(manifest: &Path, cache: &Path) {
    apply_with_jobs(manifest, cache, "2");
}

fn apply_with_jobs(manifest: &Path, cache: &Path, jobs: &str) {
    let status = census(&[
        "apply",
        manifest.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--jobs",
        jobs,
    ])
    .status()
    .unwrap();
    assert!(status.success());
}

fn export(manifest: &Path, cache: &Path, out: &Path) -> Vec<(String, census::table::Table)> {
    let status = census(&[
        "export",
        manifest.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .status()
    .unwrap();
    assert!(status.success());
    let mut names: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| (n.clone(), read_table_file(&out.join(&n)).unwrap()))
        .collect()
}

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
    apply_to_end(&manifest, &reference);
    let expected = export(&manifest, &reference, &dir.path().join("expected"));

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
        let mut child = census(&[
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
    apply_to_end(&manifest, &cache);
    let got = export(&manifest, &cache, &dir.path().join("got"));
    assert_eq!(got.len(), expected.len());
    for ((name, a), (_, b)) in got.iter().zip(&expected) {
        // Debug prints floats in shortest round-trip form and every NaN alike: equal text means
        // bit-identical values, where `==` would call two NaN columns different.
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "table {name} differs from the uninterrupted run"
        );
    }
}

#[test]
fn tables_are_bit_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY.replace("[[study.analysis]]\nkind = \"mds\"", "[[study.analysis]]\nkind = \"fixed_points\"\ninits = 16\n\n[[study.analysis]]\nkind = \"mds\"")).unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    apply_with_jobs(&manifest, &one, "1");
    apply_with_jobs(&manifest, &two, "2");
    let a = export(&manifest, &one, &dir.path().join("out1"));
    let b = export(&manifest, &two, &dir.path().join("out2"));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(
            format!("{x:?}"),
            format!("{y:?}"),
            "table {name} differs between --jobs 1 and --jobs 2"
        );
    }
}

#[test]
fn a_bad_manifest_writes_nothing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/bad/units_negative.toml");
    let status = census(&[
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
