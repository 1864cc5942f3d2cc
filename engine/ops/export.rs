//! `export`: the tidy tables of SPEC §7, one Parquet file each, from the cache entries of a
//! manifest's tasks.
//!
//! Every row of a per-network table carries the configuration columns (`network_id, study,
//! task, arch, activation, units, l2, seed, trained, solved`), so a user can group without a join;
//! study-level tables carry `study` and `task`. A task that several studies plan (equal keys)
//! is computed once and its rows appear under each of them. Rows that name networks by id only
//! (`embedding`, `excluded`, `similarity`) get the networks' configuration joined from `networks`.
//! Nothing is computed here: a study with a task that has not run is left out and listed (or,
//! with `require_all` or when no study is complete, an error that says to run `apply`), and
//! every damaged entry is named at once.
//!
//! The folder is replaced whole (`folder`): afterwards it holds exactly this export.

use super::bounds::Limits;
use super::folder;
use crate::manifest::Manifest;
use crate::plan::{Plan, PlanError, TaskNode};
use crate::store::{Health, Lookup, Store};
use crate::table::{Column, Output, Table};
use crate::task::train::NetSpec;
use crate::task::Registry;
use petgraph::graph::NodeIndex;
use std::collections::{BTreeMap, HashMap};
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
    /// Write nothing unless every study is complete (otherwise the complete studies are
    /// written and the others listed in [`Exported::missing`]).
    pub require_all: bool,
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
    /// Studies left out because some of their tasks have not run yet.
    pub missing: Vec<Incomplete>,
}

/// A study with tasks that have not run: how many, and the first of them (`kind label`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incomplete {
    pub study: String,
    pub tasks: usize,
    pub first: String,
}

/// What an export wrote: each table's name and row count, the tasks left out because they
/// failed, and the studies left out because they are not complete.
#[derive(Debug, Default)]
pub struct Exported {
    pub written: Vec<(String, usize)>,
    pub failed: Vec<(String, String)>,
    pub missing: Vec<Incomplete>,
}

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
    let partial = !opts.require_all;
    let Collected {
        tables,
        failed,
        missing,
    } = collect_studies(manifest, &plan, store, opts.states, partial)?;
    let written = tables
        .iter()
        .map(|(name, table)| (name.to_string(), table.num_rows()))
        .collect();
    folder::replace(out, &tables)?;
    Ok(Exported {
        written,
        failed,
        missing,
    })
}

/// Gathers every exported table of a plan, rows in plan order. A task with no result is an
/// error (run `apply`) unless its last run failed, or a task it needs did: those are listed.
pub fn collect(
    manifest: &Manifest,
    plan: &Plan,
    store: &dyn Store,
    states: bool,
) -> Result<Collected, ExportError> {
    collect_studies(manifest, plan, store, states, false)
}

/// [`collect`], but with `partial` a study whose tasks have not all run is left out and listed
/// in [`Collected::missing`] instead of failing the whole collection (unless no study is
/// complete).
pub fn collect_studies(
    manifest: &Manifest,
    plan: &Plan,
    store: &dyn Store,
    states: bool,
    partial: bool,
) -> Result<Collected, ExportError> {
    let mut blocked = std::collections::HashSet::new();
    let mut failed = Vec::new();
    let mut never = Vec::new();
    let mut damaged = Vec::new();
    let mut unreadable = std::collections::HashSet::new();
    for (n, node) in plan.nodes() {
        let label = label_of(node);
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
            never.push(n);
            continue;
        }
        blocked.insert(n);
    }
    let missing = incomplete_studies(plan, &never);
    let all_missing = manifest
        .studies
        .iter()
        .all(|s| missing.iter().any(|m| m.study == s.name));
    if let Some(&first) = never.first().filter(|_| !partial || all_missing) {
        return Err(ExportError::NotApplied {
            missing: never.len(),
            total: plan.len(),
            first: label_of(plan.node(first)),
        });
    }
    let complete = |study: &String| !missing.iter().any(|m| &m.study == study);
    let mut out: BTreeMap<&'static str, Table> = BTreeMap::new();
    for (n, node) in plan.nodes() {
        if blocked.contains(&n) || unreadable.contains(&n) || !node.studies.iter().any(complete) {
            continue;
        }
        let output = match store.get(&node.key)? {
            Lookup::Present(o) => o,
            Lookup::Missing => {
                return Err(ExportError::NotApplied {
                    missing: 1,
                    total: plan.len(),
                    first: label_of(node),
                })
            }
            Lookup::Corrupt(reason) => {
                damaged.push((label_of(node), reason));
                continue;
            }
        };
        for study in node.studies.iter().filter(|s| complete(s)) {
            append_rows(&mut out, manifest, node, study, &output, states)?;
        }
    }
    if !damaged.is_empty() {
        return Err(ExportError::Damaged(damaged));
    }
    join_configs(&mut out)?;
    Ok(Collected {
        tables: out,
        failed,
        missing,
    })
}

fn label_of(node: &TaskNode) -> String {
    format!("{} {}", node.kind, node.label)
}

/// The studies that plan any of the `never` run tasks, in order of first appearance.
fn incomplete_studies(plan: &Plan, never: &[NodeIndex]) -> Vec<Incomplete> {
    let mut missing: Vec<Incomplete> = Vec::new();
    for &n in never {
        let node = plan.node(n);
        for study in &node.studies {
            match missing.iter_mut().find(|m| &m.study == study) {
                Some(m) => m.tasks += 1,
                None => missing.push(Incomplete {
                    study: study.clone(),
                    tasks: 1,
                    first: label_of(node),
                }),
            }
        }
    }
    missing
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
            (_, "search_trials") => search_rows(table, &trial_config(manifest, node, study)),
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

/// The configuration a search trial ran for (`study, task, arch, activation, units, l2`, from
/// its parameters), as one row.
fn trial_config(manifest: &Manifest, node: &TaskNode, study: &str) -> Table {
    let mut t = Table::new()
        .with("study", Column::Str(vec![study.to_string()]))
        .with("task", Column::Str(vec![task_of(manifest, study)]));
    let net = node
        .params
        .get("net")
        .cloned()
        .map(serde_json::from_value::<NetSpec>);
    if let Some(Ok(net)) = net {
        t = t
            .with("arch", Column::Str(vec![net.arch.to_string()]))
            .with("activation", Column::Str(vec![net.activation.to_string()]))
            .with("units", Column::I64(vec![net.units as i64]))
            .with("l2", Column::F64(vec![net.l2]));
    }
    t
}

/// A search trial's rows behind its configuration, `val_loss` null where the trial diverged (as
/// in `networks`).
fn search_rows(trials: &Table, config: &Table) -> Table {
    let keyed = trials.prepend_constant(config);
    let (Ok(loss), Ok(status)) = (keyed.f64s("val_loss"), keyed.strs("status")) else {
        return keyed;
    };
    let nullable = loss
        .iter()
        .zip(status)
        .map(|(&l, s)| (s == "ok").then_some(l))
        .collect();
    keyed.replace("val_loss", Column::OptF64(nullable))
}

/// Configuration columns for the rows that name networks by id only: `embedding` and `excluded`
/// get the network's after `network_id`, `similarity` both networks' `arch, activation, trained`
/// (suffixed `_a`, `_b`) after `network_b`. The configurations come from `networks` (same study).
fn join_configs(out: &mut BTreeMap<&'static str, Table>) -> Result<(), ExportError> {
    let Some(networks) = out.get("networks").cloned() else {
        return Ok(());
    };
    let row_of = index_networks(&networks)?;
    let joins: [(&str, &[&str], &[&str]); 3] = [
        ("embedding", &["network_id"], &CONFIG_COLUMNS[2..]),
        ("excluded", &["network_id"], &CONFIG_COLUMNS[2..]),
        (
            "similarity",
            &["network_a", "network_b"],
            &["arch", "activation", "trained"],
        ),
    ];
    for (name, ids, columns) in joins {
        let Some(table) = out.get_mut(name) else {
            continue;
        };
        let table_error = |source| ExportError::Table {
            table: name.to_string(),
            source,
        };
        let study = table.strs("study").map_err(table_error)?.to_vec();
        let mut added = Vec::new();
        for id_column in ids {
            let ids = table.strs(id_column).map_err(table_error)?;
            let rows = study
                .iter()
                .zip(ids)
                .map(|(s, id)| {
                    row_of
                        .get(&(s.as_str(), id.as_str()))
                        .copied()
                        .ok_or_else(|| {
                            table_error(crate::table::TableError::Missing(format!(
                                "{id_column} {id} of study {s} in networks"
                            )))
                        })
                })
                .collect::<Result<Vec<usize>, _>>()?;
            let suffix = match *id_column {
                "network_a" => "_a",
                "network_b" => "_b",
                _ => "",
            };
            for c in columns.iter() {
                let col = networks.column(c).map_err(table_error)?;
                added.push((format!("{c}{suffix}"), col.take(&rows)));
            }
        }
        *table = table.insert_after(ids[ids.len() - 1], added);
    }
    Ok(())
}

/// Row of each (study, network_id) in `networks`.
fn index_networks(networks: &Table) -> Result<HashMap<(&str, &str), usize>, ExportError> {
    let table_error = |source| ExportError::Table {
        table: "networks".to_string(),
        source,
    };
    let study = networks.strs("study").map_err(table_error)?;
    let id = networks.strs("network_id").map_err(table_error)?;
    Ok(study
        .iter()
        .zip(id)
        .enumerate()
        .map(|(i, (s, id))| ((s.as_str(), id.as_str()), i))
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diverged_trial_has_a_null_loss_behind_its_configuration() {
        let trials = Table::new()
            .with("trial", Column::I64(vec![0, 1]))
            .with("val_loss", Column::F64(vec![0.25, 1e47]))
            .with("status", Column::Str(vec!["ok".into(), "diverged".into()]));
        let config = Table::new().with("arch", Column::Str(vec!["gru".into()]));
        let rows = search_rows(&trials, &config);
        assert_eq!(rows.strs("arch").unwrap(), ["gru", "gru"]);
        assert_eq!(rows.opt_f64s("val_loss").unwrap(), [Some(0.25), None]);
        assert_eq!(rows.columns()[0].0, "arch");
    }
}
