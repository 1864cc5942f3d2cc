//! The pair half of DSA: the angular Procrustes distance over vector fields (Ostrow et al.
//! 2023), `θ(A, B) = min_{C ∈ O(n)} arccos ⟨Â, C B̂ Cᵀ⟩` with `X̂ = X / ‖X‖_F`, as the reference
//! defines it (`SimilarityTransformDist`, `score_method = "angular"`).
//!
//! The reference runs 200 Adam steps on a Cayley-parametrised `C` from the identity, and again
//! from a row swap (the other component of O(n)). Here:
//! 1. starts: the reference's two, signed permutations of the identity and the alignment of the
//!    symmetric parts' eigenvectors (`U_A D U_Bᵀ`, which maximises the symmetric half of the
//!    objective by von Neumann's trace inequality), with the signs `D` chosen greedily for the
//!    rest, the best sign pattern in each component of O(n), and fixed random rotations
//!    ([`starts`]);
//! 2. from each, Newton's method on the group: the gradient and Hessian of
//!    `g(Ω) = ⟨Â, Q M Qᵀ⟩`, `M = C B̂ Cᵀ`, in the `n(n−1)/2` coordinates of the skew matrix `Ω`
//!    ([`derivatives`], `O(n⁴)`), a Levenberg–Marquardt shift where the Hessian is not negative
//!    definite, and the Cayley retraction `Q = (I − Ω/2)⁻¹(I + Ω/2)`, which agrees with `exp Ω`
//!    to second order, so convergence is quadratic ([`ascend`]).
//!
//! The angle is reported from the residual, `θ = 2 asin(‖Â − C B̂ Cᵀ‖_F / 2)`, exact for unit
//! matrices and accurate near 0, where `arccos` of the cosine would lose half the digits.

use super::cholesky_solve;
use crate::analysis::eig::LuSolver;
use crate::analysis::linalg;
use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::f64::consts::FRAC_PI_2;

/// The optimum found: the angle (radians, in `[0, π]`), its cosine `⟨Â, C B̂ Cᵀ⟩` and `C`.
#[derive(Clone, Debug)]
pub struct Alignment {
    pub angle: f64,
    pub cos: f64,
    pub c: Array2<f64>,
}

const MAX_ITER: usize = 200;
/// Gradient norm (of unit-norm matrices' objective) at which a start has converged.
const GRAD_TOL: f64 = 1e-12;
const MAX_SHIFT: f64 = 1e8;
const INITIAL_SHIFT: f64 = 1.0;

/// Angular distance between two square operators of the same size. A zero operator is at
/// `π/2` from every other one (no shared direction), as a network without variance is for the
/// shape metric.
pub fn angular(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Alignment {
    let n = a.nrows();
    assert!(
        a.dim() == (n, n) && b.dim() == (n, n),
        "angular needs two square operators of one size"
    );
    let (na, nb) = (frobenius(a), frobenius(b));
    if na == 0.0 || nb == 0.0 {
        return Alignment {
            angle: FRAC_PI_2,
            cos: 0.0,
            c: Array2::eye(n),
        };
    }
    let (a, b) = (a.mapv(|v| v / na), b.mapv(|v| v / nb));
    let mut best: Option<(f64, Array2<f64>)> = None;
    for start in starts(&a, &b) {
        let (f, c) = ascend(&a, &b, start);
        if best.as_ref().is_none_or(|(bf, _)| f > *bf) {
            best = Some((f, c));
        }
    }
    let (_, c) = best.expect("at least one start");
    let residual = &a - &similar(&c, &b);
    let angle = 2.0 * (frobenius(residual.view()) / 2.0).min(1.0).asin();
    Alignment {
        angle,
        cos: angle.cos(),
        c,
    }
}

/// The objective `⟨Â, C B̂ Cᵀ⟩` for unit-norm `a`, `b`.
pub fn objective(a: &Array2<f64>, b: &Array2<f64>, c: &Array2<f64>) -> f64 {
    inner(a, &similar(c, b))
}

fn frobenius(a: ArrayView2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn inner(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn similar(c: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    c.dot(b).dot(&c.t())
}

/// Starting points: the reference's two (the identity and a row swap), `U_A D U_Bᵀ` for `U = I`
/// and for the symmetric parts' eigenvectors, each with the best greedy signs in both components
/// of O(n), and [`RANDOM_STARTS`] fixed random orthogonal matrices (half in each component).
pub fn starts(a: &Array2<f64>, b: &Array2<f64>) -> Vec<Array2<f64>> {
    let n = a.nrows();
    let eye = Array2::<f64>::eye(n);
    let mut swap = eye.clone();
    if n > 1 {
        swap[(0, 0)] = 0.0;
        swap[(1, 1)] = 0.0;
        swap[(0, 1)] = 1.0;
        swap[(1, 0)] = 1.0;
    }
    let mut out = vec![eye.clone(), swap];
    out.extend(signed(a, b, &eye, &eye));
    let sym = |x: &Array2<f64>| (x + &x.t()) / 2.0;
    if let (Ok((_, ua)), Ok((_, ub))) = (
        linalg::sym_eigen(sym(a).view()),
        linalg::sym_eigen(sym(b).view()),
    ) {
        out.extend(signed(a, b, &ua, &ub));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(RANDOM_SEED);
    out.extend((0..RANDOM_STARTS).map(|k| random_orthogonal(n, &mut rng, k % 2 == 1)));
    out
}

/// Random starts per pair: the alignment objective has many local maxima, and on trained
/// networks' operators the structured starts alone sometimes all fall in a poor one.
pub const RANDOM_STARTS: usize = 16;
const RANDOM_SEED: u64 = 0x05a;

/// Haar-like orthogonal matrix (Gram–Schmidt of a Gaussian one); `flip` negates a column.
pub fn random_orthogonal(n: usize, rng: &mut ChaCha8Rng, flip: bool) -> Array2<f64> {
    let mut q = Array2::<f64>::from_shape_simple_fn((n, n), || StandardNormal.sample(rng));
    for j in 0..n {
        for i in 0..j {
            let d = q.column(i).dot(&q.column(j));
            let qi = q.column(i).to_owned();
            q.column_mut(j).scaled_add(-d, &qi);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / norm);
    }
    if flip {
        q.column_mut(0).mapv_inplace(|v| -v);
    }
    q
}

/// With `P = U_aᵀ Â U_a`, `Q = U_bᵀ B̂ U_b`, the objective at `U_a D U_bᵀ` is
/// `Σ_ij P_ij Q_ij d_i d_j`: flip single signs while that gains, then also give the best
/// pattern with one more flip (the other determinant).
fn signed(
    a: &Array2<f64>,
    b: &Array2<f64>,
    ua: &Array2<f64>,
    ub: &Array2<f64>,
) -> Vec<Array2<f64>> {
    let n = a.nrows();
    let w = &ua.t().dot(a).dot(ua) * &ub.t().dot(b).dot(ub);
    let mut d = vec![1.0f64; n];
    let gain = |d: &[f64], i: usize| {
        let s: f64 = (0..n).filter(|&j| j != i).map(|j| (w[(i, j)] + w[(j, i)]) * d[j]).sum();
        -2.0 * d[i] * s
    };
    let best_flip = |d: &[f64]| {
        (0..n)
            .map(|i| (gain(d, i), i))
            .fold((f64::NEG_INFINITY, 0), |m, g| if g.0 > m.0 { g } else { m })
    };
    for _ in 0..4 * n {
        let (g, i) = best_flip(&d);
        if g <= 1e-15 {
            break;
        }
        d[i] = -d[i];
    }
    let mut other = d.clone();
    let (_, i) = best_flip(&d);
    other[i] = -other[i];
    [d, other]
        .iter()
        .map(|d| {
            let mut left = ua.clone();
            for (j, &s) in d.iter().enumerate() {
                left.column_mut(j).mapv_inplace(|v| v * s);
            }
            left.dot(&ub.t())
        })
        .collect()
}

/// Index pairs `(k, l)`, `k < l`, in row-major order: the coordinates of a skew matrix.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|k| (k + 1..n).map(move |l| (k, l)))
        .collect()
}

/// Gradient and negated Hessian of `g(Ω) = ⟨A, e^Ω M e^{−Ω}⟩` at `Ω = 0` in the coordinates
/// `Ω = Σ ω_kl (e_k e_lᵀ − e_l e_kᵀ)`. With `Z(N) = A Nᵀ + Aᵀ N`, the derivative of `⟨A, N'⟩`
/// along `E_kl` where `N' = [E, N]` is `Z_kl − Z_lk`: the gradient is that for `N = M`, the
/// Hessian's column `kl` that for `N = [E_kl, M]`, whose non-zeros lie in rows and columns
/// `k, l`, so each column costs `O(n²)` from `P = A Mᵀ` and `Q = Aᵀ M`.
pub fn derivatives(a: &Array2<f64>, m: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let idx = pairs(n);
    let (p, q) = (a.dot(&m.t()), a.t().dot(m));
    let zg = &p + &q;
    let grad = Array1::from_iter(idx.iter().map(|&(i, j)| zg[(i, j)] - zg[(j, i)]));
    let mut h = Array2::<f64>::zeros((idx.len(), idx.len()));
    let mut z = Array2::<f64>::zeros((n, n));
    for (col, &(k, l)) in idx.iter().enumerate() {
        for i in 0..n {
            for j in 0..n {
                z[(i, j)] = a[(i, k)] * m[(j, l)] - a[(i, l)] * m[(j, k)] + a[(k, i)] * m[(l, j)]
                    - a[(l, i)] * m[(k, j)];
            }
            z[(i, k)] += p[(i, l)] + q[(i, l)];
            z[(i, l)] -= p[(i, k)] + q[(i, k)];
        }
        for (row, &(i, j)) in idx.iter().enumerate() {
            h[(row, col)] = z[(i, j)] - z[(j, i)];
        }
    }
    let neg = -(&h + &h.t()) / 2.0;
    (grad, neg)
}

/// The skew matrix with coordinates `w`, and its Cayley transform.
fn cayley(w: &Array1<f64>, n: usize, lu: &mut LuSolver) -> Option<Array2<f64>> {
    let mut omega = Array2::<f64>::zeros((n, n));
    for (&(k, l), &v) in pairs(n).iter().zip(w) {
        omega[(k, l)] = v / 2.0;
        omega[(l, k)] = -v / 2.0;
    }
    let eye = Array2::<f64>::eye(n);
    if !lu.factor(&(&eye - &omega)) {
        return None;
    }
    let rhs = &eye + &omega;
    let mut q = Array2::<f64>::zeros((n, n));
    for j in 0..n {
        let mut col = rhs.column(j).to_owned();
        if !lu.solve_factored(&mut col) {
            return None;
        }
        q.column_mut(j).assign(&col);
    }
    Some(q)
}

/// Damped Newton ascent on O(n) from `c`; returns the objective reached and `C`.
pub fn ascend(a: &Array2<f64>, b: &Array2<f64>, mut c: Array2<f64>) -> (f64, Array2<f64>) {
    let n = a.nrows();
    let mut m = similar(&c, b);
    let mut f = inner(a, &m);
    if n < 2 {
        return (f, c);
    }
    let mut lu = LuSolver::new(n);
    // Damped first steps follow the gradient flow from the start, as the reference's Adam
    // does, so a start keeps its basin; the shift then falls away to pure Newton steps.
    let mut shift = INITIAL_SHIFT;
    for _ in 0..MAX_ITER {
        let (g, h) = derivatives(a, &m);
        let gnorm = g.dot(&g).sqrt();
        if gnorm < GRAD_TOL {
            break;
        }
        let mut moved = false;
        while shift < MAX_SHIFT {
            let step = cholesky_solve(&h, shift, &g).and_then(|w| cayley(&w, n, &mut lu));
            if let Some(qm) = step {
                let c_new = qm.dot(&c);
                let m_new = similar(&c_new, b);
                let f_new = inner(a, &m_new);
                if f_new > f {
                    (c, m, f) = (c_new, m_new, f_new);
                    shift = if shift < 1e-10 { 0.0 } else { shift / 4.0 };
                    moved = true;
                    break;
                }
                if gnorm < 1e-8 {
                    break;
                }
            }
            shift = if shift == 0.0 { 1e-6 } else { shift * 4.0 };
        }
        if !moved {
            break;
        }
    }
    (f, c)
}
