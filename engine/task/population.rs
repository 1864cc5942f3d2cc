//! What every analysis over a study's population shares: reading the usable networks' probe
//! states (diverged networks, and unsolved ones unless the study keeps them, are left out and
//! listed in `excluded`, never silently), and writing and reading a distance matrix in the
//! tables every distance kind outputs, so `mds` and `clustering` run on any of them.

use super::network::NetworkRow;
use super::TaskError;
use crate::table::{Column, Output, Table};
use ndarray::{Array2, ArrayView2};

/// A distance over the probe states of the usable networks: `matrix` computes it from one
/// `(trials·T) × N` matrix per network; fewer than two usable networks give no pairs, and a
/// non-finite distance fails the task.
pub fn probe_distance(
    name: &str,
    inputs: &[Output],
    keep_unsolved: bool,
    matrix: impl FnOnce(&[ArrayView2<f32>]) -> Result<Array2<f64>, String>,
) -> Result<Output, TaskError> {
    let (members, excluded, xs) = probe_matrices(inputs, keep_unsolved)?;
    if members.len() < 2 {
        return Ok(too_few(name, members, excluded));
    }
    let views: Vec<ArrayView2<f32>> = xs.iter().map(|x| x.view()).collect();
    let d = matrix(&views).map_err(|e| TaskError::Failed(format!("{name}: {e}")))?;
    checked_output(name, &members, &excluded, &d)
}

/// `distance_output`, after checking every distance is finite.
pub fn checked_output(
    name: &str,
    members: &[NetworkRow],
    excluded: &[(String, String)],
    d: &Array2<f64>,
) -> Result<Output, TaskError> {
    if let Some(v) = d.iter().find(|v| !v.is_finite()) {
        return Err(TaskError::Failed(format!(
            "{name} produced a non-finite distance ({v})"
        )));
    }
    Ok(distance_output(name, members, excluded, d))
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
