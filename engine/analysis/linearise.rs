//! Linearisation of `s' = F(s, x)` around a point (SPEC §5): eigenvalues of the analytic
//! Jacobian `J = ∂F/∂s` with right and left eigenvectors, and what the paper reads off them:
//!
//! - the number of unstable dimensions, `#{|λ| > 1}` (discrete time);
//! - the oscillation frequency of the sine task, `|arg λ| / 2π` cycles per step of the complex
//!   pair of largest modulus (Fig. 2f);
//! - the sorted eigenvalue magnitudes of the CDI task (Fig. 3e);
//! - mode ablation (Fig. 3f): the response `Σ_{i ∈ top m} (W_y rᵢ) λᵢ^{T−1} (lᵢᵀ b)` of the
//!   linearised system to a unit pulse `b = ∂F/∂x · e_cue`, for `m = 1..dim`.
//!
//! Eigenvalues are sorted by modulus, descending; ties (conjugate pairs) put the positive
//! imaginary part first, then by real part, so the order is deterministic.

use super::dynamics::Dynamics;
use super::eig::{self, EigError};
use faer::c64;
use ndarray::{Array2, ArrayView1, ArrayView2};
use std::cmp::Ordering;

/// Eigendecomposition of a Jacobian. `values[i] = (re, im)`; `right.column(i)` and
/// `left.column(i)` are its right and left eigenvectors with `lᵢᵀ rⱼ = δᵢⱼ` (plain transpose).
/// When `biorthogonal` is false (numerically repeated eigenvalues) only `lᵢᵀ rᵢ = 1` holds and
/// the mode ablation is approximate within a repeated eigenvalue.
#[derive(Debug, Clone)]
pub struct Linearisation {
    pub values: Vec<(f64, f64)>,
    pub right: Array2<c64>,
    pub left: Array2<c64>,
    pub biorthogonal: bool,
}

impl Linearisation {
    /// Eigendecomposition of `j`, sorted by modulus descending.
    pub fn of_matrix(j: ArrayView2<f64>) -> Result<Self, EigError> {
        let e = eig::eigen(j)?;
        let mut order: Vec<usize> = (0..e.values.len()).collect();
        order.sort_by(|&a, &b| compare_eigenvalues(e.values[a], e.values[b]));
        Ok(Linearisation {
            values: order
                .iter()
                .map(|&i| (e.values[i].re, e.values[i].im))
                .collect(),
            right: e.right.select(ndarray::Axis(1), &order),
            left: e.left.select(ndarray::Axis(1), &order),
            biorthogonal: e.biorthogonal,
        })
    }

    /// Number of eigenvalues outside the unit circle.
    pub fn n_unstable(&self) -> usize {
        self.values
            .iter()
            .filter(|&&(re, im)| re.hypot(im) > 1.0)
            .count()
    }
}

fn compare_eigenvalues(a: c64, b: c64) -> Ordering {
    b.norm()
        .total_cmp(&a.norm())
        .then(b.im.total_cmp(&a.im))
        .then(b.re.total_cmp(&a.re))
}

/// Linearises `sys` at `(s, x)`.
pub fn linearise(
    sys: &dyn Dynamics,
    s: ArrayView1<f64>,
    x: ArrayView1<f64>,
) -> Result<Linearisation, EigError> {
    let n = sys.state_dim();
    let mut j = Array2::zeros((n, n));
    sys.jacobian_state(s, x, &mut j);
    Linearisation::of_matrix(j.view())
}

/// Frequency (cycles per step) `|arg λ| / 2π` of the complex pair of largest modulus, or
/// `None` when every eigenvalue is real.
pub fn oscillation_frequency(lin: &Linearisation) -> Option<f64> {
    lin.values
        .iter()
        .find(|&&(_, im)| im != 0.0)
        .map(|&(re, im)| im.atan2(re).abs() / std::f64::consts::TAU)
}

/// `|λᵢ|`, descending.
pub fn sorted_magnitudes(lin: &Linearisation) -> Vec<f64> {
    lin.values.iter().map(|&(re, im)| re.hypot(im)).collect()
}

/// Mode ablation: entry `[k, m − 1]` is the real part of
/// `Σ_{i < m} (W_y rᵢ)_k λᵢ^{steps−1} (lᵢᵀ b)`, the output `k` of the linearised system
/// `steps − 1` steps after a unit pulse along `b`, keeping only the `m` modes of largest `|λ|`
/// (`m = 1..dim`). `readout_w` is `K × dim` (for the LSTM, zero columns over `c`); with all modes
/// kept it equals `W_y J^{steps−1} b`. Cutting a conjugate pair in half leaves an imaginary part,
/// which is dropped.
pub fn mode_ablation(
    lin: &Linearisation,
    readout_w: ArrayView2<f64>,
    b: ArrayView1<f64>,
    steps: usize,
) -> Array2<f64> {
    let dim = lin.values.len();
    let k_out = readout_w.nrows();
    assert_eq!(readout_w.ncols(), dim, "readout_w must be K × state_dim");
    assert_eq!(b.len(), dim, "b must have state_dim entries");
    let power = steps.saturating_sub(1) as i32;
    let mut out = Array2::zeros((k_out, dim));
    let mut acc = vec![c64::new(0.0, 0.0); k_out];
    for (i, &(re, im)) in lin.values.iter().enumerate() {
        let lam = c64::new(re, im).powi(power);
        let r = lin.right.column(i);
        let l = lin.left.column(i);
        let coef: c64 = l.iter().zip(b.iter()).map(|(li, &bi)| li * bi).sum::<c64>() * lam;
        for k in 0..k_out {
            let wr: c64 = readout_w
                .row(k)
                .iter()
                .zip(r.iter())
                .map(|(&w, ri)| ri * w)
                .sum();
            acc[k] += wr * coef;
            out[(k, i)] = acc[k].re;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, ArrayViewMut1};

    /// `s' = R(θ) s` in 2-D scaled by 0.99, plus two decaying dimensions.
    struct Rotation {
        a: Array2<f64>,
    }
    impl Rotation {
        fn new(theta: f64) -> Self {
            let (s, c) = theta.sin_cos();
            let a = array![
                [0.99 * c, -0.99 * s, 0.0, 0.0],
                [0.99 * s, 0.99 * c, 0.0, 0.0],
                [0.0, 0.0, 0.5, 0.1],
                [0.0, 0.0, 0.0, -0.3],
            ];
            Rotation { a }
        }
    }
    impl Dynamics for Rotation {
        fn state_dim(&self) -> usize {
            4
        }
        fn input_dim(&self) -> usize {
            1
        }
        fn output_dim(&self) -> usize {
            1
        }
        fn step(&self, s: ArrayView1<f64>, _x: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out.assign(&self.a.dot(&s));
        }
        fn jacobian_state(&self, _s: ArrayView1<f64>, _x: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.assign(&self.a);
        }
        fn jacobian_input(&self, _s: ArrayView1<f64>, _x: ArrayView1<f64>, out: &mut Array2<f64>) {
            out.fill(0.0);
        }
        fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
            out[0] = s[0];
        }
    }

    #[test]
    fn rotation_frequency_is_theta_over_two_pi() {
        for theta in [0.05, 0.3, 1.2, 2.9] {
            let sys = Rotation::new(theta);
            let z = Array1::zeros(4);
            let lin = linearise(&sys, z.view(), Array1::zeros(1).view()).unwrap();
            let f = oscillation_frequency(&lin).unwrap();
            assert!(
                (f - theta / std::f64::consts::TAU).abs() < 1e-10,
                "θ={theta}: {f}"
            );
            let mags = sorted_magnitudes(&lin);
            assert!((mags[0] - 0.99).abs() < 1e-12 && (mags[1] - 0.99).abs() < 1e-12);
            assert!((mags[2] - 0.5).abs() < 1e-12 && (mags[3] - 0.3).abs() < 1e-12);
            assert!(lin.values[0].1 > 0.0, "positive imaginary part first");
            assert_eq!(lin.n_unstable(), 0);
        }
    }

    #[test]
    fn no_frequency_for_real_spectrum() {
        let lin = Linearisation::of_matrix(array![[1.5, 0.0], [0.2, -0.4]].view()).unwrap();
        assert_eq!(oscillation_frequency(&lin), None);
        assert_eq!(lin.n_unstable(), 1);
        assert_eq!(sorted_magnitudes(&lin), vec![1.5, 0.4]);
    }

    #[test]
    fn mode_ablation_of_a_diagonal_system() {
        // J = diag(0.5, 0.9, -0.7), W_y = [1, 2, 3], b = [1, 1, 2], T = 3:
        // contributions w_i λ_i² b_i: 0.9→ 2·0.81·1 = 1.62, -0.7→ 3·0.49·2 = 2.94, 0.5→ 1·0.25·1 = 0.25
        let lin =
            Linearisation::of_matrix(Array2::from_diag(&array![0.5, 0.9, -0.7]).view()).unwrap();
        let w = array![[1.0, 2.0, 3.0]];
        let b = array![1.0, 1.0, 2.0];
        let r = mode_ablation(&lin, w.view(), b.view(), 3);
        let want = [1.62, 1.62 + 2.94, 1.62 + 2.94 + 0.25];
        for m in 0..3 {
            assert!(
                (r[(0, m)] - want[m]).abs() < 1e-12,
                "m={}: {} vs {}",
                m + 1,
                r[(0, m)],
                want[m]
            );
        }
    }

    #[test]
    fn full_mode_ablation_equals_matrix_power() {
        let a = Rotation::new(0.7).a;
        let lin = Linearisation::of_matrix(a.view()).unwrap();
        let w = array![[1.0, -0.5, 0.25, 2.0], [0.0, 1.0, 1.0, 0.0]];
        let b = array![0.3, -1.0, 0.7, 0.2];
        let mut v = b.clone();
        for _ in 0..9 {
            v = a.dot(&v);
        }
        let want = w.dot(&v);
        let r = mode_ablation(&lin, w.view(), b.view(), 10);
        for k in 0..2 {
            assert!((r[(k, 3)] - want[k]).abs() < 1e-12);
        }
        // the two rotation modes (a conjugate pair) together give a real response
        let only_pair = Array2::from_shape_fn(
            (4, 4),
            |(i, j)| if i < 2 && j < 2 { a[(i, j)] } else { 0.0 },
        );
        let mut v = b.clone();
        for _ in 0..9 {
            v = only_pair.dot(&v);
        }
        let want_pair = w.dot(&v);
        assert!((r[(0, 1)] - want_pair[0]).abs() < 1e-12);
    }
}
