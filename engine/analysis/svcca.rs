//! SVCCA distance between network representations (Raghu et al. 2017; SPEC §4), in `f64`.
//!
//! For a state matrix `X` (samples × units): centre the columns, take the thin SVD
//! `X̃ = U S Vᵀ`, keep the top `k` directions whose squared singular values reach the fraction
//! `variance` of the total, and use `Q = U_k` as the orthonormal basis of the reduced data. The
//! canonical correlations of two networks are the singular values of `Q_aᵀ Q_b`; the distance is
//! `1 − mean` of all `min(k_a, k_b)` of them, in `[0, 1]`.
//!
//! - [`svcca_distance`]: one pair, straightforwardly (the reference);
//! - [`svcca_matrix`]: a population. Each network is reduced once ([`SvccaReduced`]: its
//!   `V_k S_k⁻¹`, so the `samples × k` basis `Q = X̃ V_k S_k⁻¹` is rebuilt when the blocks need
//!   it rather than kept per network), then every pair costs one `k_a × k_b` block of a blocked
//!   product plus a tiny SVD.
//!
//! A network without variance (all states constant) has no directions (`k = 0`): its distance
//! to every other network is 1 (no shared signal), and 0 to itself on the matrix diagonal.

use crate::analysis::linalg::{self, GeometryError};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// What a network contributes to every SVCCA pair: `Q = X̃ · proj`, `X̃` its centred states.
#[derive(Debug, Clone)]
pub struct SvccaReduced {
    /// `units × k`: `V_k S_k⁻¹`.
    pub proj: Array2<f64>,
}

impl SvccaReduced {
    pub fn k(&self) -> usize {
        self.proj.ncols()
    }
}

fn check_variance(variance: f64) -> Result<(), GeometryError> {
    if variance > 0.0 && variance <= 1.0 {
        Ok(())
    } else {
        Err(GeometryError::BadVariance(variance))
    }
}

/// Number of leading singular directions to keep: the fewest reaching `variance` of `Σ s²`,
/// never beyond the numerical rank; 0 for a matrix without variance.
fn keep(s: &Array1<f64>, samples: usize, units: usize, raw2: f64, variance: f64) -> usize {
    let total: f64 = s.iter().map(|v| v * v).sum();
    if s.is_empty() || linalg::no_variance(total, raw2) {
        return 0;
    }
    let rank = s
        .iter()
        .take_while(|&&v| v > s[0] * samples.max(units) as f64 * f64::EPSILON)
        .count();
    let mut acc = 0.0;
    for (i, v) in s.iter().enumerate() {
        acc += v * v;
        if acc >= variance * total {
            return (i + 1).min(rank);
        }
    }
    rank
}

/// Reduces one network (checked states) to its SVCCA basis.
pub fn svcca_reduce(x: ArrayView2<f32>, variance: f64) -> Result<SvccaReduced, GeometryError> {
    check_variance(variance)?;
    linalg::check_states(&[x])?;
    let xc = linalg::centred(x);
    let (s, v) = linalg::svd_values_right(xc.view())?;
    let k = keep(&s, x.nrows(), x.ncols(), linalg::norm2_f32(x), variance);
    let proj = &v.slice(s![.., ..k]) / &s.slice(s![..k]);
    Ok(SvccaReduced { proj })
}

/// `1 − mean(correlations)`, from the singular values of `Q_aᵀ Q_b` (clamped to `[0, 1]`).
fn distance_from_cross(cross: ArrayView2<f64>) -> Result<f64, GeometryError> {
    let k = cross.nrows().min(cross.ncols());
    if k == 0 {
        return Ok(1.0);
    }
    let rho = linalg::singular_values(cross)?;
    Ok(1.0 - rho.iter().map(|r| r.clamp(0.0, 1.0)).sum::<f64>() / k as f64)
}

/// SVCCA distance of one pair, computed directly from the thin SVDs.
pub fn svcca_distance(
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    variance: f64,
) -> Result<f64, GeometryError> {
    check_variance(variance)?;
    linalg::check_states(&[x, y])?;
    let basis = |m: ArrayView2<f32>| -> Result<Array2<f64>, GeometryError> {
        let (u, s, _) = linalg::thin_svd(linalg::centred(m).view())?;
        let k = keep(&s, m.nrows(), m.ncols(), linalg::norm2_f32(m), variance);
        Ok(u.slice(s![.., ..k]).to_owned())
    };
    let (qa, qb) = (basis(x)?, basis(y)?);
    distance_from_cross(linalg::matmul_tn(qa.view(), qb.view()).view())
}

/// Writes `Q = X̃·proj` into `out` (`samples × k`).
fn write_basis(x: ArrayView2<f32>, r: &SvccaReduced, mut out: ArrayViewMut2<f64>) {
    let xc = linalg::centred(x);
    out.assign(&linalg::matmul(xc.view(), r.proj.view()));
}

/// SVCCA distances among an already reduced population (`xs[i]` reduced to `reduced[i]`).
pub fn svcca_matrix_reduced(
    xs: &[ArrayView2<f32>],
    reduced: &[SvccaReduced],
) -> Result<Array2<f64>, GeometryError> {
    let samples = linalg::check_states(xs)?;
    assert_eq!(xs.len(), reduced.len(), "one reduction per network");
    let cols: Vec<usize> = reduced.iter().map(SvccaReduced::k).collect();
    let upper = linalg::all_pairs(
        samples,
        &cols,
        |i, out| write_basis(xs[i], &reduced[i], out),
        |a, b, cross| {
            if a == b {
                Ok(0.0)
            } else {
                distance_from_cross(cross)
            }
        },
    );
    let upper = upper.into_iter().collect::<Result<Vec<f64>, _>>()?;
    Ok(linalg::symmetric_from_pairs(xs.len(), &upper))
}

/// SVCCA distance matrix of a population: symmetric, zero diagonal, values in `[0, 1]`.
pub fn svcca_matrix(xs: &[ArrayView2<f32>], variance: f64) -> Result<Array2<f64>, GeometryError> {
    check_variance(variance)?;
    linalg::check_states(xs)?;
    let reduced = xs
        .par_iter()
        .map(|x| svcca_reduce(*x, variance))
        .collect::<Result<Vec<_>, _>>()?;
    svcca_matrix_reduced(xs, &reduced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::tests::{random_states, rotate};

    #[test]
    fn orthogonal_columns_give_correlations_one_and_zero() {
        // a, b, c: centred, mutually orthogonal columns of equal norm.
        let a = [1.0f32, -1.0, 1.0, -1.0];
        let b = [1.0f32, 1.0, -1.0, -1.0];
        let c = [1.0f32, -1.0, -1.0, 1.0];
        let x = Array2::from_shape_fn((4, 2), |(i, j)| [a, b][j][i]);
        let y = Array2::from_shape_fn((4, 2), |(i, j)| [a, c][j][i]);
        let d = svcca_distance(x.view(), y.view(), 1.0).unwrap();
        assert!((d - 0.5).abs() < 1e-12, "{d}");
        let m = svcca_matrix(&[x.view(), y.view()], 1.0).unwrap();
        assert!((m[(0, 1)] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn identical_rotated_and_scaled_representations_are_at_distance_zero() {
        let x = random_states(300, 12, 4, 1);
        let y = rotate(x.view(), 2).mapv(|v| 3.5 * v);
        assert!(svcca_distance(x.view(), x.view(), 0.95).unwrap() < 1e-10);
        // A rotation keeps the spectrum, hence k, and spans the same subspace.
        assert!(svcca_distance(x.view(), y.view(), 0.95).unwrap() < 1e-10);
        assert!(svcca_distance(x.view(), y.view(), 1.0).unwrap() < 1e-10);
    }

    #[test]
    fn population_matches_pairwise_reference() {
        let xs: Vec<Array2<f32>> = (0..7)
            .map(|i| random_states(200, 5 + 3 * (i % 3), 3, 10 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let m = svcca_matrix(&views, 0.9).unwrap();
        for a in 0..7 {
            assert_eq!(m[(a, a)], 0.0);
            for b in 0..7 {
                assert_eq!(m[(a, b)], m[(b, a)]);
                if a != b {
                    let want = svcca_distance(views[a], views[b], 0.9).unwrap();
                    assert!(
                        (m[(a, b)] - want).abs() < 1e-10,
                        "({a},{b}): {} vs {want}",
                        m[(a, b)]
                    );
                    assert!(m[(a, b)] > 0.05, "independent networks are far apart");
                }
            }
        }
    }

    #[test]
    fn constant_network_is_at_distance_one() {
        let x = random_states(50, 4, 2, 3);
        let z = Array2::<f32>::from_elem((50, 4), 0.7);
        assert_eq!(svcca_distance(x.view(), z.view(), 0.95).unwrap(), 1.0);
        assert_eq!(svcca_distance(z.view(), z.view(), 0.95).unwrap(), 1.0);
        let m = svcca_matrix(&[x.view(), z.view()], 0.95).unwrap();
        assert_eq!((m[(0, 1)], m[(1, 1)]), (1.0, 0.0));
    }

    #[test]
    fn matrix_does_not_depend_on_thread_count() {
        let xs: Vec<Array2<f32>> = (0..9)
            .map(|i| random_states(120, 6, 3, 60 + i as u64))
            .collect();
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert_eq!(
            one.install(|| svcca_matrix(&views, 0.95)),
            three.install(|| svcca_matrix(&views, 0.95))
        );
    }

    /// `tests/reference/geometry_ref.py`, found from this file's path in any crate that
    /// includes it (relative paths are relative to the package root, the test's directory).
    fn reference_script() -> std::path::PathBuf {
        let here = std::path::Path::new(file!());
        let here = if here.is_absolute() {
            here.to_path_buf()
        } else {
            std::env::current_dir().unwrap().join(here)
        };
        here.ancestors()
            .nth(3)
            .unwrap()
            .join("tests/reference/geometry_ref.py")
    }

    #[test]
    fn all_three_metrics_match_the_numpy_reference() {
        let has_numpy = std::process::Command::new("python3")
            .args(["-c", "import numpy"])
            .status()
            .is_ok_and(|s| s.success());
        if !has_numpy {
            assert!(
                std::env::var_os("CI").is_none(),
                "numpy is required on CI for the geometry reference test"
            );
            eprintln!("skipped: numpy not installed");
            return;
        }
        let x = random_states(120, 7, 3, 70);
        let y = random_states(120, 5, 4, 71);
        let variance = 0.9;
        let mut text = format!("{} {} {} {variance}\n", x.nrows(), x.ncols(), y.ncols());
        for row in x.rows().into_iter().chain(y.rows()) {
            let vals: Vec<String> = row.iter().map(|&v| format!("{}", v as f64)).collect();
            text += &(vals.join(" ") + "\n");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pair.txt");
        std::fs::write(&file, text).unwrap();
        let out = std::process::Command::new("python3")
            .arg(reference_script())
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want: Vec<f64> = String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(want.len(), 3, "the script prints svcca, cka, shape");
        let got = [
            svcca_distance(x.view(), y.view(), variance).unwrap(),
            crate::analysis::cka::cka_distance(x.view(), y.view()).unwrap(),
            crate::analysis::shape::shape_distance(x.view(), y.view()).unwrap(),
        ];
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "rust {got:?} vs numpy {want:?}");
        }
        // The population paths (truncated CKA and shape at their default tolerances) too.
        let pair = [x.view(), y.view()];
        let population = [
            svcca_matrix(&pair, variance).unwrap()[(0, 1)],
            crate::analysis::cka::cka_matrix(&pair).unwrap()[(0, 1)],
            crate::analysis::shape::shape_matrix(&pair).unwrap()[(0, 1)],
        ];
        for (g, w) in population.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-6,
                "population {population:?} vs numpy {want:?}"
            );
        }
        assert!(
            want.iter().all(|w| *w > 0.05),
            "a pair far from trivial: {want:?}"
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = random_states(50, 4, 2, 3);
        let short = random_states(40, 4, 2, 3);
        assert_eq!(
            svcca_distance(x.view(), x.view(), 0.0),
            Err(GeometryError::BadVariance(0.0))
        );
        assert!(matches!(
            svcca_matrix(&[x.view(), short.view()], 0.9),
            Err(GeometryError::SampleMismatch {
                index: 1,
                expected: 50,
                got: 40
            })
        ));
        let mut nan = x.clone();
        nan[(3, 1)] = f32::NAN;
        assert_eq!(
            svcca_distance(x.view(), nan.view(), 0.9),
            Err(GeometryError::NonFinite { index: 1 })
        );
    }
}
