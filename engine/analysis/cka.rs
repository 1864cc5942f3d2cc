//! Linear CKA distance between network representations (Kornblith et al. 2019; SPEC §4), in
//! `f64`: with column-centred `X`, `Y` (samples × units),
//! `CKA = ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F)` and the distance is `1 − CKA`, in `[0, 1]`.
//!
//! - [`cka_distance`]: one pair, straight from the formula (the reference);
//! - [`cka_matrix`]: a population, from one blocked pass of cross products `X̃_aᵀ X̃_b`
//!   ([`cross_stats`], shared with the shape metric): a pair costs one `N_a × N_b` block.
//!
//! A network without variance (all states constant) has `XᵀX = 0`: its distance to every
//! other network is 1, and 0 to itself on the matrix diagonal.

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

/// Per-network and per-pair quantities of the centred cross products `C_ab = X̃_aᵀ X̃_b`.
#[derive(Debug, Clone)]
pub struct CrossStats {
    /// `||X̃_aᵀ X̃_a||_F` per network.
    pub self_frob: Vec<f64>,
    /// `||X̃_a||_F² = tr(X̃_aᵀ X̃_a)` per network.
    pub trace: Vec<f64>,
    /// Whether the network has no variance ([`linalg::no_variance`]).
    pub flat: Vec<bool>,
    /// `(||C_ab||_F², ||C_ab||_*)` for `a ≤ b` in upper-triangle order; the nuclear norm is 0
    /// unless requested.
    pub pairs: Vec<(f64, f64)>,
}

/// One blocked pass over all pairs of a population (see [`linalg::all_pairs`]); with
/// `nuclear`, also the nuclear norm of each block (a small SVD per pair).
pub fn cross_stats(xs: &[ArrayView2<f32>], nuclear: bool) -> Result<CrossStats, GeometryError> {
    let samples = linalg::check_states(xs)?;
    let cols: Vec<usize> = xs.iter().map(|x| x.ncols()).collect();
    let pairs = linalg::all_pairs(
        samples,
        &cols,
        |i, out| linalg::centred_into(xs[i], out),
        |a, b, c| -> Result<(f64, f64, f64), GeometryError> {
            let nuc = if nuclear && a != b {
                linalg::singular_values(c)?.sum()
            } else {
                0.0
            };
            let trace = if a == b { c.diag().sum() } else { 0.0 };
            Ok((frob2(c), nuc, trace))
        },
    )
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let n = xs.len();
    let (mut self_frob, mut trace) = (vec![0.0; n], vec![0.0; n]);
    let mut k = 0;
    for a in 0..n {
        self_frob[a] = pairs[k].0.sqrt();
        trace[a] = pairs[k].2;
        k += n - a;
    }
    let flat = xs
        .iter()
        .zip(&trace)
        .map(|(x, &t)| linalg::no_variance(t, linalg::norm2_f32(*x)))
        .collect();
    Ok(CrossStats {
        self_frob,
        trace,
        flat,
        pairs: pairs.into_iter().map(|(f, s, _)| (f, s)).collect(),
    })
}

/// CKA distances from [`cross_stats`].
pub fn cka_from_stats(st: &CrossStats) -> Array2<f64> {
    let n = st.self_frob.len();
    let mut upper = Vec::with_capacity(st.pairs.len());
    for a in 0..n {
        for b in a..n {
            let (f2, _) = st.pairs[upper.len()];
            upper.push(cka_from(
                f2,
                st.self_frob[a],
                st.self_frob[b],
                st.flat[a] || st.flat[b],
            ));
        }
    }
    linalg::symmetric_from_pairs(n, &upper)
}

/// CKA distance matrix of a population: symmetric, zero diagonal, values in `[0, 1]`.
pub fn cka_matrix(xs: &[ArrayView2<f32>]) -> Result<Array2<f64>, GeometryError> {
    Ok(cka_from_stats(&cross_stats(xs, false)?))
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
}
