//! Planning and no-op `apply` at paper scale: `cargo bench --bench plan`.
//!
//! Plans `experiments/paper.toml` (three tasks × 96 configurations × 30 seeds, with search and
//! every analysis), fills a temporary cache with one small entry per task, then times a no-op
//! `apply` (every task cached), the case that must feel like a no-op `cargo build`: planning,
//! the task-count and per-task memory bounds, and the quick check of every entry (one stat of
//! its pack through the index). Then the full check (`census verify`), which hashes every
//! table, for comparison.

use census::exec::{Depth, Event, Observer};
use census::ops::bounds::{Limits, MemoryLimit};
use census::ops::ApplyOptions;
use census::plan::Key;
use census::store::{Health, KeyLock, Lookup, ParquetStore, SlotId, SlotRecord, Store, StoreError};
use census::table::{Column, Output, Table};
use census::task::Registry;
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The cache as `main` checked it before the quick check existed: an entry counts as present
/// when its metadata exists (its pack, or an old-layout folder's `_entry.json`). The reference
/// the quick check is measured against.
struct JsonOnly<'a>(&'a ParquetStore);

impl Store for JsonOnly<'_> {
    fn check(&self, key: &Key) -> Health {
        let hex = key.hex();
        let folder = self.0.root().join("objects").join(&hex[..2]).join(&hex);
        if folder.with_extension("pack").is_file() || folder.join("_entry.json").is_file() {
            Health::Present
        } else {
            Health::Absent
        }
    }
    fn verify(&self, key: &Key) -> Result<Health, StoreError> {
        self.0.verify(key)
    }
    fn get(&self, key: &Key) -> Result<Lookup, StoreError> {
        self.0.get(key)
    }
    fn put(&self, key: &Key, output: &Output) -> Result<(), StoreError> {
        self.0.put(key, output)
    }
    fn digest(&self, key: &Key) -> Option<Key> {
        self.0.digest(key)
    }
    fn action(&self, action: &Key) -> Option<Key> {
        self.0.action(action)
    }
    fn set_action(&self, action: &Key, key: &Key) -> Result<(), StoreError> {
        self.0.set_action(action, key)
    }
    fn retain_actions(&self, keep: &dyn Fn(&Key) -> bool) -> Result<usize, StoreError> {
        self.0.retain_actions(keep)
    }
    fn keys(&self) -> Result<Vec<Key>, StoreError> {
        self.0.keys()
    }
    fn remove(&self, key: &Key) -> Result<(), StoreError> {
        self.0.remove(key)
    }
    fn lock_key(&self, key: &Key) -> Result<Box<dyn KeyLock>, StoreError> {
        self.0.lock_key(key)
    }
    fn slot(&self, slot: &str) -> Option<SlotRecord> {
        self.0.slot(slot)
    }
    fn set_slot(&self, slot: &str, record: &SlotRecord) -> Result<(), StoreError> {
        self.0.set_slot(slot, record)
    }
    fn record_use(&self, used: &[(SlotId, Key)]) -> Result<(), StoreError> {
        self.0.record_use(used)
    }
    fn set_failure(&self, key: &Key, message: Option<&str>) -> Result<(), StoreError> {
        self.0.set_failure(key, message)
    }
    fn failure(&self, key: &Key) -> Option<String> {
        self.0.failure(key)
    }
}

/// A train entry as `status` and `apply` read it: a real `network` row, a `weights` table the
/// size of a 64-unit vanilla network's, and a loss curve.
fn network_entry(node: &census::plan::TaskNode) -> Output {
    let net = &node.params["net"];
    let row = census::task::NetworkRow {
        network_id: node.key.short(),
        task: serde_json::from_value(net["task"].clone()).unwrap(),
        arch: serde_json::from_value(net["arch"].clone()).unwrap(),
        activation: serde_json::from_value(net["activation"].clone()).unwrap(),
        units: 64,
        l2: 0.0,
        seed: 0,
        trained: node.params["schedule"]["iterations"] != 0,
        iterations: 20_000,
        status: "ok".to_string(),
        reason: String::new(),
        train_loss: 0.01,
        val_loss: 0.01,
        score: 1.0,
        solved: true,
        hyper: None,
    };
    let weights = Table::new().with(
        "values",
        Column::F32((0..4_500).map(|i| i as f32).collect()),
    );
    let loss = Table::new().with("loss", Column::F64(vec![0.5; 400]));
    Output::new()
        .with("network", row.to_table())
        .with("weights", weights)
        .with("loss_curve", loss)
        .with_summary(row.summary())
}

struct Quiet;
impl Observer for Quiet {
    fn event(&mut self, _: Event) {}
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/paper.toml");
    let manifest = census::manifest::load(&path).expect("paper manifest");
    let registry = Registry::standard();
    let plan_times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let plan = census::ops::plan_of(&manifest, &registry).unwrap();
            std::hint::black_box(plan.len());
            t.elapsed().as_secs_f64()
        })
        .collect();
    let plan = census::ops::plan_of(&manifest, &registry).unwrap();
    println!("tasks: {}", plan.len());
    println!(
        "plan (parse excluded), median of 5: {:.3} s",
        median(plan_times)
    );

    // CENSUS_BENCH_CACHE keeps the filled cache for the next run (filling it takes minutes).
    let kept = std::env::var_os("CENSUS_BENCH_CACHE");
    let dir = kept.clone().map_or_else(
        || std::env::temp_dir().join(format!("census-bench-plan-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    let store = ParquetStore::open(&dir).unwrap();
    // Three tables, as a trained network's entry has (network, weights, loss curve).
    let table = Table::new().with("v", Column::F64(vec![0.0]));
    let entry = Output::new()
        .with("x", table.clone())
        .with("y", table.clone())
        .with("z", table);
    let t = Instant::now();
    let keys: Vec<_> = plan.nodes().map(|(_, n)| n.key).collect();
    let nodes: Vec<_> = plan.nodes().map(|(_, n)| n).collect();
    nodes.par_iter().for_each(|n| {
        let output = if n.kind == "train" {
            network_entry(n)
        } else {
            entry.clone()
        };
        store.put(&n.key, &output).unwrap()
    });
    println!(
        "filled the cache with {} entries in {:.1} s",
        keys.len(),
        t.elapsed().as_secs_f64()
    );

    let cancel = AtomicBool::new(false);
    let opts = ApplyOptions {
        jobs: 2,
        depth: Depth::Quick,
        limits: Limits {
            max_memory: Some(MemoryLimit::given(u64::MAX)),
            ..Limits::default()
        },
    };
    let noop = |store: &dyn Store, opts: &ApplyOptions| {
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let s =
                    census::ops::apply_with(&manifest, store, opts, &cancel, &mut Quiet).unwrap();
                assert!(s.ran.is_empty() && s.cached == keys.len());
                t.elapsed().as_secs_f64()
            })
            .collect();
        let first = times[0];
        times.remove(0);
        (first, median(times))
    };
    let _ = std::fs::remove_file(dir.join("_index.bin"));
    let (_, reference) = noop(
        &JsonOnly(&store),
        &ApplyOptions {
            limits: Limits::default(),
            ..opts.clone()
        },
    );
    let (first, quick) = noop(&store, &opts);
    println!("no-op apply with no index yet (reads every entry's metadata, writes the index): {first:.3} s");
    println!("no-op apply, reference (plan, the pack or `_entry.json` exists), median of 4: {reference:.3} s");
    println!(
        "no-op apply (plan, bounds, quick check of every entry), median of 4: {quick:.3} s ({:.2}x the reference)",
        quick / reference
    );
    let bounds: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            census::ops::bounds::check_memory(&plan, &MemoryLimit::given(u64::MAX)).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "of which the memory bound, median of 5: {:.3} s",
        median(bounds)
    );
    breakdown(&manifest, &plan, &store);
    let t = Instant::now();
    let verified = census::ops::verify(&store, false).unwrap();
    assert!(verified.damaged.is_empty());
    println!(
        "full check of {} entries (census verify): {:.3} s",
        verified.checked,
        t.elapsed().as_secs_f64()
    );
    if kept.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Median of five timings of `f`, in seconds.
fn time5(mut f: impl FnMut()) -> f64 {
    median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Where a no-op `apply` spends its time: each stage of `ops::apply_with` timed alone, then the
/// population count the command prints after every `apply`, then the command itself.
fn breakdown(
    manifest: &census::manifest::Manifest,
    plan: &census::plan::Plan,
    store: &ParquetStore,
) {
    let count = time5(|| {
        census::ops::bounds::check_count(manifest, u64::MAX).unwrap();
    });
    let version = |k: &str| Registry::standard().version(k);
    let expand = time5(|| {
        std::hint::black_box(census::study::expand(manifest, &version).unwrap());
    });
    let fresh = time5(|| {
        std::hint::black_box(census::exec::survey(plan, store, Depth::Quick));
    });
    let (_, found) = census::exec::survey(plan, store, Depth::Quick);
    let population = time5(|| {
        census::ops::population::count(manifest, plan, store, &found).unwrap();
    });
    let alone = time5(|| {
        census::ops::population::count(manifest, plan, store, &Default::default()).unwrap();
    });
    println!(
        "stages, median of 5: task count {count:.3} s, expand {expand:.3} s, quick check of every entry (with the summaries) {fresh:.3} s, population count {population:.3} s (checking its entries again: {alone:.3} s)"
    );
    let command = time5(|| {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_census"))
            .args([
                "--cache",
                &store.root().to_string_lossy(),
                "--max-memory",
                "1000000G",
                "apply",
            ])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/paper.toml"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    });
    println!("`census apply experiments/paper.toml`, no-op, median of 5: {command:.3} s");
}
