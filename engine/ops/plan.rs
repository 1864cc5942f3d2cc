//! `plan` and `status`: what `apply` would do and why, per kind, without doing it.

use super::changes::{changes, Change};
use crate::exec::{survey, Depth, Freshness, Reason, Summaries};
use crate::plan::Plan;
use crate::store::Store;
use petgraph::graph::NodeIndex;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Serialize)]
pub struct TaskLine {
    pub key: String,
    pub kind: &'static str,
    pub study: String,
    /// Every study that plans this task (a task several studies share runs once).
    pub studies: Vec<String>,
    pub label: String,
    /// `cached`, `restore` (copied from an earlier run with the same inputs' outputs, early
    /// cutoff) or `run`.
    pub status: &'static str,
    pub reason: Option<Reason>,
    /// For a task to run: the first of its inputs that must run or be restored first. Its own
    /// run is then an upper bound: when that input's output comes out unchanged, it is
    /// restored instead.
    pub waits_for: Option<String>,
    /// The last recorded failure of this exact task, if any.
    pub failure: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct KindCounts {
    pub cached: usize,
    pub restore: usize,
    pub run: usize,
    /// Of `run`: tasks waiting for an input to run (restored instead if its output is
    /// unchanged).
    pub waiting: usize,
    pub failed: usize,
    pub reasons: BTreeMap<Reason, usize>,
}

#[derive(Debug, Serialize)]
pub struct PlanReport {
    pub tasks: Vec<TaskLine>,
    pub kinds: BTreeMap<&'static str, KindCounts>,
    /// What changed since the last run, and what reruns because of it.
    pub changes: Vec<Change>,
    /// The summaries of the cached entries, as the check found them (for `status`).
    #[serde(skip)]
    pub summaries: Summaries,
}

impl PlanReport {
    pub fn to_run(&self) -> usize {
        self.kinds.values().map(|k| k.run).sum()
    }

    /// Plain text, one line per kind in plan order.
    pub fn render(&self) -> String {
        let mut order: Vec<&'static str> = Vec::new();
        for t in &self.tasks {
            if !order.contains(&t.kind) {
                order.push(t.kind);
            }
        }
        let mut s = String::new();
        for k in order {
            let c = &self.kinds[k];
            let why: Vec<String> = c.reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join(", "))
            };
            let mut failed = if c.failed > 0 {
                format!(", {} failed last time", c.failed)
            } else {
                String::new()
            };
            if c.restore > 0 {
                failed.push_str(&format!(", {} restored (inputs unchanged)", c.restore));
            }
            if c.waiting > 0 {
                failed.push_str(&format!(
                    ", {} wait for upstream (restored instead if its output is unchanged)",
                    c.waiting
                ));
            }
            s.push_str(&format!(
                "{k:<18} {:>6} cached {:>6} to run{why}{failed}\n",
                c.cached, c.run
            ));
        }
        let restore: usize = self.kinds.values().map(|k| k.restore).sum();
        s.push_str(&format!(
            "{} tasks, {} to run{}\n",
            self.tasks.len(),
            self.to_run(),
            if restore > 0 {
                format!(", {restore} to restore")
            } else {
                String::new()
            }
        ));
        for change in &self.changes {
            s.push_str(&format!("changed: {}\n", change.render()));
        }
        s
    }
}

pub fn plan_report(plan: &Plan, store: &dyn Store) -> PlanReport {
    let mut kinds: BTreeMap<&'static str, KindCounts> = BTreeMap::new();
    let mut tasks = Vec::with_capacity(plan.len());
    let mut stale = HashMap::new();
    let (fresh, summaries) = survey(plan, store, Depth::Quick);
    let cached: HashSet<NodeIndex> = fresh
        .iter()
        .filter(|(_, f)| *f == Freshness::Cached)
        .map(|(n, _)| *n)
        .collect();
    for (n, f) in fresh {
        let node = plan.node(n);
        let c = kinds.entry(node.kind).or_default();
        let mut waits_for = None;
        let (status, reason) = match f {
            Freshness::Cached => {
                c.cached += 1;
                ("cached", None)
            }
            Freshness::Restore(_) => {
                c.restore += 1;
                ("restore", None)
            }
            Freshness::Run(r) => {
                c.run += 1;
                *c.reasons.entry(r.clone()).or_default() += 1;
                stale.insert(n, r.clone());
                waits_for = plan
                    .deps(n)
                    .into_iter()
                    .find(|d| !cached.contains(d))
                    .map(|d| {
                        let dep = plan.node(d);
                        format!("{} {}", dep.kind, dep.label)
                    });
                c.waiting += usize::from(waits_for.is_some());
                ("run", Some(r))
            }
        };
        let failure = if status == "run" {
            store.failure(&node.key)
        } else {
            None
        };
        if failure.is_some() {
            c.failed += 1;
        }
        tasks.push(TaskLine {
            key: node.key.hex(),
            kind: node.kind,
            study: node.study.clone(),
            studies: node.studies.clone(),
            label: node.label.clone(),
            status,
            reason,
            waits_for,
            failure,
        });
    }
    let changes = changes(plan, store, &stale);
    PlanReport {
        tasks,
        kinds,
        changes,
        summaries,
    }
}
