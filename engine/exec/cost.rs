//! The work a task will do, in multiply-adds estimated from its shapes, so that progress can
//! give the time left before any task of a kind has finished (`cli::progress` learns the seconds
//! per unit of work of each class of task as the run goes: [`class`]). Rough by design: the constants (iterations of
//! a fixed-point search, fixed points per network) are typical values, not bounds.
//!
//! - `train`, `search_trial`: forward and backward passes, `3 · iterations · batch · T` steps of
//!   `blocks · N · (N + M)`, plus validation and scoring (`2 · val_trials · T` forward steps);
//! - `probe`: `trials · T` forward steps;
//! - `fixed_points`: per condition, `inits` searches of about 20 Newton steps, each a Jacobian
//!   (`blocks · N³`) and a factorisation (`N³`);
//! - `topology`: about 20 fixed points, `runs · max_steps` forward steps each;
//! - `svcca`, `cka`, `shape`, `dsa`: each network's `trials·T × N` states against every other's
//!   (`k² · trials · T · N`) and a decomposition per network (`k · N³`);
//! - the rest (`select`, `mds`, `clustering`, `topology_distance`, `findings`): `k²` for `k`
//!   networks.

use super::memory::{networks, params, Nets};
use crate::manifest::{FixedPointParams, TopologyParams};
use crate::plan::Plan;
use crate::task::train::{NetSpec, ProbeParams, SearchTrialParams, TrainParams};
use petgraph::graph::NodeIndex;

/// Multiply-adds of one forward step of `net` for one trial.
fn step(net: &NetSpec) -> f64 {
    let s = net.shape();
    (net.arch.blocks() * s.units * (s.units + s.inputs)) as f64
}

fn training(net: &NetSpec, iterations: usize, batch: usize, val_trials: usize) -> f64 {
    let t = (net.task.steps() + 1) as f64;
    let trials = 3.0 * (iterations * batch) as f64 + 2.0 * val_trials as f64;
    trials * t * step(net)
}

/// Tasks whose time per unit of work is alike: a training loop is one whether it trains a
/// network or a search trial; an untrained control is mostly the overhead of a task; every other
/// kind is its own class.
pub fn class(plan: &Plan, n: NodeIndex) -> &'static str {
    let node = plan.node(n);
    let iterations = match node.kind {
        "train" => params::<TrainParams>(node).map(|p| p.schedule.iterations),
        "search_trial" => params::<SearchTrialParams>(node).map(|p| p.schedule.iterations),
        kind => return kind,
    };
    match iterations {
        Some(0) => "untrained",
        _ => "training",
    }
}

/// The class and work of every task of a plan, in plan order (on rayon's pool, each network's
/// parameters parsed once).
pub fn all(plan: &Plan) -> Vec<(NodeIndex, &'static str, f64)> {
    use rayon::prelude::*;
    let nets = Nets::of(plan);
    let nodes: Vec<NodeIndex> = plan.nodes().map(|(n, _)| n).collect();
    nodes
        .into_par_iter()
        .map(|n| (n, class(plan, n), work_in(plan, n, &nets)))
        .collect()
}

/// Estimated multiply-adds of task `n` (at least 1).
pub fn work(plan: &Plan, n: NodeIndex) -> f64 {
    work_in(plan, n, &Nets::default())
}

fn work_in(plan: &Plan, n: NodeIndex, nets: &Nets) -> f64 {
    let node = plan.node(n);
    let estimate = match node.kind {
        "train" => params::<TrainParams>(node).map(|p| {
            let s = &p.schedule;
            training(&p.net, s.iterations, s.batch, s.val_trials)
        }),
        "search_trial" => params::<SearchTrialParams>(node).map(|p| {
            let s = &p.schedule;
            training(&p.net, s.iterations, s.batch, s.val_trials)
        }),
        "probe" => params::<ProbeParams>(node)
            .zip(nets.net_of(plan, n))
            .map(|(p, net)| (p.trials * net.task.steps()) as f64 * step(&net)),
        "fixed_points" => fixed_points(plan, n, nets),
        "topology" => topology(plan, n, nets),
        "svcca" | "cka" | "shape" | "dsa" => geometry(plan, n, nets),
        _ => None,
    };
    estimate
        .unwrap_or_else(|| (networks(plan, n) as f64).powi(2))
        .max(1.0)
}

fn fixed_points(plan: &Plan, n: NodeIndex, nets: &Nets) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct P {
        fixed_points: FixedPointParams,
    }
    let p = params::<P>(plan.node(n))?;
    let net = nets.net_of(plan, n)?;
    let conditions = net.task.conditions(p.fixed_points.conditions).len();
    let cube = (net.units as f64).powi(3) * (net.arch.blocks() + 1) as f64;
    Some(20.0 * (conditions * p.fixed_points.inits) as f64 * cube)
}

fn topology(plan: &Plan, n: NodeIndex, nets: &Nets) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct P {
        topology: TopologyParams,
    }
    let p = params::<P>(plan.node(n))?;
    let net = nets.net_of(plan, n)?;
    Some(20.0 * (p.topology.runs * p.topology.max_steps) as f64 * step(&net))
}

fn geometry(plan: &Plan, n: NodeIndex, nets: &Nets) -> Option<f64> {
    let probes = plan.deps(n);
    let first = *probes.first()?;
    let probe = params::<ProbeParams>(plan.node(first))?;
    let net = nets.net_of(plan, first)?;
    let (k, rows, units) = (
        probes.len() as f64,
        (probe.trials * net.task.steps()) as f64,
        net.units as f64,
    );
    Some(k * k * rows * units + k * units.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;
    use crate::ops::plan_of;
    use crate::task::Registry;

    fn plan(units: usize, iterations: usize) -> Plan {
        let text = format!(
            r#"
[[study]]
name = "s"
task = {{ kind = "flipflop", bits = 3, steps = 100 }}
[study.grid]
arch = ["vanilla", "lstm"]
activation = ["tanh"]
units = [{units}]
seeds = 1
[study.train]
iterations = {iterations}
batch = 64
val_trials = 256
[[study.analysis]]
kind = "cka"
[[study.analysis]]
kind = "fixed_points"
"#
        );
        let m = parse(std::path::Path::new("m.toml"), &text).unwrap();
        plan_of(&m, &Registry::standard()).unwrap()
    }

    fn of(plan: &Plan, kind: &str, label: &str) -> f64 {
        let (n, _) = plan
            .nodes()
            .find(|(_, node)| {
                node.kind == kind
                    && node.label.starts_with(label)
                    && !node.label.ends_with("untrained")
            })
            .unwrap_or_else(|| panic!("no {kind} {label}"));
        work(plan, n)
    }

    #[test]
    fn training_work_is_the_forward_and_backward_steps() {
        let p = plan(32, 100);
        // Vanilla: one block, 32 units, 3 inputs; T + 1 = 101 steps.
        let step = 32.0 * (32.0 + 3.0);
        let expected = (3.0 * 100.0 * 64.0 + 2.0 * 256.0) * 101.0 * step;
        assert_eq!(of(&p, "train", "vanilla-tanh-32 l2=0 seed 0"), expected);
        // An LSTM step is four blocks.
        assert_eq!(of(&p, "train", "lstm-tanh-32 l2=0 seed 0"), 4.0 * expected);
    }

    #[test]
    fn training_loops_are_one_class_and_untrained_controls_another() {
        let p = plan(8, 10);
        let classes: std::collections::BTreeSet<(&str, &str)> = p
            .nodes()
            .map(|(n, node)| (node.kind, class(&p, n)))
            .collect();
        assert!(classes.contains(&("train", "training")));
        assert!(classes.contains(&("train", "untrained")));
        assert!(classes.contains(&("probe", "probe")));
    }

    #[test]
    fn work_grows_with_the_shapes_that_drive_it() {
        let (small, large) = (plan(32, 100), plan(64, 200));
        for (kind, label) in [
            ("train", "lstm"),
            ("probe", "lstm"),
            ("fixed_points", "lstm"),
            ("cka", ""),
        ] {
            assert!(
                of(&large, kind, label) > of(&small, kind, label),
                "{kind} {label}"
            );
        }
        // Fixed points scale with N³, probes with N².
        let ratio = of(&large, "fixed_points", "lstm") / of(&small, "fixed_points", "lstm");
        assert_eq!(ratio, 8.0);
    }
}
