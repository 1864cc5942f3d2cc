//! Opt-in estimators of the population CKA and shape matrices for populations where the exact
//! all-pairs products are too slow: one Gaussian sketch `Ω` (`m × samples`, entries
//! `N(0, 1/m)`, seeded) shared by every network, so each pair costs `2·m·N_a·N_b` instead of
//! `2·S·N_a·N_b`, plus `2·m·S·N` once per network to sketch it.
//!
//! With `Z = Ω X̃` (centred states, sketched through the `f32` GEMM, its rounding negligible
//! beside the sketch's), `E[ZᵀZ'] = X̃ᵀX̃'`, and for Gaussian `Ω`
//! `E‖Z_aᵀZ_b‖_F² = (1 + 1/m)‖X̃_aᵀX̃_b‖_F² + ‖X̃_a‖_F²‖X̃_b‖_F²/m`. The CKA estimate removes
//! that bias from numerator and both denominators (the `1 + 1/m` cancels):
//! `CKA ≈ (‖Z_aᵀZ_b‖² − t_a t_b/m) / √((‖Z_aᵀZ_a‖² − t_a²/m)(‖Z_bᵀZ_b‖² − t_b²/m))`, `t = ‖Z‖_F²`;
//! without it the bias is of order `N/m` for flat spectra. The shape estimate is the plain
//! angle of `Z_aᵀZ_b` (no such correction for a nuclear norm). Neither comes with a proven
//! bound: their errors against exact, measured at several `m` on the geometry bench's data and
//! on slowly decaying spectra, are in the README (Performance) and checked in the tests below.

use crate::analysis::cross::{self, Stats};
use crate::analysis::linalg::{self, GeometryError};
use crate::rnn::gemm::{gemm, Packed};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::f64::consts::FRAC_PI_2;

/// Seed of the sketch when the caller gives none.
pub const DEFAULT_SEED: u64 = 0x5ce7c4;

/// `Ω X̃_i` for every network (`m × units` each), `Ω` seeded by `seed`.
pub fn sketch_states(
    xs: &[ArrayView2<f32>],
    m: usize,
    seed: u64,
) -> Result<Vec<Array2<f32>>, GeometryError> {
    let samples = linalg::check_states(xs)?;
    if m == 0 {
        return Err(GeometryError::BadSketch(m));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = 1.0 / (m as f64).sqrt();
    let omega = Array2::<f32>::from_shape_simple_fn((m, samples), || {
        let g: f64 = StandardNormal.sample(&mut rng);
        (g * scale) as f32
    });
    Ok(xs
        .par_iter()
        .map(|x| {
            let xc = linalg::centred(*x);
            let mut packed = Packed::new();
            packed.pack(xc.mapv(|v| v as f32).view());
            let mut z = Array2::<f32>::zeros((m, x.ncols()));
            gemm(omega.view(), &packed, false, z.view_mut());
            z
        })
        .collect())
}

/// Cross-product statistics of the sketched population (nuclear norms when `nuclear`).
fn sketched_stats(
    xs: &[ArrayView2<f32>],
    m: usize,
    seed: u64,
    nuclear: bool,
) -> Result<Stats, GeometryError> {
    let zs = sketch_states(xs, m, seed)?;
    let views: Vec<_> = zs.iter().map(|z| z.view()).collect();
    Stats::of(&views, false, nuclear, cross::flat_flags(xs)?)
}

/// The debiased CKA distance of `(a, b)` from a sketch of size `m` (module doc); the plain
/// ratio when a debiased denominator is not positive (tiny `m`).
fn cka_pair(st: &Stats, m: f64, a: usize, b: usize) -> f64 {
    if st.flat[a] || st.flat[b] {
        return 1.0;
    }
    let (ta, tb) = (st.trace[a], st.trace[b]);
    let raw = st.pair(a, b).0 / (st.gram2(a) * st.gram2(b)).sqrt();
    let (da, db) = (st.gram2(a) - ta * ta / m, st.gram2(b) - tb * tb / m);
    let cka = if da > 0.0 && db > 0.0 {
        (st.pair(a, b).0 - ta * tb / m) / (da * db).sqrt()
    } else {
        raw
    };
    (1.0 - cka).clamp(0.0, 1.0)
}

fn shape_pair(st: &Stats, a: usize, b: usize) -> f64 {
    if st.flat[a] || st.flat[b] {
        return FRAC_PI_2;
    }
    let cos = st.pair(a, b).1 / (st.trace[a] * st.trace[b]).sqrt();
    cos.clamp(0.0, 1.0).acos()
}

/// Estimated CKA distance matrix from a shared sketch of `m` samples (symmetric, zero diagonal).
pub fn cka_matrix_sketched(
    xs: &[ArrayView2<f32>],
    m: usize,
    seed: u64,
) -> Result<Array2<f64>, GeometryError> {
    let st = sketched_stats(xs, m, seed, false)?;
    Ok(st.matrix(|a, b| (cka_pair(&st, m as f64, a, b), 0.0)).0)
}

/// Estimated CKA and shape distance matrices from one shared sketch of `m` samples.
pub fn cka_shape_sketched(
    xs: &[ArrayView2<f32>],
    m: usize,
    seed: u64,
) -> Result<(Array2<f64>, Array2<f64>), GeometryError> {
    let st = sketched_stats(xs, m, seed, true)?;
    let cka = st.matrix(|a, b| (cka_pair(&st, m as f64, a, b), 0.0)).0;
    Ok((cka, st.matrix(|a, b| (shape_pair(&st, a, b), 0.0)).0))
}

/// Estimated shape distance matrix from a shared sketch of `m` samples.
pub fn shape_matrix_sketched(
    xs: &[ArrayView2<f32>],
    m: usize,
    seed: u64,
) -> Result<Array2<f64>, GeometryError> {
    Ok(cka_shape_sketched(xs, m, seed)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::tests::decaying_states;
    use crate::analysis::{cka, shape};

    fn max_abs(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        (a - b).iter().fold(0.0f64, |m, e| m.max(e.abs()))
    }

    #[test]
    fn error_shrinks_with_the_sketch_and_is_small_at_large_m() {
        // Slowly decaying spectra (0.9 a direction) over 4,000 samples, 24 units.
        let xs: Vec<Array2<f32>> = (0..5)
            .map(|i| decaying_states(4000, 24, 0.9, 500 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let (c, s) = shape::cka_shape_exact(&views).unwrap();
        let errs: Vec<(f64, f64)> = [64, 2048]
            .iter()
            .map(|&m| {
                let (ck, sh) = cka_shape_sketched(&views, m, 7).unwrap();
                assert_eq!(ck, cka_matrix_sketched(&views, m, 7).unwrap());
                (max_abs(&ck, &c.distance), max_abs(&sh, &s.distance))
            })
            .collect();
        // At m = 2048 (half the samples) the estimates are within a few percent.
        assert!(errs[1].0 < 0.02 && errs[1].1 < 0.05, "{errs:?}");
        assert!(errs[1].0 < errs[0].0 && errs[1].1 < errs[0].1, "{errs:?}");
    }

    #[test]
    fn debiasing_removes_the_sketch_bias() {
        // Flat spectra (q = 1): the plain ratio's bias is of order N/m; independent networks
        // have CKA ≈ N/S ≈ 0, so the plain estimate's distance falls well below the exact one.
        let xs: Vec<Array2<f32>> = (0..2)
            .map(|i| decaying_states(3000, 32, 1.0, 600 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let exact = cka::cka_distance(views[0], views[1]).unwrap();
        let m = 128;
        let st = sketched_stats(&views, m, 3, false).unwrap();
        let plain = 1.0 - st.pair(0, 1).0 / (st.gram2(0) * st.gram2(1)).sqrt();
        let debiased = cka_pair(&st, m as f64, 0, 1);
        assert!((plain - exact).abs() > 0.1, "plain {plain} exact {exact}");
        assert!(
            (debiased - exact).abs() < 0.05,
            "debiased {debiased} exact {exact}"
        );
    }

    #[test]
    fn sketch_is_seeded_and_checked() {
        let xs: Vec<Array2<f32>> = (0..3)
            .map(|i| decaying_states(200, 6, 0.8, 700 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let one = cka_matrix_sketched(&views, 50, 1).unwrap();
        assert_eq!(one, cka_matrix_sketched(&views, 50, 1).unwrap());
        assert_ne!(one, cka_matrix_sketched(&views, 50, 2).unwrap());
        assert_eq!(
            cka_matrix_sketched(&views, 0, 1).unwrap_err(),
            GeometryError::BadSketch(0)
        );
    }
}
