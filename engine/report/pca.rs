//! Principal components of one network's probe states, for the trajectory plots (Figs. 1b, 2b,
//! 3b) and for placing its fixed points in the same plane (Fig. 1e).
//!
//! `f64` covariance of the centred states, eigendecomposed by `analysis::linalg::sym_eigen`
//! (faer, sequential, so the result does not depend on the thread count). Each axis's sign is
//! fixed so that its largest-magnitude loading is positive: the same states always give the
//! same picture.

use ndarray::Array2;

use crate::analysis::linalg::sym_eigen;

#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    pub mean: Vec<f64>,
    /// Unit axes, largest variance first (at most two).
    pub axes: Vec<Vec<f64>>,
    /// Variance along each axis divided by the total variance.
    pub explained: Vec<f64>,
}

impl Pca {
    /// Top-two PCA of `rows` (samples, each of the same length). `None` with fewer than two
    /// samples, no columns, a non-finite value or a failed decomposition.
    pub fn fit(rows: &[&[f32]]) -> Option<Pca> {
        let n = rows.first()?.len();
        if rows.len() < 2 || n == 0 || rows.iter().any(|r| r.len() != n) {
            return None;
        }
        let mut mean = vec![0.0; n];
        for r in rows {
            for (m, &v) in mean.iter_mut().zip(r.iter()) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows.len() as f64);
        let mut cov = Array2::<f64>::zeros((n, n));
        let mut c = vec![0.0; n];
        for r in rows {
            for j in 0..n {
                c[j] = r[j] as f64 - mean[j];
            }
            for a in 0..n {
                let ca = c[a];
                for b in 0..=a {
                    cov[[a, b]] += ca * c[b];
                }
            }
        }
        for a in 0..n {
            for b in 0..a {
                cov[[b, a]] = cov[[a, b]];
            }
        }
        if cov.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let (values, vectors) = sym_eigen(cov.view()).ok()?;
        let total: f64 = values.iter().map(|v| v.max(0.0)).sum();
        let mut axes = Vec::new();
        let mut explained = Vec::new();
        for k in (0..n).rev().take(2) {
            let mut axis: Vec<f64> = vectors.column(k).to_vec();
            let big = axis
                .iter()
                .copied()
                .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
            if big < 0.0 {
                axis.iter_mut().for_each(|v| *v = -*v);
            }
            axes.push(axis);
            explained.push(if total > 0.0 {
                values[k].max(0.0) / total
            } else {
                0.0
            });
        }
        Some(Pca {
            mean,
            axes,
            explained,
        })
    }

    /// Coordinates of `x` on the first two axes (0 on an axis that does not exist). `x` may be
    /// longer than the fitted dimension (an LSTM state `[c; h]`): its last entries are used.
    pub fn project(&self, x: &[f32]) -> (f64, f64) {
        let n = self.mean.len();
        let x = &x[x.len().saturating_sub(n)..];
        let coord = |k: usize| {
            self.axes.get(k).map_or(0.0, |a| {
                a.iter()
                    .zip(x.iter().zip(&self.mean))
                    .map(|(w, (&v, m))| w * (v as f64 - m))
                    .sum()
            })
        };
        (coord(0), coord(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points `c + a·u + b·v` on a known plane in R^5, with (a, b) a centred 20 × 20 grid whose
    /// a-spread is three times its b-spread (so a and b are exactly uncorrelated): the axes
    /// are ±u and ±v, the explained fractions 0.9 and 0.1, and projections give back (a, b).
    #[test]
    fn recovers_a_known_plane() {
        let s = 1.0 / 2f64.sqrt();
        let u = [s, s, 0.0, 0.0, 0.0];
        let v = [0.0, 0.0, 0.6, 0.8, 0.0];
        let c = [1.0, -2.0, 0.5, 3.0, 7.0];
        let grid = |i: usize| (i as f64 - 9.5) / 10.0;
        let ab: Vec<(f64, f64)> = (0..400)
            .map(|k| (3.0 * grid(k / 20), grid(k % 20)))
            .collect();
        let rows: Vec<Vec<f32>> = ab
            .iter()
            .map(|&(a, b)| {
                (0..5)
                    .map(|j| (c[j] + a * u[j] + b * v[j]) as f32)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        let pca = Pca::fit(&refs).unwrap();
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        assert!((dot(&pca.axes[0], &u).abs() - 1.0).abs() < 1e-5);
        assert!((dot(&pca.axes[1], &v).abs() - 1.0).abs() < 1e-5);
        // the largest loading is positive: u has two equal ones, v's largest is +0.8
        assert!(pca.axes[1][3] > 0.79);
        assert!((pca.explained[0] - 0.9).abs() < 1e-5);
        assert!((pca.explained[0] + pca.explained[1] - 1.0).abs() < 1e-6);
        let sign_u = dot(&pca.axes[0], &u).signum();
        let sign_v = dot(&pca.axes[1], &v).signum();
        for (row, &(a, b)) in rows.iter().zip(&ab).take(20) {
            let (x, y) = pca.project(row);
            assert!((x - sign_u * a).abs() < 1e-4, "{x} vs {a}");
            assert!((y - sign_v * b).abs() < 1e-4, "{y} vs {b}");
        }
        // an LSTM state [c; h] projects by its h part
        let mut long = vec![9.0f32; 5];
        long.extend_from_slice(&rows[0]);
        assert_eq!(pca.project(&long), pca.project(&rows[0]));
    }

    #[test]
    fn too_little_data_is_none() {
        assert!(Pca::fit(&[]).is_none());
        assert!(Pca::fit(&[&[1.0, 2.0][..]]).is_none());
        assert!(Pca::fit(&[&[1.0, f32::NAN][..], &[0.0, 1.0][..]]).is_none());
    }
}
