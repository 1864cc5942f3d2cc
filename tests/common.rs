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
