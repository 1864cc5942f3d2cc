//! Resource bounds: a manifest that would plan too many tasks, or a task that would need more
//! memory than allowed, is refused with a clear exit-2 error before anything large is allocated
//! and before the cache is touched.

use crate::common::{census_cli, TINY};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// Waits for `child` at most `limit`; a child still running then is killed and the test fails
/// (today's `main` grows until killed on some of these manifests).
fn finish_within(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `census ARGS... MANIFEST --cache DIR/cache` on `text`; exit code and stderr.
fn census(dir: &Path, text: &str, args: &[&str]) -> (Option<i32>, String) {
    let manifest = dir.join("m.toml");
    std::fs::write(&manifest, text).unwrap();
    let cache = dir.join("cache");
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        manifest.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let child = census_cli(&all).stderr(Stdio::piped()).spawn().unwrap();
    let out = finish_within(child, Duration::from_secs(60));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_grid_of_10_to_the_11_configurations_is_a_manifest_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = TINY
        .replace("units = [4]", "units = { from = 1, to = 65536 }")
        .replace("l2 = [1e-4]", "l2 = { from = 1e-6, to = 1.0, num = 1000000 }");
    let (code, stderr) = census(dir.path(), &text, &["plan"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("study[0].grid") && stderr.contains("configurations"),
        "{stderr}"
    );
}

#[test]
fn too_many_tasks_is_refused_before_planning_and_the_limit_can_be_raised() {
    let dir = tempfile::tempdir().unwrap();
    let trials = TINY.replace(
        "[study.probe]",
        "[study.search]\ntrials = 1000000000000\n\n[study.probe]",
    );
    let (code, stderr) = census(dir.path(), &trials, &["apply"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("more than the limit of 1000000") && stderr.contains("--max-tasks"),
        "{stderr}"
    );
    assert!(!dir.path().join("cache").exists(), "the cache was touched");

    // TINY plans 2 configurations × 2 seeds × 2 (trained, untrained) × 2 (train, probe) + 2
    // distances × 3 (itself, mds, clustering) + findings = 23 tasks.
    let (code, stderr) = census(dir.path(), TINY, &["plan", "--max-tasks", "22"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("plans 23 tasks"), "{stderr}");
    let (code, stderr) = census(dir.path(), TINY, &["plan", "--max-tasks", "23"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!dir.path().join("cache").exists(), "plan created no cache");
}

const HUGE_GRU: &str = r#"
[[study]]
name = "huge"
task = { kind = "flipflop", steps = 100 }
[study.grid]
arch = ["gru"]
activation = ["tanh"]
units = [65536]
seeds = 1
[study.train]
iterations = 1
batch = 64
val_trials = 256
"#;

#[test]
fn a_task_needing_more_memory_than_allowed_is_named_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = census(dir.path(), HUGE_GRU, &["apply", "--max-memory", "16G"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("huge: train gru-tanh-65536 l2=0 seed 0")
            && stderr.contains(" GB of memory, more than the 17.2 GB limit given by --max-memory"),
        "{stderr}"
    );
    assert!(!dir.path().join("cache").exists(), "the cache was touched");

    // Without --max-memory the machine's memory is the limit: a batch of 10^9 trials needs
    // petabytes anywhere.
    let petabytes = HUGE_GRU.replace("batch = 64", "batch = 1000000000");
    let (code, stderr) = census(dir.path(), &petabytes, &["apply"]);
    if Path::new("/proc/meminfo").exists() {
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains("PB of memory") && stderr.contains("MemTotal"),
            "{stderr}"
        );
    }
}
