//! Dense linear algebra for the geometry analyses: the one file that names faer types for SVD,
//! symmetric eigendecomposition and matrix products. Everything takes and returns `ndarray`
//! arrays in `f64`, and runs faer sequentially (`Par::Seq`): callers parallelise over networks
//! or blocks with rayon, so a result never depends on the thread count.
//!
//! - [`thin_svd`], [`svd_values_right`], [`singular_values`], [`nuclear_norm`]: SVD of any
//!   real matrix (small well-conditioned ones by one-sided Jacobi);
//! - [`check_states`], [`no_variance`]: the input checks shared by the geometry metrics;
//! - [`sym_eigen`]: eigenvalues (ascending) and eigenvectors of a symmetric matrix;
//! - [`matmul`], [`matmul_tn`]: `A·B` and `Aᵀ·B`;
//! - [`centred`]: an `f32` state matrix as column-centred `f64` (column-major);
//! - [`all_pairs`]: the blocked, parallel engine behind every population distance matrix.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{Accum, Mat, MatRef, Par};
use faer_ext::{IntoFaer, IntoNdarray};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

/// Errors of the geometry numerics; each says which input was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryError {
    #[error("{op} of a {rows}×{cols} matrix did not converge")]
    NoConvergence {
        op: &'static str,
        rows: usize,
        cols: usize,
    },
    #[error("network {index} has a non-finite state value; states must be finite")]
    NonFinite { index: usize },
    #[error("network {index} has {got} samples, network 0 has {expected}: every network must be driven by the same probe batch")]
    SampleMismatch {
        index: usize,
        expected: usize,
        got: usize,
    },
    #[error("network {index} has {samples} samples; at least 2 are needed to centre")]
    TooFewSamples { index: usize, samples: usize },
    #[error("variance fraction {0} is outside (0, 1]")]
    BadVariance(f64),
    #[error("tolerance {0} must be a finite number ≥ 0 (0 computes every distance exactly)")]
    BadTolerance(f64),
    #[error("sketch size {0}: a sketch needs at least 1 sample")]
    BadSketch(usize),
}

/// Checks a population of state matrices (samples × units) and returns the common sample
/// count: every network needs the same samples (≥ 2) and finite values.
pub fn check_states(xs: &[ArrayView2<f32>]) -> Result<usize, GeometryError> {
    let expected = xs.first().map_or(0, |x| x.nrows());
    for (index, x) in xs.iter().enumerate() {
        if x.nrows() != expected {
            return Err(GeometryError::SampleMismatch {
                index,
                expected,
                got: x.nrows(),
            });
        }
        if x.nrows() < 2 {
            return Err(GeometryError::TooFewSamples {
                index,
                samples: x.nrows(),
            });
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(GeometryError::NonFinite { index });
        }
    }
    Ok(expected)
}

/// Whether a centred matrix with squared Frobenius norm `centred2` carries no variance: zero,
/// or only the rounding left by centring constant columns of raw squared norm `raw2`.
pub fn no_variance(centred2: f64, raw2: f64) -> bool {
    centred2 <= 1e-24 * raw2 || centred2 == 0.0
}

/// Squared Frobenius norm of an `f32` matrix, accumulated in `f64`.
pub fn norm2_f32(x: ArrayView2<f32>) -> f64 {
    x.iter().map(|&v| (v as f64) * (v as f64)).sum()
}

fn faer_ref<'a>(a: &'a ArrayView2<'_, f64>) -> MatRef<'a, f64> {
    a.view().into_faer()
}

fn to_ndarray(m: MatRef<'_, f64>) -> Array2<f64> {
    m.into_ndarray().to_owned()
}

/// Columns of `x` minus their means, in `f64`, stored column-major (as faer's products like).
pub fn centred(x: ArrayView2<f32>) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros(x.dim().f());
    centred_into(x, out.view_mut());
    out
}

/// [`centred`] written into `out` (same shape as `x`). Means are summed row by row and the
/// copy goes in blocks of 64 rows, so row-major states fill a column-major output without
/// striding through memory.
pub fn centred_into(x: ArrayView2<f32>, mut out: ArrayViewMut2<f64>) {
    let (n, cols) = x.dim();
    let mut means = vec![0.0f64; cols];
    for row in x.rows() {
        means.iter_mut().zip(row).for_each(|(m, &v)| *m += v as f64);
    }
    means.iter_mut().for_each(|m| *m /= n as f64);
    for r0 in (0..n).step_by(64) {
        let r1 = (r0 + 64).min(n);
        for (j, &m) in means.iter().enumerate() {
            for i in r0..r1 {
                out[(i, j)] = x[(i, j)] as f64 - m;
            }
        }
    }
}

/// `A·B`.
pub fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
    faer::linalg::matmul::matmul(
        out.as_mut(),
        Accum::Replace,
        faer_ref(&a),
        faer_ref(&b),
        1.0,
        Par::Seq,
    );
    to_ndarray(out.as_ref())
}

/// `Aᵀ·B`.
pub fn matmul_tn(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Mat::<f64>::zeros(a.ncols(), b.ncols());
    faer::linalg::matmul::matmul(
        out.as_mut(),
        Accum::Replace,
        faer_ref(&a).transpose(),
        faer_ref(&b),
        1.0,
        Par::Seq,
    );
    to_ndarray(out.as_ref())
}

/// Singular values, then `U` and `V` when requested.
type SvdParts = (Array1<f64>, Option<Array2<f64>>, Option<Array2<f64>>);

fn run_svd(a: ArrayView2<f64>, want_u: bool, want_v: bool) -> Result<SvdParts, GeometryError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    if k == 0 {
        let u = want_u.then(|| Array2::zeros((m, 0)));
        let v = want_v.then(|| Array2::zeros((n, 0)));
        return Ok((Array1::zeros(0), u, v));
    }
    let mut s = faer::diag::Diag::<f64>::zeros(k);
    let mut u = want_u.then(|| Mat::<f64>::zeros(m, k));
    let mut v = want_v.then(|| Mat::<f64>::zeros(n, k));
    let mode = |w: bool| {
        if w {
            ComputeSvdVectors::Thin
        } else {
            ComputeSvdVectors::No
        }
    };
    let scratch = svd::svd_scratch::<f64>(
        m,
        n,
        mode(want_u),
        mode(want_v),
        Par::Seq,
        Default::default(),
    );
    let mut buf = MemBuffer::new(scratch);
    svd::svd(
        faer_ref(&a),
        s.as_mut(),
        u.as_mut().map(|u| u.as_mut()),
        v.as_mut().map(|v| v.as_mut()),
        Par::Seq,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|_| GeometryError::NoConvergence {
        op: "SVD",
        rows: m,
        cols: n,
    })?;
    let values = Array1::from_iter(s.column_vector().iter().copied());
    Ok((
        values,
        u.map(|u| to_ndarray(u.as_ref())),
        v.map(|v| to_ndarray(v.as_ref())),
    ))
}

/// `(U, s, V)` of a thin SVD.
pub type ThinSvd = (Array2<f64>, Array1<f64>, Array2<f64>);

/// Thin SVD `A = U diag(s) Vᵀ`, singular values non-increasing.
pub fn thin_svd(a: ArrayView2<f64>) -> Result<ThinSvd, GeometryError> {
    let (s, u, v) = run_svd(a, true, true)?;
    Ok((u.expect("requested"), s, v.expect("requested")))
}

/// Singular values (non-increasing) and right singular vectors (columns), without `U`: the
/// cheap part of the SVD of a tall matrix.
pub fn svd_values_right(a: ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>), GeometryError> {
    let (s, _, v) = run_svd(a, false, true)?;
    Ok((s, v.expect("requested")))
}

/// Singular values, non-increasing. Small matrices (the per-pair blocks of SVCCA) go through
/// one-sided Jacobi, several times faster there than a general SVD and as accurate.
pub fn singular_values(a: ArrayView2<f64>) -> Result<Array1<f64>, GeometryError> {
    if a.nrows().min(a.ncols()) <= JACOBI_MAX {
        if let Some(s) = jacobi_singular_values(a) {
            return Ok(s);
        }
    }
    Ok(run_svd(a, false, false)?.0)
}

/// Sum of the singular values, by the general SVD: the shape metric's blocks `S_a U_aᵀ U_b S_b`
/// are strongly graded, where one-sided Jacobi needs many sweeps (3–4× slower than faer at
/// 16–32 columns, measured).
pub fn nuclear_norm(a: ArrayView2<f64>) -> Result<f64, GeometryError> {
    Ok(run_svd(a, false, false)?.0.sum())
}

/// Largest `min(rows, cols)` for which [`singular_values`] uses Jacobi.
const JACOBI_MAX: usize = 32;

/// One-sided (Hestenes) Jacobi: orthogonalise the columns of `A` (of `Aᵀ` if wider than tall)
/// by plane rotations until every pair is orthogonal to `4·rows·ε` relative; the singular
/// values are then the column norms. `None` if 60 sweeps do not get there.
fn jacobi_singular_values(a: ArrayView2<f64>) -> Option<Array1<f64>> {
    let a = if a.ncols() > a.nrows() { a.t() } else { a };
    let (m, n) = a.dim();
    let tol = 4.0 * m.max(1) as f64 * f64::EPSILON;
    let mut cols: Vec<Vec<f64>> = a.columns().into_iter().map(|c| c.to_vec()).collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(u, v)| u * v).sum::<f64>();
    let mut converged = false;
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let (alpha, beta, gamma) = (
                    dot(&cols[p], &cols[p]),
                    dot(&cols[q], &cols[q]),
                    dot(&cols[p], &cols[q]),
                );
                if gamma.abs() <= tol * (alpha * beta).sqrt() || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                let (left, right) = cols.split_at_mut(q);
                for (x, y) in left[p].iter_mut().zip(right[0].iter_mut()) {
                    let (u, v) = (*x, *y);
                    *x = c * u - s * v;
                    *y = s * u + c * v;
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return None;
    }
    let mut s: Vec<f64> = cols.iter().map(|c| dot(c, c).sqrt()).collect();
    s.sort_by(|x, y| y.total_cmp(x));
    Some(Array1::from(s))
}

/// Eigenvalues (ascending) and orthonormal eigenvectors (columns) of a symmetric matrix; only
/// the lower triangle is read.
pub fn sym_eigen(a: ArrayView2<f64>) -> Result<(Array1<f64>, Array2<f64>), GeometryError> {
    let n = a.nrows();
    assert_eq!(n, a.ncols(), "sym_eigen needs a square matrix");
    let mut s = faer::diag::Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let scratch = evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    );
    let mut buf = MemBuffer::new(scratch);
    evd::self_adjoint_evd(
        faer_ref(&a),
        s.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|_| GeometryError::NoConvergence {
        op: "symmetric eigendecomposition",
        rows: n,
        cols: n,
    })?;
    Ok((
        Array1::from_iter(s.column_vector().iter().copied()),
        to_ndarray(u.as_ref()),
    ))
}

/// Number of `f64` values one side of a block may hold (64 MiB): bounds memory per thread
/// whatever the population size.
const BLOCK_VALUES: usize = 1 << 23;

/// Number of `f64` values of all factors together below which each group's factors are built
/// once and kept (2 GiB), instead of being rebuilt for every block they enter.
const CACHE_VALUES: usize = 1 << 28;

/// Consecutive items grouped so each group's factors hold at most `BLOCK_VALUES` numbers
/// (a single item may exceed it), and about 16 groups or more when that leaves at least 256
/// columns a group, so blocks keep every thread busy. Depends only on the sizes, never on the
/// thread count.
fn groups(rows: usize, cols: &[usize]) -> Vec<std::ops::Range<usize>> {
    let total: usize = cols.iter().sum();
    let budget = (BLOCK_VALUES / rows.max(1))
        .min(total.div_ceil(16).max(256))
        .max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut width = 0;
    for (i, &c) in cols.iter().enumerate() {
        if i > start && width + c > budget {
            out.push(start..i);
            start = i;
            width = 0;
        }
        width += c;
    }
    if start < cols.len() {
        out.push(start..cols.len());
    }
    out
}

/// Stack the factors of `range` side by side (column-major, `rows × Σ cols`).
fn stack<F>(
    rows: usize,
    cols: &[usize],
    range: std::ops::Range<usize>,
    factor: &F,
) -> (Array2<f64>, Vec<usize>)
where
    F: Fn(usize, ArrayViewMut2<f64>) + Sync,
{
    let offsets: Vec<usize> = std::iter::once(0)
        .chain(range.clone().scan(0, |acc, i| {
            *acc += cols[i];
            Some(*acc)
        }))
        .collect();
    let mut out = Array2::<f64>::zeros((rows, *offsets.last().unwrap()).f());
    for (j, i) in range.enumerate() {
        factor(i, out.slice_mut(s![.., offsets[j]..offsets[j + 1]]));
    }
    (out, offsets)
}

/// For `count` items, each with a factor `F_i` (`rows × cols[i]`, written by `factor(i, out)`),
/// evaluates `pair(a, b, F_aᵀ F_b)` for every `a ≤ b` (diagonal included) and returns the
/// results in row-major upper-triangle order `(0,0), (0,1), …, (1,1), …`.
///
/// The cross products are computed block by block (groups of consecutive items, at most
/// `BLOCK_VALUES` numbers a side), blocks in parallel, so no `(Σ cols)²` matrix ever exists and
/// each value depends only on the inputs, not on the number of threads. Factors are built once
/// per group when all of them fit in `CACHE_VALUES`, else rebuilt once per block they enter, so
/// `factor` should then be cheap next to the products.
pub fn all_pairs<R, F, P>(rows: usize, cols: &[usize], factor: F, pair: P) -> Vec<R>
where
    R: Send,
    F: Fn(usize, ArrayViewMut2<f64>) + Sync,
    P: Fn(usize, usize, ArrayView2<f64>) -> R + Sync,
{
    all_pairs_cached(rows, cols, CACHE_VALUES, factor, pair)
}

fn all_pairs_cached<R, F, P>(
    rows: usize,
    cols: &[usize],
    cache_values: usize,
    factor: F,
    pair: P,
) -> Vec<R>
where
    R: Send,
    F: Fn(usize, ArrayViewMut2<f64>) + Sync,
    P: Fn(usize, usize, ArrayView2<f64>) -> R + Sync,
{
    let gs = groups(rows, cols);
    let total: usize = cols.iter().sum();
    let cache: Option<Vec<(Array2<f64>, Vec<usize>)>> =
        (rows.saturating_mul(total) <= cache_values).then(|| {
            gs.par_iter()
                .map(|g| stack(rows, cols, g.clone(), &factor))
                .collect()
        });
    let tiles: Vec<(usize, usize)> = (0..gs.len())
        .flat_map(|i| (i..gs.len()).map(move |j| (i, j)))
        .collect();
    let mut results: Vec<(usize, usize, R)> = tiles
        .par_iter()
        .flat_map_iter(|&(gi, gj)| {
            let (own_i, own_j);
            let ((fi, oi), (fj, oj)) = match &cache {
                Some(c) => ((&c[gi].0, &c[gi].1), (&c[gj].0, &c[gj].1)),
                None => {
                    own_i = stack(rows, cols, gs[gi].clone(), &factor);
                    own_j = if gi == gj {
                        None
                    } else {
                        Some(stack(rows, cols, gs[gj].clone(), &factor))
                    };
                    let j = own_j.as_ref().unwrap_or(&own_i);
                    ((&own_i.0, &own_i.1), (&j.0, &j.1))
                }
            };
            let cross = matmul_tn(fi.view(), fj.view());
            let mut out = Vec::new();
            for (ai, a) in gs[gi].clone().enumerate() {
                for (bj, b) in gs[gj].clone().enumerate() {
                    if a <= b {
                        let block = cross.slice(s![oi[ai]..oi[ai + 1], oj[bj]..oj[bj + 1]]);
                        out.push((a, b, pair(a, b, block)));
                    }
                }
            }
            out
        })
        .collect();
    results.sort_unstable_by_key(|&(a, b, _)| (a, b));
    results.into_iter().map(|(_, _, r)| r).collect()
}

/// Symmetric `count × count` matrix from [`all_pairs`]-ordered off-diagonal values, zero diagonal.
pub fn symmetric_from_pairs(count: usize, upper: &[f64]) -> Array2<f64> {
    let mut d = Array2::<f64>::zeros((count, count));
    let mut k = 0;
    for a in 0..count {
        for b in a..count {
            if a != b {
                d[(a, b)] = upper[k];
                d[(b, a)] = upper[k];
            }
            k += 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn svd_reconstructs_and_orders() {
        let a = array![[3.0, 1.0], [1.0, 3.0], [0.0, 2.0]];
        let (u, s, v) = thin_svd(a.view()).unwrap();
        let rec = matmul(u.view(), (&v * &s).t());
        assert!((&rec - &a).iter().all(|e| e.abs() < 1e-12));
        assert!(s[0] >= s[1]);
        let (s2, _) = svd_values_right(a.view()).unwrap();
        assert!((&s2 - &s).iter().all(|e| e.abs() < 1e-12));
    }

    #[test]
    fn jacobi_agrees_with_the_general_svd() {
        for (m, n) in [(9, 5), (5, 9), (20, 20), (1, 4)] {
            let a = Array2::from_shape_fn((m, n), |(i, j)| {
                (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0
            });
            let general = run_svd(a.view(), false, false).unwrap().0;
            let jacobi = jacobi_singular_values(a.view()).expect("converges");
            assert!(
                (&general - &jacobi)
                    .iter()
                    .all(|e| e.abs() < 1e-12 * general[0]),
                "{m}×{n}"
            );
        }
        // Rank-deficient: one zero singular value stays zero.
        let a = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let s = jacobi_singular_values(a.view()).expect("converges");
        assert!(
            (s[0] - 70f64.sqrt()).abs() < 1e-13 && s[1].abs() < 1e-13,
            "{s}"
        );
    }

    #[test]
    fn sym_eigen_of_known_matrix() {
        let (l, v) = sym_eigen(array![[2.0, 1.0], [1.0, 2.0]].view()).unwrap();
        assert!((l[0] - 1.0).abs() < 1e-12 && (l[1] - 3.0).abs() < 1e-12);
        assert!((v[(0, 1)].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn all_pairs_matches_direct_products_across_blocks() {
        // 300 items, 900 columns: several groups of at most 256 columns.
        let rows = 10_000;
        let cols: Vec<usize> = (0..300).map(|i| 1 + i % 5).collect();
        assert!(groups(rows, &cols).len() > 1);
        let fill = |i: usize, mut out: ArrayViewMut2<f64>| {
            for ((r, c), v) in out.indexed_iter_mut() {
                *v = ((r * 7 + c * 13 + i * 31) % 17) as f64 - 8.0;
            }
        };
        let sums = all_pairs(rows, &cols, fill, |_, _, blk| blk.sum());
        assert_eq!(
            sums,
            all_pairs_cached(rows, &cols, 0, fill, |_, _, blk| blk.sum()),
            "rebuilt factors"
        );
        // Integer-valued factors: every product is exact, so block and direct results agree bit for bit.
        for a in (0..300).step_by(37) {
            for b in (a..300).filter(|b| b % 53 == 0 || *b == a) {
                let mut fa = Array2::zeros((rows, cols[a]));
                let mut fb = Array2::zeros((rows, cols[b]));
                fill(a, fa.view_mut());
                fill(b, fb.view_mut());
                let want = matmul_tn(fa.view(), fb.view()).sum();
                let pos = (0..a).map(|r| 300 - r).sum::<usize>() + (b - a);
                assert_eq!(sums[pos], want, "pair ({a},{b})");
            }
        }
    }
}
