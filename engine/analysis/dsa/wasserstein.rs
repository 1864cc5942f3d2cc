//! DSA's cheap alternative score (the reference's `score_method = "wasserstein"`): the optimal
//! transport cost between the two operators' eigenvalues as uniform point sets in the complex
//! plane, with squared Euclidean ground cost (POT's `emd2` on `ot.dist`), the smaller set padded
//! with zeros. For equal uniform weights an optimal plan is a permutation, so the score is
//! `min_π (1/n) Σ_i |λ_i − μ_π(i)|²`, found exactly by the Hungarian algorithm ([`assignment`]).
//! It depends only on the spectra, so it ignores the eigenvectors' geometry.

use crate::analysis::eig::{self, EigError};
use faer::c64;
use ndarray::{Array2, ArrayView2};

/// The eigenvalues of a square operator.
pub fn spectrum(a: ArrayView2<f64>) -> Result<Vec<c64>, EigError> {
    if a.nrows() == 0 {
        return Ok(Vec::new());
    }
    Ok(eig::eigen(a)?.values)
}

/// The transport cost between two spectra (zero-padded to one size).
pub fn score(x: &[c64], y: &[c64]) -> f64 {
    let n = x.len().max(y.len());
    if n == 0 {
        return 0.0;
    }
    let pad = |v: &[c64]| {
        let mut v = v.to_vec();
        v.resize(n, c64::new(0.0, 0.0));
        v
    };
    let (x, y) = (pad(x), pad(y));
    let cost = Array2::from_shape_fn((n, n), |(i, j)| {
        let d = x[i] - y[j];
        d.re * d.re + d.im * d.im
    });
    let perm = assignment(&cost);
    perm.iter()
        .enumerate()
        .map(|(i, &j)| cost[(i, j)])
        .sum::<f64>()
        / n as f64
}

/// Minimum-cost perfect matching of a square cost matrix (Hungarian algorithm with
/// potentials, `O(n³)`): `result[i]` is the column given to row `i`.
pub fn assignment(cost: &Array2<f64>) -> Vec<usize> {
    let n = cost.nrows();
    // 1-based rows/columns; column 0 is the virtual start.
    let (mut u, mut v) = (vec![0.0f64; n + 1], vec![0.0f64; n + 1]);
    let (mut owner, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for row in 1..=n {
        owner[0] = row;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = owner[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=n {
                if used[j] {
                    continue;
                }
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
            for j in 0..=n {
                if used[j] {
                    u[owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if owner[j0] == 0 {
                break;
            }
        }
        while j0 != 0 {
            let j1 = way[j0];
            owner[j0] = owner[j1];
            j0 = j1;
        }
    }
    let mut result = vec![0; n];
    for j in 1..=n {
        result[owner[j] - 1] = j - 1;
    }
    result
}
