//! How stale tasks become Slurm job arrays: grouped by DAG level and kind, each group cut into
//! chunks (one array element each), each group depending on the groups that hold its inputs.
//!
//! A task's level is 0 when none of its inputs is stale, else one more than its deepest stale
//! input, so every input of a group lies in a group of a lower level and one `afterany`
//! dependency per input group orders the whole run.

use crate::plan::{Plan, TaskNode};
use petgraph::graph::NodeIndex;
use std::collections::{BTreeSet, HashMap};

/// One array job's worth of tasks: same level, same kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub level: usize,
    pub kind: &'static str,
    /// The tasks, in plan order.
    pub tasks: Vec<NodeIndex>,
    /// Indices (into the group list) of the groups holding this group's stale inputs.
    pub after: BTreeSet<usize>,
    /// Tasks per array element.
    pub per_element: usize,
}

impl Group {
    /// `g03-probe`: names its key list, scripts and logs in the run folder.
    pub fn name(&self, index: usize) -> String {
        format!("g{index:02}-{}", self.kind)
    }

    pub fn elements(&self) -> usize {
        self.tasks.len().div_ceil(self.per_element)
    }

    /// Which array element (chunk) runs the `i`-th task of the group.
    pub fn chunk_of(&self, i: usize) -> usize {
        i / self.per_element
    }
}

/// Tasks per array element when the user gives none: training is long enough to deserve an
/// element of its own (an untrained control, 0 iterations, is not); everything else is small
/// next to the cost of starting a job. A group takes the smallest number of its tasks.
pub fn default_per_element(node: &TaskNode) -> usize {
    let untrained = node
        .params
        .pointer("/schedule/iterations")
        .and_then(|v| v.as_u64())
        == Some(0);
    match node.kind {
        "train" if untrained => 16,
        "train" | "search_trial" => 1,
        "fixed_points" | "topology" => 4,
        _ => 16,
    }
}

/// Groups the `stale` tasks (any order) of `plan`; groups come level by level, kinds by name.
pub fn group(
    plan: &Plan,
    stale: &[NodeIndex],
    per_element: &dyn Fn(&TaskNode) -> usize,
) -> Vec<Group> {
    let stale_set: BTreeSet<NodeIndex> = stale.iter().copied().collect();
    let mut level: HashMap<NodeIndex, usize> = HashMap::new();
    let mut slot: HashMap<(usize, &'static str), usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut group_of: HashMap<NodeIndex, usize> = HashMap::new();
    for (n, node) in plan.nodes() {
        if !stale_set.contains(&n) {
            continue;
        }
        let stale_deps: Vec<NodeIndex> = plan
            .deps(n)
            .into_iter()
            .filter(|d| stale_set.contains(d))
            .collect();
        let l = stale_deps.iter().map(|d| level[d] + 1).max().unwrap_or(0);
        level.insert(n, l);
        let g = *slot.entry((l, node.kind)).or_insert_with(|| {
            groups.push(Group {
                level: l,
                kind: node.kind,
                tasks: Vec::new(),
                after: BTreeSet::new(),
                per_element: usize::MAX,
            });
            groups.len() - 1
        });
        groups[g].tasks.push(n);
        groups[g].per_element = groups[g].per_element.min(per_element(node).max(1));
        for d in stale_deps {
            let dg = group_of[&d];
            groups[g].after.insert(dg);
        }
        group_of.insert(n, g);
    }
    // Plan order is topological, so levels may interleave; submit lower levels first.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| (groups[g].level, groups[g].kind));
    let renumber: HashMap<usize, usize> = order
        .iter()
        .enumerate()
        .map(|(new, &old)| (old, new))
        .collect();
    order
        .into_iter()
        .map(|old| {
            let mut g = groups[old].clone();
            g.after = g.after.iter().map(|a| renumber[a]).collect();
            g
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanBuilder;
    use serde_json::json;

    #[test]
    fn levels_follow_stale_inputs_and_kinds_split_groups() {
        let v = |_: &str| Some(1);
        let mut b = PlanBuilder::new(&v);
        let t: Vec<_> = (0..3)
            .map(|s| {
                b.add("s", "train", format!("n{s}"), json!({ "seed": s }), &[])
                    .unwrap()
            })
            .collect();
        let p: Vec<_> = t
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                b.add("s", "probe", format!("n{i}"), json!({}), &[n])
                    .unwrap()
            })
            .collect();
        let svcca = b.add("s", "svcca", "all".into(), json!({}), &p).unwrap();
        let cka = b.add("s", "cka", "all".into(), json!({}), &p).unwrap();
        let mds = b
            .add("s", "mds", "svcca".into(), json!({}), &[svcca])
            .unwrap();
        let plan = b.build().unwrap();

        // Train 0 is cached: its probe is level 0 beside the two trains.
        let stale = vec![t[1], t[2], p[0], p[1], p[2], svcca, cka, mds];
        let groups = group(&plan, &stale, &|n| if n.kind == "train" { 1 } else { 2 });
        let summary: Vec<(usize, &str, usize, usize)> = groups
            .iter()
            .map(|g| (g.level, g.kind, g.tasks.len(), g.elements()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, "probe", 1, 1),
                (0, "train", 2, 2),
                (1, "probe", 2, 1),
                (2, "cka", 1, 1),
                (2, "svcca", 1, 1),
                (3, "mds", 1, 1)
            ]
        );
        assert_eq!(groups[2].after, BTreeSet::from([1]));
        assert_eq!(groups[4].after, BTreeSet::from([0, 2]));
        assert_eq!(groups[5].after, BTreeSet::from([4]));
        assert!(groups[0].after.is_empty() && groups[1].after.is_empty());

        // Only an analysis changed: it alone, then its dependents.
        let only = group(&plan, &[mds, svcca], &|_| 16);
        assert_eq!(only[0].per_element, 16);
        assert_eq!(
            only.iter()
                .map(|g| (g.kind, g.after.len()))
                .collect::<Vec<_>>(),
            vec![("svcca", 0), ("mds", 1)]
        );
    }
}
