//! Where results are written, when writing fails: a full disk stops `apply` with the store's
//! error and a valid cache that a rerun completes; `export` refuses a folder outside the
//! project and writes nothing.

use crate::common::{apply_cli, assert_same_tables, census_cli, export_cli, TINY};
use census::store::{Lookup, ParquetStore, Store};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a given size mounted on a fresh folder, unmounted on drop. Needs root (CI runs as
/// root and sets `CENSUS_REQUIRE_TMPFS=1`, so there a failed mount fails the test).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok && std::env::var_os("CENSUS_REQUIRE_TMPFS").is_some() {
            panic!("cannot mount a tmpfs on {}", at.display());
        }
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn size_of(dir: &Path) -> u64 {
    walk(dir).iter().map(|p| p.metadata().unwrap().len()).sum()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(walk(&p));
        } else {
            files.push(p);
        }
    }
    files
}

#[test]
fn a_full_disk_stops_apply_with_a_clear_error_and_a_valid_cache() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let reference = dir.path().join("reference");
    apply_cli(&manifest, &reference, "2");
    let expected = export_cli(&manifest, &reference, &dir.path().join("expected"));

    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), size_of(&reference) / 3) else {
        eprintln!("skipped: cannot mount a tmpfs here (not root?)");
        return;
    };
    let cache = disk.0.join("cache");
    let out = census_cli(&["apply", s(&manifest), "--cache", s(&cache)])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot be written") && stderr.contains("No space left on device"),
        "the error names the cause: {stderr}"
    );
    assert!(stderr.contains("run `census apply` again"), "{stderr}");
    assert!(
        !stderr.contains("FAILED"),
        "no task is blamed for the disk: {stderr}"
    );

    let store = ParquetStore::open(&cache).unwrap();
    let kept = store.keys().unwrap();
    assert!(
        !kept.is_empty(),
        "the results finished before the disk filled are kept"
    );
    for key in &kept {
        assert!(
            matches!(store.get(key).unwrap(), Lookup::Present(_)),
            "entry {} is damaged",
            key.hex()
        );
    }
    assert!(
        walk(&cache.join(".tmp")).is_empty(),
        "half-written entries are cleaned up"
    );

    disk.resize(64 << 20);
    apply_cli(&manifest, &cache, "2");
    let got = export_cli(&manifest, &cache, &dir.path().join("got"));
    assert_same_tables(
        &got,
        &expected,
        "after a full disk, against an uninterrupted run",
    );
}

#[test]
fn export_outside_the_project_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let manifest = project.join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let cache = project.join("cache");
    apply_cli(&manifest, &cache, "2");

    for out in ["../elsewhere", "/", "."] {
        let run = census_cli(&["export", "m.toml", "--cache", "cache", "--out", out])
            .current_dir(&project)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "--out {out}: {stderr}");
        assert!(
            stderr.contains(&format!("--out {out}")) && stderr.contains("project folder"),
            "the error names the argument and the rule: {stderr}"
        );
    }
    assert!(!dir.path().join("elsewhere").exists());
    let mut entries: Vec<_> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["cache", "m.toml"],
        "nothing written in the project"
    );

    let allowed = census_cli(&[
        "export",
        "m.toml",
        "--cache",
        "cache",
        "--out",
        "../elsewhere",
        "--allow-outside",
    ])
    .current_dir(&project)
    .status()
    .unwrap();
    assert!(allowed.success());
    assert!(dir.path().join("elsewhere/networks.parquet").exists());
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
