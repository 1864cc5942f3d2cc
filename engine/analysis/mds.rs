//! Multidimensional scaling of a distance matrix (SPEC §6), in `f64`.
//!
//! - [`classical_mds`] (Torgerson): double-centre the squared distances,
//!   `B = −½ J D² J`, and take the top `dims` eigenvectors scaled by `√λ` (negative eigenvalues,
//!   from non-Euclidean distances, count as 0). Each axis's sign is fixed so that its largest
//!   coordinate in absolute value is positive, so the result is deterministic.
//! - [`smacof`]: metric SMACOF by Guttman transforms from a given start, as scikit-learn's
//!   `_smacof_single` (raw stress `½ Σ (d̂ − d)²`; stop when the decrease of stress divided by
//!   the configuration's total norm falls below `eps`).
//! - [`smacof_best`]: several starts (the classical solution, then seeded uniform random
//!   configurations), keeping the lowest stress; [`mds`] is the default embedding, SMACOF from
//!   the classical solution.

use crate::analysis::linalg::{self, GeometryError};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MdsError {
    #[error("MDS needs a square distance matrix, got {rows}×{cols}")]
    NotSquare { rows: usize, cols: usize },
    #[error("distance matrix entry ({row}, {col}) is {value}; distances must be finite and ≥ 0")]
    BadDistance { row: usize, col: usize, value: f64 },
    #[error("start configuration has {rows} rows, expected one per point ({expected})")]
    BadInit { rows: usize, expected: usize },
    #[error(transparent)]
    Linalg(#[from] GeometryError),
}

fn check(d: ArrayView2<f64>) -> Result<(), MdsError> {
    let (rows, cols) = d.dim();
    if rows != cols {
        return Err(MdsError::NotSquare { rows, cols });
    }
    match d
        .indexed_iter()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        Some(((row, col), &value)) => Err(MdsError::BadDistance { row, col, value }),
        None => Ok(()),
    }
}

/// Classical (Torgerson) MDS: `n × dims` coordinates, centred.
pub fn classical_mds(d: ArrayView2<f64>, dims: usize) -> Result<Array2<f64>, MdsError> {
    check(d)?;
    let n = d.nrows();
    let sq = d.mapv(|v| v * v);
    let row_mean = sq.mean_axis(Axis(1)).unwrap_or_else(|| Array1::zeros(0));
    let all_mean = row_mean.mean().unwrap_or(0.0);
    let b = Array2::from_shape_fn((n, n), |(i, j)| {
        -0.5 * (sq[(i, j)] - row_mean[i] - row_mean[j] + all_mean)
    });
    let (values, vectors) = linalg::sym_eigen(b.view())?;
    let mut out = Array2::zeros((n, dims));
    for k in 0..dims.min(n) {
        let idx = n - 1 - k;
        let mut v = vectors.column(idx).to_owned();
        let peak = v
            .iter()
            .copied()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if peak < 0.0 {
            v.mapv_inplace(|x| -x);
        }
        out.column_mut(k).assign(&(v * values[idx].max(0.0).sqrt()));
    }
    Ok(out)
}

/// Metric SMACOF from `init` (`n × dims`): the final configuration and its raw stress
/// (as scikit-learn, the stress of the configuration before the last Guttman transform).
pub fn smacof(
    d: ArrayView2<f64>,
    init: ArrayView2<f64>,
    max_iter: usize,
    eps: f64,
) -> Result<(Array2<f64>, f64), MdsError> {
    check(d)?;
    let n = d.nrows();
    if init.nrows() != n {
        return Err(MdsError::BadInit {
            rows: init.nrows(),
            expected: n,
        });
    }
    let mut x = init.to_owned();
    let mut stress = 0.0;
    let mut old: Option<f64> = None;
    for _ in 0..max_iter {
        // One Guttman transform, row by row: X'_i = (1/n) Σ_j B_ij X_j.
        let rows: Vec<(Array1<f64>, f64)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let xi = x.row(i);
                let mut new = Array1::<f64>::zeros(x.ncols());
                let (mut diag, mut row_stress) = (0.0, 0.0);
                for j in 0..n {
                    let dist = xi
                        .iter()
                        .zip(x.row(j))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt();
                    row_stress += (dist - d[(i, j)]).powi(2);
                    let ratio = d[(i, j)] / if dist == 0.0 { 1e-5 } else { dist };
                    if j != i {
                        new.scaled_add(-ratio, &x.row(j));
                        diag += ratio;
                    }
                }
                new.scaled_add(diag, &xi);
                (new / n as f64, row_stress)
            })
            .collect();
        stress = rows.iter().map(|r| r.1).sum::<f64>() / 2.0;
        for (i, (row, _)) in rows.into_iter().enumerate() {
            x.row_mut(i).assign(&row);
        }
        let norm: f64 = x.rows().into_iter().map(|r| r.dot(&r).sqrt()).sum();
        let rel = stress / norm;
        if old.is_some_and(|o| o - rel < eps) {
            break;
        }
        old = Some(rel);
    }
    Ok((x, stress))
}

/// Parameters of [`smacof_best`]; defaults as scikit-learn's metric MDS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmacofParams {
    pub n_init: usize,
    pub max_iter: usize,
    pub eps: f64,
    pub seed: u64,
}

impl Default for SmacofParams {
    fn default() -> Self {
        SmacofParams {
            n_init: 4,
            max_iter: 300,
            eps: 1e-3,
            seed: 0,
        }
    }
}

/// SMACOF from the classical solution and `n_init − 1` seeded random starts (uniform in
/// `[0, 1)`); the lowest stress wins, the earliest start on ties.
pub fn smacof_best(
    d: ArrayView2<f64>,
    dims: usize,
    p: SmacofParams,
) -> Result<(Array2<f64>, f64), MdsError> {
    let n = d.nrows();
    let mut best = smacof(d, classical_mds(d, dims)?.view(), p.max_iter, p.eps)?;
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    for _ in 1..p.n_init {
        let init = Array2::from_shape_simple_fn((n, dims), || rng.random::<f64>());
        let run = smacof(d, init.view(), p.max_iter, p.eps)?;
        if run.1 < best.1 {
            best = run;
        }
    }
    Ok(best)
}

/// The default embedding: SMACOF (300 iterations, `eps = 1e-3`) from the classical solution.
pub fn mds(d: ArrayView2<f64>, dims: usize) -> Result<Array2<f64>, MdsError> {
    Ok(smacof_best(
        d,
        dims,
        SmacofParams {
            n_init: 1,
            ..SmacofParams::default()
        },
    )?
    .0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::s;

    fn distances(x: ArrayView2<f64>) -> Array2<f64> {
        let n = x.nrows();
        Array2::from_shape_fn((n, n), |(i, j)| {
            (&x.row(i) - &x.row(j)).mapv(|v| v * v).sum().sqrt()
        })
    }

    /// Largest coordinate error after the best rotation/reflection of `y` onto `x` (both centred).
    fn procrustes_error(x: ArrayView2<f64>, y: ArrayView2<f64>) -> f64 {
        let (u, _, v) = linalg::thin_svd(linalg::matmul_tn(y, x).view()).unwrap();
        let aligned = linalg::matmul(y, linalg::matmul(u.view(), v.t()).view());
        (&aligned - &x).iter().fold(0.0, |m, e| m.max(e.abs()))
    }

    fn configuration() -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = Array2::from_shape_simple_fn((40, 2), || rng.random::<f64>() * 10.0);
        let mean = x.mean_axis(Axis(0)).unwrap();
        x - &mean
    }

    #[test]
    fn classical_recovers_a_planar_configuration() {
        let x = configuration();
        let y = classical_mds(distances(x.view()).view(), 2).unwrap();
        assert!(procrustes_error(x.view(), y.view()) < 1e-6);
        assert!(
            y.slice(s![.., 0]).iter().map(|v| v * v).sum::<f64>()
                >= y.slice(s![.., 1]).iter().map(|v| v * v).sum::<f64>()
        );
    }

    #[test]
    fn smacof_reaches_zero_stress_from_random_and_classical_starts() {
        let x = configuration();
        let d = distances(x.view());
        let (y, stress) = smacof(
            d.view(),
            classical_mds(d.view(), 2).unwrap().view(),
            300,
            1e-3,
        )
        .unwrap();
        assert!(stress < 1e-12, "{stress}");
        assert_eq!(mds(d.view(), 2).unwrap(), y);
        assert!(procrustes_error(x.view(), y.view()) < 1e-6);
        let (z, stress) = smacof_best(
            d.view(),
            2,
            SmacofParams {
                n_init: 3,
                max_iter: 3000,
                eps: 1e-12,
                seed: 1,
            },
        )
        .unwrap();
        assert!(stress < 1e-12 && procrustes_error(x.view(), z.view()) < 1e-6);
        // From a random start alone SMACOF descends: stress far below that of the start.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let init = Array2::from_shape_simple_fn((40, 2), || rng.random::<f64>());
        let (_, start) = smacof(d.view(), init.view(), 1, 0.0).unwrap();
        let (_, s) = smacof(d.view(), init.view(), 3000, 1e-12).unwrap();
        assert!(s < 0.05 * start, "{s} vs {start}");
    }

    #[test]
    fn bad_matrices_are_errors() {
        let d = Array2::from_shape_vec((2, 2), vec![0.0, f64::NAN, 1.0, 0.0]).unwrap();
        assert!(matches!(
            classical_mds(d.view(), 2),
            Err(MdsError::BadDistance { row: 0, col: 1, .. })
        ));
        assert!(matches!(
            classical_mds(Array2::zeros((2, 3)).view(), 2),
            Err(MdsError::NotSquare { .. })
        ));
    }
}
