//! The `dsa` distance: Dynamical Similarity Analysis between every pair of a study's networks,
//! from their probe trajectories (`analysis::dsa`). Its output has the same tables as the
//! other distances, so MDS and clustering run on it unchanged; diverged (and, unless the study
//! keeps them, unsolved) networks are left out and listed in `excluded`. A network whose states cannot give an operator (constant states,
//! fewer steps than the delays need) fails the task with its id.

use super::geometry::{distance_output, own, probe_matrices, too_few, Population};
use super::{params, Context, Registry, TaskError, TaskKind};
use crate::analysis::dsa::{self, DsaParams, Trajectories};
use crate::table::Output;

pub fn register(r: &mut Registry) {
    r.register(Box::new(Dsa));
}

struct Dsa;

impl TaskKind for Dsa {
    fn name(&self) -> &'static str {
        "dsa"
    }
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
        let p: DsaParams = own(p)?;
        if let Some((field, problem)) = p.check() {
            return Err(TaskError::Failed(format!("dsa.{field} {problem}")));
        }
        let (members, excluded, xs) = probe_matrices(inputs, keep_unsolved)?;
        if members.len() < 2 {
            return Ok(too_few("dsa", members, excluded));
        }
        let usable = inputs.iter().filter(|out| {
            super::NetworkRow::of(out).is_ok_and(|r| r.usable(keep_unsolved).is_ok())
        });
        let trials: Vec<usize> = usable.map(trial_count).collect::<Result<_, _>>()?;
        let trajectories: Vec<Trajectories> = xs
            .iter()
            .zip(&trials)
            .map(|(x, &trials)| Trajectories {
                states: x.view(),
                trials,
            })
            .collect();
        let d = dsa::dsa_matrix(&trajectories, &p).map_err(|e| {
            TaskError::Failed(match e.network() {
                Some(i) => format!("dsa: {e} (network {i} is {})", members[i].network_id),
                None => format!("dsa: {e}"),
            })
        })?;
        if let Some(v) = d.iter().find(|v| !v.is_finite()) {
            return Err(TaskError::Failed(format!(
                "dsa produced a non-finite distance ({v})"
            )));
        }
        Ok(distance_output("dsa", &members, &excluded, &d))
    }
}

/// The probe's trial count, checking the time-major row order `row = t·trials + trial`.
fn trial_count(out: &Output) -> Result<usize, TaskError> {
    let states = out.table("states")?;
    let (trial, t) = (states.i64s("trial")?, states.i64s("t")?);
    let trials = trial.iter().max().map_or(0, |&m| m as usize + 1);
    let ordered = trial
        .iter()
        .zip(t)
        .enumerate()
        .all(|(r, (&k, &s))| k as usize == r % trials && s as usize == r / trials);
    if !ordered {
        return Err(TaskError::Failed(
            "dsa: probe states are not in time-major order (row = t·trials + trial)".into(),
        ));
    }
    Ok(trials)
}
