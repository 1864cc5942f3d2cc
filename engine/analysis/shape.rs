//! Angular Procrustes shape metric (Williams et al. 2021; SPEC §4), in `f64`: with centred
//! `X`, `Y` zero-padded to the same width, `d = arccos(||Xᵀ Y||_* / (||X||_F ||Y||_F))`, in
//! `[0, π/2]`. Zero-padding leaves the singular values of `XᵀY` unchanged, so the `N_a × N_b`
//! product is used as is. It is a true metric, which MDS and clustering rely on.
//!
//! - [`shape_distance`]: one pair (the reference);
//! - [`shape_matrix`], [`shape_matrix_bounded`], [`cka_shape_bounded`]: a population from the
//!   per-network reductions of [`factor`](crate::analysis::factor): each pair is a `k_a × k_b`
//!   block and its singular values. Truncation keeps `√(Σ_{i>k} s_i² / Σ s_i²) ≤ tol/2` (the
//!   nuclear norm's error is first order in the dropped singular values); a pair whose proven
//!   angle bound still exceeds `tol` is recomputed exactly with [`shape_distance`].
//!
//! - [`shape_matrix_exact`], [`cka_shape_exact`]: without truncation, from the `f32`
//!   cross-products of [`cross`](crate::analysis::cross) and one SVD per pair (its nuclear
//!   norm); the proven bound carries the products' rounding (`‖ΔC‖_* ≤ √r ‖ΔC‖_F`, `r` the
//!   smaller width) through the cosine and `arccos`.
//!
//! Resolution: `arccos` near 1 turns the rounding of the cosine (~1e-16) into ~1e-8 of
//! distance, so identical representations give ~1e-8, not 0, in [`shape_distance`]; the matrix
//! diagonal is exactly 0. A network without variance is at `π/2` from every other network.

use crate::analysis::cka;
use crate::analysis::cross::{self, Stats};
use crate::analysis::factor::{self, Bounded, PairBlock, Reduced, Rule};
use crate::analysis::linalg::{self, GeometryError};
use ndarray::{Array2, ArrayView2};
use std::f64::consts::FRAC_PI_2;

fn angle(nuclear: f64, trace_a: f64, trace_b: f64, flat: bool) -> f64 {
    if flat {
        FRAC_PI_2
    } else {
        (nuclear / (trace_a * trace_b).sqrt())
            .clamp(-1.0, 1.0)
            .acos()
    }
}

/// Shape distance of one pair.
pub fn shape_distance(x: ArrayView2<f32>, y: ArrayView2<f32>) -> Result<f64, GeometryError> {
    linalg::check_states(&[x, y])?;
    let (xc, yc) = (linalg::centred(x), linalg::centred(y));
    let (tx, ty) = (
        xc.iter().map(|v| v * v).sum::<f64>(),
        yc.iter().map(|v| v * v).sum::<f64>(),
    );
    let flat = linalg::no_variance(tx, linalg::norm2_f32(x))
        || linalg::no_variance(ty, linalg::norm2_f32(y));
    let nuclear = linalg::singular_values(linalg::matmul_tn(xc.view(), yc.view()).view())?.sum();
    Ok(angle(nuclear, tx, ty, flat))
}

/// Default tolerance (radians) on every shape distance of a population matrix.
pub const DEFAULT_TOL: f64 = 1e-8;

/// Shape distance of the pair `(a, b)` from its block: `(distance, truncation bound, rounding
/// bound)`. The nuclear norm is known within `[‖A‖_*, ‖A‖_* + √ε_a R_{b|a} + √ε_b R_{a|b}]`
/// (see [`factor`](crate::analysis::factor)); the angle reported is the one of `‖A‖_*`, the
/// exact angle lies below it by at most the truncation bound.
pub fn shape_from_block(
    ra: &Reduced,
    rb: &Reduced,
    block: &PairBlock,
    samples: usize,
) -> (f64, f64, f64) {
    if ra.flat || rb.flat {
        return (FRAC_PI_2, 0.0, 0.0);
    }
    let (ta, tb) = (ra.total2(), rb.total2());
    let norm = (ta * tb).sqrt();
    let r_b_out_a = factor::outside2(tb, block.in_x, ra.k(), samples);
    let r_a_out_b = factor::outside2(ra.kept2(), block.in_y, rb.k(), samples);
    let missing = (ra.tail2() * r_b_out_a).sqrt() + (rb.tail2() * r_a_out_b).sqrt();
    let kmin = ra.k().min(rb.k()).max(1) as f64;
    let units = ra.proj.nrows() + rb.proj.nrows();
    let round_cos = kmin.sqrt() * factor::gamma(samples + units) + 4.0 * kmin * kmin * f64::EPSILON;
    let cos = block.nuclear / norm;
    let acos = |c: f64| c.clamp(0.0, 1.0).acos();
    let got = acos(cos);
    let trunc = got - acos(cos + missing / norm);
    let all = (acos(cos - round_cos) - got).max(got - acos(cos + missing / norm + round_cos));
    (got, trunc, (all - trunc).max(0.0))
}

/// Shape distances of a reduced population from its pair blocks (computed with the nuclear
/// norm); pairs the bound cannot keep within `tol` are recomputed with [`shape_distance`].
pub fn shape_from_blocks(
    xs: &[ArrayView2<f32>],
    reduced: &[Reduced],
    blocks: &[PairBlock],
    tol: f64,
) -> Result<Bounded, GeometryError> {
    factor::from_blocks(xs, reduced, blocks, tol, shape_from_block, shape_distance)
}

/// Shape distance matrix of a population, every entry within `tol` radians of the exact value.
pub fn shape_matrix_bounded(xs: &[ArrayView2<f32>], tol: f64) -> Result<Bounded, GeometryError> {
    let reduced = factor::reduce_all(xs, Rule::Shape(tol))?;
    let blocks = factor::pair_blocks(xs, &reduced, true)?;
    shape_from_blocks(xs, &reduced, &blocks, tol)
}

/// Shape distance matrix of a population: symmetric, zero diagonal, values in `[0, π/2]`,
/// within [`DEFAULT_TOL`] of the exact values.
pub fn shape_matrix(xs: &[ArrayView2<f32>]) -> Result<Array2<f64>, GeometryError> {
    Ok(shape_matrix_bounded(xs, DEFAULT_TOL)?.distance)
}

/// CKA and shape matrices from one reduction and one pass over the pair blocks, each within
/// its tolerance.
pub fn cka_shape_bounded(
    xs: &[ArrayView2<f32>],
    cka_tol: f64,
    shape_tol: f64,
) -> Result<(Bounded, Bounded), GeometryError> {
    let reduced = factor::reduce_all(
        xs,
        Rule::Both {
            cka: cka_tol,
            shape: shape_tol,
        },
    )?;
    let blocks = factor::pair_blocks(xs, &reduced, true)?;
    Ok((
        cka::cka_from_blocks(xs, &reduced, &blocks, cka_tol)?,
        shape_from_blocks(xs, &reduced, &blocks, shape_tol)?,
    ))
}

/// [`cka_shape_bounded`] at the default tolerances.
pub fn cka_shape_matrices(
    xs: &[ArrayView2<f32>],
) -> Result<(Array2<f64>, Array2<f64>), GeometryError> {
    let (c, s) = cka_shape_bounded(xs, cka::DEFAULT_TOL, DEFAULT_TOL)?;
    Ok((c.distance, s.distance))
}

/// Shape distance of the pair `(a, b)` from its nuclear norm and traces, `(distance, proven
/// error)`: the products' rounding ([`cross::DELTA`]) and the SVD's (`4 r ε` relative).
fn shape_exact_pair(st: &Stats, a: usize, b: usize) -> (f64, f64) {
    if st.flat[a] || st.flat[b] {
        return (FRAC_PI_2, 0.0);
    }
    let d = cross::DELTA;
    let (ta, tb) = (st.trace[a], st.trace[b]);
    let r = st.cols[a].min(st.cols[b]).max(1) as f64;
    let nuclear = st.pair(a, b).1;
    let norm = (ta * tb).sqrt();
    let e = r.sqrt() * d * norm * (1.0 + 4.0 * d) + 4.0 * r * f64::EPSILON * nuclear;
    let got = angle(nuclear, ta, tb, false);
    let acos = |c: f64| c.clamp(0.0, 1.0).acos();
    let lo = acos((nuclear + e) / (norm * (1.0 - 2.0 * d)));
    let hi = acos((nuclear - e) / (norm * (1.0 + 2.0 * d)));
    (got, (hi - got).max(got - lo) + 8.0 * f64::EPSILON)
}

/// CKA and shape distances from a population's cross-products (nuclear norms included).
pub fn cka_shape_exact_from(st: &Stats) -> (Bounded, Bounded) {
    let (distance, max_error) = st.matrix(|a, b| shape_exact_pair(st, a, b));
    let shape = Bounded {
        distance,
        max_error,
        mean_k: st.mean_cols(),
        exact_pairs: 0,
    };
    (cka::cka_exact_from(st), shape)
}

/// CKA and shape matrices without truncation from one pass of `f32` cross-products (`f64`
/// accumulation), each entry within its proven [`Bounded::max_error`].
pub fn cka_shape_exact(xs: &[ArrayView2<f32>]) -> Result<(Bounded, Bounded), GeometryError> {
    let st = Stats::of(xs, true, true, cross::flat_flags(xs)?)?;
    Ok(cka_shape_exact_from(&st))
}

/// Shape distance matrix without truncation ([`cka_shape_exact`]'s second part).
pub fn shape_matrix_exact(xs: &[ArrayView2<f32>]) -> Result<Bounded, GeometryError> {
    Ok(cka_shape_exact(xs)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::cka_matrix;
    use crate::analysis::cka::tests::{decaying_states, random_states, rotate};

    #[test]
    fn identical_rotated_and_scaled_representations_are_at_distance_zero() {
        let x = random_states(300, 12, 4, 1);
        assert!(shape_distance(x.view(), x.view()).unwrap() < 1e-7);
        let y = rotate(x.view(), 2).mapv(|v| 2.0 * v);
        assert!(shape_distance(x.view(), y.view()).unwrap() < 1e-6);
        // A genuinely different network is far, and the metric is symmetric.
        let z = random_states(300, 9, 4, 5);
        let (dxz, dzx) = (
            shape_distance(x.view(), z.view()).unwrap(),
            shape_distance(z.view(), x.view()).unwrap(),
        );
        assert!(dxz > 0.3 && (dxz - dzx).abs() < 1e-12);
    }

    #[test]
    fn known_value_for_two_orthogonal_directions() {
        // X = [a, b], Y = [a, c] (norm-2 orthogonal columns): XᵀY = diag(4, 0), ||X||² = 8,
        // cos = 4/8, d = π/3.
        let a = [1.0f32, -1.0, 1.0, -1.0];
        let b = [1.0f32, 1.0, -1.0, -1.0];
        let c = [1.0f32, -1.0, -1.0, 1.0];
        let x = Array2::from_shape_fn((4, 2), |(i, j)| [a, b][j][i]);
        let y = Array2::from_shape_fn((4, 2), |(i, j)| [a, c][j][i]);
        let d = shape_distance(x.view(), y.view()).unwrap();
        assert!((d - std::f64::consts::FRAC_PI_3).abs() < 1e-12, "{d}");
    }

    #[test]
    fn population_matches_pairwise_reference_and_satisfies_triangle_inequality() {
        let xs: Vec<Array2<f32>> = (0..6)
            .map(|i| random_states(150, 4 + 3 * (i % 3), 3, 40 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let (c, m) = cka_shape_matrices(&views).unwrap();
        assert_eq!(c, cka_matrix(&views).unwrap());
        assert_eq!(m, shape_matrix(&views).unwrap());
        for a in 0..6 {
            assert_eq!(m[(a, a)], 0.0);
            for b in 0..6 {
                assert_eq!(m[(a, b)], m[(b, a)]);
                if a != b {
                    let want = shape_distance(views[a], views[b]).unwrap();
                    assert!((m[(a, b)] - want).abs() < 1e-10, "({a},{b})");
                }
                for k in 0..6 {
                    assert!(m[(a, b)] <= m[(a, k)] + m[(k, b)] + 1e-12);
                }
            }
        }
    }

    #[test]
    fn constant_network_is_at_right_angle() {
        let x = random_states(50, 4, 2, 3);
        let z = Array2::<f32>::from_elem((50, 4), 2.0);
        assert_eq!(shape_distance(x.view(), z.view()).unwrap(), FRAC_PI_2);
        assert_eq!(
            shape_matrix(&[x.view(), z.view()]).unwrap()[(0, 1)],
            FRAC_PI_2
        );
    }

    #[test]
    fn truncated_population_is_within_its_proven_bound_of_the_exact_values() {
        let mut xs: Vec<Array2<f32>> = (0..6)
            .map(|i| decaying_states(400, 24, 0.2 + 0.05 * (i % 3) as f64, 90 + i as u64))
            .collect();
        // A near copy: the steep end of arccos, where the bound needs the exact fallback.
        xs.push(rotate(xs[0].view(), 7).mapv(|v| 1.5 * v));
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let mut worst_seen = 0.0f64;
        for tol in [1e-8, 1e-5, 1e-3] {
            let got = shape_matrix_bounded(&views, tol).unwrap();
            assert!(
                got.mean_k < 24.0,
                "tol {tol}: truncation must happen, k = {}",
                got.mean_k
            );
            for a in 0..7 {
                for b in a + 1..7 {
                    let exact = shape_distance(views[a], views[b]).unwrap();
                    let err = (got.distance[(a, b)] - exact).abs();
                    // 1e-7: the exact reference's own arccos resolution near 0 (module doc).
                    let allowed = got.max_error.min(tol) + if exact < 1e-3 { 1e-7 } else { 1e-12 };
                    assert!(err <= allowed, "tol {tol} ({a},{b}): {err:e} > {allowed:e}");
                    worst_seen = worst_seen.max(err);
                }
            }
            let (c, s) = cka_shape_bounded(&views, tol, tol).unwrap();
            assert!(c.max_error <= tol && s.max_error <= tol.max(got.max_error));
        }
        assert!(
            worst_seen > 1e-9,
            "loose tolerances really truncate: {worst_seen:e}"
        );
    }

    #[test]
    fn exact_population_is_within_its_proven_bound_of_the_reference() {
        let mut xs: Vec<Array2<f32>> = (0..6)
            .map(|i| random_states(500, 7 + 50 * (i % 3), 4, 960 + i as u64))
            .collect();
        xs.push(Array2::from_elem((500, 2), -0.2));
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let (c, s) = cka_shape_exact(&views).unwrap();
        assert_eq!(c, cka::cka_matrix_exact(&views).unwrap());
        assert_eq!(s, shape_matrix_exact(&views).unwrap());
        assert!(s.max_error < 0.05, "{}", s.max_error);
        let mut worst = 0.0f64;
        for a in 0..7 {
            assert_eq!(s.distance[(a, a)], 0.0);
            for b in a + 1..7 {
                assert_eq!(s.distance[(a, b)], s.distance[(b, a)]);
                let want = shape_distance(views[a], views[b]).unwrap();
                let err = (s.distance[(a, b)] - want).abs();
                assert!(err <= s.max_error, "({a},{b}): {err:e}");
                worst = worst.max(err);
            }
        }
        assert_eq!(s.distance[(0, 6)], FRAC_PI_2);
        assert!(worst < 1e-5, "{worst:e}");
    }
}
