//! SVCCA distance between network representations (Raghu et al. 2017; SPEC §4), in `f64`.
//!
//! For a state matrix `X` (samples × units): centre the columns, take the thin SVD
//! `X̃ = U S Vᵀ`, keep the top `k` directions, and use `Q = U_k` as the orthonormal basis of the
//! reduced data. The canonical correlations of two networks are the singular values of
//! `Q_aᵀ Q_b`, the cosines `cos θᵢ` of the principal angles between the two kept subspaces.
//!
//! How many directions to keep ([`Keep`]):
//! - [`Keep::Study`] (the default): one `k` for the whole study, the (upper) median over its
//!   networks of the per-network count reaching `variance`. Distance `1 − Σ cos θᵢ / k`.
//! - [`Keep::Components`]: one given `k` for the study (google/svcca's tutorials keep a fixed
//!   20 directions of both networks).
//! - [`Keep::PerNetwork`] (Raghu et al., the paper's "~95 % of the variance", census's rule
//!   before): each network keeps its own `k` reaching `variance`, and the distance is
//!   `1 − mean` of the `min(k_a, k_b)` correlations.
//!
//! What a common `k` guarantees: for two `k`-dimensional subspaces,
//! `min over orthogonal R of ||Q_a − Q_b R||_F² = 2k − 2 Σ cos θᵢ = 2k · d`, and the left side
//! is the square of a metric on subspaces (the Procrustes distance, a quotient of the Frobenius
//! distance by the orthogonal group, which acts by isometries). So `√d` is a metric among
//! networks whose states have at least `k` directions of variance: zero only between equal
//! subspaces, symmetric, and `√d(a, c) ≤ √d(a, b) + √d(b, c)`. `d` itself is not a metric
//! (for `k = 1`, lines at angles 0, θ, 2θ give `1 − cos 2θ > 2 (1 − cos θ)`), and no choice of
//! `k` makes it one; MDS and silhouettes of `d` are those of a squared metric. A network with
//! fewer than `k` directions keeps what it has and the missing correlations count as 0.
//!
//! The per-network rule gives no such guarantee: a network whose states are low-dimensional is
//! compared on its few directions only, which every other network contains, so it sits near
//! everyone (LSTM pairs 0.1–0.25 apart, 0.01 from GRUs on the sine task) and the triangle
//! inequality fails even for `√d`.
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

/// How many singular directions each network keeps (module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Keep {
    /// Each network its own count reaching this fraction of its variance.
    PerNetwork(f64),
    /// One count for all: the upper median of the per-network counts at this fraction.
    Study(f64),
    /// One given count for all.
    Components(usize),
}

/// Singular values and right vectors of one network's centred states, with its numerical rank
/// (0 for states without variance).
struct Spectrum {
    s: Array1<f64>,
    v: Array2<f64>,
    rank: usize,
}

fn spectrum(x: ArrayView2<f32>) -> Result<Spectrum, GeometryError> {
    let xc = linalg::centred(x);
    let (s, v) = linalg::svd_values_right(xc.view())?;
    let total: f64 = s.iter().map(|v| v * v).sum();
    let rank = if s.is_empty() || linalg::no_variance(total, linalg::norm2_f32(x)) {
        0
    } else {
        let floor = s[0] * x.nrows().max(x.ncols()) as f64 * f64::EPSILON;
        s.iter().take_while(|&&v| v > floor).count()
    };
    Ok(Spectrum { s, v, rank })
}

impl Spectrum {
    /// The fewest leading directions reaching `variance` of `Σ s²`, never beyond the rank.
    fn variance_count(&self, variance: f64) -> usize {
        let total: f64 = self.s.iter().map(|v| v * v).sum();
        let mut acc = 0.0;
        for (i, v) in self.s.iter().take(self.rank).enumerate() {
            acc += v * v;
            if acc >= variance * total {
                return i + 1;
            }
        }
        self.rank
    }

    fn reduce(&self, k: usize) -> SvccaReduced {
        let k = k.min(self.rank);
        SvccaReduced {
            proj: &self.v.slice(s![.., ..k]) / &self.s.slice(s![..k]),
        }
    }
}

fn check_keep(keep: Keep) -> Result<(), GeometryError> {
    match keep {
        Keep::PerNetwork(v) | Keep::Study(v) => check_variance(v),
        Keep::Components(_) => Ok(()),
    }
}

/// The study-wide count of a common rule (`None` for [`Keep::PerNetwork`]).
fn common_count(spectra: &[Spectrum], keep: Keep) -> Option<usize> {
    match keep {
        Keep::PerNetwork(_) => None,
        Keep::Components(k) => Some(k),
        Keep::Study(variance) => {
            let mut counts: Vec<usize> = spectra.iter().map(|s| s.variance_count(variance)).collect();
            counts.sort_unstable();
            Some(counts.get(counts.len() / 2).copied().unwrap_or(0))
        }
    }
}

/// Reduces one network (checked states) to its SVCCA basis under the per-network rule.
pub fn svcca_reduce(x: ArrayView2<f32>, variance: f64) -> Result<SvccaReduced, GeometryError> {
    check_variance(variance)?;
    linalg::check_states(&[x])?;
    let sp = spectrum(x)?;
    Ok(sp.reduce(sp.variance_count(variance)))
}

/// `1 − Σ correlations / k` from the singular values of `Q_aᵀ Q_b` (clamped to `[0, 1]`), with
/// `k` the common count, or `min(k_a, k_b)` without one.
fn distance_from_cross(cross: ArrayView2<f64>, common: Option<usize>) -> Result<f64, GeometryError> {
    let k = common.unwrap_or(cross.nrows().min(cross.ncols()));
    if k == 0 || cross.is_empty() {
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
    svcca_distance_keep(x, y, Keep::PerNetwork(variance))
}

/// SVCCA distance of one pair under `keep` (for [`Keep::Study`], the median of the pair's two
/// counts), directly from the thin SVDs: the reference for the population paths.
pub fn svcca_distance_keep(
    x: ArrayView2<f32>,
    y: ArrayView2<f32>,
    keep: Keep,
) -> Result<f64, GeometryError> {
    check_keep(keep)?;
    linalg::check_states(&[x, y])?;
    let spectra = [spectrum(x)?, spectrum(y)?];
    let common = common_count(&spectra, keep);
    let basis = |m: ArrayView2<f32>, sp: &Spectrum| -> Result<Array2<f64>, GeometryError> {
        let k = match keep {
            Keep::PerNetwork(v) => sp.variance_count(v),
            _ => common.expect("a common rule"),
        };
        let (u, _, _) = linalg::thin_svd(linalg::centred(m).view())?;
        Ok(u.slice(s![.., ..k.min(sp.rank)]).to_owned())
    };
    let (qa, qb) = (basis(x, &spectra[0])?, basis(y, &spectra[1])?);
    distance_from_cross(linalg::matmul_tn(qa.view(), qb.view()).view(), common)
}

/// Writes `Q = X̃·proj` into `out` (`samples × k`).
fn write_basis(x: ArrayView2<f32>, r: &SvccaReduced, mut out: ArrayViewMut2<f64>) {
    let xc = linalg::centred(x);
    out.assign(&linalg::matmul(xc.view(), r.proj.view()));
}

/// SVCCA distances among a population reduced under the per-network rule.
pub fn svcca_matrix_reduced(
    xs: &[ArrayView2<f32>],
    reduced: &[SvccaReduced],
) -> Result<Array2<f64>, GeometryError> {
    matrix_of_reduced(xs, reduced, None)
}

/// SVCCA distances among an already reduced population (`xs[i]` reduced to `reduced[i]`), over
/// `common` directions when the rule has a common count.
fn matrix_of_reduced(
    xs: &[ArrayView2<f32>],
    reduced: &[SvccaReduced],
    common: Option<usize>,
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
                distance_from_cross(cross, common)
            }
        },
    );
    let upper = upper.into_iter().collect::<Result<Vec<f64>, _>>()?;
    Ok(linalg::symmetric_from_pairs(xs.len(), &upper))
}

/// SVCCA distance matrix of a population under the per-network rule.
pub fn svcca_matrix(xs: &[ArrayView2<f32>], variance: f64) -> Result<Array2<f64>, GeometryError> {
    svcca_matrix_keep(xs, Keep::PerNetwork(variance)).map(|(d, _)| d)
}

/// SVCCA distance matrix of a population under `keep` (symmetric, zero diagonal, values in
/// `[0, 1]`), with the common count of directions (`None` for the per-network rule).
pub fn svcca_matrix_keep(
    xs: &[ArrayView2<f32>],
    keep: Keep,
) -> Result<(Array2<f64>, Option<usize>), GeometryError> {
    check_keep(keep)?;
    linalg::check_states(xs)?;
    let spectra = xs
        .par_iter()
        .map(|x| spectrum(*x))
        .collect::<Result<Vec<_>, _>>()?;
    let common = common_count(&spectra, keep);
    let reduced: Vec<SvccaReduced> = spectra
        .iter()
        .map(|sp| match (keep, common) {
            (Keep::PerNetwork(v), _) => sp.reduce(sp.variance_count(v)),
            (_, k) => sp.reduce(k.expect("a common rule")),
        })
        .collect();
    Ok((matrix_of_reduced(xs, &reduced, common)?, common))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::cka::tests::{random_states, rotate};
    use ndarray::ArrayView1;

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

    /// `samples × cols` columns of independent standard normals, in `f64`.
    fn signals(samples: usize, cols: usize, seed: u64) -> Array2<f64> {
        use rand::SeedableRng;
        use rand_distr::Distribution;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_simple_fn((samples, cols), || {
            rand_distr::StandardNormal.sample(&mut rng)
        })
    }

    fn network(columns: &[ArrayView1<f64>]) -> Array2<f32> {
        Array2::from_shape_fn((columns[0].len(), columns.len()), |(i, j)| columns[j][i] as f32)
    }

    /// The largest `√d(a, c) − √d(a, b) − √d(b, c)` over all triples (positive: a violation).
    fn worst_triangle(d: &Array2<f64>) -> f64 {
        let n = d.nrows();
        let r = d.mapv(f64::sqrt);
        let mut worst = f64::MIN;
        for a in 0..n {
            for b in 0..n {
                for c in 0..n {
                    worst = worst.max(r[(a, c)] - r[(a, b)] - r[(b, c)]);
                }
            }
        }
        worst
    }

    #[test]
    fn with_a_common_k_the_square_root_is_a_metric() {
        for seed in 0..4 {
            let xs: Vec<Array2<f32>> = (0..8)
                .map(|i| random_states(150, 4 + i % 5, 2 + i % 4, 100 * seed + i as u64))
                .collect();
            let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
            for keep in [Keep::Components(3), Keep::Study(0.9)] {
                let (d, k) = svcca_matrix_keep(&views, keep).unwrap();
                let k = k.unwrap();
                assert!(k >= 2 && views.iter().all(|x| x.ncols() >= k));
                for a in 0..8 {
                    assert_eq!(d[(a, a)], 0.0);
                    for b in 0..8 {
                        assert_eq!(d[(a, b)], d[(b, a)]);
                        if a != b {
                            let want = svcca_distance_keep(views[a], views[b], Keep::Components(k));
                            assert!((d[(a, b)] - want.unwrap()).abs() < 1e-10);
                        }
                    }
                }
                assert!(worst_triangle(&d) <= 1e-12, "seed {seed}, {keep:?}");
            }
        }
    }

    #[test]
    fn the_distance_itself_is_not_a_metric_even_with_a_common_k() {
        // k = 1: lines at angles 0, θ, 2θ in the plane of two independent signals.
        let uv = signals(400, 2, 3);
        let (u, v) = (uv.column(0), uv.column(1));
        let theta = 0.3f64;
        let line = |t: f64| network(&[(&u * t.cos() + &v * t.sin()).view()]);
        let xs = [line(0.0), line(theta), line(2.0 * theta)];
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let (d, _) = svcca_matrix_keep(&views, Keep::Components(1)).unwrap();
        assert!(d[(0, 2)] > 1.5 * (d[(0, 1)] + d[(1, 2)]), "{d}");
        assert!(worst_triangle(&d) <= 1e-12);
    }

    #[test]
    fn a_low_dimensional_network_is_near_everyone_only_under_the_per_network_rule() {
        // a = [u, v], b = [u, w], low = [u, 0.1 n]: the per-network rule keeps u alone of low.
        let sig = signals(400, 4, 9);
        let (u, v, w, n) = (sig.column(0), sig.column(1), sig.column(2), sig.column(3));
        let small = &n * 0.1;
        let xs = [network(&[u, v]), network(&[u, w]), network(&[u, small.view()])];
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let old = svcca_matrix(&views, 0.95).unwrap();
        assert!(old[(2, 0)] < 0.01 && old[(2, 1)] < 0.01 && old[(0, 1)] > 0.4, "{old}");
        assert!(worst_triangle(&old) > 0.4, "the triangle inequality fails for √d");
        let (new, k) = svcca_matrix_keep(&views, Keep::Study(0.95)).unwrap();
        assert_eq!(k, Some(2), "the median of the counts 2, 2, 1");
        assert!(new[(2, 0)] > 0.4 && new[(2, 1)] > 0.4, "{new}");
        assert!(worst_triangle(&new) <= 1e-12);
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
