//! `export`: the tidy tables of SPEC §7, one Parquet file each, from the cache entries of a
//! manifest's tasks.
//!
//! Every row of a per-network table carries the configuration columns (`network_id, study,
//! task, arch, activation, units, l2, seed, trained, solved`), so a user can group without a join;
//! study-level tables carry `study` and `task`. A task that several studies plan (equal keys)
//! is computed once and its rows appear under each of them. Nothing is computed here: a task
//! that has not run is an error that says to run `apply`, and every damaged entry is named at
//! once.
//!
//! The folder is replaced whole (`folder`): afterwards it holds exactly this export.

use super::bounds::Limits;
use super::folder;
use crate::manifest::Manifest;
use crate::plan::{Plan, PlanError, TaskNode};
use crate::store::{Health, Lookup, Store};
use crate::table::{Column, Output, Table};
use crate::task::Registry;
use std::collections::BTreeMap;
use std::path::Path;

/// The configuration columns export puts in front of every per-network row.
pub const CONFIG_COLUMNS: [&str; 9] = [
    "network_id",
    "task",
    "arch",
    "activation",
    "units",
    "l2",
    "seed",
    "trained",
    "solved",
];

/// Table names as exported: a task's table name, renamed where the export is plural.
fn export_name(task_table: &str) -> Option<&'static str> {
    Some(match task_table {
        "network" => "networks",
        "weights" => "weights",
        "loss_curve" => "loss_curves",
        "trial" => "search_trials",
        "states" => "states",
        "similarity" => "similarity",
        "embedding" => "embedding",
        "clustering" => "clustering",
        "fixed_points" => "fixed_points",
        "eigenvalues" => "eigenvalues",
        "topology" => "topology",
        "topology_summary" => "topology_summary",
        "excluded" => "excluded",
        "linear_frequency" => "linear_frequency",
        "mode_ablation" => "mode_ablation",
        "findings" => "findings",
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{missing} of {total} tasks have no result in the cache (first: {first}); run `census apply` on this manifest first")]
    NotApplied {
        missing: usize,
        total: usize,
        first: String,
    },
    #[error("{} damaged cache entries; run `census apply` to recompute them:{}", .0.len(), list(.0))]
    Damaged(Vec<(String, String)>),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Folder(#[from] folder::FolderError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("table {table}: {source}")]
    Table {
        table: String,
        #[source]
        source: crate::table::TableError,
    },
}

fn list(entries: &[(String, String)]) -> String {
    entries
        .iter()
        .map(|(task, why)| format!("\n  {task}: {why}"))
        .collect()
}

/// What `export` writes besides the tables.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// Also the probe states (large).
    pub states: bool,
    /// Replace an `--out` folder that census did not write.
    pub force: bool,
    pub limits: Limits,
}

/// What an export gathered.
#[derive(Debug, Default)]
pub struct Collected {
    pub tables: BTreeMap<&'static str, Table>,
    /// Tasks without a result because they, or a task they need, failed in the last `apply`
    /// (`kind label`, why). Their rows are absent; everything else is exported.
    pub failed: Vec<(String, String)>,
}

/// What an export wrote: each table's name and row count, and the tasks left out because they
/// failed.
pub type Exported = (Vec<(String, usize)>, Vec<(String, String)>);

/// Replaces `out` with `out/<table>.parquet` for every table, states included if asked for.
pub fn export(
    manifest: &Manifest,
    store: &dyn Store,
    out: &Path,
    states: bool,
) -> Result<Exported, ExportError> {
    let opts = ExportOptions {
        states,
        ..ExportOptions::default()
    };
    export_with(manifest, store, out, &opts)
}

pub fn export_with(
    manifest: &Manifest,
    store: &dyn Store,
    out: &Path,
    opts: &ExportOptions,
) -> Result<Exported, ExportError> {
    let registry = Registry::standard();
    let plan = super::plan_within(manifest, &registry, &opts.limits)?;
    folder::check(out, opts.force)?;
    let Collected { tables, failed } = collect(manifest, &plan, store, opts.states)?;
    let written = tables
        .iter()
        .map(|(name, table)| (name.to_string(), table.num_rows()))
        .collect();
    folder::replace(out, &tables)?;
    Ok((written, failed))
}

/// Gathers every exported table of a plan, rows in plan order. A task with no result is an
/// error (run `apply`) unless its last run failed, or a task it needs did: those are listed.
pub fn collect(
    manifest: &Manifest,
    plan: &Plan,
    store: &dyn Store,
    states: bool,
) -> Result<Collected, ExportError> {
    let mut blocked = std::collections::HashSet::new();
    let mut failed = Vec::new();
    let mut never = Vec::new();
    let mut damaged = Vec::new();
    let mut unreadable = std::collections::HashSet::new();
    for (n, node) in plan.nodes() {
        let label = format!("{} {}", node.kind, node.label);
        match store.check(&node.key) {
            Health::Present => continue,
            Health::Damaged(why) => {
                damaged.push((label, why));
                unreadable.insert(n);
                continue;
            }
            Health::Absent => {}
        }
        if let Some(error) = store.failure(&node.key) {
            failed.push((label, error));
        } else if let Some(d) = plan.deps(n).into_iter().find(|d| blocked.contains(d)) {
            let dep = plan.node(d);
            failed.push((
                label,
                format!("needs {} {}, which failed", dep.kind, dep.label),
            ));
        } else {
            never.push(label);
            continue;
        }
        blocked.insert(n);
    }
    if let Some(first) = never.first() {
        return Err(ExportError::NotApplied {
            missing: never.len(),
            total: plan.len(),
            first: first.clone(),
        });
    }
    let mut out: BTreeMap<&'static str, Table> = BTreeMap::new();
    for (n, node) in plan.nodes() {
        if blocked.contains(&n) || unreadable.contains(&n) {
            continue;
        }
        let output = match store.get(&node.key)? {
            Lookup::Present(o) => o,
            Lookup::Missing => {
                return Err(ExportError::NotApplied {
                    missing: 1,
                    total: plan.len(),
                    first: format!("{} {}", node.kind, node.label),
                })
            }
            Lookup::Corrupt(reason) => {
                damaged.push((format!("{} {}", node.kind, node.label), reason));
                continue;
            }
        };
        for study in &node.studies {
            append_rows(&mut out, manifest, node, study, &output, states)?;
        }
    }
    if !damaged.is_empty() {
        return Err(ExportError::Damaged(damaged));
    }
    Ok(Collected {
        tables: out,
        failed,
    })
}

/// Appends the exported tables of one task's output, keyed for `study`.
fn append_rows(
    out: &mut BTreeMap<&'static str, Table>,
    manifest: &Manifest,
    node: &TaskNode,
    study: &str,
    output: &Output,
    states: bool,
) -> Result<(), ExportError> {
    let study_column = Table::new().with("study", Column::Str(vec![study.to_string()]));
    let config = output
        .tables
        .get("network")
        .map(|net| config_columns(net, study));
    for (name, table) in &output.tables {
        let Some(export) = export_name(name) else {
            continue;
        };
        if (export == "states" && !states) || (export == "networks" && node.kind != "train") {
            continue;
        }
        let keyed = match (&config, export) {
            (_, "networks") => table.prepend_constant(&study_column),
            (Some(c), _) => table.prepend_constant(c),
            (None, _) => table.prepend_constant(
                &study_column
                    .clone()
                    .with("task", Column::Str(vec![task_of(manifest, study)])),
            ),
        };
        let entry = out.entry(export).or_default();
        entry.append(&keyed).map_err(|source| ExportError::Table {
            table: export.to_string(),
            source,
        })?;
    }
    Ok(())
}

fn config_columns(network: &Table, study: &str) -> Table {
    let mut t = Table::new().with("study", Column::Str(vec![study.to_string()]));
    for c in CONFIG_COLUMNS {
        if let Ok(col) = network.column(c) {
            t = t.with(c, col.repeat_row(0, 1));
        }
    }
    t
}

fn task_of(manifest: &Manifest, study: &str) -> String {
    manifest
        .studies
        .iter()
        .find(|s| s.name == study)
        .map_or("", |s| s.task.name())
        .to_string()
}
