//! What changed since the last run, per parameter: `plan` groups the tasks whose parameters or
//! algorithm version changed by what changed (`svcca variance 0.95 → 0.9`) and counts, by kind,
//! the tasks that rerun because of it (the changed tasks and the stale tasks below them), e.g.
//! `flipflop: svcca variance 0.95 → 0.9: 1 svcca, 1 mds, 1 clustering`.
//!
//! The old parameters come from the task slot's record (`SlotRecord::params`); a record written
//! by an older census has none, and the change then reads `parameters changed`.

use crate::exec::Reason;
use crate::plan::Plan;
use crate::store::Store;
use petgraph::graph::NodeIndex;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// At most this many changed parameters are named per change.
const SHOWN: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub study: String,
    pub kind: &'static str,
    /// `variance 0.95 → 0.9`, `version 1 → 2`.
    pub what: String,
    /// Tasks that rerun because of it, by kind, in the order the planner adds them.
    pub reruns: Vec<(&'static str, usize)>,
}

impl Change {
    pub fn render(&self) -> String {
        let reruns: Vec<String> = self
            .reruns
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        format!(
            "{}: {} {}: {}",
            self.study,
            self.kind,
            self.what,
            reruns.join(", ")
        )
    }
}

/// The changes behind the stale tasks of `plan` (`stale` gives each node's reason to run,
/// `None` when cached), in plan order of their first changed task.
pub fn changes(plan: &Plan, store: &dyn Store, stale: &HashMap<NodeIndex, Reason>) -> Vec<Change> {
    let mut groups: Vec<(Change, Vec<NodeIndex>)> = Vec::new();
    for (n, node) in plan.nodes() {
        let what = match stale.get(&n) {
            Some(Reason::ParamsChanged) => {
                let old = store.slot(&node.slot()).and_then(|r| r.params);
                match old {
                    Some(old) => describe(&diff(&old, &node.params)),
                    None => "parameters changed".to_string(),
                }
            }
            Some(Reason::VersionChanged) => match store.slot(&node.slot()) {
                Some(r) => format!("version {} → {}", r.version, node.version),
                None => "version changed".to_string(),
            },
            _ => continue,
        };
        let at = groups
            .iter()
            .position(|(c, _)| c.study == node.study && c.kind == node.kind && c.what == what);
        match at {
            Some(i) => groups[i].1.push(n),
            None => groups.push((
                Change {
                    study: node.study.clone(),
                    kind: node.kind,
                    what,
                    reruns: Vec::new(),
                },
                vec![n],
            )),
        }
    }
    let mut seen: HashSet<NodeIndex> = HashSet::new();
    groups
        .into_iter()
        .map(|(mut change, roots)| {
            // Per kind: its first task in planning order (the pipeline's order) and how many of
            // its tasks rerun.
            let mut kinds: HashMap<&'static str, (usize, usize)> = HashMap::new();
            let mut stack = roots;
            while let Some(n) = stack.pop() {
                if !stale.contains_key(&n) || !seen.insert(n) {
                    continue;
                }
                let k = kinds.entry(plan.node(n).kind).or_insert((usize::MAX, 0));
                k.0 = k.0.min(n.index());
                k.1 += 1;
                stack.extend(plan.dependents(n));
            }
            let mut reruns: Vec<(usize, &'static str, usize)> = kinds
                .into_iter()
                .map(|(kind, (at, count))| (at, kind, count))
                .collect();
            reruns.sort();
            change.reruns = reruns
                .into_iter()
                .map(|(_, kind, count)| (kind, count))
                .collect();
            change
        })
        .collect()
}

/// Each leaf that differs between `old` and `new`: its dotted path, old and new value (`None`
/// where absent). Arrays are leaves.
pub fn diff(old: &Value, new: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    leaves(old, String::new(), &mut a);
    leaves(new, String::new(), &mut b);
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    paths
        .into_iter()
        .filter(|p| a.get(*p) != b.get(*p))
        .map(|p| (p.clone(), a.get(p).cloned(), b.get(p).cloned()))
        .collect()
}

fn leaves(v: &Value, path: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(child, p, out);
            }
        }
        other => {
            out.insert(path, other.to_string());
        }
    }
}

/// `variance 0.95 → 0.9, seed (none) → 3`; at most `SHOWN` changes, then how many more.
fn describe(changes: &[(String, Option<String>, Option<String>)]) -> String {
    let none = || "(none)".to_string();
    let mut parts: Vec<String> = changes
        .iter()
        .take(SHOWN)
        .map(|(path, old, new)| {
            format!(
                "{path} {} → {}",
                old.clone().unwrap_or_else(none),
                new.clone().unwrap_or_else(none)
            )
        })
        .collect();
    if changes.len() > SHOWN {
        parts.push(format!("and {} more", changes.len() - SHOWN));
    }
    if parts.is_empty() {
        "parameters changed".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_added_and_removed_leaves_by_path() {
        let old = json!({"variance": 0.95, "keep_unsolved": false, "net": {"units": 64, "arch": "gru"}, "x": [1, 2]});
        let new = json!({"variance": 0.9, "keep_unsolved": false, "net": {"units": 64, "arch": "lstm"}, "x": [1, 3], "tol": 1e-6});
        let d = diff(&old, &new);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            d,
            vec![
                ("net.arch".to_string(), s("\"gru\""), s("\"lstm\"")),
                ("tol".to_string(), None, s("1e-6")),
                ("variance".to_string(), s("0.95"), s("0.9")),
                ("x".to_string(), s("[1,2]"), s("[1,3]")),
            ]
        );
        assert_eq!(
            describe(&d),
            "net.arch \"gru\" → \"lstm\", tol (none) → 1e-6, variance 0.95 → 0.9, and 1 more"
        );
        assert!(diff(&old, &old).is_empty());
        assert_eq!(describe(&[]), "parameters changed");
    }
}
