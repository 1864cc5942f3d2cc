//! The faer calls of the dynamics analyses, run sequentially (`Par::Seq`: the engine
//! parallelises over networks, and results must not depend on the thread count).
//!
//! - [`eigen`]: eigendecomposition of a real non-symmetric matrix with right eigenvectors
//!   (columns of `right`) and left eigenvectors normalised so that `lᵢᵀ rⱼ = δᵢⱼ` (plain
//!   transpose, not conjugate): `left` is the transpose of `right⁻¹`, so the biorthogonality is
//!   exact up to rounding even for non-normal matrices. When `right` is numerically singular
//!   (repeated eigenvalues), faer's own left eigenvectors are used, each normalised. For a
//!   defective (non-diagonalisable) matrix the left vectors are not meaningful; Jacobians of
//!   trained networks are diagonalisable in practice.
//! - [`LuSolver`]: a reusable LU workspace (partial pivoting) for the Newton and
//!   Levenberg–Marquardt steps of fixed-point finding; it allocates once per dimension.

use faer::c64;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::lu::partial_pivoting::{factor, solve};
use faer::perm::PermRef;
use faer::{Mat, Par};
use ndarray::{Array1, Array2, ArrayView2};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EigError {
    #[error("eigendecomposition of a {n}×{n} matrix did not converge")]
    NoConvergence { n: usize },
    #[error(
        "eigendecomposition needs a finite square matrix, got {rows}×{cols} (finite: {finite})"
    )]
    BadInput {
        rows: usize,
        cols: usize,
        finite: bool,
    },
}

/// Eigenvalues in faer's order (conjugate pairs adjacent, positive imaginary part first) with
/// right eigenvectors as columns of `right` and left eigenvectors as columns of `left`.
/// `biorthogonal` is false when the right eigenvectors are numerically dependent (a repeated
/// eigenvalue, or a defective matrix): `left` then holds faer's left eigenvectors, each scaled
/// to `lᵢᵀ rᵢ = 1`, and `lᵢᵀ rⱼ` may be non-zero within a repeated eigenvalue.
#[derive(Debug, Clone)]
pub struct Eigen {
    pub values: Vec<c64>,
    pub right: Array2<c64>,
    pub left: Array2<c64>,
    pub biorthogonal: bool,
}

pub fn eigen(a: ArrayView2<f64>) -> Result<Eigen, EigError> {
    let (rows, cols) = a.dim();
    let finite = a.iter().all(|v| v.is_finite());
    if rows != cols || !finite {
        return Err(EigError::BadInput { rows, cols, finite });
    }
    let n = rows;
    let a_f = Mat::<f64>::from_fn(n, n, |i, j| a[(i, j)]);
    let mut s_re = faer::diag::Diag::<f64>::zeros(n);
    let mut s_im = faer::diag::Diag::<f64>::zeros(n);
    let mut ur = Mat::<f64>::zeros(n, n);
    real_evd(a_f.as_ref(), &mut s_re, &mut s_im, None, &mut ur)?;
    // faer stores a conjugate pair (j, j+1) as the real and imaginary parts of the vector of
    // λ_j = re + i·im.
    let values: Vec<c64> = (0..n).map(|j| c64::new(s_re[j], s_im[j])).collect();
    let right = to_complex(&ur, &s_im, false);
    let (left, biorthogonal) = match inverse_transpose(&right) {
        Some(l) => (l, true),
        None => {
            // faer's left vectors u satisfy uᴴ A = λ uᴴ, so l = conj(u).
            let mut ul = Mat::<f64>::zeros(n, n);
            real_evd(a_f.as_ref(), &mut s_re, &mut s_im, Some(&mut ul), &mut ur)?;
            (normalise_each(&to_complex(&ul, &s_im, true), &right), false)
        }
    };
    Ok(Eigen {
        values,
        right: Array2::from_shape_fn((n, n), |(i, j)| right[(i, j)]),
        left: Array2::from_shape_fn((n, n), |(i, j)| left[(i, j)]),
        biorthogonal,
    })
}

fn real_evd(
    a: faer::MatRef<'_, f64>,
    s_re: &mut faer::diag::Diag<f64>,
    s_im: &mut faer::diag::Diag<f64>,
    ul: Option<&mut Mat<f64>>,
    ur: &mut Mat<f64>,
) -> Result<(), EigError> {
    let n = a.nrows();
    let par = Par::Seq;
    let want_left = if ul.is_some() {
        ComputeEigenvectors::Yes
    } else {
        ComputeEigenvectors::No
    };
    let scratch = evd::evd_scratch::<f64>(
        n,
        want_left,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    );
    let mut buf = MemBuffer::new(scratch);
    evd::evd_real(
        a,
        s_re.as_mut(),
        s_im.as_mut(),
        ul.map(|u| u.as_mut()),
        Some(ur.as_mut()),
        par,
        MemStack::new(&mut buf),
        Default::default(),
    )
    .map_err(|_| EigError::NoConvergence { n })
}

/// Complex eigenvectors from faer's real packing; `conj` conjugates them (left vectors).
fn to_complex(u: &Mat<f64>, s_im: &faer::diag::Diag<f64>, conj: bool) -> Mat<c64> {
    let n = u.nrows();
    let sign = if conj { -1.0 } else { 1.0 };
    let mut out = Mat::<c64>::zeros(n, n);
    let mut j = 0;
    while j < n {
        if s_im[j] == 0.0 || j + 1 == n {
            for i in 0..n {
                out[(i, j)] = c64::new(u[(i, j)], 0.0);
            }
            j += 1;
        } else {
            for i in 0..n {
                out[(i, j)] = c64::new(u[(i, j)], sign * u[(i, j + 1)]);
                out[(i, j + 1)] = c64::new(u[(i, j)], -sign * u[(i, j + 1)]);
            }
            j += 2;
        }
    }
    out
}

/// `L` with `Lᵀ R = I`, or `None` when `R` is numerically singular (pivot ratio below 1e-10).
fn inverse_transpose(right: &Mat<c64>) -> Option<Mat<c64>> {
    let n = right.nrows();
    let par = Par::Seq;
    let mut lu = right.clone();
    let mut fwd = vec![0usize; n];
    let mut bwd = vec![0usize; n];
    let mut fbuf = MemBuffer::new(factor::lu_in_place_scratch::<usize, c64>(
        n,
        n,
        par,
        Default::default(),
    ));
    factor::lu_in_place(
        lu.as_mut(),
        &mut fwd,
        &mut bwd,
        par,
        MemStack::new(&mut fbuf),
        Default::default(),
    );
    let max_u = (0..n).map(|i| lu[(i, i)].norm()).fold(0.0, f64::max);
    if !(0..n).all(|i| lu[(i, i)].norm() > 1e-10 * max_u) {
        return None;
    }
    let mut l = Mat::<c64>::identity(n, n);
    let mut sbuf = MemBuffer::new(solve::solve_transpose_in_place_scratch::<usize, c64>(
        n, n, par,
    ));
    let perm = PermRef::new_checked(&fwd, &bwd, n);
    solve::solve_transpose_in_place(
        lu.as_ref(),
        lu.as_ref(),
        perm,
        l.as_mut(),
        par,
        MemStack::new(&mut sbuf),
    );
    let finite =
        (0..n).all(|j| (0..n).all(|i| l[(i, j)].re.is_finite() && l[(i, j)].im.is_finite()));
    finite.then_some(l)
}

/// Scales each left vector so that `lᵢᵀ rᵢ = 1` (left as is when `lᵢᵀ rᵢ = 0`).
fn normalise_each(left: &Mat<c64>, right: &Mat<c64>) -> Mat<c64> {
    let n = left.nrows();
    let mut out = left.clone();
    for j in 0..n {
        let d: c64 = (0..n).map(|i| left[(i, j)] * right[(i, j)]).sum();
        if d.norm() > 0.0 {
            for i in 0..n {
                out[(i, j)] = left[(i, j)] / d;
            }
        }
    }
    out
}

/// Solves `A δ = b` for real square `A` of a fixed dimension, reusing its buffers.
pub struct LuSolver {
    n: usize,
    lu: Mat<f64>,
    rhs: Mat<f64>,
    fwd: Vec<usize>,
    bwd: Vec<usize>,
    buf: MemBuffer,
    /// Whether `lu`, `fwd` and `bwd` hold a factorisation (set by [`LuSolver::factor`]).
    factored: bool,
}

impl LuSolver {
    pub fn new(n: usize) -> Self {
        let par = Par::Seq;
        let req = factor::lu_in_place_scratch::<usize, f64>(n, n, par, Default::default())
            .or(solve::solve_in_place_scratch::<usize, f64>(n, 1, par));
        LuSolver {
            n,
            lu: Mat::zeros(n, n),
            rhs: Mat::zeros(n, 1),
            fwd: vec![0; n],
            bwd: vec![0; n],
            buf: MemBuffer::new(req),
            factored: false,
        }
    }

    /// Overwrites `b` with `A⁻¹ b`. Returns `false` (leaving `b` unspecified) when `A` is
    /// numerically singular or the solution is not finite.
    pub fn solve(&mut self, a: &Array2<f64>, b: &mut Array1<f64>) -> bool {
        self.factor(a) && self.solve_factored(b)
    }

    /// Factors `A`; `false` when it is numerically singular (pivot ratio below 1e-14).
    pub fn factor(&mut self, a: &Array2<f64>) -> bool {
        let n = self.n;
        assert_eq!(a.dim(), (n, n), "LuSolver built for dimension {n}");
        match a.as_slice() {
            Some(rows) => self
                .lu
                .copy_from(faer::MatRef::from_row_major_slice(rows, n, n)),
            None => {
                for j in 0..n {
                    for i in 0..n {
                        self.lu[(i, j)] = a[(i, j)];
                    }
                }
            }
        }
        factor::lu_in_place(
            self.lu.as_mut(),
            &mut self.fwd,
            &mut self.bwd,
            Par::Seq,
            MemStack::new(&mut self.buf),
            Default::default(),
        );
        self.factored = true;
        let max_u = (0..n).map(|i| self.lu[(i, i)].abs()).fold(0.0, f64::max);
        (0..n).all(|i| self.lu[(i, i)].abs() > 1e-14 * max_u)
    }

    /// Overwrites `b` with `A⁻¹ b` for the last successfully factored `A`; `false` when the
    /// solution is not finite.
    ///
    /// # Panics
    /// When no `A` has been factored yet, or `b` has the wrong length.
    pub fn solve_factored(&mut self, b: &mut Array1<f64>) -> bool {
        let n = self.n;
        assert!(self.factored, "LuSolver::solve_factored called before factor");
        assert_eq!(b.len(), n, "LuSolver built for dimension {n}");
        for i in 0..n {
            self.rhs[(i, 0)] = b[i];
        }
        let perm = PermRef::new_checked(&self.fwd, &self.bwd, n);
        solve::solve_in_place(
            self.lu.as_ref(),
            self.lu.as_ref(),
            perm,
            self.rhs.as_mut(),
            Par::Seq,
            MemStack::new(&mut self.buf),
        );
        for i in 0..n {
            b[i] = self.rhs[(i, 0)];
        }
        b.iter().all(|v| v.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn random(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, n), |_| StandardNormal.sample(&mut rng))
    }

    #[test]
    fn left_and_right_eigenvectors_of_a_non_normal_matrix() {
        let n = 7;
        let mut a = random(n, 3);
        for i in 0..n {
            for j in i + 1..n {
                a[(i, j)] *= 3.0; // strongly non-normal
            }
        }
        let e = eigen(a.view()).unwrap();
        assert!(e.biorthogonal);
        let ac = a.mapv(|v| c64::new(v, 0.0));
        let n_complex = e.values.iter().filter(|v| v.im != 0.0).count();
        assert!(n_complex >= 2, "test matrix should have a complex pair");
        for k in 0..n {
            let r = e.right.column(k);
            let l = e.left.column(k);
            let lam = e.values[k];
            let ar = ac.dot(&r);
            let la = l.dot(&ac);
            for i in 0..n {
                assert!((ar[i] - lam * r[i]).norm() < 1e-10, "A r = λ r");
                assert!((la[i] - lam * l[i]).norm() < 1e-10, "lᵀ A = λ lᵀ");
            }
            for j in 0..n {
                let d = l.dot(&e.right.column(j));
                let want = if j == k { 1.0 } else { 0.0 };
                assert!((d - c64::new(want, 0.0)).norm() < 1e-10, "lᵢᵀ rⱼ = δᵢⱼ");
            }
        }
        // eigenvalues are a similarity invariant: their sum is the trace
        let tr: f64 = (0..n).map(|i| a[(i, i)]).sum();
        let s: c64 = e.values.iter().sum();
        assert!((s.re - tr).abs() < 1e-10 && s.im.abs() < 1e-10);
    }

    #[test]
    fn repeated_eigenvalues_keep_the_identities() {
        // symmetric with a 63-fold eigenvalue
        let n = 64;
        let mut q = random(n, 5);
        for j in 0..n {
            for k in 0..j {
                let p = q.column(j).dot(&q.column(k));
                let qk = q.column(k).to_owned();
                q.column_mut(j).scaled_add(-p, &qk);
            }
            let norm = q.column(j).dot(&q.column(j)).sqrt();
            q.column_mut(j).mapv_inplace(|v| v / norm);
        }
        let d = Array1::from_shape_fn(n, |i| if i == 0 { 2.0 } else { 0.5 });
        let a = (&q * &d).dot(&q.t());
        let e = eigen(a.view()).unwrap();
        let ac = a.mapv(|v| c64::new(v, 0.0));
        for k in 0..n {
            let (r, l, lam) = (e.right.column(k), e.left.column(k), e.values[k]);
            let (ar, la) = (ac.dot(&r), l.dot(&ac));
            assert!(
                (lam.re
                    - d.iter()
                        .fold(0.0, |m: f64, &x| if (x - lam.re).abs() < 1e-9 {
                            x
                        } else {
                            m
                        }))
                .abs()
                    < 1e-9
            );
            for i in 0..n {
                assert!((ar[i] - lam * r[i]).norm() < 1e-9 && (la[i] - lam * l[i]).norm() < 1e-9);
            }
            assert!((l.dot(&r) - c64::new(1.0, 0.0)).norm() < 1e-9);
        }
    }

    #[test]
    fn lu_solves_and_reports_singular() {
        let a = random(6, 9);
        let x = Array1::from_iter((0..6).map(|i| i as f64 - 2.5));
        let mut b = a.dot(&x);
        let mut lu = LuSolver::new(6);
        assert!(lu.solve(&a, &mut b));
        for i in 0..6 {
            assert!((b[i] - x[i]).abs() < 1e-12);
        }
        let mut s = a.clone();
        let r0 = s.row(0).to_owned();
        s.row_mut(1).assign(&r0);
        let mut b = Array1::ones(6);
        assert!(!lu.solve(&s, &mut b));
    }

    #[test]
    #[should_panic(expected = "LuSolver::solve_factored called before factor")]
    fn solve_before_factor_panics() {
        let mut b = Array1::ones(4);
        LuSolver::new(4).solve_factored(&mut b);
    }

    #[test]
    fn solve_factored_reuses_the_factorisation() {
        let a = random(5, 4);
        let mut lu = LuSolver::new(5);
        assert!(lu.factor(&a));
        for seed in 0..2 {
            let x = Array1::from_iter((0..5).map(|i| (i + seed) as f64 - 1.5));
            let mut b = a.dot(&x);
            assert!(lu.solve_factored(&mut b));
            assert!(b.iter().zip(&x).all(|(u, v)| (u - v).abs() < 1e-12));
        }
    }

    #[test]
    fn rejects_non_finite_input() {
        let mut a = random(3, 1);
        a[(0, 0)] = f64::NAN;
        assert!(matches!(
            eigen(a.view()),
            Err(EigError::BadInput { finite: false, .. })
        ));
    }
}
