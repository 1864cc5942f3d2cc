//! Tests of the packed GEMM: against a naive loop, the promised summation order bit for bit,
//! row independence, strided views and the portable path.

use super::*;
use ndarray::{s, Array2};

/// What the tests need of a scalar beyond [`GemmScalar`].
trait Real: GemmScalar + Into<f64> + PartialEq + std::fmt::Debug {
    /// Relative tolerance against the naive f64 sum.
    const TOL: f64;
    fn of(x: f64) -> Self;
    fn mul_add(self, a: Self, b: Self) -> Self;
    fn bits(self) -> u64;
}
impl Real for f32 {
    const TOL: f64 = 1e-5;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    fn bits(self) -> u64 {
        self.to_bits().into()
    }
}
impl Real for f64 {
    const TOL: f64 = 1e-12;
    fn of(x: f64) -> Self {
        x
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// Whether `gemm` (not forced portable, unit column strides) takes the SIMD path here.
fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

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
    fn mat<F: Real>(&mut self, r: usize, c: usize) -> Array2<F> {
        Array2::from_shape_simple_fn((r, c), || F::of(self.next()))
    }
}

/// Checks `gemm` against a naive f64 triple loop, with `a` and `c` as column slices of wider
/// arrays (`strided`) or standalone; `b` is packed from a transposed (non-contiguous) view.
/// On the SIMD path also checks the bits against a scalar chain of fused multiply-adds over
/// k ascending from zero, then `+ c` when accumulating (the documented summation order).
fn check<F: Real>(rng: &mut Rng, [m, k, n]: [usize; 3], acc: bool, strided: bool, force: bool) {
    let (pad_a, pad_c) = if strided { (3, 5) } else { (0, 0) };
    let wa = rng.mat::<F>(m, k + pad_a);
    let a = wa.slice(s![.., pad_a..]);
    let bt = rng.mat::<F>(n, k);
    let b = bt.t();
    let mut wc = rng.mat::<F>(m, n + pad_c);
    let c0 = wc.clone();
    let mut packed = Packed::new();
    packed.pack(b);
    gemm_with(a, &packed, acc, wc.slice_mut(s![.., ..n]), force);
    let fused = !force && simd_available();
    for ((i, j), &got) in wc.indexed_iter() {
        let old: f64 = c0[[i, j]].into();
        let (mut want, mut mag) = if acc { (old, old.abs()) } else { (0.0, 0.0) };
        if j >= n {
            assert_eq!(got, c0[[i, j]], "wrote past the slice at ({i},{j})");
            continue;
        }
        let mut chain = F::zero();
        for kk in 0..k {
            let (x, y): (f64, f64) = (a[[i, kk]].into(), b[[kk, j]].into());
            want += x * y;
            mag += (x * y).abs();
            chain = a[[i, kk]].mul_add(b[[kk, j]], chain);
        }
        let err = (got.into() - want).abs() / mag.max(1e-30);
        assert!(
            err <= F::TOL,
            "m={m} k={k} n={n} acc={acc} ({i},{j}): rel err {err:e}"
        );
        if fused {
            let chain = if acc { c0[[i, j]] + chain } else { chain };
            assert_eq!(
                got.bits(),
                chain.bits(),
                "m={m} k={k} n={n} acc={acc} ({i},{j})"
            );
        }
    }
}

fn shape_grid<F: Real>(seed: u64) {
    let mut rng = Rng(seed);
    for m in [1, 2, 3, 4, 5, 6, 7, 64] {
        for n in [1, 15, 16, 17, 64, 100, 1024] {
            for k in [1, 3, 64, 257] {
                for acc in [false, true] {
                    let strided = (m + n + k) % 2 == acc as usize;
                    check::<F>(&mut rng, [m, k, n], acc, strided, false);
                }
            }
        }
    }
}

#[test]
fn matches_naive_over_shapes() {
    shape_grid::<f32>(1);
}

#[test]
fn matches_naive_over_shapes_f64() {
    shape_grid::<f64>(11);
}

fn random_shapes<F: Real>(seed: u64) {
    let mut rng = Rng(seed);
    for t in 0..60 {
        let mut dim = |hi: f64| 1 + ((rng.next() + 1.0) * hi) as usize;
        let mk = [dim(40.0), dim(150.0), dim(150.0)];
        check::<F>(&mut rng, mk, t % 2 == 0, t % 4 < 2, false);
    }
}

#[test]
fn random_shapes_f32_f64() {
    random_shapes::<f32>(2);
    random_shapes::<f64>(12);
}

#[test]
fn portable_path_forced() {
    fn run<F: Real>(seed: u64) {
        let mut rng = Rng(seed);
        for mkn in [[1, 1, 1], [7, 257, 17], [64, 64, 100]] {
            check::<F>(&mut rng, mkn, false, true, true);
            check::<F>(&mut rng, mkn, true, false, true);
        }
    }
    run::<f32>(3);
    run::<f64>(13);
}

/// The SIMD entry point is public (`GemmScalar::gemm_simd`), so it checks the shapes itself:
/// a `c` narrower than `b`, or K = 0, is refused with `c` untouched (the kernel would write or
/// read out of bounds); matching shapes run the kernel when the CPU has it.
#[test]
fn simd_entry_refuses_mismatched_shapes() {
    let mut rng = Rng(5);
    let (a, b) = (rng.mat::<f32>(2, 3), rng.mat::<f32>(3, 20));
    let mut packed = Packed::new();
    packed.pack(b.view());
    let mut narrow = Array2::<f32>::from_elem((2, 4), 7.0);
    assert!(!f32::gemm_simd(&a.view(), &packed, false, &mut narrow.view_mut()));
    assert!(narrow.iter().all(|&v| v == 7.0));

    let mut c = Array2::<f32>::from_elem((2, 20), 7.0);
    let ran = f32::gemm_simd(&a.view(), &packed, false, &mut c.view_mut());
    assert_eq!(ran, simd_available());
    if ran {
        for (x, y) in c.iter().zip(a.dot(&b).iter()) {
            assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
        }
    }

    let empty = Array2::<f32>::zeros((2, 0));
    packed.pack(Array2::<f32>::zeros((0, 20)).view());
    let mut c = Array2::<f32>::from_elem((2, 20), 7.0);
    assert!(!f32::gemm_simd(&empty.view(), &packed, false, &mut c.view_mut()));
    assert!(c.iter().all(|&v| v == 7.0));
}

#[test]
fn non_unit_column_stride_falls_back() {
    fn run<F: Real>(seed: u64) {
        let mut rng = Rng(seed);
        let (m, k, n) = (9, 33, 40);
        let at = rng.mat::<F>(k, m); // a = at.t() has column stride m
        let b = rng.mat::<F>(k, n);
        let mut packed = Packed::new();
        packed.pack(b.view());
        let mut ct = Array2::<F>::zeros((n, m));
        gemm(at.t(), &packed, false, ct.view_mut().reversed_axes());
        for (&x, &y) in ct.t().iter().zip(at.t().dot(&b).iter()) {
            let (x, y): (f64, f64) = (x.into(), y.into());
            assert!((x - y).abs() <= 1e-4, "{x} vs {y}");
        }
    }
    run::<f32>(4);
    run::<f64>(14);
}

fn row_independence<F: Real>(seed: u64) {
    let mut rng = Rng(seed);
    let bits = |v: ndarray::ArrayView1<F>| v.iter().map(|x| x.bits()).collect::<Vec<_>>();
    for (k, n) in [(64, 256), (257, 17), (3, 1), (128, 128)] {
        let a = rng.mat::<F>(100, k);
        let mut packed = Packed::new();
        packed.pack(rng.mat::<F>(k, n).view());
        let c0 = rng.mat::<F>(100, n);
        for acc in [false, true] {
            let mut full = c0.clone();
            gemm(a.view(), &packed, acc, full.view_mut());
            for i in [0usize, 1, 2, 3, 5, 6, 37, 63, 97, 99] {
                for len in [1, 2, 3, 4] {
                    let rows = i.saturating_sub(len / 2)..(i + len - len / 2).min(100);
                    let at = i - rows.start;
                    let mut part = c0.slice(s![rows.clone(), ..]).to_owned();
                    gemm(a.slice(s![rows, ..]), &packed, acc, part.view_mut());
                    assert_eq!(
                        bits(part.row(at)),
                        bits(full.row(i)),
                        "row {i}, k={k} n={n}"
                    );
                }
            }
        }
    }
}

#[test]
fn row_result_independent_of_m() {
    row_independence::<f32>(5);
}

#[test]
fn row_result_independent_of_m_f64() {
    row_independence::<f64>(15);
}

#[test]
fn f64_and_repack() {
    let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 5 + j) as f64 * 0.25);
    let b = Array2::from_shape_fn((5, 19), |(i, j)| i as f64 - j as f64 * 0.5);
    let mut packed = Packed::new();
    packed.pack(Array2::<f64>::ones((300, 300)).view()); // big, then reused smaller
    packed.pack(b.view());
    assert_eq!((packed.rows(), packed.cols()), (5, 19));
    let mut c = Array2::zeros((7, 19));
    gemm(a.view(), &packed, false, c.view_mut());
    assert_eq!(c, a.dot(&b)); // small integers and quarters: exact
}

#[test]
#[should_panic(expected = "shape mismatch")]
fn shape_mismatch_panics() {
    let mut packed = Packed::new();
    packed.pack(Array2::<f32>::zeros((5, 19)).view());
    gemm(
        Array2::zeros((7, 5)).view(),
        &packed,
        false,
        Array2::zeros((7, 18)).view_mut(),
    );
}

/// Rows with unit stride are copied a panel's width at a time; any other layout element by
/// element. Both give the same panels, zero padding included, also after a larger pack.
#[test]
fn contiguous_and_strided_rows_pack_alike() {
    let mut rng = Rng(21);
    let mut fast = Packed::<f32>::new();
    fast.pack(rng.mat::<f32>(40, 70).view());
    for (k, n) in [(5, 1), (7, NR), (3, NR + 1), (33, 2 * NR + 3), (16, 64)] {
        let b = rng.mat::<f32>(k, n);
        let bt = b.t().as_standard_layout().into_owned();
        let mut slow = Packed::new();
        slow.pack(bt.t());
        fast.pack(b.view());
        assert_eq!(bt.t().row(0).as_slice().is_none(), n > 1);
        assert_eq!((fast.rows(), fast.cols()), (k, n));
        assert_eq!(fast.data, slow.data, "k={k} n={n}");
        for (kk, row) in b.outer_iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                assert_eq!(fast.data[(j / NR) * k * NR + kk * NR + j % NR], v);
            }
        }
    }
}
