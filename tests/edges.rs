//! Small things a hostile user found: a study name too long for a file name, an OS error printed
//! twice, a read-only cache, a mistyped `--cache`, and `export` racing `gc`.

use crate::common::{apply_cli, census_cli, TINY};
use census::store::ParquetStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr_of(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_study_name_too_long_for_a_file_name_is_a_manifest_error() {
    let text = TINY.replace("name = \"tiny\"", &format!("name = \"{}\"", "n".repeat(300)));
    let err = census::manifest::parse(Path::new("m.toml"), &text).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("study[0].name") && msg.contains("at most 100 characters, got 300"),
        "{msg}"
    );
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let cache = file.join("cache");
    let (code, stderr) = stderr_of(&mut census_cli(&["apply", s(&manifest), "--cache", s(&cache)]));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.matches("(os error 20)").count(), 1, "{stderr}");
}

#[test]
fn plan_and_status_with_a_mistyped_cache_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let typo = dir.path().join("cahce");
    for command in ["plan", "status"] {
        let (code, stderr) =
            stderr_of(&mut census_cli(&[command, s(&manifest), "--cache", s(&typo)]));
        assert_eq!(code, Some(0), "{command}: {stderr}");
        assert!(!typo.exists(), "{command} created {}", typo.display());
    }
    for command in ["export", "report"] {
        let out = dir.path().join("out");
        let (code, stderr) = stderr_of(
            census_cli(&[command, s(&manifest), "--cache", s(&typo), "--out", s(&out)])
                .current_dir(dir.path()),
        );
        assert_eq!(code, Some(2), "{command}: {stderr}");
        assert!(stderr.contains("is not a census cache"), "{command}: {stderr}");
        assert!(!typo.exists() && !out.exists(), "{command} wrote something");
    }
}

#[test]
fn export_holds_the_cache_lock_so_gc_cannot_delete_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let cache = dir.path().join("cache");
    apply_cli(&manifest, &cache, "2");
    let store = ParquetStore::open(&cache).unwrap();
    let gc = store.lock_exclusive().unwrap();
    let mut export = census_cli(&["export", s(&manifest), "--cache", s(&cache), "--out", "out"])
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        export.try_wait().unwrap().is_none(),
        "export ran while gc held the cache"
    );
    assert!(!dir.path().join("out").exists());
    drop(gc);
    assert!(export.wait().unwrap().success());
    assert!(dir.path().join("out/networks.parquet").exists());
}

/// A read-only bind mount of a folder, unmounted on drop. Needs root, as the tmpfs of
/// `storage.rs` does (`CENSUS_REQUIRE_TMPFS=1` makes a failed mount fail the test).
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(source: &Path, at: &Path) -> Option<ReadOnly> {
        std::fs::create_dir_all(at).unwrap();
        let run = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let bound = run(&["--bind", s(source), s(at)]);
        let view = bound.then(|| ReadOnly(at.to_path_buf()));
        let ok = bound && run(&["-o", "remount,bind,ro", s(at)]);
        if !ok && std::env::var_os("CENSUS_REQUIRE_TMPFS").is_some() {
            panic!("cannot mount {} read-only", at.display());
        }
        ok.then_some(view).flatten()
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn apply_on_a_read_only_cache_with_nothing_to_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("m.toml");
    std::fs::write(&manifest, TINY).unwrap();
    let cache = dir.path().join("cache");
    apply_cli(&manifest, &cache, "2");
    let Some(view) = ReadOnly::mount(&cache, &dir.path().join("ro")) else {
        eprintln!("skipped: cannot mount read-only here (not root?)");
        return;
    };
    let (code, stderr) = stderr_of(&mut census_cli(&["apply", s(&manifest), "--cache", s(&view.0)]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("0 ran"), "{stderr}");
    let (code, stderr) = stderr_of(&mut census_cli(&["status", s(&manifest), "--cache", s(&view.0)]));
    assert_eq!(code, Some(0), "{stderr}");
}
