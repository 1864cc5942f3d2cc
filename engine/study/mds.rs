//! `mds`: the 2-D embedding of every distance matrix of a study (`analysis::mds`): its manifest
//! parameters, their checks, its expansion (one task per distance) and its kind.

use super::{not_positive, AnalysisKind, Expansion, Present, Stage, Tasks};
use crate::analysis::mds;
use crate::plan::PlanError;
use crate::table::{Column, Output, Table};
use crate::task::estimate::{pairwise_bytes, pairwise_work, Shapes};
use crate::task::population::read_distance;
use crate::task::{Check, Context, Kind, NetworkRow, TaskError};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MdsMethod {
    Smacof,
    Classical,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdsParams {
    #[serde(default = "d_method")]
    pub method: MdsMethod,
    #[serde(default = "d_mds_iter")]
    pub max_iter: usize,
    #[serde(default = "d_mds_eps")]
    pub eps: f64,
}

fn d_method() -> MdsMethod {
    MdsMethod::Smacof
}
fn d_mds_iter() -> usize {
    300
}
fn d_mds_eps() -> f64 {
    1e-6
}

impl Check for MdsParams {
    fn check(&self) -> Option<(&'static str, String)> {
        if self.max_iter == 0 {
            return Some(("max_iter", "must be at least 1".into()));
        }
        not_positive(self.eps).then(|| ("eps", format!("must be > 0, got {}", self.eps)))
    }
}

#[derive(Default)]
pub struct Mds;

impl AnalysisKind for Mds {
    type Manifest = MdsParams;
    const STAGE: Stage = Stage::Summary;
    const TASKS: Tasks = Tasks {
        per_distance: 1,
        ..Tasks::NONE
    };

    fn requires(present: &Present) -> Option<String> {
        present.needs_distance(Self::NAME)
    }

    fn expand(p: &MdsParams, x: &mut Expansion) -> Result<(), PlanError> {
        x.per_distance::<Mds>(p).map(drop)
    }
}

impl Kind for Mds {
    const NAME: &'static str = "mds";
    const VERSION: u32 = 1;
    type Params = MdsParams;

    fn memory(&self, _: &MdsParams, inputs: &dyn Shapes) -> u64 {
        pairwise_bytes(inputs)
    }
    fn work(&self, _: &MdsParams, inputs: &dyn Shapes) -> Option<f64> {
        Some(pairwise_work(inputs))
    }
    fn run(&self, _: &Context, p: &MdsParams, inputs: &[Output]) -> Result<Output, TaskError> {
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

pub fn input(inputs: &[Output]) -> Result<&Output, TaskError> {
    inputs
        .first()
        .ok_or_else(|| TaskError::Failed("needs a distance matrix".into()))
}
