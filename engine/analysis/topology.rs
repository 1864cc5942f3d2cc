//! Topology of the fixed-point structure (SPEC §5) and distances between networks' topologies.
//!
//! - Flip-flop: [`transition_graph`] — from each fixed point, perturbed runs of the autonomous
//!   dynamics end at a stable point; `P[i, j]` is the fraction of runs from `i` that end at `j`.
//!   [`graph_distance`] is the paper's `||P_a − P_b||_F` for equal counts, and [`modal_count`]
//!   the population's modal fixed-point count used to set networks aside; the counts are of
//!   certified fixed points (`fixed_points`, step 6), so a slow point or a continuum never
//!   changes a network's count.
//! - Beyond the paper: [`matched_graph_distance`] compares graphs of different sizes by matching
//!   fixed points across networks on their readouts with an optimal assignment ([`assignment`],
//!   the Hungarian algorithm).
//! - Sine / CDI: [`knn_adjacency`] over the input-dependent fixed points in their given order
//!   (by condition, or by readout along the line attractor), and [`adjacency_distance`].

use super::dynamics::Dynamics;
use super::fixed_points::FixedPoint;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOpts {
    /// Perturbed runs per fixed point.
    pub runs: usize,
    /// Perturbation size relative to `||s*||` (absolute when `||s*|| ≤ tol`).
    pub eps_rel: f64,
    /// Steps after which a run that reached no stable point counts as "none".
    pub max_steps: usize,
    /// A run has arrived when it is within this distance of a stable fixed point.
    pub tol: f64,
    pub seed: u64,
}

impl Default for TransitionOpts {
    fn default() -> Self {
        TransitionOpts {
            runs: 100,
            eps_rel: 0.01,
            max_steps: 2000,
            tol: 1e-3,
            seed: 0,
        }
    }
}

/// A fixed point as a transition graph sees it: where it is and whether runs can end there.
#[derive(Debug, Clone, Copy)]
pub struct Anchor<'a> {
    pub state: ArrayView1<'a, f64>,
    pub stable: bool,
}

/// The anchors of found fixed points, in their order.
pub fn anchors(fps: &[FixedPoint]) -> Vec<Anchor<'_>> {
    fps.iter()
        .map(|fp| Anchor {
            state: fp.state.view(),
            stable: fp.n_unstable == 0,
        })
        .collect()
}

/// Transition probabilities between the fixed points `fps`, in the order given
/// (`find_fixed_points` returns them ordered lexicographically by readout, as the SPEC asks).
///
/// From each `s*`, `runs` runs start at `s* + ε ξ` with `ξ` a uniformly random unit vector and
/// `ε = eps_rel · ||s*||` (`eps_rel` at the origin, i.e. when `||s*|| ≤ tol`: a numerically found
/// origin sits ~1e-13 off zero, where a relative ε would be swamped by that offset), and iterate `F(·, x)` until they come within
/// `tol` of a stable fixed point (the nearest one if several). A run that
/// arrives nowhere within `max_steps` is counted as "none" and appears in no column, so a row
/// sums to `1 − fraction(none)`. Stable points return to themselves: a self-loop of 1.
pub fn transition_graph(
    sys: &dyn Dynamics,
    fps: &[Anchor],
    x: ArrayView1<f64>,
    opts: &TransitionOpts,
) -> Array2<f64> {
    let n = fps.len();
    let dim = sys.state_dim();
    let stable: Vec<usize> = (0..n).filter(|&i| fps[i].stable).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let starts: Vec<Array2<f64>> = fps
        .iter()
        .map(|fp| {
            let norm = fp.state.dot(&fp.state).sqrt();
            let eps = if norm > opts.tol {
                opts.eps_rel * norm
            } else {
                opts.eps_rel
            };
            let mut s = Array2::zeros((opts.runs, dim));
            for mut row in s.axis_iter_mut(Axis(0)) {
                let xi = Array1::from_shape_fn(dim, |_| rng.sample::<f64, _>(StandardNormal));
                let scale = eps / xi.dot(&xi).sqrt();
                row.assign(&(&fp.state + &(xi * scale)));
            }
            s
        })
        .collect();
    let ends: Vec<Vec<Option<usize>>> = starts
        .into_par_iter()
        .map(|s0| runs_to_attractor(sys, fps, &stable, s0, x, opts))
        .collect();
    let mut p = Array2::zeros((n, n));
    let w = 1.0 / opts.runs.max(1) as f64;
    for (i, row_ends) in ends.iter().enumerate() {
        for &j in row_ends.iter().flatten() {
            p[(i, j)] += w;
        }
    }
    p
}

/// Where each row of `s` ends: the stable point it comes within `tol` of, or `None` (not
/// within `max_steps`, or non-finite). The runs step together through [`Dynamics::step_batch`];
/// a run leaves the batch when it arrives.
fn runs_to_attractor(
    sys: &dyn Dynamics,
    fps: &[Anchor],
    stable: &[usize],
    mut s: Array2<f64>,
    x: ArrayView1<f64>,
    opts: &TransitionOpts,
) -> Vec<Option<usize>> {
    let mut ends = vec![None; s.nrows()];
    let mut active: Vec<usize> = (0..s.nrows()).collect();
    let mut next = Array2::zeros(s.dim());
    for step in 0..=opts.max_steps {
        let mut keep = Vec::with_capacity(active.len());
        for (k, &run) in active.iter().enumerate() {
            let row = s.row(k);
            let nearest = stable
                .iter()
                .map(|&j| (j, distance(row, fps[j].state)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match nearest {
                Some((j, d)) if d < opts.tol => ends[run] = Some(j),
                _ if row.iter().all(|v| v.is_finite()) => keep.push(k),
                _ => {}
            }
        }
        if keep.is_empty() || step == opts.max_steps {
            break;
        }
        if keep.len() < active.len() {
            s = s.select(Axis(0), &keep);
            active = keep.iter().map(|&k| active[k]).collect();
            next = Array2::zeros(s.dim());
        }
        sys.step_batch(s.view(), x, next.view_mut());
        std::mem::swap(&mut s, &mut next);
    }
    ends
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The paper's distance `||P_a − P_b||_F`; `None` when the fixed-point counts differ.
pub fn graph_distance(pa: ArrayView2<f64>, pb: ArrayView2<f64>) -> Option<f64> {
    (pa.dim() == pb.dim()).then(|| frobenius_diff(pa, pb))
}

fn frobenius_diff(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The most frequent count; ties go to the smallest count; 0 for an empty population.
pub fn modal_count(counts: &[usize]) -> usize {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let (mut best, mut best_n) = (0, 0);
    for run in sorted.chunk_by(|a, b| a == b) {
        if run.len() > best_n {
            (best, best_n) = (run[0], run.len());
        }
    }
    best
}

/// Optimal assignment (minimum total cost) of rows to columns of `cost`: `min(rows, cols)`
/// pairs `(row, col)` sorted by row. Hungarian algorithm with potentials, `O(n² m)`.
pub fn assignment(cost: ArrayView2<f64>) -> Vec<(usize, usize)> {
    let (n, m) = cost.dim();
    if n > m {
        let mut pairs: Vec<(usize, usize)> = assignment(cost.t())
            .into_iter()
            .map(|(c, r)| (r, c))
            .collect();
        pairs.sort_unstable();
        return pairs;
    }
    // 1-based arrays; p[j] = row assigned to column j, column 0 is the virtual start.
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let (mut p, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (inf, 0);
            for j in 1..=m {
                if !used[j] {
                    let cur = cost[(i0 - 1, j - 1)] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = (1..=m)
        .filter(|&j| p[j] != 0)
        .map(|j| (p[j] - 1, j - 1))
        .collect();
    pairs.sort_unstable();
    pairs
}

/// Distance between two transition graphs whose fixed-point counts may differ (beyond the
/// paper). `ra`, `rb` hold the fixed points' readouts as rows.
///
/// Fixed points are matched across the networks by an optimal assignment on the Euclidean
/// distance of their readouts. With `π` the matching,
/// `d² = Σ_{i,i' matched} (P_a[i,i'] − P_b[π i, π i'])²`
///   `+ Σ (every entry of P_a or P_b in the row or column of an unmatched point)²`
///   `+ 1 per unmatched point`,
/// so every entry is counted once and each extra fixed point costs at least 1. Equal counts with
/// the identity matching give exactly `||P_a − P_b||_F`. The pair is put in a canonical order
/// first, so the distance is exactly symmetric even when the assignment has ties.
pub fn matched_graph_distance(
    pa: ArrayView2<f64>,
    ra: ArrayView2<f64>,
    pb: ArrayView2<f64>,
    rb: ArrayView2<f64>,
) -> f64 {
    assert_eq!(pa.nrows(), ra.nrows(), "one readout row per fixed point");
    assert_eq!(pb.nrows(), rb.nrows(), "one readout row per fixed point");
    if canonical_cmp((pa, ra), (pb, rb)) == Ordering::Greater {
        return matched_graph_distance(pb, rb, pa, ra);
    }
    let cost = Array2::from_shape_fn((ra.nrows(), rb.nrows()), |(i, j)| {
        distance(ra.row(i), rb.row(j))
    });
    let pairs = assignment(cost.view());
    let mut matched_a = vec![false; pa.nrows()];
    let mut matched_b = vec![false; pb.nrows()];
    for &(i, j) in &pairs {
        matched_a[i] = true;
        matched_b[j] = true;
    }
    let mut d2 = 0.0;
    for &(i, j) in &pairs {
        for &(i2, j2) in &pairs {
            d2 += (pa[(i, i2)] - pb[(j, j2)]).powi(2);
        }
    }
    d2 += unmatched_mass(pa, &matched_a) + unmatched_mass(pb, &matched_b);
    d2.sqrt()
}

fn unmatched_mass(p: ArrayView2<f64>, matched: &[bool]) -> f64 {
    let mut sum = 0.0;
    for ((i, j), v) in p.indexed_iter() {
        if !matched[i] || !matched[j] {
            sum += v * v;
        }
    }
    sum + matched.iter().filter(|&&m| !m).count() as f64
}

fn canonical_cmp(
    a: (ArrayView2<f64>, ArrayView2<f64>),
    b: (ArrayView2<f64>, ArrayView2<f64>),
) -> Ordering {
    let flat = |(p, r): (ArrayView2<f64>, ArrayView2<f64>)| {
        p.iter().chain(r.iter()).copied().collect::<Vec<f64>>()
    };
    a.0.nrows()
        .cmp(&b.0.nrows())
        .then(a.1.ncols().cmp(&b.1.ncols()))
        .then_with(|| {
            let (fa, fb) = (flat(a), flat(b));
            fa.iter()
                .zip(&fb)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
}

/// Symmetric k-nearest-neighbour adjacency over `points` (rows, in the node order the caller
/// chose): `A[i, j] = 1` when `j` is among the `k` nearest points of `i` or `i` among those of
/// `j` (Euclidean; ties to the lower index); no self-loops.
pub fn knn_adjacency(points: ArrayView2<f64>, k: usize) -> Array2<f64> {
    let n = points.nrows();
    let mut a = Array2::zeros((n, n));
    for i in 0..n {
        let mut others: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (distance(points.row(i), points.row(j)), j))
            .collect();
        others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        for &(_, j) in others.iter().take(k) {
            a[(i, j)] = 1.0;
            a[(j, i)] = 1.0;
        }
    }
    a
}

/// `||A − B||_F` over node-ordered adjacency matrices; when the sizes differ the smaller is
/// padded with isolated nodes at the end (zero rows and columns), so each missing node costs
/// its degree in the other graph.
pub fn adjacency_distance(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let n = a.nrows().max(b.nrows());
    let pad = |m: ArrayView2<f64>| {
        let mut out = Array2::zeros((n, n));
        out.slice_mut(s![..m.nrows(), ..m.ncols()]).assign(&m);
        out
    };
    frobenius_diff(pad(a).view(), pad(b).view())
}

/// Readouts of `fps` as rows (`fps.len() × K`), for [`matched_graph_distance`].
pub fn readout_matrix(fps: &[FixedPoint]) -> Array2<f64> {
    let k = fps.first().map_or(0, |f| f.readout.len());
    let mut r = Array2::zeros((fps.len(), k));
    for (mut row, fp) in r.axis_iter_mut(Axis(0)).zip(fps) {
        row.assign(&fp.readout);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixed_points::tests::{cube_states, Tanh};
    use crate::analysis::fixed_points::{find_fixed_points, FixedPointOpts};
    use ndarray::array;
    use rand_distr::Distribution;

    fn flip_flop_graph(seed: u64) -> (Vec<FixedPoint>, Array2<f64>) {
        let sys = Tanh {
            w: array![2.0, 2.0, 2.0],
        };
        let x = Array1::zeros(3);
        let opts = FixedPointOpts {
            inits: 512,
            seed: 5,
            ..Default::default()
        };
        let fps = find_fixed_points(&sys, x.view(), cube_states(3).view(), &opts).unwrap().points;
        let p = transition_graph(
            &sys,
            &anchors(&fps),
            x.view(),
            &TransitionOpts {
                seed,
                ..Default::default()
            },
        );
        (fps, p)
    }

    #[test]
    fn flip_flop_transitions() {
        let (fps, p) = flip_flop_graph(1);
        assert_eq!(fps.len(), 27);
        for (i, fp) in fps.iter().enumerate() {
            let row = p.row(i);
            assert!((row.sum() - 1.0).abs() < 1e-12, "every run arrives");
            let targets: Vec<usize> = (0..27).filter(|&j| row[j] > 0.0).collect();
            if fp.n_unstable == 0 {
                assert_eq!(targets, vec![i], "stable points only self-loop");
            }
            // targets differ from the start exactly in its unstable (zero) coordinates
            for &j in &targets {
                assert_eq!(fps[j].n_unstable, 0);
                for d in 0..3 {
                    if fp.state[d].abs() > 0.5 {
                        assert!((fps[j].state[d] - fp.state[d]).abs() < 1e-5);
                    }
                }
            }
            if fp.n_unstable == 1 {
                assert_eq!(targets.len(), 2);
                assert!((row[targets[0]] - 0.5).abs() < 0.2, "≈ 0.5 each: {row:?}");
            }
            if fp.n_unstable == 3 {
                assert_eq!(targets.len(), 8, "the origin reaches every attractor");
            }
        }
        // deterministic in the seed
        assert_eq!(flip_flop_graph(1).1, p);
    }

    #[test]
    fn runs_that_arrive_nowhere_are_dropped() {
        let (fps, _) = flip_flop_graph(1);
        let sys = Tanh {
            w: array![2.0, 2.0, 2.0],
        };
        let opts = TransitionOpts {
            max_steps: 1,
            runs: 10,
            ..Default::default()
        };
        let p = transition_graph(&sys, &anchors(&fps), Array1::zeros(3).view(), &opts);
        let origin = fps.iter().position(|f| f.n_unstable == 3).unwrap();
        assert_eq!(p.row(origin).sum(), 0.0);
    }

    #[test]
    fn modal_count_prefers_smallest_on_ties() {
        assert_eq!(modal_count(&[27, 27, 25, 26, 25]), 25);
        assert_eq!(modal_count(&[8, 9, 9, 8, 9]), 9);
        assert_eq!(modal_count(&[]), 0);
    }

    fn brute_force(cost: ArrayView2<f64>) -> f64 {
        fn rec(cost: ArrayView2<f64>, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == cost.nrows() {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..cost.ncols() {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[(i, j)] + rec(cost, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        rec(cost, 0, &mut vec![false; cost.ncols()])
    }

    #[test]
    fn hungarian_known_and_brute_force() {
        let cost = array![[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]];
        assert_eq!(assignment(cost.view()), vec![(0, 1), (1, 0), (2, 2)]);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for (n, m) in [(5, 5), (3, 6), (6, 4), (1, 3), (7, 7)] {
            let c = Array2::from_shape_fn((n, m), |_| {
                rand_distr::Uniform::new(0.0, 10.0)
                    .unwrap()
                    .sample(&mut rng)
            });
            let pairs = assignment(c.view());
            assert_eq!(pairs.len(), n.min(m));
            let mut cols: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            cols.sort_unstable();
            cols.dedup();
            assert_eq!(cols.len(), n.min(m), "distinct columns");
            let total: f64 = pairs.iter().map(|&(i, j)| c[(i, j)]).sum();
            let best = if n <= m {
                brute_force(c.view())
            } else {
                brute_force(c.t())
            };
            assert!((total - best).abs() < 1e-9, "{n}×{m}: {total} vs {best}");
        }
    }

    #[test]
    fn matched_distance_properties() {
        let pa = array![[1.0, 0.0, 0.0], [0.3, 0.0, 0.7], [0.0, 0.0, 1.0]];
        let ra = array![[-1.0], [0.0], [1.0]];
        let pb = array![[1.0, 0.0, 0.0], [0.6, 0.0, 0.4], [0.0, 0.0, 1.0]];
        let rb = array![[-0.9], [0.1], [1.1]];
        let paper = graph_distance(pa.view(), pb.view()).unwrap();
        assert!((paper - (2.0f64 * 0.09).sqrt()).abs() < 1e-12);
        let d = matched_graph_distance(pa.view(), ra.view(), pb.view(), rb.view());
        assert!(
            (d - paper).abs() < 1e-12,
            "identity matching gives the paper's distance"
        );
        assert_eq!(
            matched_graph_distance(pa.view(), ra.view(), pa.view(), ra.view()),
            0.0
        );
        // a permuted copy with permuted readouts is the same graph
        let perm = [2, 0, 1];
        let pp = Array2::from_shape_fn((3, 3), |(i, j)| pa[(perm[i], perm[j])]);
        let rp = Array2::from_shape_fn((3, 1), |(i, _)| ra[(perm[i], 0)]);
        assert!(matched_graph_distance(pa.view(), ra.view(), pp.view(), rp.view()) < 1e-15);
        // different counts: the extra point of c costs its row/column mass + 1
        let pc = array![[1.0, 0.0], [0.0, 1.0]];
        let rc = array![[-1.0], [1.0]];
        let d_ac = matched_graph_distance(pa.view(), ra.view(), pc.view(), rc.view());
        let d_ca = matched_graph_distance(pc.view(), rc.view(), pa.view(), ra.view());
        assert_eq!(d_ac, d_ca);
        assert!(
            (d_ac - (0.09f64 + 0.49 + 1.0).sqrt()).abs() < 1e-12,
            "{d_ac}"
        );
        assert!(graph_distance(pa.view(), pc.view()).is_none());
    }

    #[test]
    fn knn_graphs_and_their_distance() {
        let line = array![[0.0], [1.0], [2.1], [3.3]];
        let a = knn_adjacency(line.view(), 1);
        let want = array![
            [0., 1., 0., 0.],
            [1., 0., 1., 0.],
            [0., 1., 0., 1.],
            [0., 0., 1., 0.]
        ];
        assert_eq!(a, want);
        assert_eq!(a, a.t());
        let b = knn_adjacency(line.slice(s![..3, ..]), 1);
        // b = path 0-1-2 (2's nearest is 1); padding leaves edge 2-3 unmatched: two entries
        assert!((adjacency_distance(a.view(), b.view()) - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(
            adjacency_distance(b.view(), a.view()),
            adjacency_distance(a.view(), b.view())
        );
        assert_eq!(adjacency_distance(a.view(), a.view()), 0.0);
        let a2 = knn_adjacency(line.view(), 2);
        assert_eq!(a2.sum(), 2.0 * 5.0, "edges 01 02 12 13 23");
    }
}
