//! Concurrent `apply` processes on one cache over overlapping manifests: all finish, every task
//! runs exactly once across them (the others find it done under its key's lock), and the tables
//! equal a single uninterrupted run's.

use crate::common::{apply_cli, assert_same_tables, export_cli, TINY};
use std::process::{Command, Stdio};

/// `N ran` from an apply's closing line.
fn ran(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("done in"))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    let before = line.split(" ran").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn four_concurrent_applies_run_each_task_once() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.toml");
    let large = dir.path().join("large.toml");
    let text = TINY.replace("iterations = 5", "iterations = 100");
    std::fs::write(&small, &text).unwrap();
    std::fs::write(&large, text.replace("seeds = 2", "seeds = 3")).unwrap();
    let cache = dir.path().join("cache");
    let bin = env!("CARGO_BIN_EXE_census");
    let children: Vec<_> = [&small, &large, &small, &large]
        .iter()
        .map(|m| {
            Command::new(bin)
                .args([
                    "apply",
                    m.to_str().unwrap(),
                    "--cache",
                    cache.to_str().unwrap(),
                    "--jobs",
                    "1",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        total += ran(&stderr);
    }
    // The large manifest's tasks: 12 trains, 12 probes, svcca, cka, 2 mds, 2 clustering, findings;
    // the small one's study-level tasks (8 networks) differ from the large one's: 7 more.
    assert_eq!(
        total,
        31 + 7,
        "every task runs exactly once across the four processes"
    );

    let reference = dir.path().join("reference");
    for m in [&small, &large] {
        apply_cli(m, &reference, "2");
    }
    for m in [&small, &large] {
        let ours = export_cli(m, &cache, &dir.path().join("a"));
        let sequential = export_cli(m, &reference, &dir.path().join("b"));
        assert_same_tables(
            &ours,
            &sequential,
            &format!("{} against a sequential run", m.display()),
        );
    }
}
