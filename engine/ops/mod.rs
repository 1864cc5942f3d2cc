//! The commands as library functions: each takes checked values and a store and returns values.
//! `cli` is a thin layer over these; tests call them directly.

pub mod bounds;
pub mod changes;
pub mod export;
pub mod folder;
pub mod outdir;
mod plan;
pub mod population;
pub mod slurm;

pub use plan::{plan_report, PlanReport};

use crate::exec::{self, Depth, Observer, Options, Summary};
use bounds::Limits;
use crate::manifest::Manifest;
use crate::plan::{Key, Plan, PlanError};
use crate::study::expand;
use crate::store::{EntryInfo, Health, Store, StoreError};
use crate::task::Registry;
use std::sync::atomic::AtomicBool;

/// Expands a manifest with the standard task kinds, within the default task-count limit.
pub fn plan_of(manifest: &Manifest, registry: &Registry) -> Result<Plan, PlanError> {
    plan_within(manifest, registry, &Limits::default())
}

/// Expands a manifest after checking its task count, then checks every task's memory.
pub fn plan_within(
    manifest: &Manifest,
    registry: &Registry,
    limits: &Limits,
) -> Result<Plan, PlanError> {
    bounds::check_count(manifest, limits.max_tasks)?;
    let plan = expand(manifest, &|k| registry.version(k))?;
    if let Some(memory) = &limits.max_memory {
        bounds::check_memory(&plan, memory)?;
    }
    Ok(plan)
}

/// How `apply` runs: threads, how closely cached entries are checked, and the bounds.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub jobs: usize,
    pub depth: Depth,
    pub limits: Limits,
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

/// Runs every stale task of a manifest with the default limits and the quick entry check.
pub fn apply(
    manifest: &Manifest,
    store: &dyn Store,
    jobs: usize,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Summary, PlanError> {
    let opts = ApplyOptions {
        jobs,
        depth: Depth::Quick,
        limits: Limits::default(),
    };
    apply_with(manifest, store, &opts, cancel, observer)
}

/// Runs every stale task of a manifest; damaged entries found are removed and recomputed.
pub fn apply_with(
    manifest: &Manifest,
    store: &dyn Store,
    opts: &ApplyOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Result<Summary, PlanError> {
    let plan = plan_within(manifest, &Registry::standard(), &opts.limits)?;
    Ok(apply_plan(&plan, store, opts, cancel, observer))
}

/// Runs every stale task of a plan already made (and checked) with `plan_within`.
pub fn apply_plan(
    plan: &Plan,
    store: &dyn Store,
    opts: &ApplyOptions,
    cancel: &AtomicBool,
    observer: &mut dyn Observer,
) -> Summary {
    let options = Options {
        jobs: opts.jobs,
        cancel,
        depth: opts.depth,
    };
    exec::run(plan, &Registry::standard(), store, &options, observer)
}

/// What `verify` found: how many entries it read, and the damaged ones with why.
#[derive(Debug, Default)]
pub struct Verified {
    pub checked: usize,
    pub damaged: Vec<(Key, String)>,
}

/// Reads every entry of the cache and checks it against its recorded hashes; `repair` removes
/// the damaged ones.
pub fn verify(store: &dyn Store, repair: bool) -> Result<Verified, StoreError> {
    let mut report = Verified::default();
    for key in store.keys()? {
        report.checked += 1;
        let health = if repair {
            store.remove_if_damaged(&key)?
        } else {
            store.verify(&key)?
        };
        if let Health::Damaged(why) = health {
            report.damaged.push((key, why));
        }
    }
    Ok(report)
}

/// What `gc` deleted (or would delete) and kept.
#[derive(Debug, Default)]
pub struct Collected {
    /// Largest first; `bytes` 0 and no tables for an entry whose metadata is unreadable.
    pub removed: Vec<(Key, EntryInfo)>,
    pub kept: usize,
    pub kept_bytes: u64,
}

impl Collected {
    pub fn removed_bytes(&self) -> u64 {
        self.removed
            .iter()
            .fold(0u64, |sum, (_, info)| sum.saturating_add(info.bytes))
    }
}

/// Deletes every entry that no given manifest references, and the action records (early
/// cutoff) that point at them (`dry_run`: only says which entries).
pub fn gc(manifests: &[Manifest], store: &dyn Store, dry_run: bool) -> anyhow::Result<Collected> {
    let registry = Registry::standard();
    let mut keep = std::collections::HashSet::new();
    for m in manifests {
        for (_, node) in plan_of(m, &registry)?.nodes() {
            keep.insert(node.key);
        }
    }
    let mut out = Collected::default();
    for k in store.keys()? {
        let info = store.entry_info(&k).unwrap_or(EntryInfo {
            bytes: 0,
            tables: Vec::new(),
        });
        if keep.contains(&k) {
            out.kept += 1;
            out.kept_bytes = out.kept_bytes.saturating_add(info.bytes);
            continue;
        }
        if !dry_run {
            store.remove(&k)?;
        }
        out.removed.push((k, info));
    }
    if !dry_run {
        store.retain_actions(&|k| keep.contains(k))?;
    }
    out.removed
        .sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(&b.0)));
    Ok(out)
}
