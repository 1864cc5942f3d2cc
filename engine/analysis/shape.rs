//! Angular Procrustes shape metric (Williams et al. 2021; SPEC §4), in `f64`: with centred
//! `X`, `Y` zero-padded to the same width, `d = arccos(||Xᵀ Y||_* / (||X||_F ||Y||_F))`, in
//! `[0, π/2]`. Zero-padding leaves the singular values of `XᵀY` unchanged, so the `N_a × N_b`
//! product is used as is. It is a true metric, which MDS and clustering rely on.
//!
//! - [`shape_distance`]: one pair (the reference);
//! - [`shape_matrix`], [`cka_shape_matrices`]: a population from the blocked cross products
//!   of [`cka::cross_stats`](crate::analysis::cka::cross_stats), plus an `N_a × N_b` SVD per pair.
//!
//! Resolution: `arccos` near 1 turns the rounding of the cosine (~1e-16) into ~1e-8 of
//! distance, so identical representations give ~1e-8, not 0, in [`shape_distance`]; the matrix
//! diagonal is exactly 0. A network without variance is at `π/2` from every other network.

use crate::analysis::cka::{self, CrossStats};
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

/// Shape distances from [`cka::cross_stats`] computed with `nuclear = true`.
pub fn shape_from_stats(st: &CrossStats) -> Array2<f64> {
    let n = st.trace.len();
    let mut upper = Vec::with_capacity(st.pairs.len());
    for a in 0..n {
        for b in a..n {
            let (_, nuc) = st.pairs[upper.len()];
            upper.push(angle(
                nuc,
                st.trace[a],
                st.trace[b],
                st.flat[a] || st.flat[b],
            ));
        }
    }
    linalg::symmetric_from_pairs(n, &upper)
}

/// Shape distance matrix of a population: symmetric, zero diagonal, values in `[0, π/2]`.
pub fn shape_matrix(xs: &[ArrayView2<f32>]) -> Result<Array2<f64>, GeometryError> {
    Ok(shape_from_stats(&cka::cross_stats(xs, true)?))
}

/// CKA and shape distance matrices from a single pass over the cross products.
pub fn cka_shape_matrices(
    xs: &[ArrayView2<f32>],
) -> Result<(Array2<f64>, Array2<f64>), GeometryError> {
    let st = cka::cross_stats(xs, true)?;
    Ok((cka::cka_from_stats(&st), shape_from_stats(&st)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::cka_matrix;
    use crate::analysis::cka::tests::{random_states, rotate};

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
}
