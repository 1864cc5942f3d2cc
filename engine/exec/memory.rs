//! The memory a task will need, estimated from its shapes before it runs, so that a task that
//! cannot fit is refused (`ops::bounds`) instead of aborting the process when it allocates.
//!
//! Each estimate adds the largest buffers the kind holds at once, in bytes, saturating:
//! - `train`, `search_trial`: the BPTT workspaces of the training batch and of the validation
//!   set (`T·rows·(N·states + GN + K)` f32, `GN = blocks·N`), their inputs and targets, and six
//!   copies of the weights (weights, gradient, momentum, best, packed, exported);
//! - `probe`: its states (`trials·T·N` f32) three times (trajectory, table, encoded file);
//! - `fixed_points`: the probe states, `inits` candidate states, and eight `N×N` f64 matrices
//!   (Jacobian, factorisation, eigen-decomposition);
//! - `topology`: `runs` states and eight `N×N` f64 matrices;
//! - `svcca`, `cka`, `shape`: every input probe's states, as read (f32) and in f64 twice;
//! - `topology_distance`, `mds`, `clustering`, `select`: a few `n×n` f64 matrices of their inputs.
//!
//! Parameters that do not parse (a kind this module does not know) count as zero. Over a whole
//! plan, each network's parameters are parsed once (`Nets`), not once per task that uses it.

use crate::manifest::{FixedPointParams, TopologyParams};
use crate::plan::{Plan, TaskNode};
use crate::task::train::{NetSpec, ProbeParams, Schedule, SearchTrialParams, TrainParams};
use petgraph::graph::NodeIndex;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

const F32: u64 = 4;
const F64: u64 = 8;

/// The estimate of every node, in plan order (computed on rayon's pool).
pub fn estimates(plan: &Plan) -> Vec<(NodeIndex, u64)> {
    let nets = Nets::of(plan);
    let nodes: Vec<NodeIndex> = plan.nodes().map(|(n, _)| n).collect();
    let probes: HashMap<NodeIndex, u64> = nodes
        .par_iter()
        .filter(|&&n| plan.node(n).kind == "probe")
        .map(|&n| (n, probe_states(plan, n, &nets)))
        .collect();
    let probe = |p: NodeIndex| probes.get(&p).copied().unwrap_or(0);
    nodes
        .par_iter()
        .map(|&n| (n, estimate_in(plan, n, &nets, &probe)))
        .collect()
}

/// Estimated peak bytes of task `n`.
pub fn estimate(plan: &Plan, n: NodeIndex) -> u64 {
    let nets = Nets::default();
    estimate_in(plan, n, &nets, &|p| probe_states(plan, p, &nets))
}

/// `estimate`, with the networks and each probe's states (`probe`) looked up.
fn estimate_in(plan: &Plan, n: NodeIndex, nets: &Nets, probe: &dyn Fn(NodeIndex) -> u64) -> u64 {
    let node = plan.node(n);
    match node.kind {
        "train" => params::<TrainParams>(node).map_or(0, |p| training(&p.net, &p.schedule)),
        "search_trial" => {
            params::<SearchTrialParams>(node).map_or(0, |p| training(&p.net, &p.schedule))
        }
        "probe" => mul(&[3, probe(n)]),
        "fixed_points" => fixed_points(plan, n, nets).unwrap_or(0),
        "topology" => topology(plan, n, nets).unwrap_or(0),
        "svcca" | "cka" | "shape" | "dsa" => plan.deps(n).into_iter().fold(0u64, |sum, p| {
            sum.saturating_add(mul(&[(F32 + 2 * F64) / F32, probe(p)]))
        }),
        _ => mul(&[8 * F64, networks(plan, n), networks(plan, n)]),
    }
}

pub(super) fn params<P: DeserializeOwned>(node: &TaskNode) -> Option<P> {
    P::deserialize(&*node.params).ok()
}

fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |p, &f| p.saturating_mul(f))
}

fn add(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |s, &t| s.saturating_add(t))
}

/// The network of each `train` task of a plan, parsed once; an empty `Nets` parses on every
/// lookup.
#[derive(Default)]
pub(super) struct Nets(HashMap<NodeIndex, NetSpec>);

impl Nets {
    pub fn of(plan: &Plan) -> Nets {
        let train: Vec<NodeIndex> = plan
            .nodes()
            .filter(|(_, node)| node.kind == "train")
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
        match node.kind {
            "train" => match self.0.get(&first) {
                Some(net) => Some(net.clone()),
                None => params::<TrainParams>(node).map(|p| p.net),
            },
            _ => self.net_of(plan, first),
        }
    }
}

fn weights(net: &NetSpec) -> u64 {
    let s = net.shape();
    let (n, m, k) = (s.units as u64, s.inputs as u64, s.outputs as u64);
    let gn = mul(&[net.arch.blocks() as u64, n]);
    mul(&[
        F32,
        add(&[mul(&[n, gn]), mul(&[m, gn]), gn, mul(&[n, k]), k]),
    ])
}

/// f32 states of `trials` trials through the network.
fn states(net: &NetSpec, trials: usize) -> u64 {
    mul(&[
        F32,
        trials as u64,
        net.task.steps() as u64,
        net.units as u64,
    ])
}

fn training(net: &NetSpec, schedule: &Schedule) -> u64 {
    let s = net.shape();
    let (n, m, k) = (s.units as u64, s.inputs as u64, s.outputs as u64);
    let gn = mul(&[net.arch.blocks() as u64, n]);
    let t = net.task.steps() as u64 + 1;
    let per_row = add(&[mul(&[n, 4]), gn, k, m, k]);
    let rows = add(&[schedule.batch as u64, schedule.val_trials as u64]);
    add(&[mul(&[F32, t, rows, per_row]), mul(&[6, weights(net)])])
}

fn square(n: u64) -> u64 {
    mul(&[8 * F64, n, n])
}

fn fixed_points(plan: &Plan, n: NodeIndex, nets: &Nets) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct P {
        probe: ProbeParams,
        fixed_points: FixedPointParams,
    }
    let p = params::<P>(plan.node(n))?;
    let net = nets.net_of(plan, n)?;
    let inits = mul(&[4 * F64, p.fixed_points.inits as u64, net.units as u64]);
    Some(add(&[
        states(&net, p.probe.trials),
        inits,
        square(net.units as u64),
        weights(&net),
    ]))
}

fn topology(plan: &Plan, n: NodeIndex, nets: &Nets) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct P {
        topology: TopologyParams,
    }
    let p = params::<P>(plan.node(n))?;
    let net = nets.net_of(plan, n)?;
    let runs = mul(&[4 * F64, p.topology.runs as u64, net.units as u64]);
    Some(add(&[runs, square(net.units as u64), weights(&net)]))
}

/// The states of probe task `p`, or 0 when it is not a probe.
fn probe_states(plan: &Plan, p: NodeIndex, nets: &Nets) -> u64 {
    match (params::<ProbeParams>(plan.node(p)), nets.net_of(plan, p)) {
        (Some(probe), Some(net)) => states(&net, probe.trials),
        _ => 0,
    }
}

/// How many networks a study-level task compares: its inputs, or its input's inputs.
pub(super) fn networks(plan: &Plan, n: NodeIndex) -> u64 {
    let deps = plan.deps(n);
    match deps.as_slice() {
        [one] => plan.deps(*one).len().max(1) as u64,
        many => many.len() as u64,
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
