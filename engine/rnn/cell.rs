//! The equations of the four cells (SPEC §1), written once: one forward step and its backward
//! step on a batch of `B` row states. BPTT unrolls them, and the Jacobians of `dynamics` are
//! backward steps seeded with unit vectors, so forward, gradient and Jacobian cannot drift apart.
//!
//! Layout per step (row-major slices): `a [B, G·N]` holds the pre-activations `X·Ut + b` on entry
//! to `forward` and the block activations on exit (gates σ, candidates φ; block order as in SPEC
//! parameter order); `backward` turns them into `∂L/∂(pre-activation)` in place. `aux [B, N]` is
//! `φ(c')` for the LSTM and `r ⊙ h` for the GRU (the input of `W_c`), unused otherwise.
//!
//! Both steps run in a copy compiled for AVX2 when the CPU has it, which rounds exactly as the
//! baseline copy ([`avx2_fma`]): twice the vector width for the activations, the same bits.

use super::float::{dphi, dsigmoid, phi};
#[cfg(target_arch = "x86_64")]
use super::gemm::avx2_fma;
use super::gemm::{gemm, Packed};
use super::{Activation, Arch, Float, Shape};
use ndarray::{s, ArrayView2, ArrayViewMut2};

pub(crate) fn view<F>(x: &[F], rows: usize, cols: usize) -> ArrayView2<'_, F> {
    ArrayView2::from_shape((rows, cols), x).expect("slice matches its shape")
}

pub(crate) fn view_mut<F>(x: &mut [F], rows: usize, cols: usize) -> ArrayViewMut2<'_, F> {
    ArrayViewMut2::from_shape((rows, cols), x).expect("slice matches its shape")
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    pub arch: Arch,
    pub relu: bool,
    pub n: usize,
}

impl Cell {
    pub fn new(shape: &Shape) -> Cell {
        Cell {
            arch: shape.arch,
            relu: shape.activation == Activation::Relu,
            n: shape.units,
        }
    }

    pub fn gn(&self) -> usize {
        self.arch.blocks() * self.n
    }

    /// One step for `rows` states: `h = F(h_prev, x)` (and `c` for the LSTM), given `a = X·Ut + b`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        h: &mut [F],
        c: &mut [F],
        aux: &mut [F],
        rows: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (just checked), all that `forward_avx2` needs.
            return unsafe { self.forward_avx2(w, h_prev, c_prev, a, h, c, aux, rows) };
        }
        self.forward_body(w, h_prev, c_prev, a, h, c, aux, rows)
    }

    /// [`Cell::forward`] compiled for AVX2 (see [`avx2_fma`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn forward_avx2<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        h: &mut [F],
        c: &mut [F],
        aux: &mut [F],
        rows: usize,
    ) {
        self.forward_body(w, h_prev, c_prev, a, h, c, aux, rows)
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn forward_body<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        h: &mut [F],
        c: &mut [F],
        aux: &mut [F],
        rows: usize,
    ) {
        let (n, gn, relu) = (self.n, self.gn(), self.relu);
        let hp = view(h_prev, rows, n);
        if self.arch != Arch::Gru {
            gemm(hp, &w.fwd, true, view_mut(a, rows, gn));
        } else {
            let mut av = view_mut(a, rows, gn);
            gemm(hp, &w.fwd, true, av.slice_mut(s![.., ..2 * n]));
        }
        let sig = |x: &mut F| *x = x.sigmoid();
        let act = |x: &mut F| *x = phi(relu, *x);
        let one = F::one();
        match self.arch {
            Arch::Vanilla => {
                a.iter_mut().for_each(act);
                h.copy_from_slice(a);
            }
            Arch::Ugrnn => {
                for ((ar, hr), hpr) in a
                    .chunks_exact_mut(gn)
                    .zip(h.chunks_exact_mut(n))
                    .zip(h_prev.chunks_exact(n))
                {
                    let (g, cc) = ar.split_at_mut(n);
                    g.iter_mut().for_each(sig);
                    cc.iter_mut().for_each(act);
                    // Equal lengths let the loop vectorise without bounds checks.
                    let (g, cc, hr, hpr) = (&g[..n], &cc[..n], &mut hr[..n], &hpr[..n]);
                    for j in 0..n {
                        hr[j] = g[j] * hpr[j] + (one - g[j]) * cc[j];
                    }
                }
            }
            Arch::Gru => {
                for ((ar, xr), hpr) in a
                    .chunks_exact_mut(gn)
                    .zip(aux.chunks_exact_mut(n))
                    .zip(h_prev.chunks_exact(n))
                {
                    ar[..2 * n].iter_mut().for_each(sig);
                    let r = &ar[n..2 * n];
                    // Equal lengths let the loop vectorise without bounds checks.
                    let (r, xr, hpr) = (&r[..n], &mut xr[..n], &hpr[..n]);
                    for j in 0..n {
                        xr[j] = r[j] * hpr[j];
                    }
                }
                let mut av = view_mut(a, rows, gn);
                gemm(
                    view(aux, rows, n),
                    &w.fwd_c,
                    true,
                    av.slice_mut(s![.., 2 * n..]),
                );
                for ((ar, hr), hpr) in a
                    .chunks_exact_mut(gn)
                    .zip(h.chunks_exact_mut(n))
                    .zip(h_prev.chunks_exact(n))
                {
                    let (zr, cc) = ar.split_at_mut(2 * n);
                    cc.iter_mut().for_each(act);
                    let z = &zr[..n];
                    // Equal lengths let the loop vectorise without bounds checks.
                    let (cc, hr, hpr) = (&cc[..n], &mut hr[..n], &hpr[..n]);
                    for j in 0..n {
                        hr[j] = z[j] * hpr[j] + (one - z[j]) * cc[j];
                    }
                }
            }
            Arch::Lstm => {
                let it = a
                    .chunks_exact_mut(gn)
                    .zip(h.chunks_exact_mut(n))
                    .zip(c.chunks_exact_mut(n));
                for (((ar, hr), cr), (cpr, tcr)) in
                    it.zip(c_prev.chunks_exact(n).zip(aux.chunks_exact_mut(n)))
                {
                    let (ifo, g) = ar.split_at_mut(3 * n);
                    ifo.iter_mut().for_each(sig);
                    g.iter_mut().for_each(act);
                    let (i, fo) = ifo.split_at(n);
                    let (f, o) = fo.split_at(n);
                    // Equal lengths let the loop vectorise without bounds checks.
                    let (o, g, cr, cpr, tcr, hr) = (
                        &o[..n],
                        &g[..n],
                        &mut cr[..n],
                        &cpr[..n],
                        &mut tcr[..n],
                        &mut hr[..n],
                    );
                    for j in 0..n {
                        cr[j] = f[j] * cpr[j] + i[j] * g[j];
                        tcr[j] = phi(relu, cr[j]);
                        hr[j] = o[j] * tcr[j];
                    }
                }
            }
        }
    }

    /// The step's backward: given `dh = ∂L/∂h'` (and, LSTM, `dc = ∂L/∂c'` from later steps),
    /// turns `a` into `∂L/∂(pre-activations)`, `dc` into `∂L/∂c_prev` (LSTM) and writes
    /// `dh_prev = ∂L/∂h_prev` through this step (its recurrent product only when `need_dh_prev`).
    /// `tmp [B,N]`: scratch.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        aux: &[F],
        dh: &[F],
        dc: &mut [F],
        dh_prev: &mut [F],
        need_dh_prev: bool,
        tmp: &mut [F],
        rows: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (just checked), all that `backward_avx2` needs.
            return unsafe {
                self.backward_avx2(
                    w,
                    h_prev,
                    c_prev,
                    a,
                    aux,
                    dh,
                    dc,
                    dh_prev,
                    need_dh_prev,
                    tmp,
                    rows,
                )
            };
        }
        self.backward_body(
            w,
            h_prev,
            c_prev,
            a,
            aux,
            dh,
            dc,
            dh_prev,
            need_dh_prev,
            tmp,
            rows,
        )
    }

    /// [`Cell::backward`] compiled for AVX2 (see [`avx2_fma`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    fn backward_avx2<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        aux: &[F],
        dh: &[F],
        dc: &mut [F],
        dh_prev: &mut [F],
        need_dh_prev: bool,
        tmp: &mut [F],
        rows: usize,
    ) {
        self.backward_body(
            w,
            h_prev,
            c_prev,
            a,
            aux,
            dh,
            dc,
            dh_prev,
            need_dh_prev,
            tmp,
            rows,
        )
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn backward_body<F: Float>(
        &self,
        w: &Recurrent<F>,
        h_prev: &[F],
        c_prev: &[F],
        a: &mut [F],
        aux: &[F],
        dh: &[F],
        dc: &mut [F],
        dh_prev: &mut [F],
        need_dh_prev: bool,
        tmp: &mut [F],
        rows: usize,
    ) {
        let (n, gn, relu) = (self.n, self.gn(), self.relu);
        match self.arch {
            Arch::Vanilla => {
                for (x, &d) in a.iter_mut().zip(dh) {
                    *x = d * dphi(relu, *x);
                }
            }
            Arch::Ugrnn => {
                let it = a
                    .chunks_exact_mut(gn)
                    .zip(dh.chunks_exact(n))
                    .zip(h_prev.chunks_exact(n));
                for (((ar, dr), hpr), dpr) in it.zip(dh_prev.chunks_exact_mut(n)) {
                    let (g, cc) = ar.split_at_mut(n);
                    interpolation_backward(relu, g, cc, dr, hpr, dpr);
                }
            }
            Arch::Gru => {
                let it = a
                    .chunks_exact_mut(gn)
                    .zip(dh.chunks_exact(n))
                    .zip(h_prev.chunks_exact(n));
                for (((ar, dr), hpr), dpr) in it.zip(dh_prev.chunks_exact_mut(n)) {
                    let (z, rc) = ar.split_at_mut(n);
                    interpolation_backward(relu, z, &mut rc[n..], dr, hpr, dpr);
                }
                let av = view(a, rows, gn);
                gemm(
                    av.slice(s![.., 2 * n..]),
                    &w.bwd_c,
                    false,
                    view_mut(tmp, rows, n),
                );
                let it = a
                    .chunks_exact_mut(gn)
                    .zip(tmp.chunks_exact(n))
                    .zip(h_prev.chunks_exact(n));
                for (((ar, tr), hpr), dpr) in it.zip(dh_prev.chunks_exact_mut(n)) {
                    let r = &mut ar[n..2 * n];
                    // Equal lengths let the loop vectorise without bounds checks.
                    let (tr, hpr, dpr) = (&tr[..n], &hpr[..n], &mut dpr[..n]);
                    for j in 0..n {
                        dpr[j] += tr[j] * r[j];
                        r[j] = tr[j] * hpr[j] * dsigmoid(r[j]);
                    }
                }
            }
            Arch::Lstm => {
                let it = a
                    .chunks_exact_mut(gn)
                    .zip(dh.chunks_exact(n))
                    .zip(dc.chunks_exact_mut(n));
                for (((ar, dr), dcr), (cpr, tcr)) in
                    it.zip(c_prev.chunks_exact(n).zip(aux.chunks_exact(n)))
                {
                    let (i, fog) = ar.split_at_mut(n);
                    let (f, og) = fog.split_at_mut(n);
                    let (o, g) = og.split_at_mut(n);
                    lstm_backward(relu, i, f, o, g, dr, dcr, cpr, tcr);
                }
            }
        }
        if !need_dh_prev {
            return;
        }
        let (blocks, accumulate) = self.recurrent_product();
        let av = view(a, rows, gn);
        gemm(
            av.slice(s![.., ..blocks]),
            &w.bwd,
            accumulate,
            view_mut(dh_prev, rows, n),
        );
    }

    /// The last product of [`Cell::backward`], `dh_prev (+)= a[:, ..k] · w[..k, :]`: its `k`
    /// (the pre-activation columns that reach `h_prev` through a recurrent matrix) and whether
    /// it adds to the direct paths already in `dh_prev` (UGRNN, GRU) or overwrites it.
    pub fn recurrent_product(&self) -> (usize, bool) {
        match self.arch {
            Arch::Vanilla | Arch::Lstm => (self.gn(), false),
            Arch::Ugrnn => (self.gn(), true),
            Arch::Gru => (2 * self.n, true),
        }
    }
}

/// The UGRNN's and GRU's `h = z ⊙ h_prev + (1 − z) ⊙ c` backward for one row: turns the gate
/// `z` and candidate `c` (activations on entry) into their pre-activation gradients, and writes
/// the direct path `dh_prev = dh ⊙ z`.
///
/// Separate slices (not one row split inside a loop) tell LLVM they do not alias, so the loop
/// vectorises without runtime overlap checks, which it gives up on past a few arrays; the same
/// holds for [`lstm_backward`]. Each element is computed as before, so the bits do not change.
#[inline(always)]
fn interpolation_backward<F: Float>(
    relu: bool,
    z: &mut [F],
    c: &mut [F],
    dh: &[F],
    h_prev: &[F],
    dh_prev: &mut [F],
) {
    let n = z.len();
    let (c, dh, h_prev, dh_prev) = (&mut c[..n], &dh[..n], &h_prev[..n], &mut dh_prev[..n]);
    let one = F::one();
    for j in 0..n {
        let (zj, cj, d) = (z[j], c[j], dh[j]);
        z[j] = d * (h_prev[j] - cj) * dsigmoid(zj);
        c[j] = d * (one - zj) * dphi(relu, cj);
        dh_prev[j] = d * zj;
    }
}

/// The LSTM's backward for one row: turns the gate activations `[i, f, o, g]` into their
/// pre-activation gradients and `dc` (`∂L/∂c'` on entry) into `∂L/∂c_prev`; `tc = φ(c')`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lstm_backward<F: Float>(
    relu: bool,
    i: &mut [F],
    f: &mut [F],
    o: &mut [F],
    g: &mut [F],
    dh: &[F],
    dc: &mut [F],
    c_prev: &[F],
    tc: &[F],
) {
    let n = i.len();
    let (f, o, g) = (&mut f[..n], &mut o[..n], &mut g[..n]);
    let (dh, dc, c_prev, tc) = (&dh[..n], &mut dc[..n], &c_prev[..n], &tc[..n]);
    for j in 0..n {
        let (ij, fj, oj, gj, d) = (i[j], f[j], o[j], g[j], dh[j]);
        let dcp = dc[j] + d * oj * dphi(relu, tc[j]);
        i[j] = dcp * gj * dsigmoid(ij);
        f[j] = dcp * c_prev[j] * dsigmoid(fj);
        o[j] = d * tc[j] * dsigmoid(oj);
        g[j] = dcp * ij * dphi(relu, gj);
        dc[j] = dcp * fj;
    }
}

/// The recurrent weights packed for the per-step products ([`gemm`]): packed once per set of
/// weights (a training iteration, a network's dynamics) and reused at every step.
#[derive(Clone, Debug)]
pub(crate) struct Recurrent<F> {
    /// `Wt` (GRU: its update and reset columns), for `a += h_prev · Wt`.
    fwd: Packed<F>,
    /// GRU: `Wt`'s candidate columns, for `a_c += (r ⊙ h_prev) · Wt_c`.
    fwd_c: Packed<F>,
    /// `Wtᵀ`'s rows that reach `h_prev` through [`Cell::recurrent_product`].
    bwd: Packed<F>,
    /// GRU: `Wtᵀ`'s candidate rows, for `∂L/∂(r ⊙ h_prev) = dA_c · W_c`.
    bwd_c: Packed<F>,
}

impl<F: Float> Recurrent<F> {
    /// Nothing packed yet; allocates nothing.
    pub fn new() -> Self {
        Recurrent {
            fwd: Packed::new(),
            fwd_c: Packed::new(),
            bwd: Packed::new(),
            bwd_c: Packed::new(),
        }
    }

    /// Packs the recurrent weights `wt [N, G·N]` of `cell`.
    pub fn pack(&mut self, cell: &Cell, wt: ArrayView2<F>) {
        let (blocks, _) = cell.recurrent_product();
        self.fwd.pack(wt.slice(s![.., ..blocks]));
        self.bwd.pack(wt.slice(s![.., ..blocks]).t());
        if cell.arch == Arch::Gru {
            self.fwd_c.pack(wt.slice(s![.., blocks..]));
            self.bwd_c.pack(wt.slice(s![.., blocks..]).t());
        }
    }
}

/// `c (+)= a·b` as a sum over the non-zeros of `a`, row by row: `nnz(a)·cols(b)` work.
pub(crate) fn sparse_product<F: Float>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    accumulate: bool,
    mut c: ArrayViewMut2<F>,
) {
    for (ar, mut cr) in a.rows().into_iter().zip(c.rows_mut()) {
        if !accumulate {
            cr.fill(F::zero());
        }
        for (&v, br) in ar.iter().zip(b.rows()) {
            if v != F::zero() {
                cr.scaled_add(v, &br);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rnn::bptt::tests::all_small;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random<F: Float>(len: usize, rng: &mut ChaCha8Rng) -> Vec<F> {
        (0..len)
            .map(|_| F::from_f64(4.0 * (rng.random::<f64>() - 0.5)))
            .collect()
    }

    type Forward<F> =
        fn(&Cell, &Recurrent<F>, &[F], &[F], &mut [F], &mut [F], &mut [F], &mut [F], usize);
    type Backward<F> = fn(
        &Cell,
        &Recurrent<F>,
        &[F],
        &[F],
        &mut [F],
        &[F],
        &[F],
        &mut [F],
        &mut [F],
        bool,
        &mut [F],
        usize,
    );

    /// The step as [`Cell::forward`] and [`Cell::backward`] run it (the AVX2 copy, on a CPU with
    /// AVX2), and as the baseline copy runs it: every output, as bits.
    fn step_outputs<F: Float>(
        cell: &Cell,
        wt: ArrayView2<F>,
        rows: usize,
        baseline: bool,
    ) -> Vec<F> {
        let (n, gn) = (cell.n, cell.gn());
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut rec = Recurrent::new();
        rec.pack(cell, wt);
        let (h_prev, c_prev) = (
            random::<F>(rows * n, &mut rng),
            random::<F>(rows * n, &mut rng),
        );
        let mut a = random::<F>(rows * gn, &mut rng);
        let (mut h, mut c, mut aux) = (
            vec![F::zero(); rows * n],
            vec![F::zero(); rows * n],
            vec![F::zero(); rows * n],
        );
        let c_prev = if cell.arch == Arch::Lstm {
            &c_prev[..]
        } else {
            &[]
        };
        let (forward, backward) = if baseline {
            (
                Cell::forward_body::<F> as Forward<F>,
                Cell::backward_body::<F> as Backward<F>,
            )
        } else {
            (
                Cell::forward::<F> as Forward<F>,
                Cell::backward::<F> as Backward<F>,
            )
        };
        forward(
            cell, &rec, &h_prev, c_prev, &mut a, &mut h, &mut c, &mut aux, rows,
        );
        let dh = random::<F>(rows * n, &mut rng);
        let mut dc = random::<F>(rows * n, &mut rng);
        let (mut dh_prev, mut tmp) = (vec![F::zero(); rows * n], vec![F::zero(); rows * n]);
        let mut da = a.clone();
        backward(
            cell,
            &rec,
            &h_prev,
            c_prev,
            &mut da,
            &aux,
            &dh,
            &mut dc,
            &mut dh_prev,
            true,
            &mut tmp,
            rows,
        );
        [a, h, c, aux, da, dc, dh_prev].concat()
    }

    #[test]
    fn the_avx2_copy_rounds_as_the_baseline_one() {
        // 13 units: the vector loops' tails run too.
        for (shape, w) in all_small(13, 3, 2) {
            let cell = Cell::new(&shape);
            let w32 = w.cast::<f32>();
            let (fast, base) = (
                step_outputs(&cell, w32.wt.view(), 7, false),
                step_outputs(&cell, w32.wt.view(), 7, true),
            );
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&base),
                "{} {} f32",
                shape.arch,
                shape.activation
            );
            assert!(fast.iter().all(|v| v.is_finite()) && fast.iter().any(|&v| v != 0.0));
            let (fast, base) = (
                step_outputs(&cell, w.wt.view(), 7, false),
                step_outputs(&cell, w.wt.view(), 7, true),
            );
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&fast),
                bits(&base),
                "{} {} f64",
                shape.arch,
                shape.activation
            );
        }
    }
}
