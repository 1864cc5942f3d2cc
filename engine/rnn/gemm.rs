//! Small-M GEMM with a pre-packed right operand, for BPTT.
//!
//! Every time step of a training iteration multiplies the batch state `A [M × K]` by a weight
//! matrix `B [K × N]` that is constant for the whole iteration. [`Packed::pack`] copies `B` once
//! into column panels of `NR = 16` (zero-padded at the right edge, `K × 16` contiguous values per
//! panel), and [`gemm`] then reuses it for every product without re-packing. `A` is read in place
//! (unit column stride, any row stride); so is `C`.
//!
//! Kernel: on x86-64 with AVX2+FMA (runtime detected, cached) f32 uses a BLIS Haswell/Zen-style
//! micro-kernel of `MR = 6` rows × `NR = 16` columns, 12 `__m256` accumulators; per `k` two loads
//! of the B panel, six `vbroadcastss` from the A rows and twelve FMAs. Loop order: panel outer,
//! 6-row blocks inner, so each B panel stays hot in L1/L2 across the row blocks. Everything else
//! (f64, no AVX2, non-unit column strides) goes through a portable loop over the same panels.
//!
//! Determinism: no threads, no K blocking. Each `c[i][j]` is a single chain summed over `k` in
//! ascending order starting from zero, then (when accumulating) added to the old `c[i][j]`; so a
//! row's result does not depend on how many rows `a` has, where it sits, or the M/N edges. The
//! SIMD path fuses multiply-adds and the portable path does not, so the two differ in the last
//! bits (and both may differ from `matrixmultiply`); each is reproducible on its own.

use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar};

/// Rows per micro-tile.
pub const MR: usize = 6;
/// Columns per packed panel / micro-tile.
pub const NR: usize = 16;

/// A scalar [`gemm`] can run on. The method is the SIMD dispatch; callers use [`gemm`].
pub trait GemmScalar: Copy + Send + Sync + 'static + LinalgScalar {
    /// Runs `c (+)= a·b` on a SIMD kernel and returns `true`, or returns `false` (touching
    /// nothing) when no kernel applies: then [`gemm`] uses the portable path. Shapes are checked.
    #[doc(hidden)]
    fn gemm_simd(a: &ArrayView2<Self>, b: &Packed<Self>, accumulate: bool, c: &mut ArrayViewMut2<Self>)
        -> bool;
}

impl GemmScalar for f32 {
    fn gemm_simd(a: &ArrayView2<f32>, b: &Packed<f32>, accumulate: bool, c: &mut ArrayViewMut2<f32>) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            // A column stride only matters when there are at least two columns.
            let unit = |cols: usize, s: isize| cols <= 1 || s == 1;
            if avx::available() && unit(a.ncols(), a.strides()[1]) && unit(c.ncols(), c.strides()[1]) {
                let (m, k, n) = (a.nrows(), a.ncols(), c.ncols());
                let (rsa, rsc) = (a.strides()[0], c.strides()[0]);
                // SAFETY: the CPU has AVX2+FMA (checked just above). Shapes were checked by
                // `gemm`: `a` is m×k, `c` is m×n, `b.data` holds ceil(n/NR)·k·NR values. Both
                // views have unit column stride (or one column), so row i of `a` is the k values
                // at `a_ptr + i·rsa ..`, row i of `c` the n values at `c_ptr + i·rsc ..`, all
                // inside their views' allocations; `c` is a unique borrow, so nothing aliases it.
                unsafe { avx::gemm(m, k, n, a.as_ptr(), rsa, b.data.as_ptr(), c.as_mut_ptr(), rsc, accumulate) };
                return true;
            }
        }
        let _ = (a, b, accumulate, c);
        false
    }
}

impl GemmScalar for f64 {
    fn gemm_simd(_: &ArrayView2<f64>, _: &Packed<f64>, _: bool, _: &mut ArrayViewMut2<f64>) -> bool {
        false
    }
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
        Packed { data: Vec::new(), rows: 0, cols: 0 }
    }

    /// Packs `b` (any strides), reusing the allocation when it is big enough.
    pub fn pack(&mut self, b: ArrayView2<F>) {
        let (k, n) = b.dim();
        let panels = n.div_ceil(NR);
        self.data.clear();
        self.data.resize(panels * k * NR, F::zero());
        for (kk, row) in b.outer_iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                self.data[(j / NR) * k * NR + kk * NR + j % NR] = v;
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
        "gemm: shape mismatch: a is {:?}, packed b is {}×{}, c is {:?} (need a M×K, b K×N, c M×N)",
        a.dim(),
        b.rows(),
        b.cols(),
        c.dim()
    );
    if a.ncols() == 0 && !accumulate {
        c.fill(F::zero());
    }
    if c.is_empty() || a.ncols() == 0 || (!force_portable && F::gemm_simd(&a, b, accumulate, &mut c)) {
        return;
    }
    portable(&a, b, accumulate, &mut c);
}

/// Any strides, any scalar: one row at a time, one panel at a time, `NR` running sums.
fn portable<F: GemmScalar>(a: &ArrayView2<F>, b: &Packed<F>, accumulate: bool, c: &mut ArrayViewMut2<F>) {
    let (k, n) = (b.rows(), b.cols());
    for (arow, mut crow) in a.outer_iter().zip(c.outer_iter_mut()) {
        for (p, panel) in b.data.chunks_exact((k * NR).max(1)).enumerate().take(n.div_ceil(NR)) {
            let mut acc = [F::zero(); NR];
            for (&aik, bk) in arow.iter().zip(panel.chunks_exact(NR)) {
                for (s, &bv) in acc.iter_mut().zip(bk) {
                    *s = *s + aik * bv;
                }
            }
            for (jj, &s) in acc.iter().enumerate().take(n - p * NR) {
                let cij = &mut crow[p * NR + jj];
                *cij = if accumulate { *cij + s } else { s };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{MR, NR};
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

    /// Panel outer, row blocks of `MR` inner, full K per tile.
    ///
    /// # Safety
    /// CPU has AVX2+FMA; for i < m, `a + i·rsa` points at k readable f32 and `c + i·rsc` at n
    /// writable f32 (no overlap with `a`/`bp`); `bp` holds ceil(n/NR)·k·NR readable f32.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn gemm(
        m: usize, k: usize, n: usize, a: *const f32, rsa: isize, bp: *const f32, c: *mut f32, rsc: isize,
        accumulate: bool,
    ) {
        for p in 0..n.div_ceil(NR) {
            let (j0, panel) = (p * NR, bp.add(p * k * NR));
            let nc = (n - j0).min(NR);
            let tile = |i: usize| (a.offset(i as isize * rsa), c.offset(i as isize * rsc).add(j0));
            let mut i = 0;
            while i + MR <= m {
                let (ai, ci) = tile(i);
                tile_kernel::<MR>(k, ai, rsa, panel, ci, rsc, nc, accumulate);
                i += MR;
            }
            let (ai, ci) = tile(i);
            match m - i {
                0 => {}
                1 => tile_kernel::<1>(k, ai, rsa, panel, ci, rsc, nc, accumulate),
                2 => tile_kernel::<2>(k, ai, rsa, panel, ci, rsc, nc, accumulate),
                3 => tile_kernel::<3>(k, ai, rsa, panel, ci, rsc, nc, accumulate),
                4 => tile_kernel::<4>(k, ai, rsa, panel, ci, rsc, nc, accumulate),
                _ => tile_kernel::<5>(k, ai, rsa, panel, ci, rsc, nc, accumulate),
            }
        }
    }

    /// One `R × NR` tile of C (only its first `nc` columns are written): per row a chain of FMAs
    /// over k ascending from zero, then stored or added to C. The chain for a row is the same
    /// for every `R`, which is what makes results independent of M.
    ///
    /// # Safety
    /// As for [`gemm`] restricted to R rows, `nc` columns and one panel (`k·NR` values at `bp`).
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn tile_kernel<const R: usize>(
        k: usize, a: *const f32, rsa: isize, bp: *const f32, c: *mut f32, rsc: isize, nc: usize,
        accumulate: bool,
    ) {
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        let ap: [*const f32; R] = std::array::from_fn(|r| a.offset(r as isize * rsa));
        for kk in 0..k {
            let b0 = _mm256_loadu_ps(bp.add(kk * NR));
            let b1 = _mm256_loadu_ps(bp.add(kk * NR + 8));
            for r in 0..R {
                let av = _mm256_broadcast_ss(&*ap[r].add(kk));
                acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            }
        }
        for (r, [lo, hi]) in acc.into_iter().enumerate() {
            let cr = c.offset(r as isize * rsc);
            if nc == NR {
                let (lo, hi) = if accumulate {
                    (_mm256_add_ps(_mm256_loadu_ps(cr), lo), _mm256_add_ps(_mm256_loadu_ps(cr.add(8)), hi))
                } else {
                    (lo, hi)
                };
                _mm256_storeu_ps(cr, lo);
                _mm256_storeu_ps(cr.add(8), hi);
            } else {
                let mut t = [0f32; NR];
                _mm256_storeu_ps(t.as_mut_ptr(), lo);
                _mm256_storeu_ps(t.as_mut_ptr().add(8), hi);
                for (j, &v) in t.iter().enumerate().take(nc) {
                    *cr.add(j) = if accumulate { *cr.add(j) + v } else { v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    /// SplitMix64: deterministic values in [-1, 1) without a rand dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
        fn mat(&mut self, r: usize, c: usize) -> Array2<f32> {
            Array2::from_shape_simple_fn((r, c), || self.next() as f32)
        }
    }

    /// Checks `gemm` against a naive f64 triple loop, with `a` and `c` as column slices of wider
    /// arrays (`strided`) or standalone, and `b` given transposed or not.
    fn check(m: usize, k: usize, n: usize, accumulate: bool, strided: bool, force: bool, rng: &mut Rng) {
        let (pad_a, pad_c) = if strided { (3, 5) } else { (0, 0) };
        let wa = rng.mat(m, k + pad_a);
        let a = wa.slice(s![.., pad_a..]);
        let bt = rng.mat(n, k); // exercise packing from a non-contiguous (transposed) view
        let b = bt.t();
        let mut wc = rng.mat(m, n + pad_c);
        let c0 = wc.clone();
        let mut packed = Packed::new();
        packed.pack(b);
        gemm_with(a, &packed, accumulate, wc.slice_mut(s![.., ..n]), force);
        let mut scale = 0f64;
        for i in 0..m {
            for j in 0..n {
                let mut want = if accumulate { c0[[i, j]] as f64 } else { 0.0 };
                let mut mag = want.abs();
                for kk in 0..k {
                    want += a[[i, kk]] as f64 * b[[kk, j]] as f64;
                    mag += (a[[i, kk]] as f64 * b[[kk, j]] as f64).abs();
                }
                scale = scale.max(mag);
                let err = (wc[[i, j]] as f64 - want).abs() / mag.max(1e-30);
                assert!(err <= 1e-5, "m={m} k={k} n={n} acc={accumulate} ({i},{j}): rel err {err:e}");
            }
            for j in n..n + pad_c {
                assert_eq!(wc[[i, j]], c0[[i, j]], "wrote past the slice at ({i},{j})");
            }
        }
        assert!(scale > 0.0);
    }

    #[test]
    fn matches_naive_over_shapes() {
        let mut rng = Rng(1);
        for &m in &[1, 5, 6, 7, 64] {
            for &n in &[1, 15, 16, 17, 64, 100, 1024] {
                for &k in &[1, 3, 64, 257] {
                    let acc = (m + n + k) % 2 == 0;
                    check(m, k, n, acc, (m * n + k) % 3 == 0, false, &mut rng);
                }
            }
        }
    }

    #[test]
    fn accumulate_strided_and_random_shapes() {
        let mut rng = Rng(2);
        for t in 0..60 {
            let dim = |r: &mut Rng, hi: f64| 1 + ((r.next() + 1.0) * hi) as usize;
            let (m, k, n) = (dim(&mut rng, 40.0), dim(&mut rng, 150.0), dim(&mut rng, 150.0));
            check(m, k, n, t % 2 == 0, t % 4 < 2, false, &mut rng);
        }
    }

    #[test]
    fn portable_path_forced() {
        let mut rng = Rng(3);
        for &(m, k, n) in &[(1, 1, 1), (7, 257, 17), (64, 64, 100)] {
            check(m, k, n, false, true, true, &mut rng);
            check(m, k, n, true, false, true, &mut rng);
        }
    }

    #[test]
    fn non_unit_column_stride_falls_back() {
        let mut rng = Rng(4);
        let (m, k, n) = (9, 33, 40);
        let at = rng.mat(k, m); // a = at.t() has column stride m
        let b = rng.mat(k, n);
        let mut packed = Packed::new();
        packed.pack(b.view());
        let mut ct = Array2::<f32>::zeros((n, m));
        gemm(at.t(), &packed, false, ct.view_mut().reversed_axes());
        let want = at.t().dot(&b);
        for (x, y) in ct.t().iter().zip(want.iter()) {
            assert!((x - y).abs() <= 1e-4, "{x} vs {y}");
        }
    }

    #[test]
    fn row_result_independent_of_m() {
        let mut rng = Rng(5);
        for &(k, n) in &[(64, 256), (257, 17), (3, 1)] {
            let a = rng.mat(64, k);
            let mut packed = Packed::new();
            packed.pack(rng.mat(k, n).view());
            let c0 = rng.mat(64, n);
            for acc in [false, true] {
                let mut full = c0.clone();
                gemm(a.view(), &packed, acc, full.view_mut());
                for i in [0, 5, 6, 37, 63] {
                    let mut one = c0.slice(s![i..i + 1, ..]).to_owned();
                    gemm(a.slice(s![i..i + 1, ..]), &packed, acc, one.view_mut());
                    let same = one.row(0).iter().zip(full.row(i)).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "row {i} differs between a 1-row and a 64-row call (k={k} n={n})");
                }
            }
        }
    }

    #[test]
    fn f64_and_repack_and_mismatch() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f64 * 0.25);
        let b = Array2::from_shape_fn((5, 19), |(i, j)| i as f64 - j as f64 * 0.5);
        let mut packed = Packed::new();
        packed.pack(Array2::<f64>::ones((300, 300)).view()); // big, then reused smaller
        packed.pack(b.view());
        assert_eq!((packed.rows(), packed.cols()), (5, 19));
        let mut c = Array2::zeros((7, 19));
        gemm(a.view(), &packed, false, c.view_mut());
        assert_eq!(c, a.dot(&b)); // small integers and quarters: exact
        let r = std::panic::catch_unwind(|| gemm(a.view(), &packed, false, Array2::zeros((7, 18)).view_mut()));
        assert!(r.is_err());
    }
}
