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
//!
//! Each kind states its own (`Kind::work`, `Kind::class`); a kind whose shapes are unknown
//! counts `k²`.

use super::memory::{Nets, PlanShapes};
use crate::plan::Plan;
use crate::task::estimate::pairwise_work;
use crate::task::Registry;
use petgraph::graph::NodeIndex;

/// Tasks whose time per unit of work is alike: a training loop is one whether it trains a
/// network or a search trial; an untrained control is mostly the overhead of a task; every other
/// kind is its own class.
pub fn class(plan: &Plan, n: NodeIndex) -> &'static str {
    class_in(&Registry::standard(), plan, n)
}

fn class_in(registry: &Registry, plan: &Plan, n: NodeIndex) -> &'static str {
    let node = plan.node(n);
    registry
        .get(node.kind)
        .map_or(node.kind, |k| k.class(&node.params))
}

/// The class and work of tasks `nodes` of a plan (on rayon's pool, each network's parameters
/// parsed once).
pub fn of(plan: &Plan, nodes: &[NodeIndex]) -> Vec<(NodeIndex, &'static str, f64)> {
    use rayon::prelude::*;
    if nodes.is_empty() {
        return Vec::new();
    }
    let registry = Registry::standard();
    let nets = Nets::of(plan);
    nodes
        .par_iter()
        .map(|&n| {
            let class = class_in(&registry, plan, n);
            (n, class, work_in(&registry, plan, n, &nets))
        })
        .collect()
}

/// Estimated multiply-adds of task `n` (at least 1).
pub fn work(plan: &Plan, n: NodeIndex) -> f64 {
    work_in(&Registry::standard(), plan, n, &Nets::default())
}

fn work_in(registry: &Registry, plan: &Plan, n: NodeIndex, nets: &Nets) -> f64 {
    let node = plan.node(n);
    let shapes = PlanShapes {
        plan,
        n,
        nets,
        probes: None,
    };
    registry
        .get(node.kind)
        .and_then(|k| k.work(&node.params, &shapes))
        .unwrap_or_else(|| pairwise_work(&shapes))
        .max(1.0)
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
