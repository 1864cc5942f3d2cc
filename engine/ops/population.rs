//! How a study's trained networks came out, per architecture: trained, solved, unsolved,
//! diverged. `apply` prints it after a run and `status` with the task counts, so a user sees
//! what the analyses of trained networks will leave out before reading any table.

use crate::manifest::Manifest;
use crate::plan::{Key, Plan, TaskNode};
use crate::rnn::Arch;
use crate::store::{Health, Lookup, Store, StoreError};
use crate::task::NetworkRow;
use rayon::prelude::*;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub study: String,
    pub arch: Arch,
    /// Trained networks with a result in the cache.
    pub trained: usize,
    pub solved: usize,
    pub unsolved: usize,
    pub diverged: usize,
}

/// The `network` row of every train task whose entry is in the cache, in plan order (read on
/// rayon's pool; only the `network` table of each entry is read).
fn rows<'a>(
    plan: &'a Plan,
    store: &dyn Store,
) -> Result<Vec<(&'a TaskNode, NetworkRow)>, StoreError> {
    let train: Vec<&TaskNode> = plan
        .nodes()
        .map(|(_, n)| n)
        .filter(|n| n.kind == "train")
        .collect();
    let keys: Vec<Key> = train.iter().map(|n| n.key).collect();
    let health = store.check_all(&keys);
    let rows: Vec<Option<(&TaskNode, NetworkRow)>> = train
        .into_par_iter()
        .zip(health)
        .filter(|(_, health)| *health == Health::Present)
        .map(
            |(node, _)| match store.get_tables(&node.key, &["network"])? {
                Lookup::Present(output) => Ok(NetworkRow::of(&output).ok().map(|row| (node, row))),
                _ => Ok(None),
            },
        )
        .collect::<Result<_, StoreError>>()?;
    Ok(rows.into_iter().flatten().collect())
}

/// The counts of every study and architecture with a trained network in the cache, in the
/// manifest's study order and the architectures' order.
pub fn count(
    manifest: &Manifest,
    plan: &Plan,
    store: &dyn Store,
) -> Result<Vec<Count>, StoreError> {
    let mut out: Vec<Count> = Vec::new();
    for (node, row) in rows(plan, store)? {
        if !row.trained {
            continue;
        }
        let arch = row.arch;
        let k = match out
            .iter()
            .position(|c| c.study == node.study && c.arch == arch)
        {
            Some(k) => k,
            None => {
                out.push(Count {
                    study: node.study.clone(),
                    arch,
                    trained: 0,
                    solved: 0,
                    unsolved: 0,
                    diverged: 0,
                });
                out.len() - 1
            }
        };
        let c = &mut out[k];
        c.trained += 1;
        if !row.ok() {
            c.diverged += 1;
        } else if row.solved {
            c.solved += 1;
        } else {
            c.unsolved += 1;
        }
    }
    let rank = |study: &str| manifest.studies.iter().position(|s| s.name == study);
    out.sort_by_key(|c| (rank(&c.study), c.arch));
    Ok(out)
}

/// One line per study: `flipflop: 16 trained, 14 solved, 1 unsolved, 1 diverged (gru 4/4, …)`.
pub fn render(counts: &[Count]) -> String {
    let mut s = String::new();
    let mut studies: Vec<&str> = counts.iter().map(|c| c.study.as_str()).collect();
    studies.dedup();
    for study in studies {
        let mine: Vec<&Count> = counts.iter().filter(|c| c.study == study).collect();
        let sum = |f: fn(&Count) -> usize| mine.iter().map(|c| f(c)).sum::<usize>();
        let per_arch = mine
            .iter()
            .map(|c| format!("{} {}/{}", c.arch, c.solved, c.trained))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "{study}: {} trained, {} solved, {} unsolved, {} diverged (solved by architecture: {per_arch})",
            sum(|c| c.trained),
            sum(|c| c.solved),
            sum(|c| c.unsolved),
            sum(|c| c.diverged),
        );
    }
    s
}
