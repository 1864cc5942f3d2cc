//! DSA's cheap alternative score (the reference's `score_method = "wasserstein"`): the optimal
//! transport cost between the two operators' eigenvalues as uniform point sets in the complex
//! plane, with squared Euclidean ground cost (POT's `emd2` on `ot.dist`), the smaller set padded
//! with zeros. For equal uniform weights an optimal plan is a permutation, so the score is
//! `min_π (1/n) Σ_i |λ_i − μ_π(i)|²`, found exactly by the Hungarian algorithm ([`assignment`]).
//! It depends only on the spectra, so it ignores the eigenvectors' geometry.

use crate::analysis::eig::{self, EigError};
use crate::analysis::topology::assignment;
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
    assignment(cost.view())
        .into_iter()
        .map(|(i, j)| cost[(i, j)])
        .sum::<f64>()
        / n as f64
}
