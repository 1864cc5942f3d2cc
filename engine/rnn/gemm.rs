//! Small-M GEMM with a pre-packed right operand, for BPTT.
//!
//! Every time step of a training iteration multiplies the batch state `A [M × K]` by a weight
//! matrix `B [K × N]` that is constant for the whole iteration. [`Packed::pack`] copies `B` once
//! into column panels of `NR = 16` (zero-padded at the right edge, `K × 16` contiguous values per
//! panel), and [`gemm`] then reuses it for every product without re-packing. `A` is read in place
//! (unit column stride, any row stride); so is `C`.
//!
//! Kernel: on x86-64 with AVX2+FMA (runtime detected, cached) both f32 and f64 use BLIS
//! Haswell/Zen-style micro-kernels over the same `NR = 16`-column panels, 12 ymm accumulators
//! each: f32 `MR = 6` rows × 2 `__m256` (per `k` two loads of the B panel, six `vbroadcastss`,
//! twelve FMAs), f64 `MR_F64 = 3` rows × 4 `__m256d` (per `k` three `vbroadcastsd`, four B loads,
//! twelve FMAs, ordered column by column so the live values fit in 16 registers). The tile loop
//! and edge handling are shared, generic over the per-type `avx::Kernel`. Loop order: panel
//! outer, `MR`-row blocks inner, so each B panel stays hot in L1/L2 across the row blocks.
//! Everything else (no AVX2, non-unit column strides) goes through a portable loop over the same
//! panels.
//!
//! Determinism: no threads, no K blocking. Each `c[i][j]` is a single chain summed over `k` in
//! ascending order starting from zero, then (when accumulating) added to the old `c[i][j]`; so a
//! row's result does not depend on how many rows `a` has, where it sits, or the M/N edges. The
//! SIMD path fuses multiply-adds and the portable path does not, so the two differ in the last
//! bits (and both may differ from `matrixmultiply`); each is reproducible on its own.

use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar};

/// Rows per micro-tile of the f32 AVX2 kernel.
pub const MR: usize = 6;
/// Rows per micro-tile of the f64 AVX2 kernel (4 rows × 4 ymm would need 21 registers).
pub const MR_F64: usize = 3;
/// Columns per packed panel / micro-tile.
pub const NR: usize = 16;

/// A scalar [`gemm`] can run on. The method is the SIMD dispatch; callers use [`gemm`].
pub trait GemmScalar: Copy + Send + Sync + 'static + LinalgScalar {
    /// Runs `c (+)= a·b` on a SIMD kernel and returns `true`, or returns `false` (touching
    /// nothing) when none applies, and [`gemm`] takes the portable path. Shapes are checked.
    #[doc(hidden)]
    fn gemm_simd(
        _: &ArrayView2<Self>,
        _: &Packed<Self>,
        _: bool,
        _: &mut ArrayViewMut2<Self>,
    ) -> bool {
        false
    }
}

impl GemmScalar for f32 {
    fn gemm_simd(
        a: &ArrayView2<f32>,
        b: &Packed<f32>,
        acc: bool,
        c: &mut ArrayViewMut2<f32>,
    ) -> bool {
        simd(a, b, acc, c)
    }
}

impl GemmScalar for f64 {
    fn gemm_simd(
        a: &ArrayView2<f64>,
        b: &Packed<f64>,
        acc: bool,
        c: &mut ArrayViewMut2<f64>,
    ) -> bool {
        simd(a, b, acc, c)
    }
}

#[cfg(target_arch = "x86_64")]
use avx::try_gemm as simd;

/// Whether the CPU has AVX2 and FMA (detected once). The crate is compiled for baseline x86-64
/// (SSE2), so code that should use 256-bit vectors is compiled a second time under
/// `#[target_feature(enable = "avx2,fma")]` and chosen with this. Rust never fuses a separate
/// multiply and add, so such a copy rounds exactly as the baseline one: only [`gemm`]'s explicit
/// FMAs change bits.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    avx::available()
}

/// No SIMD kernel off x86-64.
#[cfg(not(target_arch = "x86_64"))]
fn simd<F>(_: &ArrayView2<F>, _: &Packed<F>, _: bool, _: &mut ArrayViewMut2<F>) -> bool {
    false
}

/// `B [K × N]` packed into `ceil(N/NR)` panels; panel `p` holds, for each `k`, the `NR` values
/// `B[k][p·NR ..]`, zero-padded past `N`.
#[derive(Clone, Debug, Default)]
pub struct Packed<F> {
    data: Vec<F>,
    rows: usize,
    cols: usize,
}

impl<F: GemmScalar> Packed<F> {
    /// Empty (0 × 0); does not allocate.
    pub fn new() -> Self {
        Packed {
            data: Vec::new(),
            rows: 0,
            cols: 0,
        }
    }

    /// Packs `b` (any strides), reusing the allocation when it is big enough.
    pub fn pack(&mut self, b: ArrayView2<F>) {
        let (k, n) = b.dim();
        let panels = n.div_ceil(NR);
        self.data.clear();
        self.data.resize(panels * k * NR, F::zero());
        for (kk, row) in b.outer_iter().enumerate() {
            match row.as_slice() {
                Some(row) => {
                    for (p, part) in row.chunks(NR).enumerate() {
                        let at = p * k * NR + kk * NR;
                        self.data[at..at + part.len()].copy_from_slice(part);
                    }
                }
                None => {
                    for (j, &v) in row.iter().enumerate() {
                        self.data[(j / NR) * k * NR + kk * NR + j % NR] = v;
                    }
                }
            }
        }
        self.rows = k;
        self.cols = n;
    }

    /// K, the rows of the packed `B`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// N, the columns of the packed `B`.
    pub fn cols(&self) -> usize {
        self.cols
    }
}

/// `c = a·b`, or `c += a·b` when `accumulate`. `a` is M×K, `b` packed K×N, `c` M×N.
/// Fast when `a` and `c` have unit column stride (any row stride); correct for any strides.
pub fn gemm<F: GemmScalar>(a: ArrayView2<F>, b: &Packed<F>, accumulate: bool, c: ArrayViewMut2<F>) {
    gemm_with(a, b, accumulate, c, false)
}

/// [`gemm`], optionally forcing the portable path (for tests and comparisons).
pub(crate) fn gemm_with<F: GemmScalar>(
    a: ArrayView2<F>,
    b: &Packed<F>,
    accumulate: bool,
    mut c: ArrayViewMut2<F>,
    force_portable: bool,
) {
    assert!(
        a.ncols() == b.rows() && c.nrows() == a.nrows() && c.ncols() == b.cols(),
        "gemm: shape mismatch: a {:?}, packed b {}×{}, c {:?} (want a M×K, b K×N, c M×N)",
        a.dim(),
        b.rows(),
        b.cols(),
        c.dim()
    );
    if a.ncols() == 0 {
        if !accumulate {
            c.fill(F::zero());
        }
    } else if force_portable || !F::gemm_simd(&a, b, accumulate, &mut c) {
        portable(&a, b, accumulate, &mut c);
    }
}

/// Any strides, any scalar: one row at a time, one panel at a time, `NR` running sums.
fn portable<F: GemmScalar>(a: &ArrayView2<F>, b: &Packed<F>, acc: bool, c: &mut ArrayViewMut2<F>) {
    let (k, n) = (b.rows(), b.cols());
    for (arow, mut crow) in a.outer_iter().zip(c.outer_iter_mut()) {
        for p in 0..n.div_ceil(NR) {
            let panel = &b.data[p * k * NR..(p + 1) * k * NR];
            let mut sums = [F::zero(); NR];
            for (&aik, bk) in arow.iter().zip(panel.chunks_exact(NR)) {
                for (s, &bv) in sums.iter_mut().zip(bk) {
                    *s = *s + aik * bv;
                }
            }
            for (jj, &s) in sums.iter().enumerate().take(n - p * NR) {
                let cij = &mut crow[p * NR + jj];
                *cij = if acc { *cij + s } else { s };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{GemmScalar, Packed, MR, MR_F64, NR};
    use ndarray::{ArrayView2, ArrayViewMut2};
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0 = not yet checked, 1 = no, 2 = yes.
    static STATE: AtomicU8 = AtomicU8::new(0);

    pub(super) fn available() -> bool {
        match STATE.load(Ordering::Relaxed) {
            0 => {
                let yes = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            s => s == 2,
        }
    }

    /// What the shared tile loop needs from one scalar type: a [`Row`](Kernel::Row) of `NR`
    /// values held in ymm registers (2 × `__m256` or 4 × `__m256d`), a few operations on it,
    /// and the k step of the micro-kernel. Everything else (blocking, edges, accumulate) is
    /// generic, in [`gemm`] and [`tile`].
    ///
    /// The k step broadcasts through `_mm_load_ss`, not `&*p`: with debug assertions (the dev
    /// profile) rustc checks every raw-pointer dereference written in this crate for null and
    /// alignment, and those checks in the inner loop slowed the dev kernel most of twofold.
    ///
    /// # Safety (all methods)
    /// The CPU has AVX2+FMA; every pointer addresses `NR` valid values (`k_step`: one value at
    /// each `ap[r] + kk`).
    pub(super) trait Kernel: GemmScalar {
        /// Rows per micro-tile, at most 6.
        const MR: usize;
        type Row: Copy;
        unsafe fn row_zero() -> Self::Row;
        unsafe fn row_load(p: *const Self) -> Self::Row;
        unsafe fn row_store(p: *mut Self, v: Self::Row);
        unsafe fn row_add(x: Self::Row, y: Self::Row) -> Self::Row;
        /// `acc[r] += broadcast(ap[r][kk]) · b[0..NR]` for each row `r`, one FMA (one rounding)
        /// per lane. The instruction order is per type, so the live registers fit in 16 ymm.
        unsafe fn k_step<const R: usize>(
            ap: &[*const Self; R],
            kk: usize,
            b: *const Self,
            acc: &mut [Self::Row; R],
        );
    }

    impl Kernel for f32 {
        const MR: usize = MR;
        type Row = [__m256; 2];
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_zero() -> Self::Row {
            [_mm256_setzero_ps(); 2]
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_load(p: *const f32) -> Self::Row {
            [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))]
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_store(p: *mut f32, [lo, hi]: Self::Row) {
            _mm256_storeu_ps(p, lo);
            _mm256_storeu_ps(p.add(8), hi);
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_add(x: Self::Row, y: Self::Row) -> Self::Row {
            [_mm256_add_ps(x[0], y[0]), _mm256_add_ps(x[1], y[1])]
        }
        /// Row-major: the two B vectors stay live, one broadcast per row (12 + 2 + 1 ymm).
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn k_step<const R: usize>(
            ap: &[*const f32; R],
            kk: usize,
            b: *const f32,
            acc: &mut [Self::Row; R],
        ) {
            let (b0, b1) = (_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8)));
            for (s, p) in acc.iter_mut().zip(ap) {
                let av = _mm256_broadcastss_ps(_mm_load_ss(p.add(kk)));
                *s = [_mm256_fmadd_ps(av, b0, s[0]), _mm256_fmadd_ps(av, b1, s[1])];
            }
        }
    }

    impl Kernel for f64 {
        const MR: usize = MR_F64;
        type Row = [__m256d; 4];
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_zero() -> Self::Row {
            [_mm256_setzero_pd(); 4]
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_load(p: *const f64) -> Self::Row {
            let l = |q| _mm256_loadu_pd(p.add(q));
            [l(0), l(4), l(8), l(12)]
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_store(p: *mut f64, v: Self::Row) {
            for (q, v) in v.into_iter().enumerate() {
                _mm256_storeu_pd(p.add(4 * q), v);
            }
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn row_add(x: Self::Row, y: Self::Row) -> Self::Row {
            let s = |q: usize| _mm256_add_pd(x[q], y[q]);
            [s(0), s(1), s(2), s(3)]
        }
        /// Column-major: the R broadcasts stay live, one B vector at a time (12 + 3 + 1 ymm;
        /// row-major would need 12 + 4 + 1 and spill).
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn k_step<const R: usize>(
            ap: &[*const f64; R],
            kk: usize,
            b: *const f64,
            acc: &mut [Self::Row; R],
        ) {
            let av: [__m256d; R] =
                std::array::from_fn(|r| _mm256_broadcastsd_pd(_mm_load_sd(ap[r].add(kk))));
            for q in 0..4 {
                let bq = _mm256_loadu_pd(b.add(4 * q));
                for (s, &a) in acc.iter_mut().zip(&av) {
                    s[q] = _mm256_fmadd_pd(a, bq, s[q]);
                }
            }
        }
    }

    /// Runs the AVX2+FMA kernel and returns `true` when the CPU has it, the shapes agree (`a`
    /// M×K with K ≥ 1, `b` K×N, `c` M×N) and `a` and `c` have unit column stride; otherwise
    /// returns `false` without touching `c`. [`super::gemm`] asserts the shapes first; they are
    /// checked again here because `GemmScalar::gemm_simd`, which calls this, is public.
    pub(super) fn try_gemm<K: Kernel>(
        a: &ArrayView2<K>,
        b: &Packed<K>,
        acc: bool,
        c: &mut ArrayViewMut2<K>,
    ) -> bool {
        let (m, k, n) = (a.nrows(), a.ncols(), c.ncols());
        let shapes = k >= 1 && k == b.rows() && c.nrows() == m && n == b.cols();
        // A column stride only matters when there are at least two columns.
        let unit = |cols: usize, s: isize| cols <= 1 || s == 1;
        if !(available() && shapes && unit(k, a.strides()[1]) && unit(n, c.strides()[1])) {
            return false;
        }
        // SAFETY: `gemm`'s contract holds: the CPU has AVX2+FMA, the shapes agree with K ≥ 1 and
        // both views have unit column stride (all checked just above), and `pack` sized
        // `b.data` to ceil(N/NR)·K·NR values for the `b.rows()` × `b.cols()` it recorded. `c` is
        // a unique borrow, so it aliases neither `a` nor `b`.
        unsafe { gemm(a, &b.data, acc, c) };
        true
    }

    /// The per-call constants of one product: depth, row strides, store or add.
    struct Tile {
        k: usize,
        rsa: isize,
        rsc: isize,
        acc: bool,
    }

    /// Panel outer, row blocks of `K::MR` inner, full K per tile.
    ///
    /// # Safety
    /// The CPU has AVX2+FMA; `a` (M×K) and `c` (M×N) have unit column stride (or ≤ 1 column);
    /// `b` holds ceil(N/NR)·K·NR values (the packed panels). Then row i of `a` is the K values at
    /// `a.as_ptr() + i·rsa`, row i of `c` the N values at `c.as_mut_ptr() + i·rsc`, all inside
    /// the views' memory, and `c`, a unique borrow, aliases neither `a` nor `b`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gemm<K: Kernel>(a: &ArrayView2<K>, b: &[K], acc: bool, c: &mut ArrayViewMut2<K>) {
        const { assert!(K::MR >= 1 && K::MR <= 6) };
        let (m, k, n) = (a.nrows(), a.ncols(), c.ncols());
        let (rsa, rsc) = (a.strides()[0], c.strides()[0]);
        let t = Tile { k, rsa, rsc, acc };
        debug_assert!(b.len() >= n.div_ceil(NR) * k * NR);
        let (a, cp) = (a.as_ptr(), c.as_mut_ptr());
        for p in 0..n.div_ceil(NR) {
            let (j0, panel) = (p * NR, b.as_ptr().add(p * k * NR));
            let nc = (n - j0).min(NR);
            for i in (0..m).step_by(K::MR) {
                let (ai, ci) = (
                    a.offset(i as isize * t.rsa),
                    cp.offset(i as isize * t.rsc + j0 as isize),
                );
                // Full blocks and the leftover rows run the same per-row chain.
                // (Arms above `K::MR` are unreachable, and compiled out.)
                match (m - i).min(K::MR) {
                    6 => tile::<K, 6>(&t, ai, panel, ci, nc),
                    5 => tile::<K, 5>(&t, ai, panel, ci, nc),
                    4 => tile::<K, 4>(&t, ai, panel, ci, nc),
                    3 => tile::<K, 3>(&t, ai, panel, ci, nc),
                    2 => tile::<K, 2>(&t, ai, panel, ci, nc),
                    _ => tile::<K, 1>(&t, ai, panel, ci, nc),
                }
            }
        }
    }

    /// One `R × NR` tile of C, of which the first `nc` columns are written: per row one chain
    /// of FMAs over k ascending from zero, then stored or added to C. A row's chain is the same
    /// for every `R`, which is what makes its result independent of M.
    ///
    /// # Safety
    /// As for [`gemm`], for R rows of `a` at `a`, R rows × `nc` columns of C at `c`, and one
    /// panel (`k·NR` values) at `b`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<K: Kernel, const R: usize>(
        t: &Tile,
        a: *const K,
        b: *const K,
        c: *mut K,
        nc: usize,
    ) {
        let mut acc = [K::row_zero(); R];
        let ap: [*const K; R] = std::array::from_fn(|r| a.offset(r as isize * t.rsa));
        for kk in 0..t.k {
            K::k_step(&ap, kk, b.add(kk * NR), &mut acc);
        }
        for (r, mut v) in acc.into_iter().enumerate() {
            let cr = c.offset(r as isize * t.rsc);
            if nc == NR {
                if t.acc {
                    v = K::row_add(K::row_load(cr), v);
                }
                K::row_store(cr, v);
            } else {
                let mut tmp = [K::zero(); NR];
                K::row_store(tmp.as_mut_ptr(), v);
                for (j, &v) in tmp.iter().enumerate().take(nc) {
                    *cr.add(j) = if t.acc { *cr.add(j) + v } else { v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
