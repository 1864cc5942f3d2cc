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

use super::geometry::{distance_output, too_few};
use super::network::{network_of, NetworkRow};
use super::{derive_seed, params, Context, Registry, TaskError, TaskKind};
use crate::analysis::topology::{
    adjacency_distance, graph_distance, knn_adjacency, matched_graph_distance, modal_count,
    transition_graph, Anchor, TransitionOpts,
};
use crate::manifest::TopologyParams;
use crate::rnn::TaskSpec;
use crate::table::{Column, Output, Table};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

pub fn register(r: &mut Registry) {
    r.register(Box::new(Topology));
    r.register(Box::new(TopologyDistance));
}

#[derive(serde::Deserialize)]
struct TopologyTaskParams {
    task: TaskSpec,
    topology: TopologyParams,
    tol_unique: f64,
}

struct Topology;

impl TaskKind for Topology {
    fn name(&self) -> &'static str {
        "topology"
    }
    /// 4: flip-flop transitions among certified points only; `certified` in `topology_nodes`.
    fn version(&self) -> u32 {
        4
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: TopologyTaskParams = params(p)?;
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
            && !(matches!(p.task, TaskSpec::Flipflop { .. }) && roots.len() > p.topology.max_points);
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

struct TopologyDistance;

#[derive(serde::Deserialize)]
struct DistanceParams {
    rule: String,
    #[serde(default)]
    keep_unsolved: bool,
}

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

impl TaskKind for TopologyDistance {
    fn name(&self) -> &'static str {
        "topology_distance"
    }
    /// 3: the paper's rule counts certified fixed points only.
    /// 4: unsolved trained networks are left out unless the study keeps them.
    fn version(&self) -> u32 {
        4
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: DistanceParams = params(p)?;
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
        let modal_rule = p.rule == "modal";
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
            return Ok(too_few(&format!("topology_{}", p.rule), members, excluded));
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
        let metric = format!("topology_{}", p.rule);
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
