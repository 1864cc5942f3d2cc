//! `shape`: the angular Procrustes shape distance between every pair of a study's networks,
//! from their probe states (`analysis::shape`), or its sketched estimate; its parameters and
//! their checks are CKA's ([`CkaParams`]).

use super::cka::CkaParams;
use super::{AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::{shape, sketch};
use crate::plan::PlanError;
use crate::table::Output;
use crate::task::estimate::{distance_bytes, distance_work, Shapes};
use crate::task::population::probe_distance;
use crate::task::{Context, Kind, Population, TaskError};
use ndarray::ArrayView2;

#[derive(Default)]
pub struct Shape;

impl Kind for Shape {
    const NAME: &'static str = "shape";
    /// 2: population matrices from truncated per-network reductions, each distance within a
    /// proven `tol` of the exact value (`analysis::factor`).
    /// 3: unsolved trained networks are left out unless the study keeps them.
    const VERSION: u32 = 3;
    type Params = Population<CkaParams>;

    fn run(&self, _: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        probe_distance(Self::NAME, inputs, p.keep_unsolved, |xs| {
            let exact = |xs: &[ArrayView2<f32>], tol| {
                shape::shape_matrix_bounded(xs, tol).map(|b| b.distance)
            };
            p.of.matrix(xs, exact, sketch::shape_matrix_sketched)
        })
    }
    fn memory(&self, _: &Self::Params, inputs: &dyn Shapes) -> u64 {
        distance_bytes(inputs)
    }
    fn work(&self, _: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        distance_work(inputs)
    }
}

impl AnalysisKind for Shape {
    type Manifest = CkaParams;
    const STAGE: Stage = Stage::Distance;
    const TASKS: Tasks = Tasks::DISTANCE;

    fn expand(p: &CkaParams, x: &mut Expansion) -> Result<(), PlanError> {
        x.probe_distance::<Shape>(&x.population(p.clone()))
    }
}
