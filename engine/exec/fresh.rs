//! Freshness: whether a task's entry is in the store, and if not, why it must run. Why is a value
//! (`Reason`), never an error; an unreadable or damaged entry is simply stale.
//!
//! `Depth::Quick` asks the store's cheap `check_all` (every `plan`, `status`, `apply`);
//! `Depth::Full` its `verify`, which reads every byte (`apply --verify`).
//!
//! Early cutoff: a task missing under its key whose inputs are all cached (or restorable) has an
//! action key (`Key::action`, from its inputs' output digests). When the store has an entry for
//! that action, the task is `Restore`d from it instead of run. A task whose inputs must run
//! first cannot know yet: it counts as `Run`, and may be restored once they have.

use crate::plan::{Key, Plan, TaskNode};
use crate::store::{Health, Store};
use crate::table::Summary;
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Never run in this cache.
    New,
    /// The task's own parameters differ from its last run.
    ParamsChanged,
    /// A task it depends on changed.
    UpstreamChanged,
    /// The kind's algorithm version changed.
    VersionChanged,
    /// Same task as before, but its entry is gone (deleted, collected, or removed as damaged).
    Missing,
    /// Its entry is there but damaged (a file missing, truncated, or changed since written).
    Damaged,
}

/// How closely freshness looks at cached entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    Quick,
    Full,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::New => "new",
            Reason::ParamsChanged => "parameters changed",
            Reason::UpstreamChanged => "upstream changed",
            Reason::VersionChanged => "algorithm version changed",
            Reason::Missing => "entry missing",
            Reason::Damaged => "entry damaged",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Freshness {
    Cached,
    /// Missing under its key, but an earlier task with the same action key left the entry of
    /// this key: its output is copied from there, nothing runs.
    Restore(Key),
    Run(Reason),
}

/// The summaries (`Output::summary`) of the entries a check found present, by key; only
/// non-empty ones.
pub type Summaries = HashMap<Key, Summary>;

/// Freshness of every node, in plan order. The quick check goes to the store in one batch
/// (`Store::check_all`); the full one checks entries on rayon's pool, independently.
pub fn freshness(plan: &Plan, store: &dyn Store, depth: Depth) -> Vec<(NodeIndex, Freshness)> {
    assess(plan, store, depth, false).0
}

/// `freshness`, with the summaries of the cached entries as the quick check found them
/// (`Store::survey`; none with `Depth::Full`), so that what reads them after needs no second
/// check.
pub fn survey(
    plan: &Plan,
    store: &dyn Store,
    depth: Depth,
) -> (Vec<(NodeIndex, Freshness)>, Summaries) {
    assess(plan, store, depth, true)
}

fn assess(
    plan: &Plan,
    store: &dyn Store,
    depth: Depth,
    summaries: bool,
) -> (Vec<(NodeIndex, Freshness)>, Summaries) {
    let nodes: Vec<(NodeIndex, &TaskNode)> = plan.nodes().collect();
    let mut found = Summaries::new();
    let health: Vec<Health> = match depth {
        Depth::Quick if summaries => {
            let keys: Vec<Key> = nodes.iter().map(|(_, node)| node.key).collect();
            let surveyed = store.survey(&keys);
            let mut health = Vec::with_capacity(keys.len());
            for (key, (h, summary)) in keys.into_iter().zip(surveyed) {
                if h == Health::Present && !summary.is_empty() {
                    found.insert(key, summary);
                }
                health.push(h);
            }
            health
        }
        Depth::Quick => {
            let keys: Vec<Key> = nodes.iter().map(|(_, node)| node.key).collect();
            store.check_all(&keys)
        }
        Depth::Full => nodes
            .par_iter()
            .map(|(_, node)| {
                store
                    .verify(&node.key)
                    .unwrap_or_else(|e| Health::Damaged(e.to_string()))
            })
            .collect(),
    };
    let mut fresh: Vec<(NodeIndex, Freshness)> = nodes
        .into_par_iter()
        .zip(health)
        .map(|((n, node), health)| (n, of(plan, n, node, store, health)))
        .collect();
    restorable(plan, store, &mut fresh);
    (fresh, found)
}

/// Turns every task that would run for want of its entry into `Restore` where its action has
/// an entry. `fresh` is in plan order, which is topological.
fn restorable(plan: &Plan, store: &dyn Store, fresh: &mut [(NodeIndex, Freshness)]) {
    let position: HashMap<NodeIndex, usize> = fresh
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect();
    let mut digests: HashMap<NodeIndex, Option<Key>> = HashMap::new();
    for i in 0..fresh.len() {
        let (n, f) = &fresh[i];
        let n = *n;
        if !matches!(f, Freshness::Run(r) if *r != Reason::Damaged) {
            continue;
        }
        let deps = plan.deps(n);
        if deps.is_empty() {
            continue;
        }
        let mut inputs = Vec::new();
        for &d in &deps {
            let source = match &fresh[position[&d]].1 {
                Freshness::Cached => plan.node(d).key,
                Freshness::Restore(source) => *source,
                Freshness::Run(_) => break,
            };
            match *digests.entry(d).or_insert_with(|| store.digest(&source)) {
                Some(digest) => inputs.push(digest),
                None => break,
            }
        }
        if inputs.len() < deps.len() {
            continue;
        }
        let node = plan.node(n);
        let action = Key::action(node.kind, node.version, &node.params, &inputs);
        if let Some(source) = store.action(&action).filter(|s| store.contains(s)) {
            fresh[i].1 = Freshness::Restore(source);
        }
    }
}

fn of(plan: &Plan, n: NodeIndex, node: &TaskNode, store: &dyn Store, health: Health) -> Freshness {
    match health {
        Health::Present => return Freshness::Cached,
        Health::Damaged(_) => return Freshness::Run(Reason::Damaged),
        Health::Absent => {}
    }
    Freshness::Run(match store.slot(&node.slot()) {
        None => Reason::New,
        Some(r) if r.version != node.version => Reason::VersionChanged,
        Some(r) if r.params_hash != node.params_hash() => Reason::ParamsChanged,
        Some(r) if r.deps != dep_keys(plan, n) => Reason::UpstreamChanged,
        Some(_) => Reason::Missing,
    })
}

pub fn dep_keys(plan: &Plan, n: NodeIndex) -> Vec<String> {
    plan.deps(n)
        .into_iter()
        .map(|d| plan.node(d).key.hex())
        .collect()
}
