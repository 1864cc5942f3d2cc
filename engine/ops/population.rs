//! How a study's trained networks came out, per architecture: trained, solved, unsolved,
//! diverged. `apply` prints it after a run and `status` with the task counts, so a user sees
//! what the analyses of trained networks will leave out before reading any table.
//!
//! Each train entry's outcome comes from the summary the store keeps beside it (no table read),
//! as the caller's own check found it or else from the store; an entry written before
//! summaries existed has its `network` table read instead.

use crate::exec::Summaries;
use crate::manifest::Manifest;
use crate::plan::{Key, Plan, TaskNode};
use crate::rnn::Arch;
use crate::store::{Health, Lookup, Store, StoreError};
use crate::table::Summary;
use crate::task::{NetworkRow, Outcome};
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

/// The outcome of every train task whose entry is in the cache, in plan order: from the
/// entry's summary (in `known`, else surveyed), or else (on rayon's pool) from its `network`
/// table.
fn outcomes<'a>(
    plan: &'a Plan,
    store: &dyn Store,
    known: &Summaries,
) -> Result<Vec<(&'a TaskNode, Outcome)>, StoreError> {
    let train: Vec<&TaskNode> = plan
        .nodes()
        .map(|(_, n)| n)
        .filter(|n| n.kind == "train")
        .collect();
    let unknown: Vec<Key> = train
        .iter()
        .map(|n| n.key)
        .filter(|k| !known.contains_key(k))
        .collect();
    let mut surveyed = unknown.iter().zip(store.survey(&unknown));
    let found: Vec<(Health, Summary)> = train
        .iter()
        .map(|n| match known.get(&n.key) {
            Some(summary) => (Health::Present, summary.clone()),
            None => surveyed.next().map(|(_, f)| f).expect("surveyed in order"),
        })
        .collect();
    let outcomes: Vec<Option<(&TaskNode, Outcome)>> = train
        .into_par_iter()
        .zip(found)
        .filter(|(_, (health, _))| *health == Health::Present)
        .map(|(node, (_, summary))| {
            if let Some(outcome) = Outcome::from_summary(&summary) {
                return Ok(Some((node, outcome)));
            }
            match store.get_tables(&node.key, &["network"])? {
                Lookup::Present(output) => Ok(NetworkRow::of(&output)
                    .ok()
                    .map(|row| (node, row.outcome()))),
                _ => Ok(None),
            }
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(outcomes.into_iter().flatten().collect())
}

/// The counts of every study and architecture with a trained network in the cache, in the
/// manifest's study order and the architectures' order. `known`: the summaries a check of
/// this plan just found (`exec::survey`), so those entries are not checked again.
pub fn count(
    manifest: &Manifest,
    plan: &Plan,
    store: &dyn Store,
    known: &Summaries,
) -> Result<Vec<Count>, StoreError> {
    let mut out: Vec<Count> = Vec::new();
    for (node, outcome) in outcomes(plan, store, known)? {
        if !outcome.trained {
            continue;
        }
        let arch = outcome.arch;
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
        if !outcome.ok {
            c.diverged += 1;
        } else if outcome.solved {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::table::Output;

    const MANIFEST: &str = r#"
[[study]]
name = "s"
task = { kind = "flipflop", steps = 20 }
[study.grid]
arch = ["vanilla", "gru"]
activation = ["tanh"]
units = [4]
l2 = [1e-4]
seeds = 3
[study.train]
iterations = 5
"#;

    /// Each trained network of the plan gets an outcome by its seed (solved, unsolved,
    /// diverged); vanilla entries carry a summary, gru entries only their `network` table, as
    /// entries written before summaries did. One gru entry is missing.
    #[test]
    fn counts_from_summaries_and_from_tables_agree() {
        let manifest = crate::manifest::parse(std::path::Path::new("m.toml"), MANIFEST).unwrap();
        let plan = crate::ops::plan_of(&manifest, &crate::task::Registry::standard()).unwrap();
        let store = MemoryStore::new();
        for (_, node) in plan.nodes().filter(|(_, n)| n.kind == "train") {
            let net = &node.params["net"];
            let seed = node.params["seed"].as_u64().unwrap();
            let row = NetworkRow {
                network_id: node.key.short(),
                task: serde_json::from_value(net["task"].clone()).unwrap(),
                arch: serde_json::from_value(net["arch"].clone()).unwrap(),
                activation: serde_json::from_value(net["activation"].clone()).unwrap(),
                units: 4,
                l2: 1e-4,
                seed,
                trained: node.params["schedule"]["iterations"] != 0,
                iterations: 5,
                status: if seed == 2 { "diverged" } else { "ok" }.into(),
                reason: String::new(),
                train_loss: 0.1,
                val_loss: 0.1,
                score: 0.9,
                solved: seed == 0,
                hyper: None,
            };
            if row.arch == Arch::Gru && seed == 1 && row.trained {
                continue;
            }
            let output = Output::new().with("network", row.to_table());
            let output = if row.arch == Arch::Vanilla {
                output.with_summary(row.summary())
            } else {
                output
            };
            store.put(&node.key, &output).unwrap();
        }
        let counts = count(&manifest, &plan, &store, &Summaries::new()).unwrap();
        let got: Vec<_> = counts
            .iter()
            .map(|c| (c.arch, c.trained, c.solved, c.unsolved, c.diverged))
            .collect();
        assert_eq!(
            got,
            vec![(Arch::Vanilla, 3, 1, 1, 1), (Arch::Gru, 2, 1, 0, 1)]
        );
        let (_, found) = crate::exec::survey(&plan, &store, crate::exec::Depth::Quick);
        assert_eq!(
            found.len(),
            6,
            "the summaries of the vanilla networks, trained and not"
        );
        assert_eq!(count(&manifest, &plan, &store, &found).unwrap(), counts);
    }
}
