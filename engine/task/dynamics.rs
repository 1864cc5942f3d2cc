//! Per-network dynamics: `fixed_points` (fixed points per static condition with their
//! linearisation, plus the sine task's linear frequency and the CDI task's mode ablation) and
//! `topology` (the graph the fixed points form), then `topology_distance` between networks.

use super::network::{network_of, NetworkRow};
use super::train::ProbeParams;
use super::{derive_seed, params, Context, Registry, TaskError, TaskKind};
use crate::analysis::dynamics::Dynamics;
use crate::analysis::fixed_points::{find_fixed_points, Certificate, FixedPointOpts};
use crate::analysis::linearise::{mode_ablation, oscillation_frequency, Linearisation};
use crate::manifest::FixedPointParams;
use crate::rnn::TaskSpec;
use crate::table::{Column, Output, Table};
use ndarray::{Array1, Array2, Axis};

pub fn register(r: &mut Registry) {
    r.register(Box::new(FixedPoints));
    super::topology::register(r);
}

#[derive(serde::Deserialize)]
struct FixedPointTaskParams {
    task: TaskSpec,
    probe: ProbeParams,
    fixed_points: FixedPointParams,
}

struct FixedPoints;

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

impl TaskKind for FixedPoints {
    fn name(&self) -> &'static str {
        "fixed_points"
    }
    /// 4: points refined before merging, and certified (`certified`, `sigma_min`, `bound`,
    /// `continuum` columns).
    fn version(&self) -> u32 {
        4
    }
    fn run(
        &self,
        ctx: &Context,
        p: &serde_json::Value,
        inputs: &[Output],
    ) -> Result<Output, TaskError> {
        let p: FixedPointTaskParams = params(p)?;
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
