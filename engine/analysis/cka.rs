//! Linear CKA distance between network representations (Kornblith et al. 2019; SPEC §4), in
//! `f64`: with column-centred `X`, `Y` (samples × units),
//! `CKA = ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F)` and the distance is `1 − CKA`, in `[0, 1]`.
//!
//! - [`cka_distance`]: one pair, straight from the formula (the reference);
//! - [`cka_matrix`], [`cka_matrix_bounded`]: a population. Each network is reduced once to its
//!   spectrum and leading singular directions ([`factor`](crate::analysis::factor)), truncated
//!   where the proven error bound allows (`τ = Σ_{i>k} s_i² / ‖s²‖ ≤ tol/2`), then every pair is
//!   one `k_a × k_b` block of a blocked product: `‖X̃_aᵀX̃_b‖_F²` to within the bound, while
//!   `‖X̃ᵀX̃‖_F = ‖s²‖` is exact. Reported values are within `tol` of the exact CKA distance.
//!
//! - [`cka_matrix_exact`]: a population without truncation, from every pair's cross-product
//!   in `f32` products with `f64` accumulation ([`cross`](crate::analysis::cross)), near the
//!   FMA peak; each entry carries a proven bound from the products' worst-case rounding
//!   ([`cross::DELTA`] ≈ 1.5e-5 relative, carried through the ratio: 3.2e-6 on the bench's
//!   data), while the measured error there is 4e-12–3e-11 (README, Performance). Which to
//!   use: the truncated path when `1e-8` is needed or the spectra decay fast (few kept directions), the
//!   exact one otherwise (trained networks' spectra decay slowly); the estimator of
//!   [`sketch`](crate::analysis::sketch) when even that is too slow.
//!
//! A network without variance (all states constant) has `XᵀX = 0`: its distance to every
//! other network is 1, and 0 to itself on the matrix diagonal.

use crate::analysis::cross::{self, Stats};
use crate::analysis::factor::{self, Bounded, PairBlock, Reduced, Rule};
use crate::analysis::linalg::{self, GeometryError};
use ndarray::{Array2, ArrayView2};

fn frob2(a: ArrayView2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum()
}

fn cka_from(cross2: f64, self_a: f64, self_b: f64, flat: bool) -> f64 {
    if flat {
        1.0
    } else {
        (1.0 - cross2 / (self_a * self_b)).clamp(0.0, 1.0)
    }
}

/// CKA distance of one pair.
pub fn cka_distance(x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<f64, GeometryError> {
    linalg::check_states(&[x, y])?;
    let (xc, yc) = (linalg::centred(x), linalg::centred(y));
    let flat = linalg::no_variance(frob2(xc.view()), linalg::norm2_f32(x))
        || linalg::no_variance(frob2(yc.view()), linalg::norm2_f32(y));
    let cross2 = frob2(linalg::matmul_tn(yc.view(), xc.view()).view());
    let self_x = frob2(linalg::matmul_tn(xc.view(), xc.view()).view()).sqrt();
    let self_y = frob2(linalg::matmul_tn(yc.view(), yc.view()).view()).sqrt();
    Ok(cka_from(cross2, self_x, self_y, flat))
}

/// Default tolerance on every CKA distance of a population matrix.
pub const DEFAULT_TOL: f64 = 1e-8;

/// CKA distance of the pair `(a, b)` from its block: `(distance, truncation bound, rounding
/// bound)`, see [`factor`](crate::analysis::factor) for the derivation.
pub fn cka_from_block(
    ra: &Reduced,
    rb: &Reduced,
    block: &PairBlock,
    samples: usize,
) -> (f64, f64, f64) {
    if ra.flat || rb.flat {
        return (1.0, 0.0, 0.0);
    }
    let (ta, tb) = (ra.total2(), rb.total2());
    let r_b_out_a = factor::outside2(tb, block.in_x, ra.k(), samples);
    let r_a_out_b = factor::outside2(ra.kept2(), block.in_y, rb.k(), samples);
    let missing = (ra.next().powi(2) * r_b_out_a).min(ra.tail2() * rb.top().powi(2))
        + (rb.next().powi(2) * r_a_out_b).min(rb.tail2() * ra.top().powi(2));
    let denom = ra.gram_frob() * rb.gram_frob();
    let cka = block.frob2 / denom;
    let units = ra.proj.nrows() + rb.proj.nrows();
    let round = 3.0 * factor::gamma(samples + units) * ta * tb / denom;
    ((1.0 - cka).clamp(0.0, 1.0), missing / denom, round)
}

/// CKA distances of a reduced population from its pair blocks; pairs the bound cannot keep
/// within `tol` are recomputed with [`cka_distance`].
pub fn cka_from_blocks(
    xs: &[ArrayView2<f32>],
    reduced: &[Reduced],
    blocks: &[PairBlock],
    tol: f64,
) -> Result<Bounded, GeometryError> {
    factor::from_blocks(xs, reduced, blocks, tol, cka_from_block, cka_distance)
}

/// CKA distance matrix of a population, every entry within `tol` of the exact value (proven,
/// rounding allowance included in [`Bounded::max_error`]).
pub fn cka_matrix_bounded(xs: &[ArrayView2<f32>], tol: f64) -> Result<Bounded, GeometryError> {
    let reduced = factor::reduce_all(xs, Rule::Cka(tol))?;
    let blocks = factor::pair_blocks(xs, &reduced, false)?;
    cka_from_blocks(xs, &reduced, &blocks, tol)
}

/// CKA distance matrix of a population: symmetric, zero diagonal, values in `[0, 1]`, within
/// [`DEFAULT_TOL`] of the exact values.
pub fn cka_matrix(xs: &[ArrayView2<f32>]) -> Result<Array2<f64>, GeometryError> {
    Ok(cka_matrix_bounded(xs, DEFAULT_TOL)?.distance)
}

/// CKA distance of the pair `(a, b)` from the `f32` cross-products and its proven error: the
/// products' worst-case rounding ([`cross::DELTA`] against `‖X̃_a‖_F ‖X̃_b‖_F`) carried through
/// numerator and denominator.
fn cka_exact_pair(st: &Stats, a: usize, b: usize) -> (f64, f64) {
    if st.flat[a] || st.flat[b] {
        return (1.0, 0.0);
    }
    let d = cross::DELTA;
    let (ta, tb) = (st.trace[a] * (1.0 + 2.0 * d), st.trace[b] * (1.0 + 2.0 * d));
    let e = d * (ta * tb).sqrt();
    let f = st.pair(a, b).0.sqrt();
    let (ga, gb) = (st.gram2(a).sqrt(), st.gram2(b).sqrt());
    let cka = f * f / (ga * gb);
    let den_lo = (ga - d * ta) * (gb - d * tb);
    let distance = (1.0 - cka).clamp(0.0, 1.0);
    if den_lo <= 0.0 {
        return (distance, 1.0);
    }
    let hi = (f + e).powi(2) / den_lo;
    let lo = (f - e).max(0.0).powi(2) / ((ga + d * ta) * (gb + d * tb));
    let err = (hi - cka).max(cka - lo) * (1.0 + 1e-6) + 8.0 * f64::EPSILON;
    (distance, err)
}

/// CKA distances from a population's cross-products ([`Stats`]), with the proven bound.
pub fn cka_exact_from(st: &Stats) -> Bounded {
    let (distance, max_error) = st.matrix(|a, b| cka_exact_pair(st, a, b));
    Bounded {
        distance,
        max_error,
        mean_k: st.mean_cols(),
        exact_pairs: 0,
    }
}

/// CKA distance matrix of a population without truncation, through `f32` cross-products with
/// `f64` accumulation; every entry within the proven [`Bounded::max_error`].
pub fn cka_matrix_exact(xs: &[ArrayView2<f32>]) -> Result<Bounded, GeometryError> {
    let st = Stats::of(xs, true, false, cross::flat_flags(xs)?)?;
    Ok(cka_exact_from(&st))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn gaussian(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || StandardNormal.sample(rng))
    }

    /// Low-rank-plus-noise states: `rank` latent signals mixed into `units`, noise 0.1, offset 0.5.
    pub(crate) fn random_states(
        samples: usize,
        units: usize,
        rank: usize,
        seed: u64,
    ) -> Array2<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let latent = gaussian(samples, rank, &mut rng);
        let mix = gaussian(rank, units, &mut rng);
        let noise = gaussian(samples, units, &mut rng);
        (linalg::matmul(latent.view(), mix.view()) + noise * 0.1 + 0.5).mapv(|v| v as f32)
    }

    /// States with a geometric spectrum, like trained hidden states: Gaussian latents scaled by
    /// `q^i` and rotated into the units, plus an offset.
    pub(crate) fn decaying_states(samples: usize, units: usize, q: f64, seed: u64) -> Array2<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut latent = gaussian(samples, units, &mut rng);
        for (i, mut col) in latent.columns_mut().into_iter().enumerate() {
            col *= q.powi(i as i32);
        }
        let x = latent.mapv(|v| v as f32) + 0.25;
        rotate(x.view(), seed + 1000)
    }

    /// `X R` for a seeded random orthogonal `R`.
    pub(crate) fn rotate(x: ArrayView2<f32>, seed: u64) -> Array2<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (u, _, v) = linalg::thin_svd(gaussian(x.ncols(), x.ncols(), &mut rng).view()).unwrap();
        let r = linalg::matmul(u.view(), v.t());
        linalg::matmul(x.mapv(|v| v as f64).view(), r.view()).mapv(|v| v as f32)
    }

    #[test]
    fn identical_rotated_and_scaled_representations_are_at_distance_zero() {
        let x = random_states(300, 12, 4, 1);
        assert!(cka_distance(x.view(), x.view()).unwrap() < 1e-10);
        // f32 rounding of the rotated states bounds this one.
        let y = rotate(x.view(), 2).mapv(|v| -0.25 * v);
        assert!(cka_distance(x.view(), y.view()).unwrap() < 1e-7);
    }

    #[test]
    fn known_value_for_two_orthogonal_directions() {
        // X = [a, b], Y = [a, c] with orthonormal-direction columns of norm 2:
        // ||YᵀX||² = 16, ||XᵀX||_F = ||YᵀY||_F = 4√2, CKA = 16/32.
        let a = [1.0f32, -1.0, 1.0, -1.0];
        let b = [1.0f32, 1.0, -1.0, -1.0];
        let c = [1.0f32, -1.0, -1.0, 1.0];
        let x = Array2::from_shape_fn((4, 2), |(i, j)| [a, b][j][i]);
        let y = Array2::from_shape_fn((4, 2), |(i, j)| [a, c][j][i]);
        assert!((cka_distance(x.view(), y.view()).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn population_matches_pairwise_reference() {
        let xs: Vec<Array2<f32>> = (0..6)
            .map(|i| random_states(150, 4 + 3 * (i % 3), 3, 20 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let m = cka_matrix(&views).unwrap();
        for a in 0..6 {
            assert_eq!(m[(a, a)], 0.0);
            for b in 0..6 {
                assert_eq!(m[(a, b)], m[(b, a)]);
                if a != b {
                    let want = cka_distance(views[a], views[b]).unwrap();
                    assert!((m[(a, b)] - want).abs() < 1e-10, "({a},{b})");
                    assert!(want > 0.05);
                }
            }
        }
    }

    #[test]
    fn constant_network_is_at_distance_one() {
        let x = random_states(50, 4, 2, 3);
        let z = Array2::<f32>::from_elem((50, 3), -1.3);
        assert_eq!(cka_distance(x.view(), z.view()).unwrap(), 1.0);
        let m = cka_matrix(&[x.view(), z.view()]).unwrap();
        assert_eq!((m[(0, 1)], m[(1, 1)]), (1.0, 0.0));
    }

    #[test]
    fn truncated_population_is_within_its_proven_bound_of_the_exact_values() {
        let xs: Vec<Array2<f32>> = (0..6)
            .map(|i| decaying_states(400, 24, 0.45 + 0.05 * (i % 3) as f64, 80 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let mut worst_seen = 0.0f64;
        for tol in [1e-8, 1e-5, 1e-3] {
            let got = cka_matrix_bounded(&views, tol).unwrap();
            assert!(
                got.mean_k < 24.0,
                "tol {tol}: truncation must happen, k = {}",
                got.mean_k
            );
            assert!(got.max_error <= tol, "tol {tol}: bound {}", got.max_error);
            for a in 0..6 {
                assert_eq!(got.distance[(a, a)], 0.0);
                for b in a + 1..6 {
                    let exact = cka_distance(views[a], views[b]).unwrap();
                    let err = (got.distance[(a, b)] - exact).abs();
                    // 1e-12: rounding of the exact reference itself.
                    assert!(
                        err <= got.max_error + 1e-12,
                        "tol {tol} ({a},{b}): {err:e} > {:e}",
                        got.max_error
                    );
                    worst_seen = worst_seen.max(err);
                }
            }
        }
        assert!(
            worst_seen > 1e-9,
            "loose tolerances really truncate: {worst_seen:e}"
        );
        // Untruncated (rule Exact) agrees with the pairwise formula to rounding.
        let exact = factor::reduce_all(&views, Rule::Exact).unwrap();
        let blocks = factor::pair_blocks(&views, &exact, false).unwrap();
        let full = cka_from_blocks(&views, &exact, &blocks, 0.0).unwrap();
        assert_eq!(full.exact_pairs, 0);
        assert!((&full.distance - &cka_matrix(&views).unwrap())
            .iter()
            .all(|e| e.abs() < 1e-8));
    }

    #[test]
    fn matrices_do_not_depend_on_thread_count() {
        let xs: Vec<Array2<f32>> = (0..9)
            .map(|i| decaying_states(150, 10, 0.3, 200 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let one = pool(1).install(|| cka_matrix_bounded(&views, 1e-6).unwrap());
        let three = pool(3).install(|| cka_matrix_bounded(&views, 1e-6).unwrap());
        assert!(one.mean_k < 10.0);
        assert_eq!(one, three);
        // The exact path, over mixed widths (several groups of networks).
        let xs: Vec<Array2<f32>> = (0..9)
            .map(|i| decaying_states(300, 40 + 30 * (i % 4), 0.9, 950 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let one = pool(1).install(|| cka_matrix_exact(&views).unwrap());
        let two = pool(2).install(|| cka_matrix_exact(&views).unwrap());
        assert_eq!(one, two);
    }

    #[test]
    fn exact_population_is_within_its_proven_bound_of_the_reference() {
        // Mixed widths (groups of several networks and lone wide ones), 600 samples (3 chunks),
        // one constant network.
        let mut xs: Vec<Array2<f32>> = (0..7)
            .map(|i| random_states(600, 5 + 60 * (i % 3), 4, 900 + i as u64))
            .collect();
        xs.push(Array2::from_elem((600, 3), 0.7));
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let got = cka_matrix_exact(&views).unwrap();
        assert!(got.max_error < 1e-2, "{}", got.max_error);
        let mut worst = 0.0f64;
        for a in 0..8 {
            assert_eq!(got.distance[(a, a)], 0.0);
            for b in a + 1..8 {
                assert_eq!(got.distance[(a, b)], got.distance[(b, a)]);
                let want = cka_distance(views[a], views[b]).unwrap();
                let err = (got.distance[(a, b)] - want).abs();
                assert!(err <= got.max_error, "({a},{b}): {err:e}");
                worst = worst.max(err);
            }
        }
        assert_eq!(got.distance[(0, 7)], 1.0);
        // The measured error is far inside the worst case.
        assert!(worst < 1e-5, "{worst:e}");
    }
}
