//! The view of a recurrent network that dynamical analyses need: `s' = F(s, x)` with analytic
//! Jacobians and a readout, in f64 (root finding to `q < 1e-12` needs it).
//!
//! `rnn` implements it for every architecture; fixed-point finding, linearisation and topology
//! are written against this trait only, so they are tested on hand-built systems too.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2};

pub trait Dynamics: Sync {
    /// Dimension of the dynamical state `s` (LSTM: `2N`, `[c; h]`).
    fn state_dim(&self) -> usize;
    /// Dimension of the input `x`.
    fn input_dim(&self) -> usize;
    /// Dimension of the readout `y`.
    fn output_dim(&self) -> usize;
    /// `out = F(s, x)`.
    fn step(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: ArrayViewMut1<f64>);
    /// `out.row(k) = F(s.row(k), x)` for every row, as `step` computes it (up to rounding).
    /// Many runs of one system step together through this (one matrix product instead of one
    /// matrix-vector product and its allocations per run).
    fn step_batch(&self, s: ArrayView2<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut2<f64>) {
        for (row, o) in s.rows().into_iter().zip(out.rows_mut()) {
            self.step(row, x, o);
        }
    }
    /// `out = ∂F/∂s` at `(s, x)`, `state_dim × state_dim`.
    fn jacobian_state(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>);
    /// `out = ∂F/∂x` at `(s, x)`, `state_dim × input_dim`.
    fn jacobian_input(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>);
    /// `out = W_y h + b_y`, where `h` is the part of `s` the readout sees.
    fn readout(&self, s: ArrayView1<f64>, out: ArrayViewMut1<f64>);
}
