//! Seeded initialisation (SPEC §1): recurrent `W_*` random orthogonal (QR of a Gaussian matrix
//! by modified Gram–Schmidt, signs fixed so `R` has a positive diagonal, i.e. Haar-distributed);
//! identity for relu vanilla (Le et al. 2015); input and readout weights `N(0, 1/fan_in)`;
//! biases 0 except the memory gate's (+1).
//!
//! Draw order, which fixes the weights of a seed: per block in SPEC order `W`, then `U`; then `W_y`.

use super::weights::Weights;
use super::{Activation, Arch, Shape};
use ndarray::{s, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub(crate) fn init(shape: &Shape, seed: u64) -> Weights<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (n, m, k) = (shape.units, shape.inputs, shape.outputs);
    let mut w = Weights::<f32>::zeros(shape);
    let identity = shape.arch == Arch::Vanilla && shape.activation == Activation::Relu;
    for block in 0..shape.arch.blocks() {
        let cols = block * n..(block + 1) * n;
        let rec = if identity {
            Array2::eye(n)
        } else {
            orthogonal(n, &mut rng)
        };
        // wt holds Wᵀ.
        w.wt.slice_mut(s![.., cols.clone()])
            .assign(&rec.t().mapv(|v| v as f32));
        let u = gaussian(n, m, 1.0 / m as f64, &mut rng);
        w.ut.slice_mut(s![.., cols])
            .assign(&u.t().mapv(|v| v as f32));
    }
    if let Some(g) = shape.arch.memory_gate() {
        w.b.slice_mut(s![g * n..(g + 1) * n]).fill(1.0);
    }
    let wy = gaussian(k, n, 1.0 / n as f64, &mut rng);
    w.wyt.assign(&wy.t().mapv(|v| v as f32));
    w
}

fn gaussian(rows: usize, cols: usize, var: f64, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let sd = var.sqrt();
    Array2::from_shape_fn((rows, cols), |_| sd * rng.sample::<f64, _>(StandardNormal))
}

/// A random orthogonal `n×n` matrix: the `Q` of a Gaussian matrix (columns orthonormalised).
pub(crate) fn orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let mut q = gaussian(n, n, 1.0, rng);
    for j in 0..n {
        for i in 0..j {
            let d = q.column(i).dot(&q.column(j));
            let qi = q.column(i).to_owned();
            q.column_mut(j).scaled_add(-d, &qi);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / norm);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_is_orthogonal_and_seeded() {
        let q = orthogonal(17, &mut ChaCha8Rng::seed_from_u64(3));
        let qtq = q.t().dot(&q);
        let err = (&qtq - &Array2::<f64>::eye(17))
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "{err}");
        assert_eq!(q, orthogonal(17, &mut ChaCha8Rng::seed_from_u64(3)));
        assert_ne!(q, orthogonal(17, &mut ChaCha8Rng::seed_from_u64(4)));
    }

    #[test]
    fn gate_bias_identity_and_scales() {
        let shape = |arch, activation| Shape {
            arch,
            activation,
            units: 64,
            inputs: 3,
            outputs: 2,
        };
        let w = init(&shape(Arch::Lstm, Activation::Tanh), 1);
        assert!(w.b.iter().take(64).all(|&b| b == 0.0));
        assert!(w.b.iter().skip(64).take(64).all(|&b| b == 1.0));
        assert!(w.b.iter().skip(128).all(|&b| b == 0.0));
        let v = init(&shape(Arch::Vanilla, Activation::Relu), 1);
        assert_eq!(v.wt, Array2::<f32>::eye(64));
        // N(0, 1/fan_in): row norms² of U (fan_in 3) average 1; of W_y (fan_in 64) average 1.
        let u_sq: f32 = w.ut.iter().map(|x| x * x).sum::<f32>() / (4.0 * 64.0);
        let wy_sq: f32 = w.wyt.iter().map(|x| x * x).sum::<f32>() / 2.0;
        assert!((u_sq - 1.0).abs() < 0.15, "{u_sq}");
        assert!((wy_sq - 1.0).abs() < 0.3, "{wy_sq}");
    }
}
