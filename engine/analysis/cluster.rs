//! How strongly a distance matrix clusters by a factor (architecture, activation, …; SPEC §6),
//! in `f64`.
//!
//! - [`silhouette`]: mean silhouette score of precomputed distances (as scikit-learn's
//!   `silhouette_score(metric="precomputed")`): `s_i = (b_i − a_i) / max(a_i, b_i)` with `a_i`
//!   the mean distance to the rest of its cluster and `b_i` the smallest mean distance to
//!   another cluster; points alone in their cluster score 0.
//! - [`permutation_test`]: the score and `p = (1 + #{permutations with score ≥ observed}) /
//!   (1 + n_perm)`. Permutation `k` shuffles the labels with its own ChaCha8 stream `k` of
//!   `seed`, so the p-value is the same whatever the number of threads.
//! - [`stratified_permutation_test`]: the same, but labels are shuffled only inside each stratum
//!   (e.g. architecture labels within each activation), so every permutation keeps each
//!   stratum's multiset of labels and the null hypothesis is "no clustering by the factor once
//!   the strata are given". This is the paper's design: its panels compare architectures within
//!   one activation, and a factor that dominates the distances (activation) cannot make a pooled
//!   architecture test look significant or hide a within-activation effect.

use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError {
    #[error("{labels} labels for a {rows}×{cols} distance matrix; need one label per row of a square matrix")]
    Shape {
        labels: usize,
        rows: usize,
        cols: usize,
    },
    #[error("{clusters} distinct labels among {points} points; the silhouette needs at least 3 points and between 2 and {points}−1 labels")]
    ClusterCount { clusters: usize, points: usize },
    #[error("distance matrix entry ({row}, {col}) is not finite")]
    NonFinite { row: usize, col: usize },
    #[error("no stratum holds two different labels, so a permutation within strata changes nothing")]
    NoStratumVaries,
}

impl ClusterError {
    /// Whether the data, not the caller, is at fault: too few points or groups for the score.
    pub fn is_untestable(&self) -> bool {
        matches!(
            self,
            ClusterError::ClusterCount { .. } | ClusterError::NoStratumVaries
        )
    }
}

/// Labels renumbered `0..clusters` in order of first appearance.
fn dense(labels: &[usize]) -> (Vec<usize>, usize) {
    let mut seen: Vec<usize> = Vec::new();
    let out = labels
        .iter()
        .map(|l| match seen.iter().position(|s| s == l) {
            Some(p) => p,
            None => {
                seen.push(*l);
                seen.len() - 1
            }
        })
        .collect();
    (out, seen.len())
}

fn check(d: ArrayView2<f64>, labels: &[usize]) -> Result<(Vec<usize>, usize), ClusterError> {
    let (rows, cols) = d.dim();
    if rows != cols || labels.len() != rows {
        return Err(ClusterError::Shape {
            labels: labels.len(),
            rows,
            cols,
        });
    }
    if let Some(((row, col), _)) = d.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(ClusterError::NonFinite { row, col });
    }
    let (dense, clusters) = dense(labels);
    if clusters < 2 || clusters >= rows {
        return Err(ClusterError::ClusterCount {
            clusters,
            points: rows,
        });
    }
    Ok((dense, clusters))
}

/// Silhouette of checked, dense labels; sequential, so every caller sums in the same order.
fn score(d: ArrayView2<f64>, labels: &[usize], clusters: usize) -> f64 {
    let mut sizes = vec![0usize; clusters];
    labels.iter().for_each(|&l| sizes[l] += 1);
    let mut sums = vec![0.0; clusters];
    let mut total = 0.0;
    for (i, row) in d.rows().into_iter().enumerate() {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for (j, &v) in row.iter().enumerate() {
            if j != i {
                sums[labels[j]] += v;
            }
        }
        let own = labels[i];
        if sizes[own] < 2 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..clusters)
            .filter(|&c| c != own)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    total / labels.len() as f64
}

/// Mean silhouette score of a distance matrix under integer labels, in `[−1, 1]`.
pub fn silhouette(d: ArrayView2<f64>, labels: &[usize]) -> Result<f64, ClusterError> {
    let (dense, clusters) = check(d, labels)?;
    Ok(score(d, &dense, clusters))
}

/// Silhouette score and its permutation p-value (see the module doc), permutations in parallel.
pub fn permutation_test(
    d: ArrayView2<f64>,
    labels: &[usize],
    n_perm: usize,
    seed: u64,
) -> Result<(f64, f64), ClusterError> {
    stratified_permutation_test(d, labels, &vec![0; labels.len()], n_perm, seed)
}

/// Silhouette score and the p-value of a permutation test that shuffles `labels` only among
/// points of equal `strata` value (see the module doc).
pub fn stratified_permutation_test(
    d: ArrayView2<f64>,
    labels: &[usize],
    strata: &[usize],
    n_perm: usize,
    seed: u64,
) -> Result<(f64, f64), ClusterError> {
    let (dense, clusters) = check(d, labels)?;
    let groups = strata_indices(strata, labels.len())?;
    if !groups
        .iter()
        .any(|g| g.iter().any(|&i| dense[i] != dense[g[0]]))
    {
        return Err(ClusterError::NoStratumVaries);
    }
    let observed = score(d, &dense, clusters);
    let at_least = (0..n_perm)
        .into_par_iter()
        .filter(|&k| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(k as u64);
            let perm = shuffle_within(&dense, &groups, &mut rng);
            score(d, &perm, clusters) >= observed
        })
        .count();
    Ok((observed, (1 + at_least) as f64 / (1 + n_perm) as f64))
}

/// The indices of each stratum, strata in order of first appearance.
fn strata_indices(strata: &[usize], n: usize) -> Result<Vec<Vec<usize>>, ClusterError> {
    if strata.len() != n {
        return Err(ClusterError::Shape {
            labels: strata.len(),
            rows: n,
            cols: n,
        });
    }
    let (dense, count) = dense(strata);
    let mut groups = vec![Vec::new(); count];
    dense.iter().enumerate().for_each(|(i, &g)| groups[g].push(i));
    Ok(groups)
}

/// `labels` with the entries of each stratum shuffled among themselves.
fn shuffle_within(labels: &[usize], strata: &[Vec<usize>], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut out = labels.to_vec();
    for idx in strata {
        let mut own: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
        own.shuffle(rng);
        idx.iter().zip(own).for_each(|(&i, l)| out[i] = l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};
    use rand::Rng;

    fn points_distances(points: &[(f64, f64)]) -> Array2<f64> {
        let n = points.len();
        Array2::from_shape_fn((n, n), |(i, j)| {
            ((points[i].0 - points[j].0).powi(2) + (points[i].1 - points[j].1).powi(2)).sqrt()
        })
    }

    #[test]
    fn hand_computed_score() {
        // Points 0, 1 | 10 on a line: s = (10−1)/10, (9−1)/9, 0 (singleton).
        let d = array![[0.0, 1.0, 10.0], [1.0, 0.0, 9.0], [10.0, 9.0, 0.0]];
        let s = silhouette(d.view(), &[4, 4, 9]).unwrap();
        let want = (0.9 + 8.0 / 9.0) / 3.0;
        assert!((s - want).abs() < 1e-15, "{s} vs {want}");
    }

    #[test]
    fn separated_clusters_score_near_one_with_minimal_p() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut points = Vec::new();
        let mut labels = Vec::new();
        for (c, centre) in [(0.0, 0.0), (100.0, 0.0)].iter().enumerate() {
            for _ in 0..20 {
                points.push((
                    centre.0 + rng.random::<f64>(),
                    centre.1 + rng.random::<f64>(),
                ));
                labels.push(c);
            }
        }
        let d = points_distances(&points);
        let (s, p) = permutation_test(d.view(), &labels, 199, 11).unwrap();
        assert!(s > 0.98, "{s}");
        assert_eq!(p, 1.0 / 200.0);
    }

    #[test]
    fn random_labels_are_not_significant_and_thread_count_does_not_matter() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let points: Vec<(f64, f64)> = (0..60).map(|_| (rng.random(), rng.random())).collect();
        let labels: Vec<usize> = (0..60).map(|_| rng.random_range(0..3)).collect();
        let d = points_distances(&points);
        let (s, p) = permutation_test(d.view(), &labels, 199, 11).unwrap();
        assert!(s < 0.1 && p > 0.05, "s {s}, p {p}");
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            one.install(|| permutation_test(d.view(), &labels, 199, 11))
                .unwrap(),
            (s, p)
        );
    }

    /// Four groups, arch ∈ {0, 1} × activation ∈ {0, 1}: activation moves a point by 10, arch
    /// by 1, and each group is a tight cloud of radius 0.1.
    fn activation_dominates() -> (Array2<f64>, Vec<usize>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let (mut points, mut arch, mut act) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..2 {
            for c in 0..2 {
                for _ in 0..6 {
                    let jitter = (0.1 * rng.random::<f64>(), 0.1 * rng.random::<f64>());
                    points.push((10.0 * c as f64 + a as f64 + jitter.0, jitter.1));
                    arch.push(a);
                    act.push(c);
                }
            }
        }
        (points_distances(&points), arch, act)
    }

    #[test]
    fn arch_within_activation_is_significant_where_the_pooled_test_is_weak() {
        let (d, arch, act) = activation_dominates();
        let (s_pooled, p_pooled) = permutation_test(d.view(), &arch, 199, 1).unwrap();
        let (s, p) = stratified_permutation_test(d.view(), &arch, &act, 199, 1).unwrap();
        assert_eq!(s, s_pooled, "the score does not depend on the strata");
        // Pooled: a point's own arch spans both activations (10 apart) and the other arch lies
        // 1 away in its activation: the silhouette is near 0 and random labels often do better.
        assert!(s.abs() < 0.05 && p_pooled > 0.1, "pooled s {s}, p {p_pooled}");
        // Within activation, every shuffle mixes the arch clusters that lie 1 apart.
        assert_eq!(p, 1.0 / 200.0, "stratified p {p}");
    }

    #[test]
    fn shuffling_within_strata_keeps_each_stratum_multiset() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for _ in 0..50 {
            let n = rng.random_range(2..40);
            let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..4)).collect();
            let strata: Vec<usize> = (0..n).map(|_| rng.random_range(0..3) * 7).collect();
            let groups = strata_indices(&strata, n).unwrap();
            let perm = shuffle_within(&labels, &groups, &mut rng);
            for g in &groups {
                let sorted = |l: &[usize]| {
                    let mut v: Vec<usize> = g.iter().map(|&i| l[i]).collect();
                    v.sort();
                    v
                };
                assert_eq!(sorted(&labels), sorted(&perm));
            }
        }
    }

    #[test]
    fn strata_of_one_label_each_cannot_be_tested() {
        let (d, arch, _) = activation_dominates();
        assert_eq!(
            stratified_permutation_test(d.view(), &arch, &arch, 9, 0),
            Err(ClusterError::NoStratumVaries)
        );
        assert!(ClusterError::NoStratumVaries.is_untestable());
    }

    #[test]
    fn bad_labels_are_errors() {
        let d = Array2::<f64>::zeros((3, 3));
        assert!(matches!(
            silhouette(d.view(), &[1, 1, 1]),
            Err(ClusterError::ClusterCount { clusters: 1, .. })
        ));
        assert!(matches!(
            silhouette(d.view(), &[1, 2]),
            Err(ClusterError::Shape { .. })
        ));
    }
}
