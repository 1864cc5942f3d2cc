//! Fixed points of `s' = F(s, x*)` for a static input `x*` (SPEC §5), after the reference
//! toolbox FixedPointFinder but with a second-order optimiser.
//!
//! Steps:
//! 1. `inits` initial states: rows drawn uniformly (with replacement, seeded) from the probe
//!    trajectory states, plus Gaussian noise of standard deviation `noise` per coordinate.
//! 2. From each, drive `r(s) = F(s, x*) − s` to zero: a Newton step `δ = −(J − I)⁻¹ r` with the
//!    analytic Jacobian and a backtracking line search on `q(s) = ½||r||²` (the Newton direction
//!    always descends `q`). After a successful Newton step the LU factors are reused for chord
//!    steps while each at least halves `q` (Shamanskii's method: near a root these cost a
//!    triangular solve instead of a factorisation). When `J − I` is singular or the line
//!    search fails, a Levenberg–Marquardt step `(AᵀA + μI) δ = −Aᵀ r`, `A = J − I`, with adaptive `μ`. Both
//!    find saddles and unstable points as readily as attractors. Stops at `q < tol_q`, at
//!    `max_iter`, when no step decreases `q`, or after 5 iterations in a row that each reduce
//!    `q` by less than 10% (stuck at a slow point, a local minimum of `q` above zero).
//! 3. Keep `q < tol_q` and refine each kept point ([`Newton::polish`]): Newton (and chord)
//!    steps, at most 8, while they decrease `q`. Stopping at `q < tol_q` where `J − I` is nearly
//!    singular leaves a point `√(2q)/σ_min(J − I)` from its root, about 1e-3 for an LSTM with
//!    `σ_min ≈ 1e-3`; refined, the point is within rounding of the root, so two starts on one
//!    root are one point in the next step.
//! 4. Sort by `q` and keep a point only if no kept point lies within `tol_unique` (Euclidean),
//!    so each cluster keeps its lowest `q` (a refined root beats a nearby slow point).
//! 5. Outliers: with `c` the centroid of the trajectory states and `ρ` the median distance of
//!    the trajectory states to `c`, drop points with `||s* − c|| > outlier · ρ` (FixedPointFinder's
//!    rule, with the median the SPEC asks for; skipped when `ρ = 0`).
//! 6. Certify each point ([`certify`]): with `A = J(s) − I`, `β = 1/σ_min(A)` and
//!    `η = ||A⁻¹ r(s)|| ≤ β √(2q)`, the Newton–Kantorovich theorem gives a root within
//!    `2η ≤ bound = 2√(2q)/σ_min(A)` of `s`, and no other root closer, provided `J` is
//!    `L`-Lipschitz on that ball and `h = β L η ≤ ½`. Census assumes that last condition (it
//!    holds for any `L` below `1/(2βη)`, of the order of 1e8 for a refined root with
//!    `σ_min = 1e-3`; the tanh and gated cells' Jacobians are smooth with `L` of the order of
//!    `||W||²`, relu cells piecewise linear, so the bound fails only at a kink) and calls a point
//!    `certified` when `bound < tol_unique / 2`: two certified points are then further than
//!    `tol_unique` apart only if their roots differ, so certified points count roots, each once.
//!    Uncertified points (slow points with no root near, as gate-saturated GRU states, and
//!    points of a continuum) are reported as such and not counted.
//! 7. Continuum: an uncertified point is on a continuum when a step of `tol_unique` along the
//!    right singular vector of `σ_min(A)`, either way, is still a fixed point (`q < tol_q`):
//!    fixed points are then not isolated at the merge resolution (e.g. every `s ≥ 0` of an
//!    identity-initialised relu network). [`FixedPoints::continuum`] says whether any point is.
//! 8. Linearise each point, read it out, and order the points lexicographically by readout
//!    rounded to `tol_unique` (see [`readout_order`]), then by exact readout, then by state.
//!
//! Deterministic in `seed`: initial states are drawn sequentially, the per-state optimisations
//! run in parallel but independently, and their results are merged in a fixed order.

use super::dynamics::Dynamics;
use super::eig::{EigError, LuSolver};
use super::linalg::{self, GeometryError};
use super::linearise::{linearise, Linearisation};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointOpts {
    /// Number of initial states.
    pub inits: usize,
    /// Standard deviation of the Gaussian noise added to the sampled trajectory states.
    pub noise: f64,
    /// A point is fixed when `q < tol_q`.
    pub tol_q: f64,
    /// Points closer than this (Euclidean) are one point.
    pub tol_unique: f64,
    /// Outlier threshold, in medians of the trajectory states' distance to their centroid.
    pub outlier: f64,
    /// Newton / Levenberg–Marquardt iterations per initial state.
    pub max_iter: usize,
    pub seed: u64,
}

impl Default for FixedPointOpts {
    fn default() -> Self {
        FixedPointOpts {
            inits: 1024,
            noise: 0.5,
            tol_q: 1e-12,
            tol_unique: 1e-3,
            outlier: 10.0,
            max_iter: 100,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FixedPoint {
    pub state: Array1<f64>,
    pub q: f64,
    pub n_unstable: usize,
    pub readout: Array1<f64>,
    pub eig: Linearisation,
    pub cert: Certificate,
}

/// How surely a point is a root (module doc, step 6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Certificate {
    /// Smallest singular value of `J − I` at the point.
    pub sigma_min: f64,
    /// `2√(2q) / σ_min`: the distance within which a root lies (∞ when `σ_min = 0`).
    pub bound: f64,
    /// `bound < tol_unique / 2`: the point is a root, counted once.
    pub certified: bool,
    /// The point is not isolated: a step of `tol_unique` along the near-null direction of
    /// `J − I` is still a fixed point (step 7).
    pub on_continuum: bool,
}

/// The fixed points at one input, certified and uncertified, in readout order.
#[derive(Debug, Clone)]
pub struct FixedPoints {
    pub points: Vec<FixedPoint>,
}

impl FixedPoints {
    /// The certified points: the roots, each once.
    pub fn certified(&self) -> impl Iterator<Item = &FixedPoint> {
        self.points.iter().filter(|p| p.cert.certified)
    }

    /// Whether the fixed points include a continuum (module doc, step 7).
    pub fn continuum(&self) -> bool {
        self.points.iter().any(|p| p.cert.on_continuum)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FixedPointError {
    #[error("fixed points: input has {got} entries, the system expects {want}")]
    InputDim { got: usize, want: usize },
    #[error("fixed points: trajectory states have {got} columns, the state dimension is {want}")]
    StateDim { got: usize, want: usize },
    #[error("fixed points: no trajectory states to start from")]
    NoTrajectory,
    #[error("fixed points: linearisation failed: {0}")]
    Eig(#[from] EigError),
    #[error("fixed points: certificate failed: {0}")]
    Svd(#[from] GeometryError),
}

/// The end of one optimisation.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub state: Array1<f64>,
    pub q: f64,
    pub iters: usize,
}

/// The fixed points of `sys` at the static input `x`, refined, certified and ordered by readout
/// (module doc). Each satisfies `q < tol_q`; certified ones lie within `tol_unique / 2` of a
/// root.
pub fn find_fixed_points(
    sys: &dyn Dynamics,
    x: ArrayView1<f64>,
    trajectory_states: ArrayView2<f64>,
    opts: &FixedPointOpts,
) -> Result<FixedPoints, FixedPointError> {
    let n = sys.state_dim();
    if x.len() != sys.input_dim() {
        return Err(FixedPointError::InputDim {
            got: x.len(),
            want: sys.input_dim(),
        });
    }
    if trajectory_states.ncols() != n {
        return Err(FixedPointError::StateDim {
            got: trajectory_states.ncols(),
            want: n,
        });
    }
    if trajectory_states.nrows() == 0 {
        return Err(FixedPointError::NoTrajectory);
    }
    let starts = initial_states(trajectory_states, opts.inits, opts.noise, opts.seed);
    let candidates: Vec<Candidate> = (0..starts.nrows())
        .into_par_iter()
        .map_init(
            || Newton::new(n),
            |ws, k| {
                let c = ws.minimise(sys, x, starts.row(k), opts.tol_q, opts.max_iter);
                if c.q < opts.tol_q {
                    ws.polish(sys, x, c)
                } else {
                    c
                }
            },
        )
        .collect();
    let unique = unique_points(candidates, opts.tol_q, opts.tol_unique);
    let kept = drop_outliers(unique, trajectory_states, opts.outlier);

    let mut fps = kept
        .into_par_iter()
        .map(|c| {
            let cert = certify(sys, x, c.state.view(), c.q, opts)?;
            let eig = linearise(sys, c.state.view(), x)?;
            let mut readout = Array1::zeros(sys.output_dim());
            sys.readout(c.state.view(), readout.view_mut());
            Ok(FixedPoint {
                n_unstable: eig.n_unstable(),
                state: c.state,
                q: c.q,
                readout,
                eig,
                cert,
            })
        })
        .collect::<Result<Vec<_>, FixedPointError>>()?;
    fps.sort_by(|a, b| readout_order(a, b, opts.tol_unique));
    Ok(FixedPoints { points: fps })
}

/// The certificate of a converged point `s` with `q = q(s)` (module doc, steps 6 and 7).
pub fn certify(
    sys: &dyn Dynamics,
    x: ArrayView1<f64>,
    s: ArrayView1<f64>,
    q: f64,
    opts: &FixedPointOpts,
) -> Result<Certificate, FixedPointError> {
    let n = s.len();
    let mut a = Array2::zeros((n, n));
    newton_matrix(sys, s, x, &mut a);
    // A Jacobian whose SVD does not converge (non-finite entries, say) certifies nothing: the
    // point is reported, uncertified, rather than failing the network.
    let Ok((sigma, v)) = linalg::svd_values_right(a.view()) else {
        return Ok(Certificate {
            sigma_min: f64::NAN,
            bound: f64::INFINITY,
            certified: false,
            on_continuum: false,
        });
    };
    let sigma_min = sigma.iter().copied().reduce(f64::min).unwrap_or(0.0);
    let bound = if sigma_min > 0.0 {
        2.0 * (2.0 * q).sqrt() / sigma_min
    } else {
        f64::INFINITY
    };
    let certified = bound < 0.5 * opts.tol_unique;
    let on_continuum = !certified && n > 0 && {
        let null = v.column(n - 1);
        let mut r = Array1::zeros(n);
        [1.0, -1.0].iter().any(|sign| {
            let moved = &s + &(&null * (sign * opts.tol_unique));
            residual(sys, moved.view(), x, &mut r) < opts.tol_q
        })
    };
    Ok(Certificate {
        sigma_min,
        bound,
        certified,
        on_continuum,
    })
}

/// `count` rows drawn with replacement from `states`, plus `noise · N(0, 1)` per coordinate.
pub fn initial_states(states: ArrayView2<f64>, count: usize, noise: f64, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = states.ncols();
    let mut out = Array2::zeros((count, n));
    for mut row in out.axis_iter_mut(Axis(0)) {
        let k = rng.random_range(0..states.nrows());
        for (o, &s) in row.iter_mut().zip(states.row(k)) {
            let z: f64 = rng.sample(StandardNormal);
            *o = s + noise * z;
        }
    }
    out
}

/// Lexicographic order of readouts rounded to multiples of `resolution` (so that rounding noise
/// in a coordinate that several points share does not decide their order), then of the exact
/// readouts, then of the states.
pub fn readout_order(a: &FixedPoint, b: &FixedPoint, resolution: f64) -> Ordering {
    let round = |v: &Array1<f64>| v.mapv(|x| (x / resolution).round() + 0.0); // -0 → +0
    lex(&round(&a.readout), &round(&b.readout))
        .then_with(|| lex(&a.readout, &b.readout))
        .then_with(|| lex(&a.state, &b.state))
}

/// Lexicographic order with `total_cmp`.
pub fn lex(a: &Array1<f64>, b: &Array1<f64>) -> Ordering {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(a.len().cmp(&b.len()))
}

fn unique_points(mut candidates: Vec<Candidate>, tol_q: f64, tol_unique: f64) -> Vec<Candidate> {
    candidates.retain(|c| c.q < tol_q);
    // stable sort: equal q keeps the initial-state order
    candidates.sort_by(|a, b| a.q.total_cmp(&b.q));
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        if kept
            .iter()
            .all(|k| distance(k.state.view(), c.state.view()) >= tol_unique)
        {
            kept.push(c);
        }
    }
    kept
}

fn drop_outliers(points: Vec<Candidate>, states: ArrayView2<f64>, outlier: f64) -> Vec<Candidate> {
    let centroid = states.mean_axis(Axis(0)).expect("non-empty trajectory");
    let mut radii: Vec<f64> = states
        .axis_iter(Axis(0))
        .map(|r| distance(r, centroid.view()))
        .collect();
    radii.sort_by(f64::total_cmp);
    let median = radii[radii.len() / 2];
    if median == 0.0 {
        return points;
    }
    points
        .into_iter()
        .filter(|p| distance(p.state.view(), centroid.view()) <= outlier * median)
        .collect()
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Workspace of the Newton / Levenberg–Marquardt iteration for one state dimension.
pub struct Newton {
    r: Array1<f64>,
    trial: Array1<f64>,
    r_trial: Array1<f64>,
    delta: Array1<f64>,
    a: Array2<f64>,
    h: Array2<f64>,
    lu: LuSolver,
    /// `lu` holds the factors of `J − I` at a recent iterate, so chord steps may use them.
    chord: bool,
}

const LINE_SEARCH_HALVINGS: usize = 4;
const LM_TRIES: usize = 30;
/// Give up after this many consecutive iterations that each reduce `q` by less than
/// `1 − STALL_RATIO`: the start is stuck at a slow point (a local minimum of `q` above zero).
const STALL_ITERS: usize = 5;
const STALL_RATIO: f64 = 0.9;
/// Keep reusing a factorisation while each chord step shrinks `q` at least this much.
const CHORD_RATE: f64 = 0.5;
/// Refinement steps after convergence: from `q ≈ 1e-12`, Newton's quadratic convergence
/// reaches rounding level in two or three.
const POLISH_ITERS: usize = 8;
/// While refining, a chord step must shrink `q` this much for the next to reuse the factors
/// (near a nearly singular `J − I` chord steps converge only linearly).
const POLISH_CHORD_RATE: f64 = 1e-3;

impl Newton {
    pub fn new(n: usize) -> Self {
        Newton {
            r: Array1::zeros(n),
            trial: Array1::zeros(n),
            r_trial: Array1::zeros(n),
            delta: Array1::zeros(n),
            a: Array2::zeros((n, n)),
            h: Array2::zeros((n, n)),
            lu: LuSolver::new(n),
            chord: false,
        }
    }

    /// Minimises `q` from `s0`.
    pub fn minimise(
        &mut self,
        sys: &dyn Dynamics,
        x: ArrayView1<f64>,
        s0: ArrayView1<f64>,
        tol_q: f64,
        max_iter: usize,
    ) -> Candidate {
        let mut s = s0.to_owned();
        let mut q = residual(sys, s.view(), x, &mut self.r);
        let mut mu = 0.0;
        let mut iters = 0;
        let mut stalled = 0;
        let mut chord = false;
        while iters < max_iter && q >= tol_q && q.is_finite() && stalled < STALL_ITERS {
            iters += 1;
            let q_new = match self.chord_step(sys, x, &mut s, q, chord) {
                Some(q_new) => {
                    chord = q_new < CHORD_RATE * q;
                    q_new
                }
                None => {
                    newton_matrix(sys, s.view(), x, &mut self.a);
                    match self.newton_step(sys, x, &mut s, q) {
                        Some(q_new) => {
                            chord = true;
                            q_new
                        }
                        None => {
                            chord = false;
                            match self.lm_step(sys, x, &mut s, q, &mut mu) {
                                Some(q_new) => q_new,
                                None => break,
                            }
                        }
                    }
                }
            };
            stalled = if q_new > STALL_RATIO * q {
                stalled + 1
            } else {
                0
            };
            q = q_new;
        }
        self.chord = chord;
        Candidate { state: s, q, iters }
    }

    /// Refines the candidate [`Newton::minimise`] just returned (its residual is still in the
    /// workspace): Newton and chord steps, without Levenberg–Marquardt, while they decrease `q`.
    pub fn polish(&mut self, sys: &dyn Dynamics, x: ArrayView1<f64>, c: Candidate) -> Candidate {
        let Candidate {
            state: mut s,
            mut q,
            mut iters,
        } = c;
        let mut chord = self.chord;
        for _ in 0..POLISH_ITERS {
            if q == 0.0 {
                break;
            }
            let next = self.chord_step(sys, x, &mut s, q, chord).or_else(|| {
                newton_matrix(sys, s.view(), x, &mut self.a);
                self.newton_step(sys, x, &mut s, q)
            });
            let Some(q_new) = next else { break };
            chord = q_new < POLISH_CHORD_RATE * q;
            q = q_new;
            iters += 1;
        }
        self.chord = false;
        Candidate { state: s, q, iters }
    }

    /// A full step with the last factored `J − I` (chord / Shamanskii step), when `usable`.
    fn chord_step(
        &mut self,
        sys: &dyn Dynamics,
        x: ArrayView1<f64>,
        s: &mut Array1<f64>,
        q: f64,
        usable: bool,
    ) -> Option<f64> {
        if !usable {
            return None;
        }
        self.delta.assign(&self.r);
        self.delta.mapv_inplace(|v| -v);
        if !self.lu.solve_factored(&mut self.delta) {
            return None;
        }
        self.try_step(sys, x, s, 1.0, q)
    }

    /// Newton direction with backtracking; on success `s`, `self.r` are updated.
    fn newton_step(
        &mut self,
        sys: &dyn Dynamics,
        x: ArrayView1<f64>,
        s: &mut Array1<f64>,
        q: f64,
    ) -> Option<f64> {
        self.delta.assign(&self.r);
        self.delta.mapv_inplace(|v| -v);
        if !self.lu.solve(&self.a, &mut self.delta) {
            return None;
        }
        let mut alpha = 1.0;
        for _ in 0..=LINE_SEARCH_HALVINGS {
            if let Some(q_new) = self.try_step(sys, x, s, alpha, q) {
                return Some(q_new);
            }
            alpha *= 0.5;
        }
        None
    }

    /// Levenberg–Marquardt with `μ` adapted across iterations (`mu = 0` means "not set yet").
    fn lm_step(
        &mut self,
        sys: &dyn Dynamics,
        x: ArrayView1<f64>,
        s: &mut Array1<f64>,
        q: f64,
        mu: &mut f64,
    ) -> Option<f64> {
        let n = s.len();
        let g = self.a.t().dot(&self.r);
        let ata = self.a.t().dot(&self.a);
        if *mu == 0.0 {
            *mu = 1e-3
                * (0..n)
                    .map(|i| ata[(i, i)])
                    .fold(0.0, f64::max)
                    .max(f64::MIN_POSITIVE);
        }
        for _ in 0..LM_TRIES {
            self.h.assign(&ata);
            for i in 0..n {
                self.h[(i, i)] += *mu;
            }
            self.delta.assign(&g);
            self.delta.mapv_inplace(|v| -v);
            if self.lu.solve(&self.h, &mut self.delta) {
                if let Some(q_new) = self.try_step(sys, x, s, 1.0, q) {
                    *mu = (*mu / 3.0).max(1e-300);
                    return Some(q_new);
                }
            }
            *mu *= 4.0;
        }
        None
    }

    /// Accepts `s + α δ` when it decreases `q`.
    fn try_step(
        &mut self,
        sys: &dyn Dynamics,
        x: ArrayView1<f64>,
        s: &mut Array1<f64>,
        alpha: f64,
        q: f64,
    ) -> Option<f64> {
        self.trial.assign(s);
        self.trial.scaled_add(alpha, &self.delta);
        let q_new = residual(sys, self.trial.view(), x, &mut self.r_trial);
        if q_new < q {
            s.assign(&self.trial);
            std::mem::swap(&mut self.r, &mut self.r_trial);
            Some(q_new)
        } else {
            None
        }
    }
}

/// `out = J(s) − I`, the Jacobian of the residual `F(s, x) − s`.
fn newton_matrix(sys: &dyn Dynamics, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
    sys.jacobian_state(s, x, out);
    out.diag_mut().mapv_inplace(|v| v - 1.0);
}

/// `r = F(s, x) − s`; returns `q = ½||r||²`.
fn residual(
    sys: &dyn Dynamics,
    s: ArrayView1<f64>,
    x: ArrayView1<f64>,
    r: &mut Array1<f64>,
) -> f64 {
    sys.step(s, x, r.view_mut());
    *r -= &s;
    0.5 * r.dot(r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ndarray::{array, ArrayViewMut1};

    /// `s' = tanh(w ⊙ s) + u x`, independent per dimension; readout = state.
    pub(crate) struct Tanh {
        pub w: Array1<f64>,
    }
    impl Dynamics for Tanh {
        fn state_dim(&self) -> usize {
            self.w.len()
        }
        fn input_dim(&self) -> usize {
            self.w.len()
        }
        fn output_dim(&self) -> usize {
            self.w.len()
        }
        fn step(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            for i in 0..self.w.len() {
                out[i] = (self.w[i] * s[i] + x[i]).tanh();
            }
        }
        fn jacobian_state(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.fill(0.0);
            for i in 0..self.w.len() {
                let t = (self.w[i] * s[i] + x[i]).tanh();
                out[(i, i)] = self.w[i] * (1.0 - t * t);
            }
        }
        fn jacobian_input(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.fill(0.0);
            for i in 0..self.w.len() {
                let t = (self.w[i] * s[i] + x[i]).tanh();
                out[(i, i)] = 1.0 - t * t;
            }
        }
        fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out.assign(&s);
        }
    }

    /// Root of `s = tanh(2 s)`, `s > 0`, by bisection.
    pub(crate) fn s_star() -> f64 {
        let (mut lo, mut hi) = (0.5f64, 1.0f64);
        for _ in 0..200 {
            let m = 0.5 * (lo + hi);
            if (2.0 * m).tanh() > m {
                lo = m
            } else {
                hi = m
            }
        }
        lo
    }

    pub(crate) fn cube_states(dim: usize) -> Array2<f64> {
        let m = 3usize.pow(dim as u32);
        Array2::from_shape_fn((m, dim), |(k, i)| {
            ((k / 3usize.pow(i as u32)) % 3) as f64 - 1.0
        })
    }

    #[test]
    fn bistable_unit_has_two_attractors_and_a_saddle() {
        let sys = Tanh { w: array![2.0] };
        let traj = array![[-1.0], [-0.6], [0.0], [0.4], [0.9]];
        let opts = FixedPointOpts {
            inits: 64,
            ..Default::default()
        };
        let fps = find_fixed_points(&sys, array![0.0].view(), traj.view(), &opts).unwrap().points;
        assert_eq!(fps.len(), 3);
        let ss = s_star();
        assert!((ss - 0.957_504_024_9).abs() < 1e-9);
        // q < 1e-12 bounds |s − s*| by √(2·1e-12) / |J − 1| ≈ 1.7e-6 at ±s*, 1.4e-6 at 0
        assert!((fps[0].state[0] + ss).abs() < 2e-6 && fps[0].n_unstable == 0);
        assert!(fps[1].state[0].abs() < 2e-6 && fps[1].n_unstable == 1);
        assert!((fps[2].state[0] - ss).abs() < 2e-6 && fps[2].n_unstable == 0);
        for fp in &fps {
            assert!(fp.q < 1e-12);
            assert_eq!(fp.readout[0], fp.state[0]);
        }
        assert!(
            (fps[1].eig.values[0].0 - 2.0).abs() < 1e-10,
            "J(0) = 2(1 − tanh²(2s)) ≈ 2"
        );
    }

    #[test]
    fn product_system_has_27_points_with_binomial_instabilities() {
        let sys = Tanh {
            w: array![2.0, 2.0, 2.0],
        };
        let traj = cube_states(3);
        let opts = FixedPointOpts {
            inits: 512,
            seed: 5,
            ..Default::default()
        };
        let fps = find_fixed_points(&sys, Array1::zeros(3).view(), traj.view(), &opts).unwrap().points;
        assert_eq!(fps.len(), 27);
        let mut by_unstable = [0; 4];
        for fp in &fps {
            by_unstable[fp.n_unstable] += 1;
            let zeros = fp.state.iter().filter(|v| v.abs() < 1e-4).count();
            assert_eq!(
                zeros, fp.n_unstable,
                "unstable dims are the coordinates at 0"
            );
        }
        assert_eq!(by_unstable, [8, 12, 6, 1]);
        // readout order: lexicographic on the grid {-s*, 0, s*}³, first coordinate slowest
        let ss = s_star();
        for (k, fp) in fps.iter().enumerate() {
            for d in 0..3 {
                let level = [-ss, 0.0, ss][(k / 3usize.pow(2 - d as u32)) % 3];
                assert!(
                    (fp.readout[d] - level).abs() < 1e-5,
                    "point {k}: {}",
                    fp.readout
                );
            }
        }
    }

    #[test]
    fn deterministic_and_thread_count_independent() {
        let sys = Tanh {
            w: array![2.0, 1.5, 3.0],
        };
        let traj = cube_states(3);
        let opts = FixedPointOpts {
            inits: 200,
            seed: 11,
            ..Default::default()
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                find_fixed_points(&sys, Array1::zeros(3).view(), traj.view(), &opts).unwrap().points
            })
        };
        let a = run(1);
        let b = run(2);
        assert_eq!(a.len(), b.len());
        for (p, q) in a.iter().zip(&b) {
            assert_eq!(p.state, q.state);
            assert_eq!(p.q.to_bits(), q.q.to_bits());
        }
    }

    #[test]
    fn outliers_and_duplicates_are_dropped() {
        let c = |v: f64, q: f64| Candidate {
            state: array![v],
            q,
            iters: 0,
        };
        let traj = array![[-1.0], [0.0], [1.0]]; // centroid 0, median radius 1
        let u = unique_points(
            vec![c(0.5, 1e-14), c(0.5005, 1e-20), c(0.9, 1e-3), c(30.0, 0.0)],
            1e-12,
            1e-3,
        );
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].state[0], 0.5005, "the duplicate with lower q is kept");
        let kept = drop_outliers(u, traj.view(), 10.0);
        assert_eq!(kept.len(), 1);
    }

    /// `s' = max(s + x, 0)`: every `s ≥ 0` is a fixed point at `x = 0`, as in an untrained
    /// identity-initialised relu network.
    struct Relu(usize);
    impl Dynamics for Relu {
        fn state_dim(&self) -> usize {
            self.0
        }
        fn input_dim(&self) -> usize {
            self.0
        }
        fn output_dim(&self) -> usize {
            self.0
        }
        fn step(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out.assign(&(&s + &x).mapv(|v| v.max(0.0)));
        }
        fn jacobian_state(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
            self.jacobian_input(s, x, out);
        }
        fn jacobian_input(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.fill(0.0);
            for i in 0..self.0 {
                out[(i, i)] = if s[i] + x[i] > 0.0 { 1.0 } else { 0.0 };
            }
        }
        fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out.assign(&s);
        }
    }

    /// `s' = s + 1e-7 (1 + s²)`: `q < 1e-12` on all of `|s| < 3`, and no root anywhere, as in the
    /// gate-saturated states of a GRU.
    struct Slow;
    impl Dynamics for Slow {
        fn state_dim(&self) -> usize {
            1
        }
        fn input_dim(&self) -> usize {
            1
        }
        fn output_dim(&self) -> usize {
            1
        }
        fn step(&self, s: ArrayView1<f64>, _: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out[0] = s[0] + 1e-7 * (1.0 + s[0] * s[0]);
        }
        fn jacobian_state(&self, s: ArrayView1<f64>, _: ArrayView1<f64>, out: &mut Array2<f64>) {
            out[(0, 0)] = 1.0 + 2e-7 * s[0];
        }
        fn jacobian_input(&self, _: ArrayView1<f64>, _: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.fill(0.0);
        }
        fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out.assign(&s);
        }
    }

    #[test]
    fn two_starts_on_one_nearly_singular_root_are_refined_into_one_certified_point() {
        // s' = tanh((1 − ε) s): one root, 0, where J − I = −ε; q(s) ≈ ½(ε s + s³/3)², so
        // stopping at q < 1e-12 leaves |s| ≈ 1e-2 on either side of the root.
        let eps = 1e-4;
        let sys = Tanh {
            w: array![1.0 - eps],
        };
        let x = array![0.0];
        let traj = array![[-0.5], [0.5]];
        let opts = FixedPointOpts {
            inits: 16,
            ..Default::default()
        };
        let starts = initial_states(traj.view(), opts.inits, opts.noise, opts.seed);
        let mut ws = Newton::new(1);
        let ends: Vec<f64> = starts
            .rows()
            .into_iter()
            .map(|s0| ws.minimise(&sys, x.view(), s0, opts.tol_q, opts.max_iter))
            .filter(|c| c.q < opts.tol_q)
            .map(|c| c.state[0])
            .collect();
        let spread = ends.iter().fold(f64::MIN, |m, v| m.max(*v))
            - ends.iter().fold(f64::MAX, |m, v| m.min(*v));
        assert!(spread > 4.0 * opts.tol_unique, "unrefined ends {ends:?}");

        let found = find_fixed_points(&sys, x.view(), traj.view(), &opts).unwrap();
        assert_eq!(found.points.len(), 1);
        let p = &found.points[0];
        assert!(p.state[0].abs() < 1e-12, "{}", p.state[0]);
        assert!((p.cert.sigma_min - eps).abs() < 1e-9, "{}", p.cert.sigma_min);
        assert!(p.cert.bound <= 1e-9 && p.cert.certified, "{:?}", p.cert);
        assert!(!found.continuum());
    }

    #[test]
    fn slow_points_without_a_root_are_reported_but_not_certified() {
        let found = find_fixed_points(
            &Slow,
            array![0.0].view(),
            array![[-1.0], [1.0]].view(),
            &FixedPointOpts {
                inits: 16,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!found.points.is_empty());
        for p in &found.points {
            assert!(p.q < 1e-12);
            // bound = 2·1e-7 (1 + s²) / (2e-7 |s|) ≥ 2
            assert!(!p.cert.certified && p.cert.bound >= 2.0, "{:?}", p.cert);
        }
        assert_eq!(found.certified().count(), 0);
    }

    #[test]
    fn a_continuum_is_flagged_and_its_points_are_not_counted() {
        let sys = Relu(4);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let traj = Array2::from_shape_fn((50, 4), |_| 0.5 + rng.random::<f64>());
        let found = find_fixed_points(
            &sys,
            Array1::zeros(4).view(),
            traj.view(),
            &FixedPointOpts {
                inits: 64,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(found.continuum());
        assert!(found.points.len() > 10, "one point per start");
        assert_eq!(found.certified().count(), 0);
        assert!(found.points.iter().all(|p| p.cert.sigma_min < 1e-12));
    }

    #[test]
    fn finds_a_point_where_the_newton_matrix_is_singular() {
        // s' = tanh(s): J − I is singular at the fixed point 0 (a marginal point); LM takes over.
        let sys = Tanh { w: array![1.0] };
        let mut ws = Newton::new(1);
        let c = ws.minimise(&sys, array![0.0].view(), array![0.3].view(), 1e-12, 200);
        assert!(c.q < 1e-12, "q = {}", c.q);
    }
}
