//! The `dsa` distance: Dynamical Similarity Analysis between every pair of a study's networks,
//! from their probe trajectories (`analysis::dsa`). Its output has the same tables as the
//! other distances, so MDS and clustering run on it unchanged; diverged (and, unless the study
//! keeps them, unsolved) networks are left out and listed in `excluded`. A network whose states cannot give an operator (constant states,
//! fewer steps than the delays need) fails the task with its id.
//!
//! Its manifest parameters, defaults and checks are `analysis::dsa::DsaParams`.

use super::{AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::dsa::{self, DsaParams, Trajectories};
use crate::plan::PlanError;
use crate::table::Output;
use crate::task::estimate::{distance_bytes, distance_work, Shapes};
use crate::task::population::{checked_output, probe_matrices, too_few};
use crate::task::{Check, Context, Kind, NetworkRow, Population, TaskError};

impl Check for DsaParams {
    fn check(&self) -> Option<(&'static str, String)> {
        DsaParams::check(self)
    }
}

#[derive(Default)]
pub struct Dsa;

impl AnalysisKind for Dsa {
    type Manifest = DsaParams;
    const STAGE: Stage = Stage::Distance;
    const TASKS: Tasks = Tasks::DISTANCE;

    fn expand(p: &DsaParams, x: &mut Expansion) -> Result<(), PlanError> {
        x.probe_distance::<Dsa>(&x.population(p.clone()))
    }
}

impl Kind for Dsa {
    const NAME: &'static str = "dsa";
    const VERSION: u32 = 3;
    type Params = Population<DsaParams>;

    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        distance_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        distance_work(inputs)
    }
    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        let keep_unsolved = p.keep_unsolved;
        let p = &p.of;
        let (members, excluded, xs) = probe_matrices(inputs, keep_unsolved)?;
        if members.len() < 2 {
            return Ok(too_few(Self::NAME, members, excluded));
        }
        let usable = inputs
            .iter()
            .filter(|out| NetworkRow::of(out).is_ok_and(|r| r.usable(keep_unsolved).is_ok()));
        let trials: Vec<usize> = usable.map(trial_count).collect::<Result<_, _>>()?;
        let trajectories: Vec<Trajectories> = xs
            .iter()
            .zip(&trials)
            .map(|(x, &trials)| Trajectories {
                states: x.view(),
                trials,
            })
            .collect();
        let d = dsa::dsa_matrix(&trajectories, p).map_err(|e| {
            TaskError::Failed(match e.network() {
                Some(i) => format!("dsa: {e} (network {i} is {})", members[i].network_id),
                None => format!("dsa: {e}"),
            })
        })?;
        checked_output(Self::NAME, &members, &excluded, &d)
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
