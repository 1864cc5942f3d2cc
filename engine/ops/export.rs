//! `export`: the tidy tables of SPEC §7, one Parquet file each, from the cache entries of a
//! manifest's tasks.
//!
//! Every row of a per-network table carries the configuration columns (`network_id, study,
//! task, arch, activation, units, l2, seed, trained, solved`), so a user can group without a join;
//! study-level tables carry `study` and `task`. Nothing is computed here: a task that has not
//! run is an error that says to run `apply`.

use crate::manifest::Manifest;
use crate::plan::Plan;
use crate::store::{write_table_file, Lookup, Store};
use crate::table::{Column, Table};
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
    #[error("cache entry of {task} was damaged ({reason}) and has been removed; run `census apply` to recompute it")]
    Damaged { task: String, reason: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("table {table}: {source}")]
    Table {
        table: String,
        #[source]
        source: crate::table::TableError,
    },
    #[error("cannot create the export folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What an export gathered.
#[derive(Debug, Default)]
pub struct Collected {
    pub tables: BTreeMap<&'static str, Table>,
    /// Tasks without a result because they, or a task they need, failed in the last `apply`
    /// (`kind label`, why). Their rows are absent; everything else is exported.
    pub failed: Vec<(String, String)>,
}

/// Writes `out/<table>.parquet`; returns each table's name and row count, and the tasks left out
/// because they failed.
pub fn export(
    manifest: &Manifest,
    store: &dyn Store,
    out: &Path,
    states: bool,
) -> Result<(Vec<(String, usize)>, Vec<(String, String)>), ExportError> {
    let registry = Registry::standard();
    let plan = super::plan_of(manifest, &registry).map_err(|e| ExportError::Damaged {
        task: "plan".into(),
        reason: e.to_string(),
    })?;
    let Collected { tables, failed } = collect(manifest, &plan, store, states)?;
    std::fs::create_dir_all(out).map_err(|source| ExportError::Folder {
        path: out.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, table) in tables {
        write_table_file(&out.join(format!("{name}.parquet")), &table)?;
        written.push((name.to_string(), table.num_rows()));
    }
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
    for (n, node) in plan.nodes() {
        if store.contains(&node.key) {
            continue;
        }
        let label = format!("{} {}", node.kind, node.label);
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
        if blocked.contains(&n) {
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
                return Err(ExportError::Damaged {
                    task: format!("{} {}", node.kind, node.label),
                    reason,
                })
            }
        };
        let study = Table::new().with("study", Column::Str(vec![node.study.clone()]));
        let config = output
            .tables
            .get("network")
            .map(|net| config_columns(net, &node.study));
        for (name, table) in &output.tables {
            let Some(export) = export_name(name) else {
                continue;
            };
            if (export == "states" && !states) || (export == "networks" && node.kind != "train") {
                continue;
            }
            let keyed = match (&config, export) {
                (_, "networks") => table.prepend_constant(&study),
                (Some(c), _) => table.prepend_constant(c),
                (None, _) => table.prepend_constant(
                    &study
                        .clone()
                        .with("task", Column::Str(vec![task_of(manifest, &node.study)])),
                ),
            };
            let entry = out.entry(export).or_default();
            entry.append(&keyed).map_err(|source| ExportError::Table {
                table: export.to_string(),
                source,
            })?;
        }
    }
    Ok(Collected {
        tables: out,
        failed,
    })
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
