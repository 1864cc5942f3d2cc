//! Summaries of a distance matrix: its 2-D embedding (`mds`) and how strongly it clusters by
//! architecture, activation and training (`clustering`).

use super::geometry::read_distance;
use super::network::NetworkRow;
use super::{params, Context, Registry, TaskError, TaskKind};
use crate::analysis::{cluster, mds};
use crate::manifest::{ClusteringParams, MdsMethod, MdsParams};
use crate::table::{Column, Output, Table};
use ndarray::Array2;

pub fn register(r: &mut Registry) {
    r.register(Box::new(Mds));
    r.register(Box::new(Clustering));
}

struct Mds;

impl TaskKind for Mds {
    fn name(&self) -> &'static str {
        "mds"
    }
    fn version(&self) -> u32 {
        1
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: MdsParams = params(p)?;
        let (metric, members, d) = read_distance(input(inputs)?)?;
        if members.len() < 3 {
            // Too few points to embed: an empty table, not made-up coordinates.
            return Ok(Output::new().with(
                "embedding",
                embedding(&metric, "none", &[], &Array2::zeros((0, 2))),
            ));
        }
        let failed = |e: mds::MdsError| TaskError::Failed(format!("mds of {metric}: {e}"));
        let classical = mds::classical_mds(d.view(), 2).map_err(failed)?;
        let (xy, method) = match p.method {
            MdsMethod::Classical => (classical, "classical"),
            MdsMethod::Smacof => (
                mds::smacof(d.view(), classical.view(), p.max_iter, p.eps)
                    .map_err(failed)?
                    .0,
                "smacof",
            ),
        };
        Ok(Output::new().with("embedding", embedding(&metric, method, &members, &xy)))
    }
}

fn embedding(metric: &str, method: &str, members: &[NetworkRow], xy: &Array2<f64>) -> Table {
    let n = members.len();
    Table::new()
        .with("metric", Column::Str(vec![metric.to_string(); n]))
        .with("method", Column::Str(vec![method.to_string(); n]))
        .with(
            "network_id",
            Column::Str(members.iter().map(|m| m.network_id.clone()).collect()),
        )
        .with("x", Column::F64(xy.column(0).to_vec()))
        .with("y", Column::F64(xy.column(1).to_vec()))
}

fn input(inputs: &[Output]) -> Result<&Output, TaskError> {
    inputs
        .first()
        .ok_or_else(|| TaskError::Failed("needs a distance matrix".into()))
}

struct Clustering;

/// The factors scored: arch and activation among trained networks (the paper's claim is about
/// trained networks), and trained against untrained among all.
const FACTORS: [&str; 3] = ["arch", "activation", "trained"];

impl TaskKind for Clustering {
    fn name(&self) -> &'static str {
        "clustering"
    }
    fn version(&self) -> u32 {
        1
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: ClusteringParams = params(p)?;
        let (metric, members, d) = read_distance(input(inputs)?)?;
        let mut t = Table::new()
            .with("metric", Column::Str(vec![]))
            .with("factor", Column::Str(vec![]))
            .with("score", Column::F64(vec![]))
            .with("p_value", Column::F64(vec![]))
            .with("n_networks", Column::I64(vec![]))
            .with("n_groups", Column::I64(vec![]));
        for factor in FACTORS {
            let idx: Vec<usize> = (0..members.len())
                .filter(|&i| factor == "trained" || members[i].trained)
                .collect();
            let labels = labels_of(
                factor,
                &idx.iter().map(|&i| &members[i]).collect::<Vec<_>>(),
            );
            let groups = labels.iter().max().map_or(0, |m| m + 1);
            if groups < 2 || idx.len() < 3 {
                continue;
            }
            let sub = Array2::from_shape_fn((idx.len(), idx.len()), |(a, b)| d[[idx[a], idx[b]]]);
            let (score, p_value) =
                cluster::permutation_test(sub.view(), &labels, p.permutations, p.seed).map_err(
                    |e| TaskError::Failed(format!("clustering of {metric} by {factor}: {e}")),
                )?;
            t.append(
                &Table::new()
                    .with("metric", Column::Str(vec![metric.clone()]))
                    .with("factor", Column::Str(vec![factor.to_string()]))
                    .with("score", Column::F64(vec![score]))
                    .with("p_value", Column::F64(vec![p_value]))
                    .with("n_networks", Column::I64(vec![idx.len() as i64]))
                    .with("n_groups", Column::I64(vec![groups as i64])),
            )?;
        }
        Ok(Output::new().with("clustering", t))
    }
}

/// Dense integer labels in first-seen order of the sorted distinct values.
fn labels_of(factor: &str, rows: &[&NetworkRow]) -> Vec<usize> {
    let values: Vec<String> = rows
        .iter()
        .map(|r| match factor {
            "arch" => r.arch.to_string(),
            "activation" => r.activation.to_string(),
            _ => r.trained.to_string(),
        })
        .collect();
    let mut distinct = values.clone();
    distinct.sort();
    distinct.dedup();
    values
        .iter()
        .map(|v| distinct.binary_search(v).expect("value is listed"))
        .collect()
}
