//! `NetworkDynamics`: a network as the f64 dynamical system `s' = F(s, x)` that fixed-point
//! finding and linearisation need (f64 because roots are polished to `q < 1e-12`).
//!
//! `step` is `cell::forward` on one row, `step_batch` on many (the transition graph's runs).
//! The Jacobians are `cell::backward` on `D` copies of one forward step, seeded with the unit
//! vectors: row `i` of the result is `∂F_i/∂s` (and `∂F_i/∂x` through `Ut`), so they are exact
//! and share the cell equations with training. The seeded rows are mostly zeros (the GRU's
//! reset block aside), so their recurrent product runs over the non-zeros only. Their buffers
//! live in one `Seeded` workspace per thread, so a Jacobian allocates nothing once warm.
//!
//! `trained_flipflop_tests` load `tests/fixtures/flipflop_gru24.json`, a trained flip-flop GRU
//! (see `fixture`), and check the fixed-point scaffold the paper describes.

use super::bptt::Workspace;
use super::cell::{sparse_product, view, view_mut, Cell, Recurrent};
use super::weights::Weights;
use super::{Arch, Shape};
use crate::analysis::dynamics::Dynamics;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, Array3, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut1, ArrayViewMut2};
use std::cell::RefCell;

#[derive(Clone, Debug)]
pub struct NetworkDynamics {
    shape: Shape,
    cell: Cell,
    w: Weights<f64>,
    /// The recurrent weights packed for `Cell::forward` / `Cell::backward`.
    rec: Recurrent<f64>,
    /// `Wtᵀ` row-major, for the sparse recurrent product of the seeded backward step (the packed
    /// panels of `rec` do not give rows).
    w_rows: Array2<f64>,
}

/// Forward caches of `rows` copies of one state, ready for a seeded backward step.
#[derive(Default)]
struct Replica {
    h_prev: Vec<f64>,
    c_prev: Vec<f64>,
    a: Vec<f64>,
    aux: Vec<f64>,
    h: Vec<f64>,
    c: Vec<f64>,
}

impl NetworkDynamics {
    pub(crate) fn new(shape: Shape, w: Weights<f64>) -> Self {
        let w_rows = w.wt.t().as_standard_layout().into_owned();
        let cell = Cell::new(&shape);
        let mut rec = Recurrent::new();
        rec.pack(&cell, w.wt.view());
        NetworkDynamics {
            shape,
            cell,
            rec,
            w,
            w_rows,
        }
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The part of the state the readout and the geometry see (`h`; LSTM: the second half).
    pub fn hidden<'a>(&self, s: ArrayView1<'a, f64>) -> ArrayView1<'a, f64> {
        let n = self.shape.units;
        s.slice_move(ndarray::s![s.len() - n..])
    }

    /// Full dynamical states `[T, B, state_dim]` (LSTM `[c; h]`) of a run from `s_0 = 0`, in f64.
    pub fn trajectory(&self, inputs: ArrayView3<f32>) -> Array3<f64> {
        let (t, b, m) = inputs.dim();
        assert_eq!(m, self.shape.inputs, "input channels");
        let x = inputs
            .mapv(|v| v as f64)
            .into_shape_with_order((t * b, m))
            .unwrap();
        let mut ws = Workspace::<f64>::new(&self.shape, t, b);
        ws.forward(&self.w, x.view());
        let n = self.shape.units;
        let d = self.shape.state_dim();
        let mut out = Array3::zeros((t, b, d));
        let h = ws.states();
        let c = ws.cells();
        for ti in 0..t {
            for bi in 0..b {
                let row = ti * b + bi;
                let mut o = out.slice_mut(ndarray::s![ti, bi, ..]);
                o.slice_mut(ndarray::s![d - n..]).assign(&h.row(row));
                if self.shape.arch == Arch::Lstm {
                    o.slice_mut(ndarray::s![..n]).assign(&c.row(row));
                }
            }
        }
        out
    }

    fn split<'a>(&self, s: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        if self.shape.arch == Arch::Lstm {
            (&s[self.shape.units..], &s[..self.shape.units])
        } else {
            (s, &[])
        }
    }

    /// `b + x·Ut`, the input part of the pre-activations.
    fn input_drive(&self, x: ArrayView1<f64>) -> Vec<f64> {
        let mut a0 = vec![0.0; self.cell.gn()];
        self.input_drive_into(x, &mut a0);
        a0
    }

    /// [`Self::input_drive`] into `a0` (`GN` values).
    /// (A loop: a matrix product call costs more than the few inputs it would multiply.)
    fn input_drive_into(&self, x: ArrayView1<f64>, a0: &mut [f64]) {
        a0.copy_from_slice(self.w.b.as_slice().expect("contiguous bias"));
        for (&xm, ut) in x.iter().zip(self.w.ut.rows()) {
            if xm != 0.0 {
                a0.iter_mut().zip(ut).for_each(|(a, &u)| *a += xm * u);
            }
        }
    }

    fn replicate(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, rows: usize) -> Replica {
        let s = s.to_vec();
        let (h0, c0) = self.split(&s);
        let a0 = self.input_drive(x);
        self.forward(h0.repeat(rows), c0.repeat(rows), a0.repeat(rows), rows)
    }

    /// One step of `rows` states given as `h_prev [rows, N]`, `c_prev [rows, N]` (LSTM, else
    /// empty) and their input drives `a`.
    fn forward(&self, h_prev: Vec<f64>, c_prev: Vec<f64>, a: Vec<f64>, rows: usize) -> Replica {
        let n = self.shape.units;
        let lstm_or_gru = matches!(self.shape.arch, Arch::Lstm | Arch::Gru);
        let cells = c_prev.len();
        let mut r = Replica {
            h_prev,
            c_prev,
            a,
            aux: vec![0.0; if lstm_or_gru { rows * n } else { 0 }],
            h: vec![0.0; rows * n],
            c: vec![0.0; cells],
        };
        self.cell.forward(
            &self.rec, &r.h_prev, &r.c_prev, &mut r.a, &mut r.h, &mut r.c, &mut r.aux, rows,
        );
        r
    }

    /// Backward of one step seeded with the unit vectors of the state, in this thread's
    /// [`Seeded`] workspace: `f` gets `dA [D, GN]`, `∂F/∂h [D, N]` and `∂F/∂c [D, N]` (LSTM, else
    /// empty) and returns what the caller keeps.
    fn seeded_backward<R>(
        &self,
        s: ArrayView1<f64>,
        x: ArrayView1<f64>,
        f: impl FnOnce(&[f64], &[f64], &[f64]) -> R,
    ) -> R {
        SEEDED.with_borrow_mut(|ws| {
            ws.forward(self, s, x);
            ws.backward(self);
            f(&ws.fwd.a, &ws.dh_prev, &ws.dc)
        })
    }
}

thread_local! {
    /// One seeded-backward workspace per thread, reused by every Jacobian on that thread.
    static SEEDED: RefCell<Seeded> = RefCell::new(Seeded::default());
}

/// The buffers of a seeded backward step: `D` copies of one forward step's caches, the seeds and
/// the gradients. Resized (not reallocated once big enough) for each system, and every value the
/// step reads is rewritten first, so what an earlier Jacobian left behind never matters.
#[derive(Default)]
struct Seeded {
    fwd: Replica,
    dh: Vec<f64>,
    dc: Vec<f64>,
    dh_prev: Vec<f64>,
    tmp: Vec<f64>,
}

/// `buf` resized to `len`, its first `width` values repeated over the rest.
fn repeat_first(buf: &mut Vec<f64>, width: usize, len: usize) {
    buf.resize(len, 0.0);
    for i in (width..len).step_by(width.max(1)) {
        buf.copy_within(..width, i);
    }
}

/// `buf` resized to `len`, all zeros.
fn zeroed(buf: &mut Vec<f64>, len: usize) {
    buf.clear();
    buf.resize(len, 0.0);
}

impl Seeded {
    /// One forward step of `(s, x)` in row 0, copied to all `D` rows: every seeded row has the
    /// same forward caches.
    fn forward(&mut self, dy: &NetworkDynamics, s: ArrayView1<f64>, x: ArrayView1<f64>) {
        let (n, gn, d) = (dy.shape.units, dy.cell.gn(), dy.shape.state_dim());
        let lstm = dy.shape.arch == Arch::Lstm;
        let has_aux = matches!(dy.shape.arch, Arch::Lstm | Arch::Gru);
        let (cells, aux) = (if lstm { n } else { 0 }, if has_aux { n } else { 0 });
        let r = &mut self.fwd;
        for (buf, len) in [
            (&mut r.h_prev, n),
            (&mut r.c_prev, cells),
            (&mut r.a, gn),
            (&mut r.aux, aux),
            (&mut r.h, n),
            (&mut r.c, cells),
        ] {
            zeroed(buf, len);
        }
        let s = s.as_standard_layout();
        let (h0, c0) = dy.split(s.as_slice().expect("standard layout"));
        r.h_prev.copy_from_slice(h0);
        r.c_prev.copy_from_slice(c0);
        dy.input_drive_into(x, &mut r.a);
        dy.cell.forward(
            &dy.rec, &r.h_prev, &r.c_prev, &mut r.a, &mut r.h, &mut r.c, &mut r.aux, 1,
        );
        repeat_first(&mut r.h_prev, n, d * n);
        repeat_first(&mut r.c_prev, cells, d * cells);
        repeat_first(&mut r.a, gn, d * gn);
        repeat_first(&mut r.aux, aux, d * aux);
    }

    /// The backward step of the `D` rows, row `i` seeded with the unit vector `e_i` of the state.
    fn backward(&mut self, dy: &NetworkDynamics) {
        let (n, d) = (dy.shape.units, dy.shape.state_dim());
        let lstm = dy.shape.arch == Arch::Lstm;
        zeroed(&mut self.dh, d * n);
        zeroed(&mut self.dc, if lstm { d * n } else { 0 });
        zeroed(&mut self.dh_prev, d * n);
        zeroed(&mut self.tmp, d * n);
        for i in 0..d {
            if lstm && i < n {
                self.dc[i * n + i] = 1.0;
            } else {
                self.dh[i * n + (i % n)] = 1.0;
            }
        }
        // A seeded row of `dA` is zero outside its own unit's gates, so the backward step's
        // recurrent product costs `O(D·N)` per gate over the non-zeros instead of a
        // `D × G·N × N` GEMM; the GRU's reset block is dense, so it keeps the GEMM.
        let sparse = dy.shape.arch != Arch::Gru;
        let r = &mut self.fwd;
        dy.cell.backward(
            &dy.rec,
            &r.h_prev,
            &r.c_prev,
            &mut r.a,
            &r.aux,
            &self.dh,
            &mut self.dc,
            &mut self.dh_prev,
            !sparse,
            &mut self.tmp,
            d,
        );
        if sparse {
            let (k, accumulate) = dy.cell.recurrent_product();
            sparse_product(
                view(&r.a, d, dy.cell.gn()).slice_move(ndarray::s![.., ..k]),
                dy.w_rows.slice(ndarray::s![..k, ..]),
                accumulate,
                view_mut(&mut self.dh_prev, d, n),
            );
        }
    }
}

impl Dynamics for NetworkDynamics {
    fn state_dim(&self) -> usize {
        self.shape.state_dim()
    }

    fn input_dim(&self) -> usize {
        self.shape.inputs
    }

    fn output_dim(&self) -> usize {
        self.shape.outputs
    }

    fn step(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
        let n = self.shape.units;
        let r = self.replicate(s, x, 1);
        if self.shape.arch == Arch::Lstm {
            out.slice_mut(ndarray::s![..n])
                .assign(&ArrayView1::from(&r.c[..]));
            out.slice_mut(ndarray::s![n..])
                .assign(&ArrayView1::from(&r.h[..]));
        } else {
            out.assign(&ArrayView1::from(&r.h[..]));
        }
    }

    fn step_batch(&self, s: ArrayView2<f64>, x: ArrayView1<f64>, mut out: ArrayViewMut2<f64>) {
        let (rows, n, d) = (s.nrows(), self.shape.units, self.shape.state_dim());
        let lstm = self.shape.arch == Arch::Lstm;
        let h_prev: Vec<f64> = s.slice(ndarray::s![.., d - n..]).iter().copied().collect();
        let c_prev: Vec<f64> = if lstm {
            s.slice(ndarray::s![.., ..n]).iter().copied().collect()
        } else {
            Vec::new()
        };
        let r = self.forward(h_prev, c_prev, self.input_drive(x).repeat(rows), rows);
        out.slice_mut(ndarray::s![.., d - n..])
            .assign(&view(&r.h, rows, n));
        if lstm {
            out.slice_mut(ndarray::s![.., ..n])
                .assign(&view(&r.c, rows, n));
        }
    }

    fn jacobian_state(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
        let n = self.shape.units;
        let d = self.shape.state_dim();
        self.seeded_backward(s, x, |_, dh, dc| {
            let dh = view(dh, d, n);
            if self.shape.arch == Arch::Lstm {
                out.slice_mut(ndarray::s![.., ..n]).assign(&view(dc, d, n));
                out.slice_mut(ndarray::s![.., n..]).assign(&dh);
            } else {
                out.assign(&dh);
            }
        });
    }

    fn jacobian_input(&self, s: ArrayView1<f64>, x: ArrayView1<f64>, out: &mut Array2<f64>) {
        let d = self.shape.state_dim();
        self.seeded_backward(s, x, |da, _, _| {
            general_mat_mul(1.0, &view(da, d, self.cell.gn()), &self.w.ut.t(), 0.0, out);
        });
    }

    fn readout(&self, s: ArrayView1<f64>, mut out: ArrayViewMut1<f64>) {
        let h = self.hidden(s);
        out.assign(&self.w.by);
        general_mat_mul(
            1.0,
            &h.insert_axis(ndarray::Axis(0)),
            &self.w.wyt,
            1.0,
            &mut out.view_mut().insert_axis(ndarray::Axis(0)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::bptt::tests::all_small;
    use crate::rnn::{Network, TaskSpec};
    use ndarray::Array1;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn away_from_zero(len: usize, rng: &mut ChaCha8Rng) -> Array1<f64> {
        Array1::from_shape_fn(len, |_| {
            let m = 0.2 + 0.8 * rng.random::<f64>();
            if rng.random_bool(0.5) {
                m
            } else {
                -m
            }
        })
    }

    fn rel_err(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        let diff = (a - b).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
        diff / b.mapv(f64::abs).fold(1e-3f64, |m, &v| m.max(v))
    }

    #[test]
    fn jacobians_match_finite_differences_of_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (shape, w) in all_small(5, 3, 2) {
            let dy = NetworkDynamics::new(shape, w);
            let d = dy.state_dim();
            let s = away_from_zero(d, &mut rng);
            let x = away_from_zero(3, &mut rng);
            let eps = 1e-6;
            let step = |s: &Array1<f64>, x: &Array1<f64>| {
                let mut out = Array1::zeros(d);
                dy.step(s.view(), x.view(), out.view_mut());
                out
            };
            let mut js = Array2::zeros((d, d));
            dy.jacobian_state(s.view(), x.view(), &mut js);
            let mut fd = Array2::zeros((d, d));
            for j in 0..d {
                let (mut p, mut m) = (s.clone(), s.clone());
                p[j] += eps;
                m[j] -= eps;
                fd.column_mut(j)
                    .assign(&((step(&p, &x) - step(&m, &x)) / (2.0 * eps)));
            }
            assert!(
                rel_err(&js, &fd) < 1e-4,
                "{} {} state: {:e}",
                shape.arch,
                shape.activation,
                rel_err(&js, &fd)
            );
            let mut ji = Array2::zeros((d, 3));
            dy.jacobian_input(s.view(), x.view(), &mut ji);
            let mut fd = Array2::zeros((d, 3));
            for j in 0..3 {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[j] += eps;
                m[j] -= eps;
                fd.column_mut(j)
                    .assign(&((step(&s, &p) - step(&s, &m)) / (2.0 * eps)));
            }
            assert!(
                rel_err(&ji, &fd) < 1e-4,
                "{} {} input: {:e}",
                shape.arch,
                shape.activation,
                rel_err(&ji, &fd)
            );
        }
    }

    /// The thread's workspace, left sized and filled by bigger and other systems, gives the
    /// same bits as a fresh one (a new thread's).
    #[test]
    fn reused_workspace_gives_the_jacobians_of_a_fresh_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let systems: Vec<_> = all_small(9, 3, 2)
            .into_iter()
            .chain(all_small(4, 3, 2))
            .map(|(shape, w)| NetworkDynamics::new(shape, w))
            .collect();
        let points: Vec<_> = systems
            .iter()
            .map(|dy| {
                (
                    away_from_zero(dy.state_dim(), &mut rng),
                    away_from_zero(3, &mut rng),
                )
            })
            .collect();
        let jacobians = |dy: &NetworkDynamics, (s, x): &(Array1<f64>, Array1<f64>)| {
            let d = dy.state_dim();
            let (mut js, mut ji) = (Array2::zeros((d, d)), Array2::zeros((d, 3)));
            dy.jacobian_state(s.view(), x.view(), &mut js);
            dy.jacobian_input(s.view(), x.view(), &mut ji);
            (js, ji)
        };
        let warm: Vec<_> = systems
            .iter()
            .zip(&points)
            .map(|(dy, p)| jacobians(dy, p))
            .collect();
        for ((dy, p), want) in systems.iter().zip(&points).zip(&warm) {
            let fresh = std::thread::scope(|sc| sc.spawn(|| jacobians(dy, p)).join().unwrap());
            assert_eq!(&fresh, want, "{} {}", dy.shape.arch, dy.shape.units);
        }
    }

    #[test]
    fn step_batch_is_step_on_every_row() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for (shape, w) in all_small(5, 3, 2) {
            let dy = NetworkDynamics::new(shape, w);
            let d = dy.state_dim();
            let s = Array2::from_shape_fn((7, d), |_| 2.0 * rng.random::<f64>() - 1.0);
            let x = away_from_zero(3, &mut rng);
            let mut batch = Array2::zeros((7, d));
            dy.step_batch(s.view(), x.view(), batch.view_mut());
            for k in 0..7 {
                let mut one = Array1::zeros(d);
                dy.step(s.row(k), x.view(), one.view_mut());
                let err = (&one - &batch.row(k))
                    .mapv(f64::abs)
                    .fold(0.0f64, |m, &v| m.max(v));
                assert!(err < 1e-14, "{} row {k}: {err:e}", shape.arch);
                assert!(one.iter().any(|&v| v.abs() > 0.05), "a non-trivial step");
            }
        }
    }

    #[test]
    fn step_follows_run_and_trajectory() {
        let task = TaskSpec::Cdi {
            contexts: 1,
            steps: 12,
            mean_range: 1.0,
            noise_sd: 1.0,
        };
        let batch = task.batch(4, 3);
        for (shape, w) in all_small(6, 2, 1) {
            let net = Network::from_weights(shape, w.cast::<f32>());
            let (h, y) = net.run(batch.inputs.view());
            let dy = net.dynamics();
            let traj = dy.trajectory(batch.inputs.view());
            let d = dy.state_dim();
            for b in 0..3 {
                let mut s = Array1::<f64>::zeros(d);
                for t in 0..12 {
                    let x = batch.inputs.slice(ndarray::s![t, b, ..]).mapv(|v| v as f64);
                    let mut next = Array1::zeros(d);
                    dy.step(s.view(), x.view(), next.view_mut());
                    s = next;
                    let tr = traj.slice(ndarray::s![t, b, ..]);
                    assert!(
                        (&s - &tr).iter().all(|v| v.abs() < 1e-12),
                        "{} step vs trajectory",
                        shape.arch
                    );
                    let ht = dy.hidden(s.view());
                    for (a, &b32) in ht.iter().zip(h.slice(ndarray::s![t, b, ..])) {
                        assert!(
                            (a - b32 as f64).abs() < 1e-4 * (1.0 + a.abs()),
                            "{} {}: f64 {a} vs f32 {b32}",
                            shape.arch,
                            shape.activation
                        );
                    }
                    let mut out = Array1::zeros(1);
                    dy.readout(s.view(), out.view_mut());
                    assert!((out[0] - y[(t, b, 0)] as f64).abs() < 1e-4 * (1.0 + out[0].abs()));
                }
            }
        }
    }
}

/// SPEC §1 written out from the named parameters, independently of the stacked layout.
#[cfg(test)]
mod spec_tests {
    use crate::analysis::dynamics::Dynamics;
    use crate::rnn::{Activation, Arch, Network, Shape};
    use ndarray::{Array1, Array2};

    fn reference(net: &Network, s: &Array1<f64>, x: &Array1<f64>) -> Array1<f64> {
        let shape = net.shape();
        let p = net.params();
        let get = |name: &str| {
            let q = p.iter().find(|q| q.name == name).unwrap();
            Array2::from_shape_vec(
                (q.rows, q.cols),
                q.values.iter().map(|&v| v as f64).collect(),
            )
            .unwrap()
        };
        let pre = |g: &str, h: &Array1<f64>| {
            let sfx = if g.is_empty() {
                String::new()
            } else {
                format!("_{g}")
            };
            get(&format!("W{sfx}")).dot(h)
                + get(&format!("U{sfx}")).dot(x)
                + get(&format!("b{sfx}")).column(0)
        };
        let phi = |v: Array1<f64>| match shape.activation {
            Activation::Tanh => v.mapv(f64::tanh),
            Activation::Relu => v.mapv(|a| a.max(0.0)),
        };
        let sig = |v: Array1<f64>| v.mapv(|a| 1.0 / (1.0 + (-a).exp()));
        let n = shape.units;
        match shape.arch {
            Arch::Vanilla => phi(pre("", s)),
            Arch::Ugrnn => {
                let g = sig(pre("g", s));
                let c = phi(pre("c", s));
                &g * s + &(1.0 - &g) * &c
            }
            Arch::Gru => {
                let z = sig(pre("z", s));
                let r = sig(pre("r", s));
                let c = phi(pre("c", &(&r * s)));
                &z * s + &(1.0 - &z) * &c
            }
            Arch::Lstm => {
                let (c, h) = (
                    s.slice(ndarray::s![..n]).to_owned(),
                    s.slice(ndarray::s![n..]).to_owned(),
                );
                let (i, f, o) = (sig(pre("i", &h)), sig(pre("f", &h)), sig(pre("o", &h)));
                let g = phi(pre("g", &h));
                let c2 = &f * &c + &i * &g;
                let h2 = &o * &phi(c2.clone());
                ndarray::concatenate![ndarray::Axis(0), c2, h2]
            }
        }
    }

    #[test]
    fn step_is_the_spec_equation_from_named_parameters() {
        for arch in Arch::ALL {
            for activation in Activation::ALL {
                let shape = Shape {
                    arch,
                    activation,
                    units: 3,
                    inputs: 2,
                    outputs: 1,
                };
                let net = Network::init(shape, 21);
                let dy = net.dynamics();
                let d = shape.state_dim();
                let s = Array1::from_shape_fn(d, |i| 0.7 - 0.45 * i as f64);
                let x = Array1::from(vec![0.4, -1.1]);
                let mut out = Array1::zeros(d);
                dy.step(s.view(), x.view(), out.view_mut());
                let want = reference(&net, &s, &x);
                let err = (&out - &want).mapv(f64::abs).fold(0.0f64, |m, &v| m.max(v));
                assert!(err < 1e-12, "{arch} {activation}: {out} vs {want}");
                let mut y = Array1::zeros(1);
                dy.readout(s.view(), y.view_mut());
                let wy = &net.params()[net.params().len() - 2];
                let h = s.slice(ndarray::s![d - 3..]);
                let by = net.params().last().unwrap().values[0] as f64;
                let want_y: f64 = by + (0..3).map(|j| wy.values[j] as f64 * h[j]).sum::<f64>();
                assert!((y[0] - want_y).abs() < 1e-12);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod trained_flipflop_tests;
