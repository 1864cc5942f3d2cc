//! `svcca`: the SVCCA distance between every pair of a study's networks (SPEC §4), from their
//! probe states (`analysis::svcca`): its manifest parameters, their checks, and its kind.

use super::{AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::svcca;
use crate::plan::PlanError;
use crate::table::Output;
use crate::task::estimate::{distance_bytes, distance_work, Shapes};
use crate::task::population::probe_distance;
use crate::task::{Check, Context, Kind, Population, TaskError};
use serde::{Deserialize, Serialize};

/// SVCCA's rule for the number of kept directions (`analysis::svcca::Keep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SvccaKeep {
    /// One count for the whole study (the median of the per-network counts at `variance`, or
    /// `components`): the square root of the distance is then a metric.
    Study,
    /// Each network its own count reaching `variance` (Raghu et al.; census before).
    PerNetwork,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvccaParams {
    /// The fraction of its variance a network's kept directions reach.
    #[serde(default = "d_variance")]
    pub variance: f64,
    #[serde(default = "d_keep")]
    pub keep: SvccaKeep,
    /// With `keep = "study"`: this many directions for every network instead of the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<usize>,
}

fn d_variance() -> f64 {
    0.95
}

fn d_keep() -> SvccaKeep {
    SvccaKeep::Study
}

impl Check for SvccaParams {
    fn check(&self) -> Option<(&'static str, String)> {
        if !(self.variance > 0.0 && self.variance <= 1.0) {
            return Some((
                "variance",
                format!("must be in (0, 1], got {}", self.variance),
            ));
        }
        match (self.components, self.keep) {
            (Some(0), _) => Some(("components", "must be at least 1".into())),
            (Some(_), SvccaKeep::PerNetwork) => Some((
                "components",
                "applies to `keep = \"study\"` only; remove it or drop `keep = \"per_network\"`"
                    .into(),
            )),
            _ => None,
        }
    }
}

impl SvccaParams {
    /// The analysis' rule for the number of kept directions.
    fn keep(&self) -> svcca::Keep {
        match (self.keep, self.components) {
            (SvccaKeep::PerNetwork, _) => svcca::Keep::PerNetwork(self.variance),
            (SvccaKeep::Study, Some(k)) => svcca::Keep::Components(k),
            (SvccaKeep::Study, None) => svcca::Keep::Study(self.variance),
        }
    }
}

#[derive(Default)]
pub struct Svcca;

impl Kind for Svcca {
    const NAME: &'static str = "svcca";
    /// 2: one count of directions for the study by default (`SvccaParams::keep`).
    /// 3: unsolved trained networks are left out unless the study keeps them.
    const VERSION: u32 = 3;
    type Params = Population<SvccaParams>;

    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        probe_distance(Self::NAME, inputs, p.keep_unsolved, |xs| {
            svcca::svcca_matrix_keep(xs, p.of.keep())
                .map(|(d, _)| d)
                .map_err(|e| e.to_string())
        })
    }
    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        distance_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        distance_work(inputs)
    }
}

impl AnalysisKind for Svcca {
    type Manifest = SvccaParams;
    const STAGE: Stage = Stage::Distance;
    const TASKS: Tasks = Tasks::DISTANCE;

    fn expand(p: &SvccaParams, x: &mut Expansion) -> Result<(), PlanError> {
        x.probe_distance::<Svcca>(&x.population(p.clone()))
    }
}
