//! Unrolling a batch through time, the loss, and backpropagation through time.
//!
//! A `Workspace` is allocated once per network and sequence shape; forward and backward then
//! allocate nothing. Pipeline of `loss_and_grad`:
//! 1. input projection of all `T` steps in one GEMM: `A = X·Ut + b` (`(T·B)×M` times `M×GN`);
//! 2. `T` forward steps (`cell::forward`), one `B×N · N×GN` GEMM each;
//! 3. readout of all steps in one GEMM, MSE, `dY`;
//! 4. `dH = dY·Wyᵀ` in one GEMM, then `T` backward steps (`cell::backward`) in reverse;
//! 5. weight gradients in one GEMM each over all steps: `dWt = H_prevᵀ·dA`, `dUt = Xᵀ·dA`.

use super::cell::{view, view_mut, Cell, Recurrent};
use super::weights::Weights;
use super::{Arch, Float, Shape};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2};

pub(crate) struct Workspace<F> {
    cell: Cell,
    shape: Shape,
    steps: usize,
    rows: usize,
    /// `h_0 … h_T`, each `[B, N]`; `h_0 = 0`.
    hs: Vec<F>,
    /// `c_0 … c_T` (LSTM only).
    cs: Vec<F>,
    /// Per step `[B, GN]`: pre-activations → activations → their gradients.
    a: Vec<F>,
    /// Per step `[B, N]`: `φ(c')` (LSTM) or `r ⊙ h` (GRU).
    aux: Vec<F>,
    /// Outputs `[T·B, K]`, then `∂L/∂Y`.
    y: Vec<F>,
    /// `∂L/∂h_t` `[T·B, N]`.
    dh: Vec<F>,
    dh_next: Vec<F>,
    dh_prev: Vec<F>,
    dc: Vec<F>,
    tmp: Vec<F>,
    /// The recurrent weights of the last `forward`, packed for the per-step products.
    rec: Recurrent<F>,
    pub grad: Weights<F>,
}

impl<F: Float> Workspace<F> {
    pub fn new(shape: &Shape, steps: usize, rows: usize) -> Self {
        let cell = Cell::new(shape);
        let (n, gn, k) = (shape.units, cell.gn(), shape.outputs);
        let lstm = shape.arch == Arch::Lstm;
        let has_aux = matches!(shape.arch, Arch::Lstm | Arch::Gru);
        let z = |len: usize| vec![F::zero(); len];
        Workspace {
            cell,
            shape: *shape,
            steps,
            rows,
            hs: z((steps + 1) * rows * n),
            cs: z(if lstm { (steps + 1) * rows * n } else { 0 }),
            a: z(steps * rows * gn),
            aux: z(if has_aux { steps * rows * n } else { 0 }),
            y: z(steps * rows * k),
            dh: z(steps * rows * n),
            dh_next: z(rows * n),
            dh_prev: z(rows * n),
            dc: z(if lstm { rows * n } else { 0 }),
            tmp: z(rows * n),
            rec: Recurrent::new(),
            grad: Weights::zeros(shape),
        }
    }

    /// `h_1 … h_T` as `[T·B, N]`.
    pub fn states(&self) -> ArrayView2<'_, F> {
        let bn = self.rows * self.shape.units;
        view(&self.hs[bn..], self.steps * self.rows, self.shape.units)
    }

    /// `c_1 … c_T` as `[T·B, N]` (LSTM only).
    pub fn cells(&self) -> ArrayView2<'_, F> {
        let bn = self.rows * self.shape.units;
        view(
            &self.cs[bn.min(self.cs.len())..],
            self.cs.len().saturating_sub(bn) / self.shape.units,
            self.shape.units,
        )
    }

    /// Outputs `[T·B, K]` after `forward` (before `loss_and_grad` turns them into `dY`).
    pub fn outputs(&self) -> ArrayView2<'_, F> {
        view(&self.y, self.steps * self.rows, self.shape.outputs)
    }

    /// Runs the batch `x [T·B, M]` (time-major: row `t·B + b`) from `h_0 = 0`.
    pub fn forward(&mut self, w: &Weights<F>, x: ArrayView2<F>) {
        let (n, gn, k) = (self.shape.units, self.cell.gn(), self.shape.outputs);
        let (tb, bn, bgn) = (self.steps * self.rows, self.rows * n, self.rows * gn);
        assert_eq!(x.dim(), (tb, self.shape.inputs), "input batch shape");
        let bias = w.b.as_slice().unwrap();
        for row in self.a.chunks_exact_mut(gn) {
            row.copy_from_slice(bias);
        }
        general_mat_mul(
            F::one(),
            &x,
            &w.ut,
            F::one(),
            &mut view_mut(&mut self.a, tb, gn),
        );
        self.rec.pack(&self.cell, w.wt.view());
        self.hs[..bn].fill(F::zero());
        if !self.cs.is_empty() {
            self.cs[..bn].fill(F::zero());
        }
        for t in 0..self.steps {
            let (hp, hn) = self.hs.split_at_mut((t + 1) * bn);
            let cs_mid = ((t + 1) * bn).min(self.cs.len());
            let (cp, cn) = self.cs.split_at_mut(cs_mid);
            let (c_prev, c): (&[F], &mut [F]) = if cp.is_empty() {
                (&[], &mut [])
            } else {
                (&cp[t * bn..], &mut cn[..bn])
            };
            let aux: &mut [F] = if self.aux.is_empty() {
                &mut []
            } else {
                &mut self.aux[t * bn..(t + 1) * bn]
            };
            let a = &mut self.a[t * bgn..(t + 1) * bgn];
            self.cell.forward(
                &self.rec,
                &hp[t * bn..],
                c_prev,
                a,
                &mut hn[..bn],
                c,
                aux,
                self.rows,
            );
        }
        let by = w.by.as_slice().unwrap();
        for row in self.y.chunks_exact_mut(k) {
            row.copy_from_slice(by);
        }
        let h = view(&self.hs[bn..], tb, n);
        general_mat_mul(
            F::one(),
            &h,
            &w.wyt,
            F::one(),
            &mut view_mut(&mut self.y, tb, k),
        );
    }

    /// Mean squared error of the current outputs against `target [T·B, K]`.
    pub fn mse(&self, target: ArrayView2<F>) -> f64 {
        let t = target.as_slice().expect("standard layout target");
        let sum: f64 = self
            .y
            .iter()
            .zip(t)
            .map(|(&y, &z)| (y - z).to_f64().powi(2))
            .sum();
        sum / self.y.len() as f64
    }

    /// Forward, loss and gradient of `MSE + l2·Σ||W||²` (weight matrices `W_*, U_*, W_y`) into
    /// `self.grad`. Returns the MSE without the L2 term.
    pub fn loss_and_grad(
        &mut self,
        w: &Weights<F>,
        x: ArrayView2<F>,
        target: ArrayView2<F>,
        l2: f64,
    ) -> f64 {
        self.forward(w, x);
        let mse = self.mse(target);
        let scale = F::from_f64(2.0 / self.y.len() as f64);
        for (y, &z) in self.y.iter_mut().zip(target.as_slice().unwrap()) {
            *y = scale * (*y - z);
        }
        self.backward(w, x);
        if l2 != 0.0 {
            let c = F::from_f64(2.0 * l2);
            let params = w.slices();
            for (i, g) in self.grad.slices_mut().into_iter().enumerate() {
                if matches!(i, 0 | 1 | 3) {
                    for (g, &p) in g.iter_mut().zip(params[i]) {
                        *g += c * p;
                    }
                }
            }
        }
        mse
    }

    /// Backward sweep through the last `forward` (its caches and packed weights), given `dY` in
    /// `self.y`.
    fn backward(&mut self, w: &Weights<F>, x: ArrayView2<F>) {
        let (n, gn, k) = (self.shape.units, self.cell.gn(), self.shape.outputs);
        let (rows, steps) = (self.rows, self.steps);
        let (tb, bn, bgn) = (steps * rows, rows * n, rows * gn);
        let dy = view(&self.y, tb, k);
        general_mat_mul(
            F::one(),
            &dy,
            &w.wyt.t(),
            F::zero(),
            &mut view_mut(&mut self.dh, tb, n),
        );
        self.dh_next.fill(F::zero());
        self.dc.fill(F::zero());
        for t in (0..steps).rev() {
            let dh = &mut self.dh[t * bn..(t + 1) * bn];
            if t + 1 < steps {
                for (d, &e) in dh.iter_mut().zip(&self.dh_next) {
                    *d += e;
                }
            }
            let c_prev: &[F] = if self.cs.is_empty() {
                &[]
            } else {
                &self.cs[t * bn..(t + 1) * bn]
            };
            let aux: &[F] = if self.aux.is_empty() {
                &[]
            } else {
                &self.aux[t * bn..(t + 1) * bn]
            };
            self.cell.backward(
                &self.rec,
                &self.hs[t * bn..(t + 1) * bn],
                c_prev,
                &mut self.a[t * bgn..(t + 1) * bgn],
                aux,
                dh,
                &mut self.dc,
                &mut self.dh_prev,
                t > 0,
                &mut self.tmp,
                rows,
            );
            std::mem::swap(&mut self.dh_next, &mut self.dh_prev);
        }
        let g = &mut self.grad;
        let da = view(&self.a, tb, gn);
        // h_0 = 0 contributes nothing to dWt: use steps 1..T.
        let h_prev = view(&self.hs[bn..tb * n], tb - rows, n);
        let da_late = da.slice(s![rows.., ..]);
        if self.shape.arch == Arch::Gru {
            let aux = view(&self.aux, tb, n);
            general_mat_mul(
                F::one(),
                &h_prev.t(),
                &da_late.slice(s![.., ..2 * n]),
                F::zero(),
                &mut g.wt.slice_mut(s![.., ..2 * n]),
            );
            general_mat_mul(
                F::one(),
                &aux.t(),
                &da.slice(s![.., 2 * n..]),
                F::zero(),
                &mut g.wt.slice_mut(s![.., 2 * n..]),
            );
        } else {
            general_mat_mul(F::one(), &h_prev.t(), &da_late, F::zero(), &mut g.wt);
        }
        general_mat_mul(F::one(), &x.t(), &da, F::zero(), &mut g.ut);
        column_sums(&self.a, gn, g.b.as_slice_mut().unwrap());
        let h = view(&self.hs[bn..], tb, n);
        general_mat_mul(F::one(), &h.t(), &dy, F::zero(), &mut g.wyt);
        column_sums(&self.y, k, g.by.as_slice_mut().unwrap());
    }
}

fn column_sums<F: Float>(x: &[F], cols: usize, out: &mut [F]) {
    out.fill(F::zero());
    for row in x.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rnn::{init, Activation};
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Small networks of every arch × activation with every parameter perturbed (non-zero biases).
    pub(crate) fn all_small(
        units: usize,
        inputs: usize,
        outputs: usize,
    ) -> Vec<(Shape, Weights<f64>)> {
        let mut out = Vec::new();
        for (i, arch) in Arch::ALL.into_iter().enumerate() {
            for (j, activation) in Activation::ALL.into_iter().enumerate() {
                let shape = Shape {
                    arch,
                    activation,
                    units,
                    inputs,
                    outputs,
                };
                let mut w = init::init(&shape, 11 + (2 * i + j) as u64).cast::<f64>();
                let mut rng = ChaCha8Rng::seed_from_u64(99 + (2 * i + j) as u64);
                for s in w.slices_mut() {
                    for v in s.iter_mut() {
                        *v = 0.8 * *v + 0.3 * (rng.random::<f64>() - 0.5);
                    }
                }
                out.push((shape, w));
            }
        }
        out
    }

    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |_| {
            // Away from 0, so relu kinks are not straddled by the finite differences.
            let m: f64 = 0.3 + rng.random::<f64>();
            if rng.random_bool(0.5) {
                m
            } else {
                -m
            }
        })
    }

    #[test]
    fn gradient_matches_central_differences() {
        let (t, b, l2) = (5, 3, 0.01);
        for (shape, w) in all_small(4, 3, 2) {
            let x = random(t * b, 3, 1);
            let y = random(t * b, 2, 2);
            let mut ws = Workspace::<f64>::new(&shape, t, b);
            ws.loss_and_grad(&w, x.view(), y.view(), l2);
            let grad = ws.grad.clone();
            let total = |ws: &mut Workspace<f64>, w: &Weights<f64>| {
                ws.forward(w, x.view());
                let sq: f64 = [0, 1, 3]
                    .iter()
                    .flat_map(|&i| w.slices()[i].iter())
                    .map(|v| v * v)
                    .sum();
                ws.mse(y.view()) + l2 * sq
            };
            let eps = 1e-5;
            let mut worst = 0.0f64;
            for part in 0..5 {
                for i in 0..grad.slices()[part].len() {
                    let mut wp = w.clone();
                    wp.slices_mut()[part][i] += eps;
                    let lp = total(&mut ws, &wp);
                    wp.slices_mut()[part][i] -= 2.0 * eps;
                    let lm = total(&mut ws, &wp);
                    let numeric = (lp - lm) / (2.0 * eps);
                    let analytic = grad.slices()[part][i];
                    let rel =
                        (numeric - analytic).abs() / numeric.abs().max(analytic.abs()).max(1e-4);
                    worst = worst.max(rel);
                }
            }
            assert!(
                worst < 1e-5,
                "{} {}: worst relative error {worst:e}",
                shape.arch,
                shape.activation
            );
            assert!(
                grad.slices()
                    .iter()
                    .all(|s| s.iter().any(|v| v.abs() > 1e-6)),
                "some gradient block vanished"
            );
        }
    }
}
