//! Planning and no-op `apply` at paper scale: `cargo bench --bench plan`.
//!
//! Plans `experiments/paper.toml` (three tasks × 96 configurations × 30 seeds, with search and
//! every analysis), fills a temporary cache with one small entry per task, then times a no-op
//! `apply` (every task cached), the case that must feel like a no-op `cargo build`.

use census::exec::{Event, Observer};
use census::store::{ParquetStore, Store};
use census::table::{Column, Output, Table};
use census::task::Registry;
use rayon::prelude::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

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

    let dir = std::env::temp_dir().join(format!("census-bench-plan-{}", std::process::id()));
    let store = ParquetStore::open(&dir).unwrap();
    let entry = Output::new().with("x", Table::new().with("v", Column::F64(vec![0.0])));
    let t = Instant::now();
    let keys: Vec<_> = plan.nodes().map(|(_, n)| n.key).collect();
    keys.par_iter().for_each(|k| store.put(k, &entry).unwrap());
    println!(
        "filled the cache with {} entries in {:.1} s",
        keys.len(),
        t.elapsed().as_secs_f64()
    );

    let cancel = AtomicBool::new(false);
    let noop: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let s = census::ops::apply(&manifest, &store, 2, &cancel, &mut Quiet).unwrap();
            assert!(s.ran.is_empty() && s.cached == keys.len());
            t.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "no-op apply (plan + freshness of every task), median of 5: {:.3} s",
        median(noop)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
