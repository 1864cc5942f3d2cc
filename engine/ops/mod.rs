//! The commands as library functions: each takes checked values and a store and returns values.
//! `cli` is a thin layer over these; tests call them directly.

pub mod export;
pub mod outdir;
mod plan;
pub mod population;
pub mod slurm;

pub use plan::{plan_report, PlanReport};

use crate::exec::{self, Observer, Options, Summary};
use crate::manifest::Manifest;
use crate::plan::{expand, Plan, PlanError};
use crate::store::Store;
use crate::task::Registry;
use std::sync::atomic::AtomicBool;

/// Expands a manifest with the standard task kinds.
pub fn plan_of(manifest: &Manifest, registry: &Registry) -> Result<Plan, PlanError> {
    expand(manifest, &|k| registry.version(k))
}

/// Parses, checks and plans arbitrary bytes as a manifest: the fuzz target (`fuzz/`) and the
/// replay of its corpus in the tests. An error is a fine answer, a panic is a finding. Returns
/// the number of tasks when the bytes make a valid manifest.
pub fn parse_and_plan(data: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(data).ok()?;
    let manifest = crate::manifest::parse(std::path::Path::new("fuzz.toml"), text).ok()?;
    plan_of(&manifest, &Registry::standard())
        .ok()
        .map(|p| p.len())
}

/// Runs every stale task of a manifest.
pub fn apply(
    manifest: &Manifest,
    store: &dyn Store,
    jobs: usize,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Summary, PlanError> {
    let registry = Registry::standard();
    let plan = plan_of(manifest, &registry)?;
    Ok(exec::run(
        &plan,
        &registry,
        store,
        &Options { jobs, cancel },
        observer,
    ))
}

/// Deletes every entry that no given manifest references; returns how many.
pub fn gc(
    manifests: &[Manifest],
    store: &dyn Store,
    dry_run: bool,
) -> anyhow::Result<(usize, usize)> {
    let registry = Registry::standard();
    let mut keep = std::collections::HashSet::new();
    for m in manifests {
        for (_, node) in plan_of(m, &registry)?.nodes() {
            keep.insert(node.key);
        }
    }
    let mut removed = 0;
    let all = store.keys()?;
    for k in &all {
        if !keep.contains(k) {
            if !dry_run {
                store.remove(k)?;
            }
            removed += 1;
        }
    }
    Ok((removed, all.len() - removed))
}
