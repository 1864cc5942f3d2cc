//! `fixed_points`, per network: fixed points per static condition with their linearisation
//! (SPEC §5, `analysis::fixed_points`), plus the sine task's linear frequency and the CDI task's
//! mode ablation. Its manifest parameters, their checks, its expansion (one task per network,
//! from the study's probe batch) and its kind.

use super::{not_positive, AnalysisKind, Expansion, Stage, Tasks};
use crate::analysis::dynamics::Dynamics;
use crate::analysis::fixed_points::{find_fixed_points, Certificate, FixedPointOpts};
use crate::analysis::linearise::{mode_ablation, oscillation_frequency, Linearisation};
use crate::plan::PlanError;
use crate::rnn::TaskSpec;
use crate::table::{Column, Output, Table};
use crate::task::estimate::{add, mul, square, states, weights, Shapes, F64};
use crate::task::network::{network_of, NetworkRow};
use crate::task::train::ProbeParams;
use crate::task::{derive_seed, Check, Context, Kind, TaskError};
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPointParams {
    #[serde(default = "d_inits")]
    pub inits: usize,
    #[serde(default = "d_noise")]
    pub noise: f64,
    #[serde(default = "d_tol_q")]
    pub tol_q: f64,
    #[serde(default = "d_tol_unique")]
    pub tol_unique: f64,
    #[serde(default = "d_outlier")]
    pub outlier: f64,
    #[serde(default = "d_max_iter")]
    pub max_iter: usize,
    /// Sine: how many command values on the even grid over [0, 1].
    #[serde(default = "d_conditions")]
    pub conditions: usize,
    #[serde(default)]
    pub seed: u64,
}

impl Default for FixedPointParams {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn d_inits() -> usize {
    1024
}
fn d_noise() -> f64 {
    0.5
}
fn d_tol_q() -> f64 {
    1e-12
}
fn d_tol_unique() -> f64 {
    1e-3
}
fn d_outlier() -> f64 {
    10.0
}
fn d_max_iter() -> usize {
    100
}
fn d_conditions() -> usize {
    10
}

impl Check for FixedPointParams {
    fn check(&self) -> Option<(&'static str, String)> {
        let at_least_one = |v: usize, f| (v == 0).then(|| (f, "must be at least 1".to_string()));
        let positive = |v: f64, f| not_positive(v).then(|| (f, format!("must be > 0, got {v}")));
        at_least_one(self.inits, "inits")
            .or_else(|| {
                (!(self.noise >= 0.0 && self.noise.is_finite()))
                    .then(|| ("noise", format!("must be >= 0, got {}", self.noise)))
            })
            .or_else(|| positive(self.tol_q, "tol_q"))
            .or_else(|| positive(self.tol_unique, "tol_unique"))
            .or_else(|| positive(self.outlier, "outlier"))
            .or_else(|| at_least_one(self.conditions, "conditions"))
            .or_else(|| at_least_one(self.max_iter, "max_iter"))
    }
}

/// What a `fixed_points` task reads: the network's task, the probe batch the searches start
/// from, and the analysis' parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedPointTaskParams {
    pub task: TaskSpec,
    pub probe: ProbeParams,
    pub fixed_points: FixedPointParams,
}

impl Check for FixedPointTaskParams {
    fn check(&self) -> Option<(&'static str, String)> {
        self.fixed_points.check()
    }
}

#[derive(Default)]
pub struct FixedPoints;

impl AnalysisKind for FixedPoints {
    type Manifest = FixedPointParams;
    const STAGE: Stage = Stage::FixedPoints;
    const TASKS: Tasks = Tasks {
        per_network: 1,
        findings: true,
        ..Tasks::NONE
    };

    fn expand(p: &FixedPointParams, x: &mut Expansion) -> Result<(), PlanError> {
        let params = FixedPointTaskParams {
            task: x.study.task.clone(),
            probe: x.probe.clone(),
            fixed_points: p.clone(),
        };
        let networks = x.networks.clone();
        let nodes = x.per_network::<FixedPoints>(&params, |i| vec![networks[i]])?;
        x.fixed_points = Some((p.clone(), nodes));
        Ok(())
    }
}

/// Columns of `fixed_points`: condition, index, state, q, n_unstable, readout.
type FixedPointColumns = (
    Vec<f64>,
    Vec<i64>,
    Vec<Vec<f32>>,
    Vec<f64>,
    Vec<i64>,
    Vec<Vec<f32>>,
);

/// Columns of the eigenvalue table: condition, index, k, real part, imaginary part.
type EigenvalueColumns = (Vec<f64>, Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>);

/// Rows of the four tables `fixed_points` writes.
#[derive(Default)]
struct Rows {
    fp: FixedPointColumns,
    cert: Certificates,
    eig: EigenvalueColumns,
    freq: (Vec<f64>, Vec<f64>, Vec<i64>, Vec<f64>),
    ablation: (Vec<f64>, Vec<i64>, Vec<i64>, Vec<f64>),
}

/// The certificate columns of `fixed_points` (`analysis::fixed_points`, steps 6–7).
#[derive(Default)]
struct Certificates {
    sigma_min: Vec<f64>,
    bound: Vec<f64>,
    certified: Vec<bool>,
    continuum: Vec<bool>,
}

impl Certificates {
    fn push(&mut self, c: &Certificate, continuum: bool) {
        self.sigma_min.push(c.sigma_min);
        self.bound.push(c.bound);
        self.certified.push(c.certified);
        self.continuum.push(continuum);
    }
}

fn f32s(a: &Array1<f64>) -> Vec<f32> {
    a.iter().map(|&v| v as f32).collect()
}

impl Kind for FixedPoints {
    const NAME: &'static str = "fixed_points";
    /// 4: points refined before merging, and certified (`certified`, `sigma_min`, `bound`,
    /// `continuum` columns).
    const VERSION: u32 = 4;
    type Params = FixedPointTaskParams;

    /// The probe states, `inits` candidate states, and eight `N×N` f64 matrices (Jacobian,
    /// factorisation, eigen-decomposition).
    fn memory(&self, p: &Self::Params, inputs: &dyn Shapes) -> u64 {
        let Some(net) = inputs.net() else { return 0 };
        let inits = mul(&[4 * F64, p.fixed_points.inits as u64, net.units as u64]);
        add(&[
            states(&net, p.probe.trials),
            inits,
            square(net.units as u64),
            weights(&net),
        ])
    }
    /// Per condition, `inits` searches of about 20 Newton steps, each a Jacobian
    /// (`blocks · N³`) and a factorisation (`N³`).
    fn work(&self, p: &Self::Params, inputs: &dyn Shapes) -> Option<f64> {
        let net = inputs.net()?;
        let conditions = net.task.conditions(p.fixed_points.conditions).len();
        let cube = (net.units as f64).powi(3) * (net.arch.blocks() + 1) as f64;
        Some(20.0 * (conditions * p.fixed_points.inits) as f64 * cube)
    }
    fn run(&self, ctx: &Context, p: &Self::Params, inputs: &[Output]) -> Result<Output, TaskError> {
        let (row, net) = network_of(
            inputs
                .first()
                .ok_or_else(|| TaskError::Failed("fixed_points needs its network".into()))?,
        )?;
        let mut rows = Rows::default();
        if row.ok() {
            let sys = net.dynamics();
            let batch = p.task.batch(p.probe.seed, p.probe.trials);
            let traj = sys.trajectory(batch.inputs.view());
            let dim = traj.len_of(Axis(2));
            let states = traj
                .into_shape_with_order((
                    batch.inputs.len_of(Axis(0)) * batch.inputs.len_of(Axis(1)),
                    dim,
                ))
                .map_err(|e| TaskError::Failed(e.to_string()))?;
            let readout_w = readout_matrix(&sys);
            for (ci, (condition, x)) in p
                .task
                .conditions(p.fixed_points.conditions)
                .into_iter()
                .enumerate()
            {
                if ctx.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(TaskError::Cancelled);
                }
                let fp = &p.fixed_points;
                let opts = FixedPointOpts {
                    inits: fp.inits,
                    noise: fp.noise,
                    tol_q: fp.tol_q,
                    tol_unique: fp.tol_unique,
                    outlier: fp.outlier,
                    max_iter: fp.max_iter,
                    seed: derive_seed(&("fixed_points", fp.seed, ci)),
                };
                let x = Array1::from(x);
                let fps = find_fixed_points(&sys, x.view(), states.view(), &opts)
                    .map_err(|e| TaskError::Failed(format!("{}: {e}", row.describe())))?;
                let continuum = fps.continuum();
                for (i, f) in fps.points.iter().enumerate() {
                    rows.cert.push(&f.cert, continuum);
                    rows.fp.0.push(condition);
                    rows.fp.1.push(i as i64);
                    rows.fp.2.push(f32s(&f.state));
                    rows.fp.3.push(f.q);
                    rows.fp.4.push(f.n_unstable as i64);
                    rows.fp.5.push(f32s(&f.readout));
                    for (k, &(re, im)) in f.eig.values.iter().enumerate() {
                        rows.eig.0.push(condition);
                        rows.eig.1.push(i as i64);
                        rows.eig.2.push(k as i64);
                        rows.eig.3.push(re);
                        rows.eig.4.push(im);
                    }
                    linear_analyses(
                        &p.task, &sys, &readout_w, condition, ci, i, &x, &f.state, &f.eig,
                        &mut rows,
                    );
                }
            }
        }
        Ok(tables(row, rows, &p.task))
    }
}

/// The sine task's oscillation frequency against the command, and the CDI task's mode ablation
/// for a unit pulse on the cued stream.
#[allow(clippy::too_many_arguments)]
fn linear_analyses(
    task: &TaskSpec,
    sys: &dyn Dynamics,
    readout_w: &Array2<f64>,
    condition: f64,
    ci: usize,
    i: usize,
    x: &Array1<f64>,
    s: &Array1<f64>,
    lin: &Linearisation,
    rows: &mut Rows,
) {
    match task {
        TaskSpec::Sine {
            freq_min,
            freq_range,
            ..
        } => {
            rows.freq.0.push(condition);
            rows.freq.1.push(freq_min + freq_range * condition);
            rows.freq.2.push(i as i64);
            rows.freq
                .3
                .push(oscillation_frequency(lin).unwrap_or(f64::NAN));
        }
        TaskSpec::Cdi {
            contexts, steps, ..
        } => {
            let mut b = Array2::zeros((sys.state_dim(), sys.input_dim()));
            sys.jacobian_input(s.view(), x.view(), &mut b);
            let cue = b.column(contexts + ci).to_owned();
            let response = mode_ablation(lin, readout_w.view(), cue.view(), *steps);
            for (m, v) in response.row(0).iter().enumerate() {
                rows.ablation.0.push(condition);
                rows.ablation.1.push(i as i64);
                rows.ablation.2.push(m as i64 + 1);
                rows.ablation.3.push(*v);
            }
        }
        TaskSpec::Flipflop { .. } => {}
    }
}

/// `W_y` over the dynamical state (zero columns where the readout does not look, e.g. LSTM `c`):
/// the readout is affine, so column `j` is `readout(e_j) − readout(0)`.
fn readout_matrix(sys: &dyn Dynamics) -> Array2<f64> {
    let (n, k) = (sys.state_dim(), sys.output_dim());
    let mut base = Array1::zeros(k);
    sys.readout(Array1::zeros(n).view(), base.view_mut());
    let mut w = Array2::zeros((k, n));
    let mut e = Array1::zeros(n);
    let mut out = Array1::zeros(k);
    for j in 0..n {
        e[j] = 1.0;
        sys.readout(e.view(), out.view_mut());
        w.column_mut(j).assign(&(&out - &base));
        e[j] = 0.0;
    }
    w
}

fn tables(row: NetworkRow, r: Rows, task: &TaskSpec) -> Output {
    let fixed_points = Table::new()
        .with("condition", Column::F64(r.fp.0))
        .with("index", Column::I64(r.fp.1))
        .with("state", Column::ListF32(r.fp.2))
        .with("q", Column::F64(r.fp.3))
        .with("n_unstable", Column::I64(r.fp.4))
        .with("readout", Column::ListF32(r.fp.5))
        .with("sigma_min", Column::F64(r.cert.sigma_min))
        .with("bound", Column::F64(r.cert.bound))
        .with("certified", Column::Bool(r.cert.certified))
        .with("continuum", Column::Bool(r.cert.continuum));
    let eigenvalues = Table::new()
        .with("condition", Column::F64(r.eig.0))
        .with("index", Column::I64(r.eig.1))
        .with("k", Column::I64(r.eig.2))
        .with("re", Column::F64(r.eig.3))
        .with("im", Column::F64(r.eig.4));
    let mut out = Output::new()
        .with("network", row.to_table())
        .with("fixed_points", fixed_points)
        .with("eigenvalues", eigenvalues);
    match task {
        TaskSpec::Sine { .. } => {
            out = out.with(
                "linear_frequency",
                Table::new()
                    .with("condition", Column::F64(r.freq.0))
                    .with("omega", Column::F64(r.freq.1))
                    .with("index", Column::I64(r.freq.2))
                    .with("frequency", Column::F64(r.freq.3)),
            )
        }
        TaskSpec::Cdi { .. } => {
            out = out.with(
                "mode_ablation",
                Table::new()
                    .with("condition", Column::F64(r.ablation.0))
                    .with("index", Column::I64(r.ablation.1))
                    .with("m", Column::I64(r.ablation.2))
                    .with("response", Column::F64(r.ablation.3)),
            )
        }
        TaskSpec::Flipflop { .. } => {}
    }
    out
}
