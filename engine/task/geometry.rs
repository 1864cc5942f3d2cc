//! Representational distances between every pair of networks of a study (`svcca`, `cka`,
//! `shape`), from their probe states. Networks that diverged are left out and listed in the
//! `excluded` table, never silently.

use super::network::NetworkRow;
use super::{params, Context, Registry, TaskError, TaskKind};
use crate::analysis::{cka, shape, sketch, svcca};
use crate::manifest::{SvccaKeep, SvccaParams};
use crate::table::{Column, Output, Table};
use ndarray::{Array2, ArrayView2};

pub fn register(r: &mut Registry) {
    for metric in [Metric::Svcca, Metric::Cka, Metric::Shape] {
        r.register(Box::new(Distance { metric }));
    }
}

#[derive(Clone, Copy)]
enum Metric {
    Svcca,
    Cka,
    Shape,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Svcca => "svcca",
            Metric::Cka => "cka",
            Metric::Shape => "shape",
        }
    }
}

struct Distance {
    metric: Metric,
}

/// `tol`: proven bound on each CKA / shape distance of the truncated population matrices
/// (`analysis::factor`); without it, the analysis' default (1e-8). `sketch`: the estimate from
/// that many shared Gaussian combinations of the samples instead (`analysis::sketch`).
#[derive(serde::Deserialize)]
struct TolParams {
    tol: Option<f64>,
    sketch: Option<usize>,
}

impl TaskKind for Distance {
    fn name(&self) -> &'static str {
        self.metric.name()
    }
    /// cka and shape 2: population matrices from truncated per-network reductions, each
    /// distance within a proven `tol` (default 1e-8) of the exact value (`analysis::factor`).
    /// svcca 2: one count of directions for the study by default (`SvccaParams::keep`).
    /// svcca 3, cka and shape 3: unsolved trained networks are left out unless the study keeps
    /// them.
    fn version(&self) -> u32 {
        3
    }
    fn run(
        &self,
        _: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let keep_unsolved = params::<Population>(p)?.keep_unsolved;
        let (members, excluded, xs) = probe_matrices(inputs, keep_unsolved)?;
        let name = self.metric.name();
        if members.len() < 2 {
            return Ok(too_few(name, members, excluded));
        }
        let views: Vec<ArrayView2<f32>> = xs.iter().map(|x| x.view()).collect();
        let d = match self.metric {
            Metric::Svcca => svcca::svcca_matrix_keep(&views, svcca_keep(&own::<SvccaParams>(p)?))
                .map(|(d, _)| d),
            Metric::Cka => match params::<TolParams>(p)? {
                TolParams { sketch: Some(m), .. } => {
                    sketch::cka_matrix_sketched(&views, m, sketch::DEFAULT_SEED)
                }
                TolParams { tol, sketch: None } => {
                    cka::cka_matrix_bounded(&views, tol.unwrap_or(cka::DEFAULT_TOL))
                        .map(|b| b.distance)
                }
            },
            Metric::Shape => match params::<TolParams>(p)? {
                TolParams { sketch: Some(m), .. } => {
                    sketch::shape_matrix_sketched(&views, m, sketch::DEFAULT_SEED)
                }
                TolParams { tol, sketch: None } => {
                    shape::shape_matrix_bounded(&views, tol.unwrap_or(shape::DEFAULT_TOL))
                        .map(|b| b.distance)
                }
            },
        }
        .map_err(|e| TaskError::Failed(format!("{name}: {e}")))?;
        if let Some(v) = d.iter().find(|v| !v.is_finite()) {
            return Err(TaskError::Failed(format!(
                "{name} produced a non-finite distance ({v})"
            )));
        }
        Ok(distance_output(name, &members, &excluded, &d))
    }
}

/// Which networks a population analysis takes (`NetworkRow::usable`); absent in keys made
/// before the rule existed, which kept every network that did not diverge.
#[derive(serde::Deserialize)]
pub struct Population {
    #[serde(default)]
    pub keep_unsolved: bool,
}

/// An analysis' own parameters: the task's parameters less the population rule, for parameter
/// types that deny unknown fields.
pub fn own<T: serde::de::DeserializeOwned>(p: &serde_json::Value) -> Result<T, TaskError> {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("keep_unsolved");
    }
    params(&p)
}

/// The analysis' rule for the number of kept directions.
fn svcca_keep(p: &SvccaParams) -> svcca::Keep {
    match (p.keep, p.components) {
        (SvccaKeep::PerNetwork, _) => svcca::Keep::PerNetwork(p.variance),
        (SvccaKeep::Study, Some(k)) => svcca::Keep::Components(k),
        (SvccaKeep::Study, None) => svcca::Keep::Study(p.variance),
    }
}

/// The usable networks' rows, the others with the reason they were left out, and the usable
/// networks' states (one matrix each).
pub type ProbeMatrices = (Vec<NetworkRow>, Vec<(String, String)>, Vec<Array2<f32>>);

/// The states of every usable network as `(trials·T) × N` matrices, with their rows; the others
/// with the reason they were left out.
pub fn probe_matrices(inputs: &[Output], keep_unsolved: bool) -> Result<ProbeMatrices, TaskError> {
    let (mut members, mut excluded, mut xs) = (Vec::new(), Vec::new(), Vec::new());
    for out in inputs {
        let row = NetworkRow::of(out)?;
        if let Err(reason) = row.usable(keep_unsolved) {
            excluded.push((row.network_id.clone(), reason));
            continue;
        }
        let h = out.table("states")?.lists("h")?;
        let n = h.first().map_or(0, |v| v.len());
        let flat: Vec<f32> = h.iter().flatten().copied().collect();
        let x = Array2::from_shape_vec((h.len(), n), flat)
            .map_err(|e| TaskError::Failed(format!("states of {}: {e}", row.network_id)))?;
        members.push(row);
        xs.push(x);
    }
    Ok((members, excluded, xs))
}

/// A distance over fewer than 2 usable networks: no pairs, and every network listed in
/// `excluded` with the reason, so the study's other results still export.
pub fn too_few(
    metric: &str,
    members: Vec<NetworkRow>,
    mut excluded: Vec<(String, String)>,
) -> Output {
    for m in members {
        excluded.push((
            m.network_id,
            "fewer than 2 usable networks: no distance".to_string(),
        ));
    }
    distance_output(metric, &[], &excluded, &Array2::zeros((0, 0)))
}

/// `similarity` (all ordered pairs, the diagonal included, so a pivot gives the full matrix),
/// `members` (matrix order, with the labels clustering needs) and `excluded`.
pub fn distance_output(
    metric: &str,
    members: &[NetworkRow],
    excluded: &[(String, String)],
    d: &Array2<f64>,
) -> Output {
    let n = members.len();
    let ids: Vec<&String> = members.iter().map(|m| &m.network_id).collect();
    let mut a = Vec::with_capacity(n * n);
    let mut b = Vec::with_capacity(n * n);
    let mut dist = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            a.push(ids[i].clone());
            b.push(ids[j].clone());
            dist.push(d[[i, j]]);
        }
    }
    let similarity = Table::new()
        .with("metric", Column::Str(vec![metric.to_string(); n * n]))
        .with("network_a", Column::Str(a))
        .with("network_b", Column::Str(b))
        .with("distance", Column::F64(dist));
    let mut member_table = Table::new();
    for m in members {
        member_table
            .append(&m.to_table())
            .expect("network rows share a schema");
    }
    let excluded = Table::new()
        .with(
            "metric",
            Column::Str(vec![metric.to_string(); excluded.len()]),
        )
        .with(
            "network_id",
            Column::Str(excluded.iter().map(|e| e.0.clone()).collect()),
        )
        .with(
            "reason",
            Column::Str(excluded.iter().map(|e| e.1.clone()).collect()),
        );
    Output::new()
        .with("similarity", similarity)
        .with("members", member_table)
        .with("excluded", excluded)
}

/// Reads back a distance output: the members and the square matrix.
pub fn read_distance(out: &Output) -> Result<(String, Vec<NetworkRow>, Array2<f64>), TaskError> {
    let m = out.table("members")?;
    let members: Vec<NetworkRow> = (0..m.num_rows())
        .map(|i| NetworkRow::from_table(m, i))
        .collect::<Result<_, _>>()?;
    let s = out.table("similarity")?;
    let n = members.len();
    let d = Array2::from_shape_vec((n, n), s.f64s("distance")?.to_vec())
        .map_err(|e| TaskError::Failed(format!("distance matrix: {e}")))?;
    let metric = s.strs("metric")?.first().cloned().unwrap_or_default();
    Ok((metric, members, d))
}
