//! The memory a task will need, estimated from its shapes before it runs, so that a task that
//! cannot fit is refused (`ops::bounds`) instead of aborting the process when it allocates.
//!
//! Each kind states its estimate (`Kind::memory`, written with `task::estimate`): the largest
//! buffers it holds at once, in bytes, saturating:
//! - `train`, `search_trial`: the BPTT workspaces of the training batch and of the validation
//!   set (`T·rows·(N·states + GN + K)` f32, `GN = blocks·N`), their inputs and targets, and six
//!   copies of the weights (weights, gradient, momentum, best, packed, exported);
//! - `probe`: its states (`trials·T·N` f32) three times (trajectory, table, encoded file);
//! - `fixed_points`: the probe states, `inits` candidate states, and eight `N×N` f64 matrices
//!   (Jacobian, factorisation, eigen-decomposition);
//! - `topology`: `runs` states and eight `N×N` f64 matrices;
//! - `svcca`, `cka`, `shape`, `dsa`: every input probe's states, as read (f32) and in f64 twice;
//! - `topology_distance`, `mds`, `clustering`, `select`, `findings`: a few `n×n` f64 matrices
//!   of their inputs.
//!
//! This module gives the kinds their inputs' shapes from the plan ([`PlanShapes`]). Parameters
//! that do not parse (or a kind the standard registry does not know) count as zero. Over a whole
//! plan, each network's parameters are parsed once (`Nets`), not once per task that uses it.

use crate::plan::{Plan, TaskNode};
use crate::task::estimate::{states, Shapes};
use crate::task::train::{NetSpec, Probe, ProbeParams, Train, TrainParams};
use crate::task::{Kind, Registry};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The estimate of every node, in plan order (computed on rayon's pool).
pub fn estimates(plan: &Plan) -> Vec<(NodeIndex, u64)> {
    let registry = Registry::standard();
    let nets = Nets::of(plan);
    let nodes: Vec<NodeIndex> = plan.nodes().map(|(n, _)| n).collect();
    let probes: HashMap<NodeIndex, u64> = nodes
        .par_iter()
        .filter(|&&n| plan.node(n).kind == Probe::NAME)
        .map(|&n| (n, probe_states(plan, n, &nets)))
        .collect();
    nodes
        .par_iter()
        .map(|&n| {
            let shapes = PlanShapes {
                plan,
                n,
                nets: &nets,
                probes: Some(&probes),
            };
            (n, memory_of(&registry, &shapes))
        })
        .collect()
}

/// Estimated peak bytes of task `n`.
pub fn estimate(plan: &Plan, n: NodeIndex) -> u64 {
    let nets = Nets::default();
    let shapes = PlanShapes {
        plan,
        n,
        nets: &nets,
        probes: None,
    };
    memory_of(&Registry::standard(), &shapes)
}

fn memory_of(registry: &Registry, s: &PlanShapes) -> u64 {
    let node = s.plan.node(s.n);
    registry
        .get(node.kind)
        .map_or(0, |k| k.memory(&node.params, s))
}

pub(super) fn params<P: DeserializeOwned>(node: &TaskNode) -> Option<P> {
    P::deserialize(&*node.params).ok()
}

/// Task `n`'s inputs as the plan knows them, for its kind's estimates.
pub(super) struct PlanShapes<'a> {
    pub plan: &'a Plan,
    pub n: NodeIndex,
    pub nets: &'a Nets,
    /// The states of every probe, computed beforehand; `None`: computed on each lookup.
    pub probes: Option<&'a HashMap<NodeIndex, u64>>,
}

impl Shapes for PlanShapes<'_> {
    fn net(&self) -> Option<NetSpec> {
        self.nets.net_of(self.plan, self.n)
    }
    fn probe_states(&self) -> Vec<u64> {
        let of = |p: NodeIndex| match self.probes {
            Some(m) => m.get(&p).copied().unwrap_or(0),
            None => probe_states(self.plan, p, self.nets),
        };
        self.plan.deps(self.n).into_iter().map(of).collect()
    }
    fn first_probe(&self) -> Option<(ProbeParams, NetSpec)> {
        let first = *self.plan.deps(self.n).first()?;
        let probe = params::<ProbeParams>(self.plan.node(first))?;
        Some((probe, self.nets.net_of(self.plan, first)?))
    }
    fn inputs(&self) -> usize {
        self.plan.deps(self.n).len()
    }
    fn networks(&self) -> u64 {
        let deps = self.plan.deps(self.n);
        match deps.as_slice() {
            [one] => self.plan.deps(*one).len().max(1) as u64,
            many => many.len() as u64,
        }
    }
}

/// The network of each `train` task of a plan, parsed once; an empty `Nets` parses on every
/// lookup.
#[derive(Default)]
pub(super) struct Nets(HashMap<NodeIndex, NetSpec>);

impl Nets {
    pub fn of(plan: &Plan) -> Nets {
        let train: Vec<NodeIndex> = plan
            .nodes()
            .filter(|(_, node)| node.kind == Train::NAME)
            .map(|(n, _)| n)
            .collect();
        Nets(
            train
                .into_par_iter()
                .filter_map(|n| Some((n, params::<TrainParams>(plan.node(n))?.net)))
                .collect(),
        )
    }

    /// The network a per-network task works on: the `train` task it depends on first.
    pub fn net_of(&self, plan: &Plan, n: NodeIndex) -> Option<NetSpec> {
        let first = *plan.deps(n).first()?;
        let node = plan.node(first);
        if node.kind != Train::NAME {
            return self.net_of(plan, first);
        }
        match self.0.get(&first) {
            Some(net) => Some(net.clone()),
            None => params::<TrainParams>(node).map(|p| p.net),
        }
    }
}

/// The states of probe task `p`, or 0 when it is not a probe.
fn probe_states(plan: &Plan, p: NodeIndex, nets: &Nets) -> u64 {
    match (params::<ProbeParams>(plan.node(p)), nets.net_of(plan, p)) {
        (Some(probe), Some(net)) => states(&net, probe.trials),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;
    use crate::ops::plan_of;
    use crate::task::Registry;

    fn plan(text: &str) -> Plan {
        let m = parse(std::path::Path::new("m.toml"), text).unwrap();
        plan_of(&m, &Registry::standard()).unwrap()
    }

    fn largest(plan: &Plan, kind: &str) -> u64 {
        plan.nodes()
            .filter(|(_, node)| node.kind == kind)
            .map(|(n, _)| estimate(plan, n))
            .max()
            .unwrap()
    }

    const GRU: &str = r#"
[[study]]
name = "s"
task = { kind = "flipflop", bits = 3, steps = 100 }
[study.grid]
arch = ["gru"]
activation = ["tanh"]
units = [UNITS]
seeds = 1
[study.train]
batch = 64
val_trials = 256
[study.probe]
trials = 64
[[study.analysis]]
kind = "svcca"
[[study.analysis]]
kind = "fixed_points"
"#;

    #[test]
    fn training_estimate_is_the_workspace_and_weight_sizes() {
        let p = plan(&GRU.replace("UNITS", "128"));
        let (n, gn, m, k, t, rows) = (128u64, 384u64, 3u64, 3u64, 101u64, 320u64);
        let w = 4 * (n * gn + m * gn + gn + n * k + k);
        let expected = 4 * t * rows * (4 * n + gn + m + 2 * k) + 6 * w;
        assert_eq!(largest(&p, "train"), expected);
    }

    #[test]
    fn a_65536_unit_gru_needs_more_than_its_51_gb_recurrent_matrix() {
        let p = plan(&GRU.replace("UNITS", "65536"));
        let recurrent = 4 * 65536u64 * 3 * 65536;
        assert!(recurrent > 51_000_000_000);
        assert!(largest(&p, "train") > 6 * recurrent);
        assert!(largest(&p, "fixed_points") > 64 * 65536 * 65536);
    }

    #[test]
    fn distances_hold_every_probe_and_scale_with_the_population() {
        let one = plan(&GRU.replace("UNITS", "64"));
        let three = plan(&GRU.replace("UNITS", "64").replace("seeds = 1", "seeds = 3"));
        // 2 networks (trained + untrained) against 6: three times the probe states.
        assert_eq!(3 * largest(&one, "svcca"), largest(&three, "svcca"));
        assert_eq!(largest(&one, "svcca"), 2 * 5 * 4 * 64 * 100 * 64);
    }
}
