//! `apply --executor slurm` against a real single-node Slurm cluster started by
//! `scripts/slurm-cluster.sh`: the tables equal the local executor's, an edited analysis is the
//! only work resubmitted, and an interrupted apply cancels its jobs.
//!
//! Skipped with a message when Slurm (`slurm-wlm`, `munge`) is not installed, unless
//! `SLURM_REQUIRED=1`. Each test runs its own cluster on free ports.

use crate::common::{self, read_tables, TINY};
use census::table::Table;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether the Slurm daemons and clients are here; panics when they must be.
fn slurm_installed() -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg("command -v sbatch && command -v slurmctld && command -v slurmd && command -v munged")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("SLURM_REQUIRED").is_ok_and(|v| v == "1") {
        panic!("SLURM_REQUIRED=1 but sbatch/slurmctld/slurmd/munged are not installed (apt-get install -y slurm-wlm munge)");
    }
    if !found {
        eprintln!("skipped: Slurm is not installed (apt-get install -y slurm-wlm munge); set SLURM_REQUIRED=1 to make this a failure");
    }
    found
}

/// A running test cluster; stopped (daemons killed by PID) when dropped, even on a failed assert.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-cluster.sh")
}

/// Two free neighbouring ports (slurmctld, slurmd), so tests and other clusters never collide.
fn free_ports() -> u16 {
    use std::net::TcpListener;
    for _ in 0..50 {
        let first = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first < u16::MAX
            && TcpListener::bind(("127.0.0.1", first)).is_ok()
            && TcpListener::bind(("127.0.0.1", first + 1)).is_ok()
        {
            return first;
        }
    }
    panic!("no two free neighbouring ports");
}

impl Cluster {
    fn start() -> Cluster {
        let port = free_ports();
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .env("SLURM_TEST_PORT", port.to_string())
            .output()
            .unwrap();
        let cluster = Cluster {
            conf: dir.path().join("slurm.conf"),
            dir,
            port,
        };
        assert!(
            out.status.success(),
            "slurm-cluster.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout)
            .contains(&format!("SLURM_CONF={}", cluster.conf.display())));
        cluster
    }

    fn census(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_census"));
        c.args(args).env("SLURM_CONF", &self.conf);
        c
    }

    /// Our jobs still in the queue.
    fn queue(&self) -> String {
        let out = Command::new("squeue")
            .args(["--me", "--noheader"])
            .env("SLURM_CONF", &self.conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "squeue: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .env("SLURM_TEST_PORT", self.port.to_string())
            .status();
    }
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stderr}",
        out.status
    );
    stderr
}

fn export(cluster: &Cluster, manifest: &Path, cache: &Path, out: &Path) -> Vec<(String, Table)> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    ok(
        cluster
            .census(&["export", s(manifest), "--cache", s(cache), "--out", s(out)])
            .current_dir(out.parent().unwrap())
            .output()
            .unwrap(),
        "export",
    );
    read_tables(out)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_same_tables(a: &[(String, Table)], b: &[(String, Table)]) {
    common::assert_same_tables(a, b, "the Slurm against the local executor");
    assert!(a.len() >= 5, "too few tables exported: {}", a.len());
    let rows = |name: &str| {
        a.iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, t)| t.num_rows())
    };
    assert_eq!(rows("networks.parquet"), 8);
    assert!(rows("similarity.parquet") > 0 && rows("clustering.parquet") > 0);
}

/// `(kind, label)` and key of every task `census plan` would run.
fn to_run(
    cluster: &Cluster,
    manifest: &Path,
    cache: &Path,
) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let out = cluster
        .census(&["plan", s(manifest), "--cache", s(cache), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run: Vec<&serde_json::Value> = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "run")
        .collect();
    let tasks = run
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_string(),
                t["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let keys = run
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_string())
        .collect();
    (tasks, keys)
}

/// Run folders under `<cache>/_slurm`, oldest first.
fn runs(cache: &Path) -> Vec<PathBuf> {
    let mut r: Vec<PathBuf> = std::fs::read_dir(cache.join("_slurm"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    r.sort();
    r
}

/// Every key a run submitted, from its key lists.
fn submitted_keys(run: &Path) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for e in std::fs::read_dir(run).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "keys") {
            keys.extend(
                std::fs::read_to_string(&p)
                    .unwrap()
                    .lines()
                    .map(str::to_string),
            );
        }
    }
    keys
}

#[test]
fn slurm_apply_matches_local_and_reruns_only_the_changed_analysis() {
    if !slurm_installed() {
        return;
    }
    let started = Instant::now();
    let cluster = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    let (manifest, slurm_cache, local_cache) = (
        work.path().join("tiny.toml"),
        work.path().join("a"),
        work.path().join("b"),
    );
    std::fs::write(&manifest, TINY).unwrap();

    let (all, _) = to_run(&cluster, &manifest, &slurm_cache);
    assert_eq!(all.len(), 23);
    let log = ok(
        cluster
            .census(&[
                "apply",
                s(&manifest),
                "--cache",
                s(&slurm_cache),
                "--executor",
                "slurm",
                "--poll-seconds",
                "0.5",
            ])
            .output()
            .unwrap(),
        "slurm apply",
    );
    assert!(log.contains("submitted 23 tasks to Slurm"), "{log}");
    assert!(
        log.contains("0 cached, 23 ran, 0 failed, 0 skipped"),
        "{log}"
    );
    ok(
        cluster
            .census(&[
                "apply",
                s(&manifest),
                "--cache",
                s(&local_cache),
                "--jobs",
                "2",
            ])
            .output()
            .unwrap(),
        "local apply",
    );
    let out = work.path().join("out");
    assert_same_tables(
        &export(&cluster, &manifest, &slurm_cache, &out.join("a")),
        &export(&cluster, &manifest, &local_cache, &out.join("b")),
    );

    // Nothing to do: nothing submitted.
    let again = ok(
        cluster
            .census(&[
                "apply",
                s(&manifest),
                "--cache",
                s(&slurm_cache),
                "--executor",
                "slurm",
            ])
            .output()
            .unwrap(),
        "slurm rerun",
    );
    assert!(again.contains("23 cached, 0 ran"), "{again}");
    assert_eq!(runs(&slurm_cache).len(), 1);

    std::fs::write(&manifest, TINY.replace("variance = 0.95", "variance = 0.9")).unwrap();
    let (changed, keys) = to_run(&cluster, &manifest, &slurm_cache);
    let expected: BTreeSet<(String, String)> = [
        ("svcca", "all"),
        ("mds", "svcca"),
        ("clustering", "svcca"),
        ("findings", "all"),
    ]
    .iter()
    .map(|(k, l)| (k.to_string(), l.to_string()))
    .collect();
    assert_eq!(changed, expected);
    let log = ok(
        cluster
            .census(&[
                "apply",
                s(&manifest),
                "--cache",
                s(&slurm_cache),
                "--executor",
                "slurm",
                "--poll-seconds",
                "0.5",
            ])
            .output()
            .unwrap(),
        "slurm apply after the edit",
    );
    assert!(log.contains("submitted 4 tasks to Slurm"), "{log}");
    assert!(log.contains("19 cached, 4 ran, 0 failed"), "{log}");
    let second = runs(&slurm_cache).pop().unwrap();
    assert_eq!(submitted_keys(&second), keys);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(second.join("jobs.json")).unwrap()).unwrap();
    let kinds: Vec<&str> = record["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["svcca", "clustering", "mds", "findings"]);
    assert!(to_run(&cluster, &manifest, &slurm_cache).0.is_empty());

    ok(
        cluster
            .census(&[
                "apply",
                s(&manifest),
                "--cache",
                s(&local_cache),
                "--jobs",
                "2",
            ])
            .output()
            .unwrap(),
        "local apply after the edit",
    );
    assert_same_tables(
        &export(&cluster, &manifest, &slurm_cache, &out.join("a")),
        &export(&cluster, &manifest, &local_cache, &out.join("b")),
    );
    assert_eq!(cluster.queue().trim(), "");
    eprintln!("slurm test took {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn interrupting_a_slurm_apply_cancels_its_jobs() {
    if !slurm_installed() {
        return;
    }
    let cluster = Cluster::start();
    let work = tempfile::tempdir().unwrap();
    let (manifest, cache) = (work.path().join("slow.toml"), work.path().join("cache"));
    // Long enough training that the jobs are still queued or running at the interrupt.
    std::fs::write(
        &manifest,
        TINY.replace("iterations = 5", "iterations = 100000"),
    )
    .unwrap();
    let mut child = cluster
        .census(&[
            "apply",
            s(&manifest),
            "--cache",
            s(&cache),
            "--executor",
            "slurm",
            "--poll-seconds",
            "0.5",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    while let Some(Ok(line)) = lines.next() {
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("slurm: ") {
            break;
        }
    }
    assert!(log.contains("submitted 23 tasks"), "{log}");
    assert!(
        !cluster.queue().trim().is_empty(),
        "the jobs should be queued or running"
    );
    Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    for line in lines.map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("cancelled the 7 Slurm jobs"), "{log}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cluster.queue().trim().is_empty() {
        assert!(
            Instant::now() < deadline,
            "jobs still queued after scancel:\n{}",
            cluster.queue()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (left, _) = to_run(&cluster, &manifest, &cache);
    assert!(
        left.len() >= 6,
        "interrupted too late to test anything: {left:?}"
    );
}
