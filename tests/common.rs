//! Helpers shared by the integration tests: tiny manifests, temporary caches, and an observer
//! that records which tasks ran.

use census::exec::{Event, Observer, Summary};
use census::manifest::{parse, Manifest};
use census::store::ParquetStore;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// A flip-flop study small enough to train in well under a second per network.
pub const TINY: &str = r#"
[[study]]
name = "tiny"
task = { kind = "flipflop", steps = 20 }
keep_unsolved = true

[study.grid]
arch = ["vanilla", "gru"]
activation = ["tanh"]
units = [4]
l2 = [1e-4]
seeds = 2

[study.train]
iterations = 5
batch = 8
val_trials = 8

[study.probe]
trials = 4

[[study.analysis]]
kind = "svcca"
variance = 0.95

[[study.analysis]]
kind = "cka"

[[study.analysis]]
kind = "mds"

[[study.analysis]]
kind = "clustering"
permutations = 10
"#;

pub fn manifest(text: &str) -> Manifest {
    parse(Path::new("test.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// Records nothing but lets the scheduler run silently.
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: Event) {}
}

pub fn apply(text: &str, cache: &Path) -> Summary {
    let store = ParquetStore::open(cache).unwrap();
    let cancel = AtomicBool::new(false);
    let s = census::ops::apply(&manifest(text), &store, 2, &cancel, &mut Quiet).unwrap();
    assert!(s.failed.is_empty(), "failures: {:?}", s.failed);
    s
}

/// How many tasks of each kind ran, sorted, for readable assertions.
pub fn ran(s: &Summary) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for (k, _) in &s.ran {
        *counts.entry(k.clone()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

pub fn counts(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    v.sort();
    v
}

/// The `census` binary with the given arguments, its output discarded.
pub fn census_cli(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_census"));
    c.args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// `census apply MANIFEST --cache CACHE --jobs JOBS`, which must succeed.
pub fn apply_cli(manifest: &Path, cache: &Path, jobs: &str) {
    let status = census_cli(&[
        "apply",
        manifest.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--jobs",
        jobs,
    ])
    .status()
    .unwrap();
    assert!(status.success(), "apply {} failed", manifest.display());
}

/// `census export` into a fresh `out`, then every table it wrote.
pub fn export_cli(
    manifest: &Path,
    cache: &Path,
    out: &Path,
) -> Vec<(String, census::table::Table)> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let status = census_cli(&[
        "export",
        manifest.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .current_dir(out.parent().unwrap())
    .status()
    .unwrap();
    assert!(status.success(), "export {} failed", manifest.display());
    read_tables(out)
}

/// Every `.parquet` table in `dir`, by file name.
pub fn read_tables(dir: &Path) -> Vec<(String, census::table::Table)> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            (
                n.clone(),
                census::store::read_table_file(&dir.join(&n)).unwrap(),
            )
        })
        .collect()
}

/// The same tables, columns and values, floats compared by their bits (NaN marks a value that
/// does not apply, and `==` would call two NaN columns different). `what` names the comparison.
pub fn assert_same_tables(
    a: &[(String, census::table::Table)],
    b: &[(String, census::table::Table)],
    what: &str,
) {
    use census::table::Table;
    let names = |t: &[(String, Table)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "tables: {what}");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        let columns = |t: &Table| {
            t.columns()
                .iter()
                .map(|(c, _)| c.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(columns(x), columns(y), "columns of {name}: {what}");
        let differ: Vec<&str> = x
            .columns()
            .iter()
            .zip(y.columns())
            .filter(|((_, c), (_, d))| !bit_equal(c, d))
            .map(|((c, _), _)| c.as_str())
            .collect();
        assert!(
            differ.is_empty(),
            "table {name} differs in columns {differ:?}: {what}"
        );
    }
}

fn bit_equal(a: &census::table::Column, b: &census::table::Column) -> bool {
    use census::table::Column;
    let f64s = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let f32s = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    match (a, b) {
        (Column::F64(x), Column::F64(y)) => f64s(x) == f64s(y),
        (Column::F32(x), Column::F32(y)) => f32s(x) == f32s(y),
        (Column::ListF32(x), Column::ListF32(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| f32s(p) == f32s(q))
        }
        _ => a == b,
    }
}

/// Whether `command` (program and arguments) succeeds, for probing an optional reference.
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    std::process::Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether an optional reference is installed (`ok`): when it is not, the test says it is
/// skipped and how to install it, unless the environment variable `required` is set (CI sets
/// them once it has installed everything), where a missing reference fails the test.
pub fn reference_available(ok: bool, required: &str, what: &str, install: &str) -> bool {
    if !ok {
        assert!(
            std::env::var_os(required).is_none(),
            "{required} is set but {what} is missing ({install})"
        );
        eprintln!("skipped: {what} is not installed ({install})");
    }
    ok
}
