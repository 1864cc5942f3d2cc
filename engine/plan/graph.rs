//! The task graph: nodes with kind, parameters, key and dependencies, built in dependency order
//! and sealed before anything runs.
//!
//! `PlanBuilder` computes each node's key as it is added (its dependencies are already there;
//! or takes a key computed beforehand from the dependencies' keys, so a caller can compute
//! many keys in parallel and insert them in order), merges nodes with equal keys (two studies sharing a network train it once, and the node
//! remembers every study it belongs to, so each study keeps its rows), and `build`
//! checks the graph is acyclic and fixes a topological order. The executor only sees a `Plan`.

use crate::key::{canonical_json, params_hash, Key};
use crate::task::{encode, Kind};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct TaskNode {
    pub kind: &'static str,
    pub version: u32,
    /// Shared between the tasks planned with the same parameters (every probe of a study).
    pub params: Arc<serde_json::Value>,
    pub key: Key,
    /// For people: `train gru-tanh-64-l2=0.0001 seed 3`.
    pub label: String,
    /// The first study that planned this task.
    pub study: String,
    /// Every study that planned this task, `study` first, each once.
    pub studies: Vec<String>,
}

impl TaskNode {
    pub fn params_hash(&self) -> String {
        params_hash(&self.params)
    }

    /// Names the task independently of its parameters (`study/kind/label`), so `plan` can tell
    /// a changed task from a new one.
    pub fn slot(&self) -> String {
        format!("{}/{}/{}", self.study, self.kind, self.label)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("task graph has a cycle through `{0}`")]
    Cycle(String),
    #[error("unknown task kind `{0}`")]
    UnknownKind(String),
    #[error("the manifest plans {planned} tasks, more than the limit of {limit}; nothing was planned. Shrink the grid, seeds or search trials, or raise the limit with --max-tasks {planned}")]
    TooManyTasks { planned: u128, limit: u64 },
    #[error("{}: {} {} needs an estimated {} of memory, more than the {} {}; nothing was run. Shrink its units, batch, steps, trials or inits, or pass --max-memory SIZE to try anyway", .0.study, .0.kind, .0.label, .0.estimate, .0.limit, .0.limit_source)]
    TooMuchMemory(Box<MemoryExcess>),
}

/// The task of [`PlanError::TooMuchMemory`] and its estimate against the limit (boxed there, so
/// that every `Result<_, PlanError>` stays small).
#[derive(Debug)]
pub struct MemoryExcess {
    pub study: String,
    pub kind: &'static str,
    pub label: String,
    pub estimate: String,
    pub limit: String,
    pub limit_source: String,
}

/// A task whose key is computed (`Key::compute` or `Key::of_canonical`, with its kind's
/// version and its dependencies' keys), ready for `PlanBuilder::insert`.
pub struct Keyed {
    pub kind: &'static str,
    pub version: u32,
    pub label: String,
    pub params: Arc<serde_json::Value>,
    pub key: Key,
}

impl Keyed {
    /// A task of kind `K` (at the registry's `version` of it) after the tasks keyed `deps`.
    pub fn of<K: Kind>(version: u32, label: String, p: &K::Params, deps: &[Key]) -> Keyed {
        let params = encode(p);
        let key = Key::compute(K::NAME, version, &params, deps);
        Keyed {
            kind: K::NAME,
            version,
            label,
            params: Arc::new(params),
            key,
        }
    }
}

pub struct PlanBuilder<'a> {
    graph: DiGraph<TaskNode, ()>,
    by_key: HashMap<Key, NodeIndex>,
    version: &'a dyn Fn(&str) -> Option<u32>,
}

impl<'a> PlanBuilder<'a> {
    /// `version` gives each task kind's algorithm version (the registry's).
    pub fn new(version: &'a dyn Fn(&str) -> Option<u32>) -> Self {
        PlanBuilder {
            graph: DiGraph::new(),
            by_key: HashMap::new(),
            version,
        }
    }

    /// Adds a task of kind `K` after its dependencies: the kind's name and parameter type
    /// come from `K`; returns the existing node when the key is known.
    pub fn task<K: Kind>(
        &mut self,
        study: &str,
        label: String,
        p: &K::Params,
        deps: &[NodeIndex],
    ) -> Result<NodeIndex, PlanError> {
        self.add(study, K::NAME, label, encode(p), deps)
    }

    /// One task of kind `K` per item, all with the parameters `p` (`add_each`).
    pub fn each<K: Kind>(
        &mut self,
        study: &str,
        p: &K::Params,
        items: Vec<(String, Vec<NodeIndex>)>,
    ) -> Result<Vec<NodeIndex>, PlanError> {
        self.add_each(study, K::NAME, encode(p), items)
    }

    /// Adds a task by kind name and parameters as JSON (a kind known only to a test's
    /// registry); planners use the typed [`PlanBuilder::task`].
    pub fn add(
        &mut self,
        study: &str,
        kind: &'static str,
        label: String,
        params: serde_json::Value,
        deps: &[NodeIndex],
    ) -> Result<NodeIndex, PlanError> {
        let version = self.version(kind)?;
        let dep_keys: Vec<Key> = deps.iter().map(|&d| self.graph[d].key).collect();
        let key = Key::compute(kind, version, &params, &dep_keys);
        let task = Keyed {
            kind,
            version,
            label,
            params: Arc::new(params),
            key,
        };
        Ok(self.insert(study, task, deps))
    }

    /// One task of `kind` per item (its label and dependencies), all with the same parameters,
    /// serialised once; the keys are computed in parallel, the tasks inserted in item order.
    pub fn add_each(
        &mut self,
        study: &str,
        kind: &'static str,
        params: serde_json::Value,
        items: Vec<(String, Vec<NodeIndex>)>,
    ) -> Result<Vec<NodeIndex>, PlanError> {
        let version = self.version(kind)?;
        let canonical = canonical_json(&params);
        let params = Arc::new(params);
        let graph = &self.graph;
        let keys: Vec<Key> = items
            .par_iter()
            .map(|(_, deps)| {
                let dep_keys: Vec<Key> = deps.iter().map(|&d| graph[d].key).collect();
                Key::of_canonical(kind, version, &canonical, &dep_keys)
            })
            .collect();
        Ok(items
            .into_iter()
            .zip(keys)
            .map(|((label, deps), key)| {
                let task = Keyed {
                    kind,
                    version,
                    label,
                    params: Arc::clone(&params),
                    key,
                };
                self.insert(study, task, &deps)
            })
            .collect())
    }

    /// The algorithm version of a task kind.
    pub fn version(&self, kind: &str) -> Result<u32, PlanError> {
        (self.version)(kind).ok_or_else(|| PlanError::UnknownKind(kind.into()))
    }

    /// Adds a task whose key the caller computed from the keys of `deps`, in order; returns the
    /// existing node when the key is known.
    pub fn insert(&mut self, study: &str, task: Keyed, deps: &[NodeIndex]) -> NodeIndex {
        let Keyed {
            kind,
            version,
            label,
            params,
            key,
        } = task;
        if let Some(&n) = self.by_key.get(&key) {
            let studies = &mut self.graph[n].studies;
            if !studies.iter().any(|s| s == study) {
                studies.push(study.to_string());
            }
            return n;
        }
        let n = self.graph.add_node(TaskNode {
            kind,
            version,
            params,
            key,
            label,
            study: study.to_string(),
            studies: vec![study.to_string()],
        });
        for &d in deps {
            self.graph.add_edge(d, n, ());
        }
        self.by_key.insert(key, n);
        n
    }

    pub fn key(&self, n: NodeIndex) -> Key {
        self.graph[n].key
    }

    pub fn label(&self, n: NodeIndex) -> &str {
        &self.graph[n].label
    }

    pub fn kind(&self, n: NodeIndex) -> &'static str {
        self.graph[n].kind
    }

    pub fn build(self) -> Result<Plan, PlanError> {
        let order = petgraph::algo::toposort(&self.graph, None)
            .map_err(|c| PlanError::Cycle(self.graph[c.node_id()].label.clone()))?;
        Ok(Plan {
            graph: self.graph,
            order,
        })
    }
}

/// A sealed, acyclic task graph with a fixed topological order.
pub struct Plan {
    graph: DiGraph<TaskNode, ()>,
    order: Vec<NodeIndex>,
}

impl Plan {
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes in a topological order (dependencies first).
    pub fn order(&self) -> &[NodeIndex] {
        &self.order
    }

    pub fn node(&self, n: NodeIndex) -> &TaskNode {
        &self.graph[n]
    }

    /// Dependencies in the order they were given (the order that enters the key).
    pub fn deps(&self, n: NodeIndex) -> Vec<NodeIndex> {
        let mut edges: Vec<_> = self
            .graph
            .edges_directed(n, petgraph::Direction::Incoming)
            .map(|e| (e.id(), e.source()))
            .collect();
        edges.sort_by_key(|(id, _)| *id);
        edges.into_iter().map(|(_, s)| s).collect()
    }

    pub fn dependents(&self, n: NodeIndex) -> impl Iterator<Item = NodeIndex> + '_ {
        self.graph
            .neighbors_directed(n, petgraph::Direction::Outgoing)
    }

    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, &TaskNode)> {
        self.order.iter().map(move |&n| (n, &self.graph[n]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equal_tasks_merge_and_deps_keep_order() {
        let v = |_: &str| Some(1);
        let mut b = PlanBuilder::new(&v);
        let a = b
            .add("s", "train", "a".into(), json!({"seed": 1}), &[])
            .unwrap();
        let c = b
            .add("s", "train", "c".into(), json!({"seed": 2}), &[])
            .unwrap();
        let again = b
            .add("t", "train", "a2".into(), json!({"seed": 1}), &[])
            .unwrap();
        assert_eq!(a, again);
        let again_in_s = b
            .add("s", "train", "a".into(), json!({"seed": 1}), &[])
            .unwrap();
        assert_eq!(a, again_in_s);
        let sim = b
            .add("s", "svcca", "all".into(), json!({}), &[c, a])
            .unwrap();
        let plan = b.build().unwrap();
        assert_eq!(plan.len(), 3);
        assert_eq!(plan.node(a).studies, ["s", "t"]);
        assert_eq!(plan.node(c).studies, ["s"]);
        assert_eq!(plan.deps(sim), vec![c, a]);
        assert_eq!(plan.order().last(), Some(&sim));
    }
}
