//! The per-network half of DSA: the delay-embedded linear operator of a network's probe
//! trajectories, fitted as the reference (`DSA.dmd.DMD`, HAVOK-style principal component
//! regression) fits it.
//!
//! 1. Per trial, the Hankel (delay) embedding: row `t` is `[x_{t+(d−1)τ}, …, x_{t+τ}, x_t]`
//!    (most recent first), `T' = T − (d−1)τ` rows per trial; trials stacked, trial-major.
//! 2. The SVD `Hᵀ = U S Vᵀ`, truncated to the rank rule: `V_r = H U_r S_r⁻¹`.
//! 3. Within each trial, `V₋` = rows `0..T'−1` and `V₊` = rows `1..T'` of `V_r`; the ridge fit
//!    `A = ((V₋ᵀV₋ + λI)⁻¹ V₋ᵀ V₊)ᵀ`, an `r × r` operator with `v_{t+1} ≈ A v_t`.
//!
//! Departure: the rank is never above the numerical rank of `H` (singular values above
//! [`RANK_TOL`] of the largest), so a network with dead units gets a smaller operator (pairs are
//! then compared zero-padded) where the reference would regress on arbitrary null directions.
//! The SVD's sign and basis freedom changes `A` only by an orthogonal similarity, which DSA
//! quotients out; [`Dmd::delay_operator`] is the basis-free operator on delay coordinates.

use super::{DsaError, Rank};
use crate::analysis::eig::LuSolver;
use crate::analysis::linalg;
use ndarray::{s, Array1, Array2, ArrayView2};

/// Singular values below this fraction of the largest count as zero: the states are `f32`
/// (relative resolution 6e-8 per value), so such directions hold rounding, not dynamics.
pub const RANK_TOL: f64 = 1e-6;

/// A fitted network.
#[derive(Clone, Debug)]
pub struct Dmd {
    /// The `r × r` one-step operator on the top `r` right singular vectors (the reference's `A_v`).
    pub a: Array2<f64>,
    /// The top `r` left singular vectors of `Hᵀ` (delay coordinates × `r`).
    pub u: Array2<f64>,
    /// Every singular value of the Hankel matrix, non-increasing.
    pub s: Array1<f64>,
}

impl Dmd {
    pub fn rank(&self) -> usize {
        self.a.nrows()
    }

    /// The operator on delay coordinates, `U_r S_r A S_r⁻¹ U_rᵀ` (the reference's
    /// `A_havok_dmd`): free of the SVD's sign and basis choices.
    pub fn delay_operator(&self) -> Array2<f64> {
        let r = self.rank();
        let mut us = self.u.clone();
        let mut u_inv = self.u.clone();
        for j in 0..r {
            us.column_mut(j).mapv_inplace(|v| v * self.s[j]);
            u_inv.column_mut(j).mapv_inplace(|v| v / self.s[j]);
        }
        us.dot(&self.a).dot(&u_inv.t())
    }
}

/// How the operator is fitted (the reference's `n_delays`, `delay_interval`, rank rule, `lamb`).
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    pub n_delays: usize,
    pub delay_interval: usize,
    pub rank: Rank,
    pub lambda: f64,
}

/// Fits network `index`'s operator from its states `x` (`(T·trials) × N`, time-major: row
/// `t·trials + k` is trial `k` at step `t`).
pub fn fit(index: usize, x: ArrayView2<f32>, trials: usize, p: &Fit) -> Result<Dmd, DsaError> {
    let (h, per_trial) = hankel(index, x, trials, p)?;
    let (s, u_all) = linalg::svd_values_right(h.view()).map_err(DsaError::Linalg)?;
    if s.first().is_none_or(|&top| top == 0.0) {
        return Err(DsaError::NoVariance { index });
    }
    let r = rank(&s, p.rank);
    let u = u_all.slice(s![.., ..r]).to_owned();
    let mut v = h.dot(&u);
    for j in 0..r {
        v.column_mut(j).mapv_inplace(|e| e / s[j]);
    }
    let a = regress(index, &v, trials, per_trial, p.lambda)?;
    Ok(Dmd { a, u, s })
}

/// The stacked delay embedding (`(trials·T') × (N·d)`, `f64`) and `T'`.
pub fn hankel(
    index: usize,
    x: ArrayView2<f32>,
    trials: usize,
    p: &Fit,
) -> Result<(Array2<f64>, usize), DsaError> {
    let (rows, n) = x.dim();
    if trials == 0 || rows % trials != 0 || n == 0 {
        return Err(DsaError::Shape {
            index,
            rows,
            units: n,
            trials,
        });
    }
    if !x.iter().all(|v| v.is_finite()) {
        return Err(DsaError::NonFinite { index });
    }
    let steps = rows / trials;
    let window = (p.n_delays - 1) * p.delay_interval;
    if steps < window + 2 {
        return Err(DsaError::TooFewSteps {
            index,
            steps,
            needed: window + 2,
        });
    }
    let moves = (1..steps).any(|t| {
        let (now, before) = (t * trials, (t - 1) * trials);
        x.slice(s![now..now + trials, ..]) != x.slice(s![before..before + trials, ..])
    });
    if !moves {
        return Err(DsaError::Constant { index });
    }
    let per_trial = steps - window;
    let mut h = Array2::<f64>::zeros((trials * per_trial, n * p.n_delays));
    for k in 0..trials {
        for t in 0..per_trial {
            let mut row = h.row_mut(k * per_trial + t);
            for d in 0..p.n_delays {
                let src = x.row((t + window - d * p.delay_interval) * trials + k);
                for (dst, &v) in row.slice_mut(s![d * n..(d + 1) * n]).iter_mut().zip(src) {
                    *dst = v as f64;
                }
            }
        }
    }
    Ok((h, per_trial))
}

/// The rank rule, clamped to the numerical rank (at least 1 when `s₁ > 0`).
pub fn rank(s: &Array1<f64>, rule: Rank) -> usize {
    let numerical = s.iter().take_while(|&&v| v > s[0] * RANK_TOL).count();
    let wanted = match rule {
        Rank::Fixed(r) => r,
        Rank::Variance(fraction) => {
            let total: f64 = s.iter().map(|v| v * v).sum();
            let mut cum = 0.0;
            let below = s
                .iter()
                .take_while(|&&v| {
                    cum += v * v;
                    cum / total < fraction
                })
                .count();
            below + 1
        }
    };
    wanted.min(numerical).max(1)
}

/// Ridge regression of each trial's next reduced state on its current one.
fn regress(
    index: usize,
    v: &Array2<f64>,
    trials: usize,
    per_trial: usize,
    lambda: f64,
) -> Result<Array2<f64>, DsaError> {
    let r = v.ncols();
    let mut gram = Array2::<f64>::zeros((r, r));
    let mut cross = Array2::<f64>::zeros((r, r));
    for k in 0..trials {
        let block = v.slice(s![k * per_trial..(k + 1) * per_trial, ..]);
        let (minus, plus) = (
            block.slice(s![..per_trial - 1, ..]),
            block.slice(s![1.., ..]),
        );
        gram += &minus.t().dot(&minus);
        cross += &minus.t().dot(&plus);
    }
    gram.diag_mut().mapv_inplace(|g| g + lambda);
    let mut lu = LuSolver::new(r);
    if !lu.factor(&gram) {
        return Err(DsaError::Singular { index });
    }
    let mut a = Array2::<f64>::zeros((r, r));
    for j in 0..r {
        let mut col = cross.column(j).to_owned();
        if !lu.solve_factored(&mut col) {
            return Err(DsaError::Singular { index });
        }
        a.row_mut(j).assign(&col);
    }
    Ok(a)
}
