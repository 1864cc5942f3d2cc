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
//! Every start's ascent runs in one set of flat row-major buffers ([`dense`]), allocated once
//! per pair: at `n ≈ 10` the arithmetic per Newton step is a few ten thousand flops, less than
//! general matrix routines spend on setup and allocation. Screening the starts (climbing all a
//! few steps, then only the best to convergence) was measured and rejected: on the bench's
//! untrained networks each start reaches the pair's best maximum on only about one pair in five,
//! and the early objective does not predict which start will.
//!
//! The angle is reported from the residual, `θ = 2 asin(‖Â − C B̂ Cᵀ‖_F / 2)`, exact for unit
//! matrices and accurate near 0, where `arccos` of the cosine would lose half the digits.

use super::dense;
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
    let (fa, fb) = (flat(&a), flat(&b));
    let mut run = Ascent::new(&fa, &fb, n);
    let mut best: Option<(f64, Vec<f64>)> = None;
    for start in starts(&a, &b) {
        run.climb(&flat(&start));
        if best.as_ref().is_none_or(|(bf, _)| run.f > *bf) {
            best = Some((run.f, run.c.clone()));
        }
    }
    let (_, c) = best.expect("at least one start");
    let c = Array2::from_shape_vec((n, n), c).expect("n × n");
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
        let s: f64 = (0..n)
            .filter(|&j| j != i)
            .map(|j| (w[(i, j)] + w[(j, i)]) * d[j])
            .sum();
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
/// `Ω = Σ ω_kl (e_k e_lᵀ − e_l e_kᵀ)` (what [`Ascent::derivatives`] computes, as arrays).
pub fn derivatives(a: &Array2<f64>, m: &Array2<f64>) -> (Array1<f64>, Array2<f64>) {
    let n = a.nrows();
    let (a, m) = (flat(a), flat(m));
    let mut run = Ascent::new(&a, &m, n);
    run.m.copy_from_slice(&m);
    run.derivatives();
    let d = run.grad.len();
    for r in 0..d {
        for c in r + 1..d {
            run.neg[c * d + r] = run.neg[r * d + c];
        }
    }
    (
        Array1::from(run.grad),
        Array2::from_shape_vec((d, d), run.neg).expect("d × d"),
    )
}

fn flat(x: &Array2<f64>) -> Vec<f64> {
    x.iter().copied().collect()
}

/// Damped Newton ascent on O(n) from `c`; returns the objective reached and `C`.
pub fn ascend(a: &Array2<f64>, b: &Array2<f64>, c: Array2<f64>) -> (f64, Array2<f64>) {
    let n = a.nrows();
    let (a, b) = (flat(a), flat(b));
    let mut run = Ascent::new(&a, &b, n);
    run.climb(&flat(&c));
    (run.f, Array2::from_shape_vec((n, n), run.c).expect("n × n"))
}

/// One Newton ascent's state and scratch, flat row-major ([`dense`]): allocated once per
/// alignment and reused by every start.
struct Ascent<'a> {
    a: &'a [f64],
    b: &'a [f64],
    /// `Aᵀ`.
    at: Vec<f64>,
    n: usize,
    idx: Vec<(usize, usize)>,
    /// The current `C`, `M = C B Cᵀ` and objective `⟨A, M⟩`.
    c: Vec<f64>,
    m: Vec<f64>,
    f: f64,
    /// A trial step's `C` and `M`.
    c_new: Vec<f64>,
    m_new: Vec<f64>,
    /// `n × n` scratch: products, `S`, `Mᵀ`, `Y`, the Cayley system.
    t: Vec<f64>,
    s: Vec<f64>,
    mt: Vec<f64>,
    y: Vec<f64>,
    lhs: Vec<f64>,
    rot: Vec<f64>,
    /// The gradient, the negated Hessian (upper triangle), its Cholesky factor and the Newton
    /// step.
    grad: Vec<f64>,
    neg: Vec<f64>,
    l: Vec<f64>,
    w: Vec<f64>,
}

impl<'a> Ascent<'a> {
    fn new(a: &'a [f64], b: &'a [f64], n: usize) -> Self {
        let idx = pairs(n);
        let d = idx.len();
        let sq = || vec![0.0; n * n];
        let mut at = sq();
        dense::transpose(a, &mut at, n);
        Ascent {
            a,
            b,
            at,
            n,
            idx,
            c: sq(),
            m: sq(),
            f: 0.0,
            c_new: sq(),
            m_new: sq(),
            t: sq(),
            s: sq(),
            mt: sq(),
            y: sq(),
            lhs: sq(),
            rot: sq(),
            grad: vec![0.0; d],
            neg: vec![0.0; d * d],
            l: vec![0.0; d * dense::stride(d)],
            w: vec![0.0; d],
        }
    }

    /// Starts at `c`.
    fn reset(&mut self, c: &[f64]) {
        self.c.copy_from_slice(c);
        dense::similar(&self.c, self.b, &mut self.t, &mut self.m, self.n);
        self.f = dense::dot(self.a, &self.m);
    }

    /// The gradient and the negated Hessian.
    fn derivatives(&mut self) {
        self.gradient();
        self.neg_hessian();
    }

    /// The gradient `g_kl = S_kl − S_lk`, `S = A Mᵀ + Aᵀ M`.
    fn gradient(&mut self) {
        let (n, a, m) = (self.n, self.a, &self.m);
        dense::transpose(m, &mut self.mt, n);
        dense::mul(a, &self.mt, &mut self.s, n);
        dense::mul_at(a, m, &mut self.t, n);
        for (s, t) in self.s.iter_mut().zip(&self.t) {
            *s += t;
        }
        let s = &self.s;
        for (g, &(i, j)) in self.grad.iter_mut().zip(&self.idx) {
            *g = s[i * n + j] - s[j * n + i];
        }
    }

    /// The negated Hessian ([`hessian`]) from `S`'s symmetric part `Y` and the transposes, after
    /// [`Ascent::gradient`].
    fn neg_hessian(&mut self) {
        let (n, a, m, s) = (self.n, self.a, &self.m, &self.s);
        for i in 0..n {
            for j in 0..n {
                self.y[i * n + j] = (s[i * n + j] + s[j * n + i]) / 2.0;
            }
        }
        let ops = Operands {
            a,
            at: &self.at,
            m,
            mt: &self.mt,
            y: &self.y,
            n,
        };
        hessian(&ops, &self.idx, &mut self.neg);
    }

    /// The objective after the damped Newton step `(−H + shift·I)⁻¹ g`, retracted by Cayley,
    /// its `C` and `M` left in `c_new`, `m_new`; `None` when the shifted system is not positive
    /// definite.
    fn trial(&mut self, shift: f64) -> Option<f64> {
        let n = self.n;
        if !dense::cholesky_solve(&self.neg, shift, &self.grad, &mut self.l, &mut self.w) {
            return None;
        }
        self.lhs.fill(0.0);
        self.rot.fill(0.0);
        for i in 0..n {
            self.lhs[i * n + i] = 1.0;
            self.rot[i * n + i] = 1.0;
        }
        for (&(k, l), &v) in self.idx.iter().zip(&self.w) {
            self.lhs[k * n + l] = -v / 2.0;
            self.lhs[l * n + k] = v / 2.0;
            self.rot[k * n + l] = v / 2.0;
            self.rot[l * n + k] = -v / 2.0;
        }
        if !dense::solve_in_place(&mut self.lhs, &mut self.rot, n) {
            return None;
        }
        dense::mul(&self.rot, &self.c, &mut self.c_new, n);
        dense::similar(&self.c_new, self.b, &mut self.t, &mut self.m_new, n);
        Some(dense::dot(self.a, &self.m_new))
    }

    /// Damped Newton ascent from `c` to where the gradient vanishes.
    fn climb(&mut self, c: &[f64]) {
        self.reset(c);
        if self.n < 2 {
            return;
        }
        // Damped first steps follow the gradient flow from the start, as the reference's Adam
        // does, so a start keeps its basin; the shift then falls away to pure Newton steps.
        let mut shift = INITIAL_SHIFT;
        for _ in 0..MAX_ITER {
            self.gradient();
            let gnorm = dense::dot(&self.grad, &self.grad).sqrt();
            if gnorm < GRAD_TOL {
                break;
            }
            self.neg_hessian();
            let mut moved = false;
            while shift < MAX_SHIFT {
                if let Some(f_new) = self.trial(shift) {
                    if f_new > self.f {
                        std::mem::swap(&mut self.c, &mut self.c_new);
                        std::mem::swap(&mut self.m, &mut self.m_new);
                        self.f = f_new;
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
    }
}

/// What [`hessian`] reads: `A`, `M`, their transposes and `Y = sym(A Mᵀ + Aᵀ M)`, `n × n`.
struct Operands<'a> {
    a: &'a [f64],
    at: &'a [f64],
    m: &'a [f64],
    mt: &'a [f64],
    y: &'a [f64],
    n: usize,
}

impl Operands<'_> {
    fn row<'s>(&self, x: &'s [f64], i: usize) -> &'s [f64] {
        &x[i * self.n..(i + 1) * self.n]
    }
}

/// Position of `(p, q)`, `p < q`, in [`pairs`]' order.
fn index(p: usize, q: usize, n: usize) -> usize {
    p * n - p * (p + 1) / 2 + q - p - 1
}

/// The upper triangle of the negated Hessian, `−½(H(E_kl, E_pq) + H(E_pq, E_kl))` with
/// `H(E, F) = ⟨A, [E, [F, M]]⟩`, in closed form: expanding the commutators,
/// `⟨A, E F M + M F E⟩` has non-zeros only where `kl` and `pq` share an index (entries of `Y`),
/// and `⟨A, E M F⟩ + ⟨A, F M E⟩ = A_kq M_lp − A_kp M_lq − A_lq M_kp + A_lp M_kq + A_pl M_qk
/// − A_pk M_ql − A_ql M_pk + A_qk M_pl`, eight products per entry. For a fixed row `kl` and
/// `p`, the entries over `q` are contiguous in row `kl` and combine rows of `A`, `M`, `Aᵀ`,
/// `Mᵀ`, so the inner loop is eight multiply-adds on contiguous slices.
fn hessian(o: &Operands, idx: &[(usize, usize)], neg: &mut [f64]) {
    let (n, d) = (o.n, idx.len());
    for (r, (&(k, l), row)) in idx.iter().zip(neg.chunks_exact_mut(d)).enumerate() {
        let (ak, al, mk, ml) = (o.row(o.a, k), o.row(o.a, l), o.row(o.m, k), o.row(o.m, l));
        let (atk, atl) = (o.row(o.at, k), o.row(o.at, l));
        let (mtk, mtl) = (o.row(o.mt, k), o.row(o.mt, l));
        let mut col = r;
        for p in k..n {
            let q0 = if p == k { l } else { p + 1 };
            let len = n - q0;
            let c = [ml[p], ak[p], mk[p], al[p], atl[p], atk[p], mtk[p], mtl[p]];
            let out = &mut row[col..col + len];
            let (ak, ml, al, mk) = (&ak[q0..], &ml[q0..], &al[q0..], &mk[q0..]);
            let (mtk, mtl, atl, atk) = (&mtk[q0..], &mtl[q0..], &atl[q0..], &atk[q0..]);
            for j in 0..len {
                out[j] = (c[0] * ak[j] - c[1] * ml[j])
                    + (c[3] * mk[j] - c[2] * al[j])
                    + ((c[4] * mtk[j] - c[5] * mtl[j]) + (c[7] * atk[j] - c[6] * atl[j]));
            }
            col += len;
        }
        for q in l..n {
            row[index(k, q, n)] += o.y[l * n + q];
        }
        for p in k..l {
            row[index(p, l, n)] += o.y[k * n + p];
        }
        for q in l + 1..n {
            row[index(l, q, n)] -= o.y[k * n + q];
        }
    }
}
