//! `topology`: the graph a network's fixed points form (flip-flop: transition probabilities
//! between fixed points; sine and CDI: nearest-neighbour graphs of the input-dependent fixed
//! points), and `topology_distance`: the distance between every pair of those graphs, under the
//! paper's rule (networks whose fixed-point count is not the population's mode are set aside)
//! or the count-robust one (fixed points matched across networks by readout; nobody set aside).
//!
//! Only certified fixed points (roots, each once: `analysis::fixed_points`) are counted and,
//! for flip-flop, are nodes of the transition graph; uncertified points (slow points, points of
//! a continuum) get no row or column there. Sine and CDI graphs keep every reported point, as
//! they trace the input-dependent manifold of fixed and slow points, but the paper's rule counts
//! certified points only.

//!
//! This module owns the `topology` analysis: its manifest parameters and their checks, its
//! expansion (a `topology` task per network after its `fixed_points`, then `topology_distance`
//! under each rule) and both kinds.

use super::{AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::topology::{
    adjacency_distance, graph_distance, knn_adjacency, matched_graph_distance, modal_count,
    transition_graph, Anchor, TransitionOpts,
};
use crate::plan::PlanError;
use crate::rnn::TaskSpec;
use crate::table::{Column, Output, Table};
use crate::task::estimate::{
    add, mul, pairwise_bytes, pairwise_work, square, step, weights, Shapes, F64,
};
use crate::task::network::{network_of, NetworkRow};
use crate::task::population::{distance_output, too_few};
use crate::task::{derive_seed, Check, Context, Kind, Population, Registry, TaskError};
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyParams {
    /// Perturbed runs from each fixed point (flip-flop).
    #[serde(default = "d_runs")]
    pub runs: usize,
    /// Perturbation size relative to `||s*||` (absolute at the origin).
    #[serde(default = "d_eps")]
    pub eps: f64,
    #[serde(default = "d_max_steps")]
    pub max_steps: usize,
    /// Nearest neighbours per fixed point in the sine and CDI graphs.
    #[serde(default = "d_neighbours")]
    pub neighbours: usize,
    /// A flip-flop network with more fixed points than this (a continuum of slow points, as in
    /// an untrained identity-initialised relu network) gets no transition graph: its graph is
    /// recorded as empty with `computed = false` in `topology_nodes`, and the paper's rule sets
    /// it aside as a non-modal count.
    #[serde(default = "d_max_points")]
    pub max_points: usize,
    #[serde(default)]
    pub seed: u64,
}

fn d_runs() -> usize {
    100
}
fn d_eps() -> f64 {
    0.01
}
fn d_max_steps() -> usize {
    2000
}
fn d_neighbours() -> usize {
    1
}
fn d_max_points() -> usize {
    64
}

impl Check for TopologyParams {
    fn check(&self) -> Option<(&'static str, String)> {
        let at_least_one = |v: usize, f| (v == 0).then(|| (f, "must be at least 1".to_string()));
        at_least_one(self.runs, "runs")
            .or_else(|| at_least_one(self.max_steps, "max_steps"))
            .or_else(|| at_least_one(self.neighbours, "neighbours"))
            .or_else(|| {
                (!(self.eps > 0.0 && self.eps.is_finite()))
                    .then(|| ("eps", format!("must be > 0, got {}", self.eps)))
            })
    }
}

/// What a `topology` task reads: the network's task, the analysis' parameters, and the
/// fixed-point analysis' `tol_unique` (the distance under which two points are one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopologyTaskParams {
    pub task: TaskSpec,
    pub topology: TopologyParams,
    pub tol_unique: f64,
}

impl Check for TopologyTaskParams {
    fn check(&self) -> Option<(&'static str, String)> {
        self.topology.check()
    }
}

#[derive(Default)]
pub struct Topology;

impl AnalysisKind for Topology {
    type Manifest = TopologyParams;
    const STAGE: Stage = Stage::Topology;
    const TASKS: Tasks = Tasks {
        per_network: 1,
        distances: 2,
        ..Tasks::NONE
    };

    fn register(r: &mut Registry) {
        r.add(Topology);
        r.add(TopologyDistance);
    }

    fn requires(present: &super::Present) -> Option<String> {
        (!present.has(super::fixed_points::FixedPoints::NAME))
            .then(|| "`topology` needs a `fixed_points` analysis in the same study".to_string())
    }

    /// After `fixed_points` (the manifest's check makes sure there is one).
    fn expand(p: &TopologyParams, x: &mut Expansion) -> Result<(), PlanError> {
        let Some((fp, fps)) = x.fixed_points.clone() else {
            return Ok(());
        };
        let params = TopologyTaskParams {
            task: x.study.task.clone(),
            topology: p.clone(),
            tol_unique: fp.tol_unique,
        };
        let networks = x.networks.clone();
        let topos = x.per_network::<Topology>(&params, |i| vec![networks[i], fps[i]])?;
        for rule in [Rule::Modal, Rule::Matched] {
            let p = x.population(DistanceParams { rule });
            let n =
                x.b.task::<TopologyDistance>(&x.study.name, rule.name().into(), &p, &topos)?;
            x.distances.push((n, format!("topology_{}", rule.name())));
        }
        Ok(())
    }
}

impl Kind for Topology {
    const NAME: &'static str = "topology";
    /// 4: flip-flop transitions among certified points only; `certified` in `topology_nodes`.
    const VERSION: u32 = 4;
    type Params = TopologyTaskParams;

    /// `runs` states and eight `N×N` f64 matrices.
    fn memory(&self, p: &Self::Params, inputs: &dyn Shapes) -> u64 {
        let Some(net) = inputs.net() else { return 0 };
        let runs = mul(&[4 * F64, p.topology.runs as u64, net.units as u64]);
        add(&[runs, square(net.units as u64), weights(&net)])
    }
    /// About 20 fixed points, `runs · max_steps` forward steps each.
    fn work(&self, p: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        let net = inputs.net()?;
        Some(20.0 * (p.topology.runs * p.topology.max_steps) as f64 * step(&net))
    }
    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        let [train, fixed] = inputs else {
            return Err(TaskError::Failed(
                "topology needs the network and its fixed points".into(),
            ));
        };
        let (row, net) = network_of(train)?;
        let t = fixed.table("fixed_points")?;
        let (conditions, states, readouts, unstable, certified) = (
            t.f64s("condition")?,
            t.lists("state")?,
            t.lists("readout")?,
            t.i64s("n_unstable")?,
            t.bools("certified")?,
        );
        let n = conditions.len();
        let roots: Vec<usize> = (0..n).filter(|&i| certified[i]).collect();
        let computed = row.ok()
            && !(matches!(p.task, TaskSpec::Flipflop { .. })
                && roots.len() > p.topology.max_points);
        let graph = if !computed || n == 0 {
            Array2::zeros((n, n))
        } else {
            let sys = net.dynamics();
            let as_f64 = |v: &Vec<f32>| Array1::from_iter(v.iter().map(|&x| x as f64));
            match &p.task {
                TaskSpec::Flipflop { .. } => {
                    let (_, x) = p.task.conditions(1).remove(0);
                    let x = Array1::from(x);
                    let points: Vec<Array1<f64>> =
                        roots.iter().map(|&i| as_f64(&states[i])).collect();
                    let fps: Vec<Anchor> = points
                        .iter()
                        .zip(&roots)
                        .map(|(state, &i)| Anchor {
                            state: state.view(),
                            stable: unstable[i] == 0,
                        })
                        .collect();
                    let tp = &p.topology;
                    let opts = TransitionOpts {
                        runs: tp.runs,
                        eps_rel: tp.eps,
                        max_steps: tp.max_steps,
                        tol: p.tol_unique,
                        seed: derive_seed(&("topology", tp.seed)),
                    };
                    let among_roots = transition_graph(&sys, &fps, x.view(), &opts);
                    let mut graph = Array2::zeros((n, n));
                    for ((a, b), &w) in among_roots.indexed_iter() {
                        graph[(roots[a], roots[b])] = w;
                    }
                    graph
                }
                TaskSpec::Sine { .. } => {
                    block_knn(conditions, states, p.topology.neighbours, false)
                }
                TaskSpec::Cdi { .. } => block_knn(conditions, states, p.topology.neighbours, true),
            }
        };
        let (mut from, mut to, mut weight) = (Vec::new(), Vec::new(), Vec::new());
        for ((i, j), &w) in graph.indexed_iter() {
            if w != 0.0 {
                from.push(i as i64);
                to.push(j as i64);
                weight.push(w);
            }
        }
        let edges = Table::new()
            .with("from_index", Column::I64(from))
            .with("to_index", Column::I64(to))
            .with("weight", Column::F64(weight));
        let nodes = Table::new()
            .with("index", Column::I64((0..n as i64).collect()))
            .with("condition", Column::F64(conditions.to_vec()))
            .with("readout", Column::ListF32(readouts.to_vec()))
            .with("n_unstable", Column::I64(unstable.to_vec()))
            .with("certified", Column::Bool(certified.to_vec()))
            .with("computed", Column::Bool(vec![computed; n]));
        Ok(Output::new()
            .with("network", row.to_table())
            .with("topology", edges)
            .with("topology_nodes", nodes))
    }
}

/// Nearest-neighbour graph over the fixed points in table order (by condition, then readout):
/// sine, one graph across the command values; CDI (`per_condition`), one graph per context's line
/// attractor, block-diagonal.
fn block_knn(
    conditions: &[f64],
    states: &[Vec<f32>],
    k: usize,
    per_condition: bool,
) -> Array2<f64> {
    let n = conditions.len();
    let dim = states.first().map_or(0, |s| s.len());
    let points = Array2::from_shape_fn((n, dim), |(i, j)| states[i][j] as f64);
    if !per_condition {
        return knn_adjacency(points.view(), k);
    }
    let mut a = Array2::zeros((n, n));
    let mut start = 0;
    while start < n {
        let end = (start..n)
            .find(|&i| conditions[i] != conditions[start])
            .unwrap_or(n);
        let block = knn_adjacency(points.slice(ndarray::s![start..end, ..]), k);
        a.slice_mut(ndarray::s![start..end, start..end])
            .assign(&block);
        start = end;
    }
    a
}

/// Which networks' graphs are compared: the paper's rule (`modal`: those with the population's
/// modal count of certified fixed points) or the count-robust one (`matched`: everyone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Modal,
    Matched,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Modal => "modal",
            Rule::Matched => "matched",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistanceParams {
    pub rule: Rule,
}

impl Check for DistanceParams {}

#[derive(Default)]
pub struct TopologyDistance;

/// One network's graph as read back: matrix, readouts as rows, and its count of certified
/// fixed points. A flip-flop graph keeps only its certified nodes.
struct Graph {
    row: NetworkRow,
    matrix: Array2<f64>,
    readouts: Array2<f64>,
    count: usize,
}

fn read_graph(out: &Output) -> Result<Graph, TaskError> {
    let row = NetworkRow::of(out)?;
    let nodes = out.table("topology_nodes")?;
    let certified = nodes.bools("certified")?;
    let count = certified.iter().filter(|&&c| c).count();
    let keep: Vec<usize> = (0..nodes.num_rows())
        .filter(|&i| certified[i] || !matches!(row.task, TaskSpec::Flipflop { .. }))
        .collect();
    let r = nodes.lists("readout")?;
    let k = r.first().map_or(0, |v| v.len());
    let readouts = Array2::from_shape_fn((keep.len(), k), |(i, j)| r[keep[i]][j] as f64);
    let e = out.table("topology")?;
    let n = nodes.num_rows();
    let mut matrix = Array2::zeros((n, n));
    for ((&i, &j), &w) in e
        .i64s("from_index")?
        .iter()
        .zip(e.i64s("to_index")?)
        .zip(e.f64s("weight")?)
    {
        matrix[(i as usize, j as usize)] = w;
    }
    let matrix = Array2::from_shape_fn((keep.len(), keep.len()), |(a, b)| {
        matrix[(keep[a], keep[b])]
    });
    Ok(Graph {
        row,
        matrix,
        readouts,
        count,
    })
}

impl Kind for TopologyDistance {
    const NAME: &'static str = "topology_distance";
    /// 3: the paper's rule counts certified fixed points only.
    /// 4: unsolved trained networks are left out unless the study keeps them.
    const VERSION: u32 = 4;
    type Params = Population<DistanceParams>;

    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        pairwise_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        Some(pairwise_work(inputs))
    }
    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        let mut excluded: Vec<(String, String)> = Vec::new();
        let mut graphs: Vec<Graph> = Vec::new();
        for out in inputs {
            let g = read_graph(out)?;
            if let Err(reason) = g.row.usable(p.keep_unsolved) {
                excluded.push((g.row.network_id.clone(), reason));
            } else if !g.row.trained {
                // The scaffold the paper compares is that of trained networks; untrained
                // controls would set the population's modal fixed-point count.
                excluded.push((g.row.network_id.clone(), "untrained control".to_string()));
            } else {
                graphs.push(g);
            }
        }
        let counts: Vec<usize> = graphs.iter().map(|g| g.count).collect();
        let modal = modal_count(&counts);
        let total = graphs.len();
        let modal_rule = p.of.rule == Rule::Modal;
        if modal_rule {
            graphs.retain(|g| {
                let keep = g.count == modal;
                if !keep {
                    excluded.push((
                        g.row.network_id.clone(),
                        format!(
                            "{} certified fixed points, the population's mode is {modal}",
                            g.count
                        ),
                    ));
                }
                keep
            });
        }
        if graphs.len() < 2 {
            let members = graphs.into_iter().map(|g| g.row).collect();
            return Ok(too_few(
                &format!("topology_{}", p.of.rule.name()),
                members,
                excluded,
            ));
        }
        let flipflop = matches!(graphs[0].row.task, TaskSpec::Flipflop { .. });
        let n = graphs.len();
        let rows: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let (a, b) = (&graphs[i], &graphs[j]);
                        match (flipflop, modal_rule) {
                            (true, true) => {
                                graph_distance(a.matrix.view(), b.matrix.view()).unwrap_or(f64::NAN)
                            }
                            (true, false) => matched_graph_distance(
                                a.matrix.view(),
                                a.readouts.view(),
                                b.matrix.view(),
                                b.readouts.view(),
                            ),
                            (false, _) => adjacency_distance(a.matrix.view(), b.matrix.view()),
                        }
                    })
                    .collect()
            })
            .collect();
        let d = Array2::from_shape_fn((n, n), |(i, j)| rows[i][j]);
        let members: Vec<NetworkRow> = graphs.into_iter().map(|g| g.row).collect();
        let metric = format!("topology_{}", p.of.rule.name());
        let summary = Table::new()
            .with("metric", Column::Str(vec![metric.clone()]))
            .with("modal_count", Column::I64(vec![modal as i64]))
            .with("n_networks", Column::I64(vec![total as i64]))
            .with(
                "n_set_aside",
                Column::I64(vec![counts.iter().filter(|&&c| c != modal).count() as i64]),
            );
        Ok(distance_output(&metric, &members, &excluded, &d).with("topology_summary", summary))
    }
}
