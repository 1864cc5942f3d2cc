use super::dense;
use super::dmd::{self, Fit};
use super::orthogonal::{self, angular};
use super::wasserstein::score;
use super::*;
use crate::analysis::topology::assignment;
use faer::c64;
use ndarray::{array, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn gaussian(r: usize, c: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_simple_fn((r, c), || StandardNormal.sample(&mut rng))
}

fn orthogonal_matrix(n: usize, seed: u64, flip: bool) -> Array2<f64> {
    orthogonal::random_orthogonal(n, &mut ChaCha8Rng::seed_from_u64(seed), flip)
}

fn unit(a: Array2<f64>) -> Array2<f64> {
    let n = a.iter().map(|v| v * v).sum::<f64>().sqrt();
    a / n
}

/// The skew matrix `Σ w_kl (e_k e_lᵀ − e_l e_kᵀ)`, `k < l` in row-major order.
fn skew(n: usize, w: &[f64]) -> Array2<f64> {
    let idx = (0..n).flat_map(|k| (k + 1..n).map(move |l| (k, l)));
    let mut o = Array2::<f64>::zeros((n, n));
    for ((k, l), &v) in idx.zip(w) {
        o[(k, l)] = v;
        o[(l, k)] = -v;
    }
    o
}

/// `exp(Ω)` by a long Taylor series, for a tiny `Ω`.
fn expm(o: &Array2<f64>) -> Array2<f64> {
    let n = o.nrows();
    let (mut term, mut sum) = (Array2::<f64>::eye(n), Array2::<f64>::eye(n));
    for k in 1..20 {
        term = term.dot(o) / k as f64;
        sum += &term;
    }
    sum
}

#[test]
fn derivatives_match_finite_differences() {
    let n = 4;
    let (a, m) = (unit(gaussian(n, n, 1)), unit(gaussian(n, n, 2)));
    let (g, neg_h) = orthogonal::derivatives(&a, &m);
    let g_of = |w: &[f64]| {
        let q = expm(&skew(n, w));
        orthogonal::objective(&a, &m, &q)
    };
    let h = 1e-4;
    let d = g.len();
    for i in 0..d {
        let mut wp = vec![0.0; d];
        wp[i] = h;
        let mut wm = vec![0.0; d];
        wm[i] = -h;
        let fd = (g_of(&wp) - g_of(&wm)) / (2.0 * h);
        assert!((fd - g[i]).abs() < 1e-7, "gradient {i}: {fd} vs {}", g[i]);
        for j in 0..d {
            let at = |si: f64, sj: f64| {
                let mut w = vec![0.0; d];
                w[i] += si * h;
                w[j] += sj * h;
                g_of(&w)
            };
            let fd =
                (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4.0 * h * h);
            assert!(
                (fd + neg_h[(i, j)]).abs() < 1e-5,
                "hessian ({i},{j}): {fd} vs {}",
                -neg_h[(i, j)]
            );
        }
    }
}

/// Each Hessian entry against central differences of the gradient: moving `M` to
/// `e^{tE_j} M e^{−tE_j}` changes gradient entry `i` at the rate `H(E_i, E_j)`, whose symmetric
/// part is the Hessian. At `n = 5` every kind of entry occurs (pairs sharing no index, the
/// first, the second or both), each a sum of products of order 0.1, so a wrong one misses the
/// `1e-8` tolerance by orders of magnitude while the differences are accurate to about `1e-10`.
#[test]
fn hessian_matches_differences_of_the_gradient() {
    let n = 5;
    let (a, m) = (unit(gaussian(n, n, 11)), unit(gaussian(n, n, 12)));
    let (_, neg_h) = orthogonal::derivatives(&a, &m);
    let d = n * (n - 1) / 2;
    let t = 1e-5;
    let grad_along = |j: usize, s: f64| {
        let mut w = vec![0.0; d];
        w[j] = s * t;
        let q = expm(&skew(n, &w));
        orthogonal::derivatives(&a, &q.dot(&m).dot(&q.t())).0
    };
    let rate: Vec<ndarray::Array1<f64>> = (0..d)
        .map(|j| (grad_along(j, 1.0) - grad_along(j, -1.0)) / (2.0 * t))
        .collect();
    let mut largest = 0.0f64;
    for i in 0..d {
        for j in 0..d {
            let fd = (rate[j][i] + rate[i][j]) / 2.0;
            largest = largest.max(fd.abs());
            assert!(
                (fd + neg_h[(i, j)]).abs() < 1e-8,
                "hessian ({i},{j}): differences {fd}, closed form {}",
                -neg_h[(i, j)]
            );
        }
    }
    assert!(largest > 0.1, "the test matrices are too small to tell");
}

#[test]
fn an_operator_and_its_rotated_copy_are_at_zero() {
    for (n, seed) in [(2, 3), (5, 4), (10, 5)] {
        for flip in [false, true] {
            let a = gaussian(n, n, seed);
            let c = orthogonal_matrix(n, seed + 100, flip);
            let b = c.t().dot(&a).dot(&c) * 3.0;
            let al = angular(a.view(), b.view());
            assert!(al.angle < 1e-7, "n {n} flip {flip}: {}", al.angle);
        }
    }
}

#[test]
fn symmetric_operators_reach_the_trace_inequality_bound() {
    // For symmetric A, B the optimum aligns sorted eigenvalues: cos = Σ λ↓ μ↓ / (‖λ‖ ‖μ‖).
    let n = 6;
    let la = [1.0, 0.7, -0.3, 0.2, 0.05, -0.9];
    let lb = [0.4, -0.8, 0.9, 0.1, 0.3, -0.2];
    let (qa, qb) = (
        orthogonal_matrix(n, 7, false),
        orthogonal_matrix(n, 8, true),
    );
    let a = qa.dot(&Array2::from_diag(&ndarray::arr1(&la))).dot(&qa.t());
    let b = qb.dot(&Array2::from_diag(&ndarray::arr1(&lb))).dot(&qb.t());
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|x, y| y.total_cmp(x));
        v
    };
    let (sa, sb) = (sorted(&la), sorted(&lb));
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let cos = sa.iter().zip(&sb).map(|(x, y)| x * y).sum::<f64>() / (norm(&la) * norm(&lb));
    let al = angular(a.view(), b.view());
    assert!(
        (al.angle - cos.acos()).abs() < 1e-10,
        "{} vs {}",
        al.angle,
        cos.acos()
    );
}

#[test]
fn rotations_compare_through_both_components() {
    // R(θ₁) against R(θ₂): C R(θ₂) Cᵀ is R(θ₂) (det +1) or R(−θ₂) (det −1).
    let rot = |t: f64| array![[t.cos(), -t.sin()], [t.sin(), t.cos()]];
    for (t1, t2) in [(0.3, 0.5), (0.3, -0.4), (1.0, 2.5)] {
        let al = angular(rot(t1).view(), rot(t2).view());
        let want = f64::cos(t1 - t2).max(f64::cos(t1 + t2)).acos();
        assert!(
            (al.angle - want).abs() < 1e-10,
            "{t1},{t2}: {} vs {want}",
            al.angle
        );
    }
}

#[test]
fn the_angle_is_symmetric_and_no_start_beats_it() {
    let n = 6;
    for seed in 0..4 {
        let (a, b) = (gaussian(n, n, 10 + seed), gaussian(n, n, 20 + seed));
        let ab = angular(a.view(), b.view());
        let ba = angular(b.view(), a.view());
        assert!(
            (ab.angle - ba.angle).abs() < 1e-9,
            "{} vs {}",
            ab.angle,
            ba.angle
        );
        let (ua, ub) = (unit(a.clone()), unit(b.clone()));
        for s in 0..20 {
            let c0 = orthogonal_matrix(n, 1000 + s, s % 2 == 1);
            let (f, _) = orthogonal::ascend(&ua, &ub, c0);
            assert!(
                f <= ab.cos + 1e-9,
                "random start {s} reached {f} > {}",
                ab.cos
            );
        }
    }
}

#[test]
fn zero_operator_is_at_a_right_angle() {
    let z = Array2::<f64>::zeros((3, 3));
    let al = angular(z.view(), gaussian(3, 3, 1).view());
    assert_eq!(al.angle, std::f64::consts::FRAC_PI_2);
}

fn simulate(w: &Array2<f64>, steps: usize, trials: usize, seed: u64) -> Array2<f32> {
    let n = w.nrows();
    let x0 = gaussian(trials, n, seed);
    let mut out = Array2::<f32>::zeros((steps * trials, n));
    for k in 0..trials {
        let mut x = x0.row(k).to_owned();
        for t in 0..steps {
            out.row_mut(t * trials + k).assign(&x.mapv(|v| v as f32));
            x = w.dot(&x);
        }
    }
    out
}

fn stable(n: usize, seed: u64) -> Array2<f64> {
    let q = orthogonal_matrix(n, seed, false);
    let d = Array2::from_diag(&ndarray::Array1::linspace(0.95, 0.6, n));
    q.dot(&d).dot(&q.t()) + gaussian(n, n, seed + 1) * 0.05
}

#[test]
fn a_linear_system_is_recovered_exactly() {
    let w = stable(4, 30);
    let x = simulate(&w, 30, 5, 31);
    let fit = Fit {
        n_delays: 1,
        delay_interval: 1,
        rank: Rank::Fixed(4),
        lambda: 0.0,
    };
    let d = dmd::fit(0, x.view(), 5, &fit).unwrap();
    let err = (&d.delay_operator() - &w)
        .iter()
        .fold(0.0f64, |m, e| m.max(e.abs()));
    assert!(err < 1e-4, "operator error {err}");
}

#[test]
fn the_hankel_rows_stack_delays_most_recent_first() {
    // 2 trials, 4 steps, 1 unit: trial k at step t holds 10k + t.
    let x = Array2::from_shape_fn((8, 1), |(r, _)| (10 * (r % 2) + r / 2) as f32);
    let fit = Fit {
        n_delays: 2,
        delay_interval: 1,
        rank: Rank::Fixed(2),
        lambda: 0.0,
    };
    let (h, per_trial) = dmd::hankel(0, x.view(), 2, &fit).unwrap();
    assert_eq!(per_trial, 3);
    let want = array![
        [1.0, 0.0],
        [2.0, 1.0],
        [3.0, 2.0],
        [11.0, 10.0],
        [12.0, 11.0],
        [13.0, 12.0]
    ];
    assert_eq!(h, want);
}

#[test]
fn rank_rules_follow_the_reference_and_the_numerical_rank() {
    let s = ndarray::arr1(&[3.0, 2.0, 1.0, 1e-9]);
    assert_eq!(dmd::rank(&s, Rank::Fixed(10)), 3);
    assert_eq!(dmd::rank(&s, Rank::Fixed(2)), 2);
    // cumulative variance 9/14, 13/14, 1: searchsorted(0.9) + 1 = 2
    assert_eq!(dmd::rank(&s, Rank::Variance(0.9)), 2);
    assert_eq!(dmd::rank(&s, Rank::Variance(0.5)), 1);
}

#[test]
fn degenerate_states_are_errors_not_panics() {
    let p = DsaParams::default().fit();
    let constant = Array2::<f32>::from_elem((20, 3), 0.5);
    assert_eq!(
        dmd::fit(2, constant.view(), 4, &p).unwrap_err(),
        DsaError::Constant { index: 2 }
    );
    let zero = Array2::<f32>::zeros((20, 3));
    assert!(dmd::fit(0, zero.view(), 4, &p).is_err());
    let short = Array2::<f32>::from_shape_fn((12, 2), |(r, c)| (r * c) as f32);
    let delays = Fit { n_delays: 3, ..p };
    assert_eq!(
        dmd::fit(1, short.view(), 4, &delays).unwrap_err(),
        DsaError::TooFewSteps {
            index: 1,
            steps: 3,
            needed: 4
        }
    );
    let mut nan = Array2::<f32>::from_shape_fn((12, 2), |(r, c)| (r + c) as f32);
    nan[(3, 1)] = f32::NAN;
    assert_eq!(
        dmd::fit(0, nan.view(), 4, &p).unwrap_err(),
        DsaError::NonFinite { index: 0 }
    );
    assert!(matches!(
        dmd::fit(0, nan.view(), 5, &p).unwrap_err(),
        DsaError::Shape { .. }
    ));
}

#[test]
fn assignment_matches_brute_force() {
    for seed in 0..5 {
        let n = 5;
        let cost = gaussian(n, n, 40 + seed).mapv(f64::abs);
        let perm: Vec<usize> = assignment(cost.view())
            .into_iter()
            .map(|(_, j)| j)
            .collect();
        let total = |p: &[usize]| {
            p.iter()
                .enumerate()
                .map(|(i, &j)| cost[(i, j)])
                .sum::<f64>()
        };
        let mut best = f64::INFINITY;
        let mut p: Vec<usize> = (0..n).collect();
        permutations(&mut p, 0, &mut |q| best = best.min(total(q)));
        assert!((total(&perm) - best).abs() < 1e-12);
    }
}

fn permutations(p: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
    if k == p.len() {
        f(p);
        return;
    }
    for i in k..p.len() {
        p.swap(k, i);
        permutations(p, k + 1, f);
        p.swap(k, i);
    }
}

#[test]
fn wasserstein_of_spectra_pads_and_averages() {
    let x = [c64::new(1.0, 0.0), c64::new(0.0, 1.0)];
    let y = [c64::new(0.0, 1.0), c64::new(1.0, 0.0)];
    assert_eq!(score(&x, &y), 0.0);
    // {1} against {0.5, 0.5i}: padded {1, 0}; best plan 1→0.5 (0.25), 0→0.5i (0.25).
    let s = score(
        &[c64::new(1.0, 0.0)],
        &[c64::new(0.5, 0.0), c64::new(0.0, 0.5)],
    );
    assert!((s - 0.25).abs() < 1e-15);
}

#[test]
fn the_matrix_is_bit_identical_whatever_the_thread_count() {
    let states: Vec<(Array2<f32>, usize)> = (0..5)
        .map(|i| (simulate(&stable(6, 50 + i), 25, 3, 60 + i), 3))
        .collect();
    let xs: Vec<Trajectories> = states
        .iter()
        .map(|(s, k)| Trajectories {
            states: s.view(),
            trials: *k,
        })
        .collect();
    let p = DsaParams {
        rank: Some(4),
        ..DsaParams::default()
    };
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| dsa_matrix(&xs, &p).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(
        one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        two.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert!(one.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(one[(0, 1)] > 0.0);
}

#[test]
fn parameter_checks_name_the_field() {
    let bad = |f: fn(&mut DsaParams)| {
        let mut p = DsaParams::default();
        f(&mut p);
        p.check().map(|(field, _)| field)
    };
    assert_eq!(bad(|_| {}), None);
    assert_eq!(bad(|p| p.n_delays = 0), Some("n_delays"));
    assert_eq!(bad(|p| p.rank = Some(0)), Some("rank"));
    assert_eq!(bad(|p| p.variance = Some(1.5)), Some("variance"));
    assert_eq!(
        bad(|p| {
            p.rank = Some(3);
            p.variance = Some(0.9)
        }),
        Some("variance")
    );
    assert_eq!(bad(|p| p.lambda = -1.0), Some("lambda"));
}

fn flat(a: &Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

fn max_abs_diff(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
}

#[test]
fn dense_products_match_ndarray() {
    let n = 5;
    let (a, b) = (gaussian(n, n, 70), gaussian(n, n, 71));
    let mut out = vec![0.0; n * n];
    type Product = fn(&[f64], &[f64], &mut [f64], usize);
    let cases: [(Product, Array2<f64>); 4] = [
        (dense::mul, a.dot(&b)),
        (dense::mul_at, a.t().dot(&b)),
        (|x, _, out, n| dense::transpose(x, out, n), a.t().to_owned()),
        (
            |c, b, out, n| dense::similar(c, b, &mut vec![0.0; n * n], out, n),
            a.dot(&b).dot(&a.t()),
        ),
    ];
    for (k, (f, want)) in cases.into_iter().enumerate() {
        f(&flat(&a), &flat(&b), &mut out, n);
        assert!(max_abs_diff(&out, &flat(&want)) < 1e-13, "product {k}");
    }
    for len in 0..11 {
        let (x, y) = (gaussian(1, len, 72), gaussian(1, len, 73));
        let naive: f64 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
        assert!(
            (dense::dot(&flat(&x), &flat(&y)) - naive).abs() < 1e-13,
            "dot of {len}"
        );
    }
}

#[test]
fn dense_cholesky_solves_shifted_systems_and_rejects_indefinite_ones() {
    let d = 7;
    let x = gaussian(d, d, 74);
    let h = x.t().dot(&x);
    let g = gaussian(1, d, 75).into_shape_with_order(d).unwrap();
    let (mut l, mut w) = (vec![0.0; d * dense::stride(d)], vec![0.0; d]);
    assert!(dense::cholesky_solve(
        &flat(&h),
        0.5,
        g.as_slice().unwrap(),
        &mut l,
        &mut w
    ));
    let shifted = &h + &(Array2::<f64>::eye(d) * 0.5);
    let back = shifted.dot(&ndarray::Array1::from(w.clone()));
    assert!(max_abs_diff(back.as_slice().unwrap(), g.as_slice().unwrap()) < 1e-10);
    // eigenvalues 1 and −1: indefinite unshifted, positive definite shifted past 1
    let indefinite = Array2::from_diag(&ndarray::arr1(&[1.0, -1.0, 2.0, 0.5, 1.0, 3.0, 1.0]));
    let f = flat(&indefinite);
    assert!(!dense::cholesky_solve(
        &f,
        0.0,
        g.as_slice().unwrap(),
        &mut l,
        &mut w
    ));
    assert!(dense::cholesky_solve(
        &f,
        2.0,
        g.as_slice().unwrap(),
        &mut l,
        &mut w
    ));
    assert!((w[1] - g[1] / 1.0).abs() < 1e-14 && (w[2] - g[2] / 4.0).abs() < 1e-14);
}

#[test]
fn dense_solve_inverts_and_rejects_singular_systems() {
    let n = 6;
    let (a, x) = (gaussian(n, n, 76), gaussian(n, n, 77));
    let (mut lhs, mut rhs) = (flat(&a), flat(&a.dot(&x)));
    assert!(dense::solve_in_place(&mut lhs, &mut rhs, n));
    assert!(max_abs_diff(&rhs, &flat(&x)) < 1e-10);
    let mut singular = flat(&a);
    for j in 0..n {
        singular[3 * n + j] = 2.0 * singular[j];
    }
    let mut rhs = flat(&x);
    let ok = dense::solve_in_place(&mut singular, &mut rhs, n);
    assert!(
        !ok || rhs.iter().any(|v| v.abs() > 1e10),
        "a singular system solved"
    );
}
