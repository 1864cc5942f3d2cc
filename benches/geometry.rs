//! All-pairs SVCCA, CKA and shape for a population of synthetic "networks" with a decaying
//! spectrum, against the per-pair reference functions measured in the same run on a few pairs.
//!
//! A network's states are Gaussian latents scaled by `decay^i` (i = 0..units), rotated into the
//! units by a random orthogonal matrix, plus an offset and optional isotropic noise: a geometric
//! spectrum like trained hidden states (measured on the default study's 16-unit networks:
//! `s_16/s_1` ≈ 0.01–0.03, i.e. `decay` ≈ 0.75 per direction), stored in `f32` like real states.
//!
//! Sizes from the environment (defaults: the target, 500 networks × 128 units over
//! 6,400 samples): `GEOMETRY_NETWORKS`, `GEOMETRY_UNITS`, `GEOMETRY_SAMPLES`, `GEOMETRY_DECAY`
//! (per mille, default 800), `GEOMETRY_NOISE` (per million of the top scale, default 0),
//! `GEOMETRY_REF_PAIRS` (default 4), `GEOMETRY_SHAPE_NETWORKS` (default 100: a shape pair needs
//! the singular values of its `k_a × k_b` block, so it runs on the first networks only) and
//! `GEOMETRY_TOL_E` (tolerance `10^-E`, default 8).
//! Prints the kept `k`, the proven bound, per-pair costs, the speed-up over the reference given
//! the same threads (its per-pair time divided by the thread count), and an extrapolation to
//! the paper's 2,880 networks: reductions scale with networks, pairs with networks².
//!
//!
//! Exact all-pairs CKA and shape through `f32` cross-products (`analysis::cross`) run on the
//! first `GEOMETRY_EXACT_NETWORKS` (default 200), against the machine's `f32` FMA peak measured
//! here (each the best of five probes): a register-blocked loop of 12 independent 8-lane FMA
//! chains per thread on every thread (the peak), and `rnn::gemm` on the exact path's own tile
//! shape per thread (the practical peak; a large square product measures the L3 bandwidth
//! instead, which varies between hosts). FLOPs of exact all-pairs: the cross-products'
//! `2·S·N_a·N_b` per pair `a < b` (`cross::pair_flops`; the diagonal blocks, needed for the
//! denominators, are not counted).
//! The truncated `f64` path and the exact one are also timed side by side on slowly decaying
//! spectra (`GEOMETRY_SLOW_DECAY` per mille, default 940: trained networks' `s₆₄/s₁` ≈ 0.01–0.04)
//! over `GEOMETRY_SLOW_NETWORKS` (default 40). The sketched estimator's mean and max absolute
//! error against exact are printed at `m` = 256, 1024, 4096 (`GEOMETRY_SKETCH`, comma list) on
//! both data sets.
//!
//! `cargo bench --bench geometry`, e.g. `GEOMETRY_NETWORKS=120 cargo bench --bench geometry`.

use census::analysis::factor::{self, Rule};
use census::analysis::{cka, cross, shape, sketch, svcca};
use census::rnn::gemm::{gemm, Packed};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn network(samples: usize, units: usize, decay: f64, noise: f64, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = |r: usize, c: usize| {
        Array2::<f64>::from_shape_simple_fn((r, c), || StandardNormal.sample(&mut rng))
    };
    let mut latent = g(samples, units);
    for (i, mut col) in latent.columns_mut().into_iter().enumerate() {
        col *= decay.powi(i as i32);
    }
    // A random orthogonal mixing: Q of a Gaussian matrix by Gram–Schmidt.
    let mut q = g(units, units);
    for j in 0..units {
        for i in 0..j {
            let d = q.column(i).dot(&q.column(j));
            let qi = q.column(i).to_owned();
            q.column_mut(j).scaled_add(-d, &qi);
        }
        let n = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / n);
    }
    (latent.dot(&q) + g(samples, units) * noise + 0.3).mapv(|v| v as f32)
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// CPU seconds used by this process so far (user + system, all threads), from `/proc/self/stat`
/// (clock ticks of 1/100 s); NaN where unavailable. Rates per CPU second stay meaningful when
/// other processes share the cores.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// `(wall seconds, CPU seconds, result)` of `f`.
fn timed<R>(f: impl FnOnce() -> R) -> (f64, f64, R) {
    let (t, c) = (Instant::now(), cpu_seconds());
    let r = f();
    (secs(t), cpu_seconds() - c, r)
}

/// FLOP/s of 12 independent 8-lane `f32` FMA chains (2 FLOPs a lane), on every thread at once:
/// per wall second (all threads) and per CPU second (one core's peak).
#[cfg(target_arch = "x86_64")]
fn fma_peak() -> (f64, f64) {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains(iters: usize) -> f32 {
        use std::arch::x86_64::*;
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(
            out.as_mut_ptr(),
            acc.iter()
                .fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v)),
        );
        out.iter().sum()
    }
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return (f64::NAN, f64::NAN);
    }
    let iters = 50_000_000;
    let threads = rayon::current_num_threads();
    let (wall, cpu, sink) = timed(|| {
        (0..threads)
            .into_par_iter()
            // SAFETY: the CPU has AVX2 and FMA, checked above.
            .map(|_| unsafe { chains(iters) })
            .sum::<f32>()
    });
    std::hint::black_box(sink);
    let flops = (threads * iters * 12 * 8 * 2) as f64;
    (flops / wall, flops / cpu)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak() -> (f64, f64) {
    (f64::NAN, f64::NAN)
}

/// FLOP/s of `rnn::gemm` on the exact path's tile, `[512 × KC] · [KC × 256]` with `KC` =
/// [`cross::KC`], repeated on the same operands (so cached as in the exact path), per thread, on
/// every thread at once: per wall second and per CPU second.
fn gemm_peak() -> (f64, f64) {
    let (m, k, n, reps) = (512, cross::KC, 256, 200);
    let threads = rayon::current_num_threads();
    let mut operands: Vec<_> = (0..threads)
        .map(|t| {
            let f = |i: usize, j: usize| ((i * 7 + j * 3 + t) % 11) as f32 * 0.1;
            let mut b = Packed::new();
            b.pack(Array2::<f32>::from_shape_fn((k, n), |(i, j)| f(j, i)).view());
            let a = Array2::<f32>::from_shape_fn((m, k), |(i, j)| f(i, j));
            (a, b, Array2::<f32>::zeros((m, n)))
        })
        .collect();
    let (wall, cpu, _) = timed(|| {
        operands.par_iter_mut().for_each(|(a, b, c)| {
            for _ in 0..reps {
                gemm(a.view(), b, false, c.view_mut());
                std::hint::black_box(&mut *c);
            }
        })
    });
    let flops = (threads * reps * 2 * m * k * n) as f64;
    (flops / wall, flops / cpu)
}

/// `(mean, max)` of `|a − b|` over the off-diagonal entries.
fn gap(a: &Array2<f64>, b: &Array2<f64>) -> (f64, f64) {
    let n = a.nrows();
    let (mut sum, mut max) = (0.0, 0.0f64);
    for i in 0..n {
        for j in i + 1..n {
            let e = (a[(i, j)] - b[(i, j)]).abs();
            sum += e;
            max = max.max(e);
        }
    }
    (sum / (n * (n - 1) / 2).max(1) as f64, max)
}

fn main() {
    let (p, units, samples) = (
        env("GEOMETRY_NETWORKS", 500),
        env("GEOMETRY_UNITS", 128),
        env("GEOMETRY_SAMPLES", 6400),
    );
    let decay = env("GEOMETRY_DECAY", 800) as f64 / 1000.0;
    let noise = env("GEOMETRY_NOISE", 0) as f64 / 1e6;
    let tol = 10f64.powi(-(env("GEOMETRY_TOL_E", 8) as i32));
    let ref_pairs = env("GEOMETRY_REF_PAIRS", 4);
    let threads = rayon::current_num_threads();
    let xs: Vec<Array2<f32>> = (0..p)
        .into_par_iter()
        .map(|i| network(samples, units, decay, noise, i as u64))
        .collect();
    let views: Vec<ArrayView2<f32>> = xs.iter().map(|x| x.view()).collect();
    let pairs = |p: usize| (p * (p - 1) / 2) as f64;
    println!(
        "{p} networks × {units} units × {samples} samples, spectrum decay {decay}/direction, \
         noise {noise}, tolerance {tol:e}, {threads} threads"
    );

    let reference = |f: &dyn Fn(ArrayView2<f32>, ArrayView2<f32>) -> f64| {
        let t = Instant::now();
        let mut sum = 0.0;
        for k in 0..ref_pairs {
            sum += f(views[k % p], views[(k * 7 + 1) % p]);
        }
        std::hint::black_box(sum);
        secs(t) / ref_pairs as f64
    };
    let ref_svcca = reference(&|x, y| svcca::svcca_distance(x, y, 0.95).unwrap());
    let ref_cka = reference(&|x, y| cka::cka_distance(x, y).unwrap());
    let ref_shape = reference(&|x, y| shape::shape_distance(x, y).unwrap());

    let t = Instant::now();
    let reduced: Vec<_> = views
        .par_iter()
        .map(|x| svcca::svcca_reduce(*x, 0.95).unwrap())
        .collect();
    let svcca_reduce = secs(t);
    let t = Instant::now();
    let d = svcca::svcca_matrix_reduced(&views, &reduced).unwrap();
    let svcca_pairs = secs(t);
    let svcca_k = reduced.iter().map(|r| r.k() as f64).sum::<f64>() / p as f64;

    let t = Instant::now();
    let cka_red = factor::reduce_all(&views, Rule::Cka(tol)).unwrap();
    let cka_reduce = secs(t);
    let t = Instant::now();
    let blocks = factor::pair_blocks(&views, &cka_red, false).unwrap();
    let c = cka::cka_from_blocks(&views, &cka_red, &blocks, tol).unwrap();
    let cka_pairs = secs(t);
    drop(blocks);
    let ks: Vec<usize> = cka_red.iter().map(|r| r.k()).collect();
    let k_range = (ks.iter().min().unwrap(), ks.iter().max().unwrap());

    let ps = env("GEOMETRY_SHAPE_NETWORKS", 100).min(p);
    let sv = &views[..ps];
    let t = Instant::now();
    let sh_red = factor::reduce_all(sv, Rule::Shape(tol)).unwrap();
    let shape_reduce = secs(t);
    let t = Instant::now();
    let blocks = factor::pair_blocks(sv, &sh_red, true).unwrap();
    let sh = shape::shape_from_blocks(sv, &sh_red, &blocks, tol).unwrap();
    let shape_pairs = secs(t);
    let t = Instant::now();
    let full_red = factor::reduce_all(sv, Rule::Exact).unwrap();
    let blocks = factor::pair_blocks(sv, &full_red, false).unwrap();
    let c_full = cka::cka_from_blocks(sv, &full_red, &blocks, tol).unwrap();
    let cka_full = secs(t);

    let err = (d[(0, 1)] - svcca::svcca_distance(views[0], views[1], 0.95).unwrap())
        .abs()
        .max((c.distance[(0, 1)] - cka::cka_distance(views[0], views[1]).unwrap()).abs())
        .max((sh.distance[(0, 1)] - shape::shape_distance(views[0], views[1]).unwrap()).abs());
    let cka_gap = (&c.distance.slice(ndarray::s![..ps, ..ps]) - &c_full.distance)
        .iter()
        .fold(0.0f64, |m, e| m.max(e.abs()));
    println!(
        "kept k: svcca (0.95) mean {svcca_k:.1}; cka mean {:.1} [{}–{}], proven bound {:.1e}, \
         exact fallbacks {}; shape mean {:.1}, bound {:.1e}, exact fallbacks {}",
        c.mean_k,
        k_range.0,
        k_range.1,
        c.max_error,
        c.exact_pairs,
        sh.mean_k,
        sh.max_error,
        sh.exact_pairs
    );
    println!(
        "max |population − reference| on pair (0,1): {err:.1e}; max |cka truncated − untruncated| \
         over the first {ps}: {cka_gap:.1e}"
    );
    println!(
        "{:<24} {:>9} {:>14} {:>14} {:>10} {:>16}",
        "metric", "networks", "ref µs/pair", "pop µs/pair", "speed-up", "2,880 nets (s)"
    );
    let row = |name: &str, p: usize, r: f64, fixed: f64, pair_time: f64| {
        let (total, pairs, scale) = (fixed + pair_time, pairs(p), 2880.0 / p as f64);
        let speedup = r * pairs / threads as f64 / total;
        let extrapolated = fixed * scale + pair_time * scale * scale;
        println!(
            "{name:<24} {p:>9} {:>14.1} {:>14.2} {:>9.0}× {:>16.1}",
            r * 1e6,
            total / pairs * 1e6,
            speedup,
            extrapolated
        );
    };
    row("svcca (0.95)", p, ref_svcca, svcca_reduce, svcca_pairs);
    row("cka (truncated)", p, ref_cka, cka_reduce, cka_pairs);
    row("cka (untruncated)", ps, ref_cka, 0.0, cka_full);
    row(
        "shape (truncated)",
        ps,
        ref_shape,
        shape_reduce,
        shape_pairs,
    );
    let pe = env("GEOMETRY_EXACT_NETWORKS", 200).min(p);
    exact_section(&views[..pe], ref_cka, ref_shape, ps, threads);
    let slow: Vec<Array2<f32>> = (0..env("GEOMETRY_SLOW_NETWORKS", 40))
        .into_par_iter()
        .map(|i| {
            network(
                samples,
                units,
                env("GEOMETRY_SLOW_DECAY", 940) as f64 / 1000.0,
                noise,
                10_000 + i as u64,
            )
        })
        .collect();
    let slow: Vec<ArrayView2<f32>> = slow.iter().map(|x| x.view()).collect();
    slow_section(&slow, tol);
    sketch_section("bench data", &views[..ps]);
    sketch_section("slow decay", &slow);
    println!(
        "seconds: svcca reduce {svcca_reduce:.2} pairs {svcca_pairs:.2}; cka reduce {cka_reduce:.2} \
         pairs {cka_pairs:.2}; cka untruncated ({ps}) {cka_full:.2}; shape reduce \
         {shape_reduce:.2} pairs {shape_pairs:.2}"
    );
}

/// Exact all-pairs CKA (and shape on the first `ps`) through `f32` cross-products: time, FLOP
/// rate, fraction of the measured peaks, speed-up over the per-pair references, error.
fn exact_section(xs: &[ArrayView2<f32>], ref_cka: f64, ref_shape: f64, ps: usize, threads: usize) {
    // Best of five: one probe lasts about 0.1 s, and a slow moment of the machine in it would
    // halve the peak and inflate every fraction of it.
    let best = |probe: &dyn Fn() -> (f64, f64)| {
        (0..5)
            .map(|_| probe())
            .fold((0.0f64, 0.0f64), |a, b| (a.0.max(b.0), a.1.max(b.1)))
    };
    let (peak, practical) = (best(&fma_peak), best(&gemm_peak));
    let p = xs.len();
    let cols: Vec<usize> = xs.iter().map(|x| x.ncols()).collect();
    let flops = cross::pair_flops(xs[0].nrows(), &cols);
    let (cka_t, cka_cpu, c) = timed(|| cka::cka_matrix_exact(xs).unwrap());
    let ps = ps.min(p);
    let (shape_t, shape_cpu, (c2, sh)) = timed(|| shape::cka_shape_exact(&xs[..ps]).unwrap());
    let sflops = cross::pair_flops(xs[0].nrows(), &cols[..ps]);
    let pairs = |n: usize| (n * (n - 1) / 2) as f64;
    println!(
        "f32 FMA peak {:.1} GFLOP/s on {threads} threads, {:.1} per CPU second; rnn::gemm on the exact path's tile {:.1} GFLOP/s, {:.1} per CPU second ({:.0} % of peak)",
        peak.0 / 1e9,
        peak.1 / 1e9,
        practical.0 / 1e9,
        practical.1 / 1e9,
        100.0 * practical.1 / peak.1
    );
    for (name, n, wall, cpu, fl, r) in [
        ("cka (exact, f32)", p, cka_t, cka_cpu, flops, ref_cka),
        (
            "cka+shape (exact, f32)",
            ps,
            shape_t,
            shape_cpu,
            sflops,
            ref_shape,
        ),
    ] {
        println!(
            "{name:<24} {n:>5} networks: {wall:.2} s ({cpu:.1} CPU s), {:.1} GFLOP/s = {:.0} % of the FMA peak by wall time, \
             {:.0} % per CPU second ({:.0} % of rnn::gemm's); {:.1} µs/pair, {:.0}× the per-pair reference; 2,880 nets ≈ {:.0} s",
            fl / wall / 1e9,
            100.0 * fl / wall / peak.0,
            100.0 * fl / cpu / peak.1,
            100.0 * fl / cpu / practical.1,
            wall / pairs(n) * 1e6,
            r * pairs(n) / threads as f64 / wall,
            wall * (2880.0 / n as f64).powi(2)
        );
    }
    let mut worst = (0.0f64, 0.0f64);
    for k in 0..4.min(ps - 1) {
        let (a, b) = (k, (k * 7 + 1) % ps);
        if a != b {
            worst.0 = worst
                .0
                .max((c.distance[(a, b)] - cka::cka_distance(xs[a], xs[b]).unwrap()).abs());
            worst.1 = worst
                .1
                .max((sh.distance[(a, b)] - shape::shape_distance(xs[a], xs[b]).unwrap()).abs());
        }
    }
    let trunc = cka::cka_matrix_bounded(&xs[..ps], 1e-8).unwrap();
    println!(
        "exact f32 error: cka proven {:.1e}, measured {:.1e} (sampled pairs) and {:.1e} (all {ps}: against the 1e-8 truncated path); \
         shape proven {:.1e}, measured {:.1e}; cka of both exact runs equal: {}",
        c.max_error,
        worst.0,
        gap(&c.distance.slice(ndarray::s![..ps, ..ps]).to_owned(), &trunc.distance).1,
        sh.max_error,
        worst.1,
        c2.distance == c.distance.slice(ndarray::s![..ps, ..ps])
    );
}

/// Truncated `f64` path at `tol` against the exact `f32` one on slowly decaying spectra.
fn slow_section(xs: &[ArrayView2<f32>], tol: f64) {
    let t = Instant::now();
    let trunc = cka::cka_matrix_bounded(xs, tol).unwrap();
    let trunc_t = secs(t);
    let t = Instant::now();
    let exact = cka::cka_matrix_exact(xs).unwrap();
    let exact_t = secs(t);
    let t = Instant::now();
    let strunc = shape::shape_matrix_bounded(xs, tol).unwrap();
    let strunc_t = secs(t);
    let t = Instant::now();
    let sexact = shape::shape_matrix_exact(xs).unwrap();
    let sexact_t = secs(t);
    println!(
        "slow decay, {} networks: cka truncated (tol {tol:e}, mean k {:.1}) {trunc_t:.2} s, exact f32 {exact_t:.2} s ({:.1}× faster), max gap {:.1e}; \
         shape truncated (mean k {:.1}, {} exact fallbacks) {strunc_t:.2} s, exact f32 {sexact_t:.2} s ({:.1}×), max gap {:.1e}",
        xs.len(),
        trunc.mean_k,
        trunc_t / exact_t,
        gap(&trunc.distance, &exact.distance).1,
        strunc.mean_k,
        strunc.exact_pairs,
        strunc_t / sexact_t,
        gap(&strunc.distance, &sexact.distance).1
    );
}

/// The sketched estimator's error against exact and its time against exact.
fn sketch_section(name: &str, xs: &[ArrayView2<f32>]) {
    let (exact_t, _, c) = timed(|| cka::cka_matrix_exact(xs).unwrap());
    let s = shape::shape_matrix_exact(xs).unwrap();
    let ms: Vec<usize> = std::env::var("GEOMETRY_SKETCH")
        .unwrap_or_else(|_| "256,1024,4096".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    for m in ms {
        let (tm, _, _) =
            timed(|| sketch::cka_matrix_sketched(xs, m, sketch::DEFAULT_SEED).unwrap());
        let (ck, sh) = sketch::cka_shape_sketched(xs, m, sketch::DEFAULT_SEED).unwrap();
        let (ce, se) = (gap(&ck, &c.distance), gap(&sh, &s.distance));
        println!(
            "sketch m = {m:>5} ({name}, {} networks): cka error mean {:.1e} max {:.1e}; shape error mean {:.1e} max {:.1e} rad; \
             cka {tm:.2} s against exact {exact_t:.2} s ({:.1}×)",
            xs.len(),
            ce.0,
            ce.1,
            se.0,
            se.1,
            exact_t / tm
        );
    }
}
