//! `cka`: the linear CKA distance between every pair of a study's networks, from their probe
//! states (`analysis::cka`), or its sketched estimate (`analysis::sketch`): its manifest
//! parameters (shared with `shape`), their checks, and its kind.

use super::{AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::linalg::GeometryError;
use crate::analysis::{cka, sketch};
use crate::plan::PlanError;
use crate::table::Output;
use crate::task::estimate::{distance_bytes, distance_work, Shapes};
use crate::task::population::probe_distance;
use crate::task::{Check, Context, Kind, Population, TaskError};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// How a CKA or shape distance matrix is computed: `tol` bounds each distance's error from
/// truncating every network's spectrum (0: no truncation; default `analysis::cka::DEFAULT_TOL`).
/// `sketch = m`: instead, the estimate from `m` shared Gaussian combinations of the samples
/// (`analysis::sketch`; `tol` then does not apply). Left out of the key when absent, so the keys
/// of exact analyses are those they had before it existed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CkaParams {
    #[serde(default = "d_tol")]
    pub tol: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sketch: Option<usize>,
}

fn d_tol() -> f64 {
    cka::DEFAULT_TOL
}

impl Check for CkaParams {
    fn check(&self) -> Option<(&'static str, String)> {
        if !(0.0..1.0).contains(&self.tol) {
            return Some(("tol", format!("must be in [0, 1), got {}", self.tol)));
        }
        match self.sketch {
            Some(m) if !(2..=1 << 20).contains(&m) => {
                Some(("sketch", format!("must be in [2, 1048576], got {m}")))
            }
            _ => None,
        }
    }
}

/// A population distance matrix, or why there is none.
type Matrix = Result<Array2<f64>, GeometryError>;

impl CkaParams {
    /// The distance matrix by `exact` (with `tol`) or `sketched` (with `sketch`).
    pub fn matrix(
        &self,
        xs: &[ArrayView2<f32>],
        exact: fn(&[ArrayView2<f32>], f64) -> Matrix,
        sketched: fn(&[ArrayView2<f32>], usize, u64) -> Matrix,
    ) -> Result<Array2<f64>, String> {
        match self.sketch {
            Some(m) => sketched(xs, m, sketch::DEFAULT_SEED),
            None => exact(xs, self.tol),
        }
        .map_err(|e| e.to_string())
    }
}

#[derive(Default)]
pub struct Cka;

impl Kind for Cka {
    const NAME: &'static str = "cka";
    /// 2: population matrices from truncated per-network reductions, each distance within a
    /// proven `tol` of the exact value (`analysis::factor`).
    /// 3: unsolved trained networks are left out unless the study keeps them.
    const VERSION: u32 = 3;
    type Params = Population<CkaParams>;

    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        probe_distance(Self::NAME, inputs, p.keep_unsolved, |xs| {
            let exact =
                |xs: &[ArrayView2<f32>], tol| cka::cka_matrix_bounded(xs, tol).map(|b| b.distance);
            p.of.matrix(xs, exact, sketch::cka_matrix_sketched)
        })
    }
    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        distance_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        distance_work(inputs)
    }
}

impl AnalysisKind for Cka {
    type Manifest = CkaParams;
    const STAGE: Stage = Stage::Distance;
    const TASKS: Tasks = Tasks::DISTANCE;

    fn expand(p: &CkaParams, x: &mut Expansion) -> Result<(), PlanError> {
        x.probe_distance::<Cka>(&x.population(p.clone()))
    }
}
