//! Dynamical Similarity Analysis (Ostrow, Eisen, Kozachkov, Fiete, NeurIPS 2023) as a population
//! distance: each network's probe trajectories become a delay-embedded linear operator `A`
//! ([`dmd`]), and two networks are compared up to an orthogonal change of basis
//! ([`orthogonal`]: the angle between `A_x` and `C A_y Cᵀ`, minimised over `C ∈ O(n)`), or by
//! the cheaper transport distance between their eigenvalues ([`wasserstein`]).
//!
//! - [`DsaParams`]: the manifest's parameters and defaults, with their checks;
//! - [`fit_all`]: one operator per network, networks in parallel;
//! - [`pair`]: one distance; [`dsa_matrix`]: every pair, in parallel, each pair a pure function
//!   of its two operators, so the matrix is bit-identical whatever the thread count.
//!
//! Operators of different sizes (a rank clamped to what a network's states hold) are compared
//! zero-padded to the larger size, as the reference's `pad_zeros` does. Everything is `f64`.

pub mod dense;
pub mod dmd;
pub mod orthogonal;
pub mod wasserstein;

use crate::analysis::eig::EigError;
use crate::analysis::linalg::GeometryError;
use dmd::{Dmd, Fit};
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The rank of the reduced operator when neither `rank` nor `variance` is given.
pub const DEFAULT_RANK: usize = 10;

/// Parameters of the `dsa` analysis. Defaults follow the reference (`dsa-metric` 2.0.2) where
/// they fit probe states: `n_delays = 1` and `delay_interval = 1` (an RNN's hidden state is its
/// whole state, so no delays are needed to make it Markov), `lambda = 0` (its
/// `DefaultDMDConfig`), `score = "angular"` (the paper's metric). The rank is the exception:
/// the reference keeps every direction, which makes a 128-unit network's operator 128 × 128 and
/// its orthogonal alignment hours per pair; census keeps `rank = 10` by default, or the fewest
/// directions reaching a `variance` fraction (give one of the two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsaParams {
    #[serde(default = "one")]
    pub n_delays: usize,
    #[serde(default = "one")]
    pub delay_interval: usize,
    #[serde(default)]
    pub rank: Option<usize>,
    #[serde(default)]
    pub variance: Option<f64>,
    #[serde(default)]
    pub lambda: f64,
    #[serde(default)]
    pub score: Score,
}

fn one() -> usize {
    1
}

impl Default for DsaParams {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

/// How a pair of operators is scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// Angular Procrustes over vector fields, radians in `[0, π]`.
    #[default]
    Angular,
    /// Optimal transport between the eigenvalues (squared distances, averaged).
    Wasserstein,
}

/// How many reduced directions each operator keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rank {
    Fixed(usize),
    /// The fewest directions whose squared singular values reach this fraction of the total.
    Variance(f64),
}

impl DsaParams {
    /// The first parameter out of range, as `(field, what is wrong)`.
    pub fn check(&self) -> Option<(&'static str, String)> {
        match (self.rank, self.variance) {
            _ if self.n_delays == 0 => Some(("n_delays", "must be at least 1".into())),
            _ if self.delay_interval == 0 => Some(("delay_interval", "must be at least 1".into())),
            (Some(_), Some(_)) => Some((
                "variance",
                "give `rank` or `variance`, not both".into(),
            )),
            (Some(0), _) => Some(("rank", "must be at least 1".into())),
            (_, Some(v)) if !(v > 0.0 && v <= 1.0) => {
                Some(("variance", format!("must be in (0, 1], got {v}")))
            }
            _ if !(self.lambda >= 0.0 && self.lambda.is_finite()) => {
                Some(("lambda", format!("must be a finite number >= 0, got {}", self.lambda)))
            }
            _ => None,
        }
    }

    pub fn fit(&self) -> Fit {
        Fit {
            n_delays: self.n_delays,
            delay_interval: self.delay_interval,
            rank: match (self.rank, self.variance) {
                (_, Some(v)) => Rank::Variance(v),
                (r, None) => Rank::Fixed(r.unwrap_or(DEFAULT_RANK)),
            },
            lambda: self.lambda,
        }
    }
}

/// What can make DSA fail; `index` is the network's position in the population.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DsaError {
    #[error("network {index}: {rows} state rows of {units} units do not split into {trials} trials")]
    Shape {
        index: usize,
        rows: usize,
        units: usize,
        trials: usize,
    },
    #[error("network {index} has a non-finite state value; states must be finite")]
    NonFinite { index: usize },
    #[error("network {index}: {steps} time steps per trial, but the delay embedding needs at least {needed} (lower `n_delays` or `delay_interval`)")]
    TooFewSteps {
        index: usize,
        steps: usize,
        needed: usize,
    },
    #[error("network {index}: its states never change over time, so there are no dynamics to fit")]
    Constant { index: usize },
    #[error("network {index}: its delay embedding is zero")]
    NoVariance { index: usize },
    #[error("network {index}: the regression for its operator is singular (set `lambda` > 0)")]
    Singular { index: usize },
    #[error("{0}")]
    Linalg(GeometryError),
    #[error("network {index}: eigenvalues of its operator: {error}")]
    Eigen { index: usize, error: EigError },
}

impl DsaError {
    /// The population index of the network the error is about, if it is about one.
    pub fn network(&self) -> Option<usize> {
        match *self {
            DsaError::Shape { index, .. }
            | DsaError::NonFinite { index }
            | DsaError::TooFewSteps { index, .. }
            | DsaError::Constant { index }
            | DsaError::NoVariance { index }
            | DsaError::Singular { index }
            | DsaError::Eigen { index, .. } => Some(index),
            DsaError::Linalg(_) => None,
        }
    }
}

/// One network's probe states (`(T·trials) × N`, time-major) and its trial count.
#[derive(Clone, Copy, Debug)]
pub struct Trajectories<'a> {
    pub states: ArrayView2<'a, f32>,
    pub trials: usize,
}

/// A fitted network, with its spectrum when the score needs it.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub dmd: Dmd,
    pub spectrum: Vec<faer::c64>,
}

/// Every network's operator (and spectrum for the Wasserstein score), networks in parallel.
pub fn fit_all(xs: &[Trajectories], p: &DsaParams) -> Result<Vec<Fitted>, DsaError> {
    let fit = p.fit();
    xs.par_iter()
        .enumerate()
        .map(|(index, x)| {
            let dmd = dmd::fit(index, x.states, x.trials, &fit)?;
            let spectrum = match p.score {
                Score::Angular => Vec::new(),
                Score::Wasserstein => wasserstein::spectrum(dmd.a.view())
                    .map_err(|error| DsaError::Eigen { index, error })?,
            };
            Ok(Fitted { dmd, spectrum })
        })
        .collect()
}

/// `a` zero-padded to `n × n`.
pub fn padded(a: &Array2<f64>, n: usize) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((n, n));
    out.slice_mut(s![..a.nrows(), ..a.ncols()]).assign(a);
    out
}

/// The distance between two fitted networks.
pub fn pair(x: &Fitted, y: &Fitted, score: Score) -> f64 {
    match score {
        Score::Angular => {
            let n = x.dmd.rank().max(y.dmd.rank());
            orthogonal::angular(padded(&x.dmd.a, n).view(), padded(&y.dmd.a, n).view()).angle
        }
        Score::Wasserstein => wasserstein::score(&x.spectrum, &y.spectrum),
    }
}

/// The symmetric matrix of every pair's distance (zero diagonal).
pub fn dsa_matrix(xs: &[Trajectories], p: &DsaParams) -> Result<Array2<f64>, DsaError> {
    let fitted = fit_all(xs, p)?;
    Ok(matrix_of(&fitted, p.score))
}

/// [`dsa_matrix`] from fitted networks.
pub fn matrix_of(fitted: &[Fitted], score: Score) -> Array2<f64> {
    let n = fitted.len();
    let idx: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect();
    let values: Vec<f64> = idx
        .par_iter()
        .map(|&(a, b)| pair(&fitted[a], &fitted[b], score))
        .collect();
    let mut d = Array2::<f64>::zeros((n, n));
    for (&(a, b), &v) in idx.iter().zip(&values) {
        d[(a, b)] = v;
        d[(b, a)] = v;
    }
    d
}

#[cfg(test)]
mod tests;
